"""Principals, access requests, documents, grants and the signed register (AC-1..AC-9)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from vault.db.models.types import utc_column


class Principal(SQLModel, table=True):
    """Someone the vault grants or refuses access to: staff (mapped from an OS user) or an
    outside requester filed by the records keeper (AC-1, AC-4..AC-6)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True, index=True)
    # staff, or the requester's organisation type (public_security, court, lawyer, ...)
    kind: str = Field(max_length=32, index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON))  # staff roles
    unit: str | None = Field(default=None, max_length=128)
    officer_pk: int | None = Field(default=None, foreign_key="officer.id", index=True)
    id_number: str | None = Field(default=None, max_length=64)  # ID card or licence number
    os_user: str | None = Field(default=None, max_length=64, unique=True)  # the CLI's identity
    # AC-0: an approver's level (head | deputy | unit_head); None: decides nothing.
    approver_level: str | None = Field(default=None, max_length=16)
    # AC-5: the case a party (or its lawyer) is party to: its requests reach only that case.
    case_id: int | None = Field(default=None, foreign_key="case_file.id")
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    created_by: str = Field(max_length=128)
    disabled_at: datetime | None = Field(default=None, sa_column=utc_column())


class AccessRequest(SQLModel, table=True):
    """A request to view, copy or export evidence or a case's evidence (AC-2..AC-6)."""

    __tablename__ = "access_request"

    id: int | None = Field(default=None, primary_key=True)
    requester_id: int = Field(foreign_key="principal.id", index=True)
    filed_by_id: int = Field(foreign_key="principal.id")
    scope: str = Field(max_length=128, index=True)  # evidence:ID | case:NUMBER
    action: str = Field(max_length=16)  # view | copy | export
    reason: str
    status: str = Field(default="pending", max_length=16, index=True)  # pending|approved|denied
    filed_at: datetime = Field(sa_column=utc_column(nullable=False))
    decided_by_id: int | None = Field(default=None, foreign_key="principal.id")
    decided_at: datetime | None = Field(default=None, sa_column=utc_column())
    decision_reason: str | None = None
    # AC-4: the natural person who looks (查阅人) and the ID number presented.
    reader: str | None = Field(default=None, max_length=128)
    reader_id_number: str | None = Field(default=None, max_length=64)
    to_prove: str | None = None  # EV-1: what the footage is to prove (证明对象)


class AccessDocument(SQLModel, table=True):
    """A document presented with a request (unit letter, ID, power of attorney ...), sealed
    in the store like evidence (AC-4, AC-5, AC-6)."""

    __tablename__ = "access_document"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="access_request.id", index=True)
    kind: str = Field(max_length=32)
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64, index=True)
    size: int = Field(sa_type=BigInteger)
    storage_key: str = Field(max_length=512)
    storage_version: str | None = Field(default=None, max_length=1024)
    sealed_at: datetime = Field(sa_column=utc_column(nullable=False))


class AccessGrant(SQLModel, table=True):
    """An approved request's permission: one scope, one action, until it expires or is
    revoked (AC-2, AC-3, AC-8)."""

    __tablename__ = "access_grant"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="access_request.id", unique=True)
    grantee_id: int = Field(foreign_key="principal.id", index=True)
    scope: str = Field(max_length=128, index=True)
    action: str = Field(max_length=16)
    granted_by_id: int = Field(foreign_key="principal.id")
    granted_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    revoked_by_id: int | None = Field(default=None, foreign_key="principal.id")
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column())
    revoke_reason: str | None = None
    # The evidence the scope covered when approved (a case's links then): later links need
    # a new request (issue 13). None only for grants approved before this was kept.
    evidence_ids: list[int] | None = Field(default=None, sa_column=Column(JSON))


class RegisterEntry(SQLModel, table=True):
    """The access register (查阅登记簿): append-only; each entry hashes its predecessor and
    its own sequence number, so an edit, deletion, insertion or reordering shows (AC-7)."""

    __tablename__ = "register_entry"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True, index=True)  # 1, 2, 3 ... with no gaps
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    station_id: str = Field(max_length=64)
    os_user: str = Field(max_length=64)
    event: str = Field(max_length=32, index=True)  # request | approve | deny | view | ...
    who: str | None = Field(default=None, max_length=128)  # the requester or viewer
    unit: str | None = Field(default=None, max_length=128)
    documents: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    what: str | None = Field(default=None, max_length=256)  # scope and action
    reason: str | None = None
    approver: str | None = Field(default=None, max_length=128)
    handled_by: str | None = Field(default=None, max_length=128)  # the principal at the CLI
    request_id: int | None = Field(default=None, index=True)
    grant_id: int | None = Field(default=None, index=True)
    detail: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


class RegisterSignature(SQLModel, table=True):
    """An Ed25519 signature over the register's head (seq and hash) by a key kept outside
    the database: a rewritten or truncated chain no longer matches it (AC-7)."""

    __tablename__ = "register_signature"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(index=True)
    head_hash: str = Field(max_length=64)
    signed_at: datetime = Field(sa_column=utc_column(nullable=False))
    key_id: str = Field(max_length=64)  # SHA-256 of the raw public key
    signature: str = Field(max_length=128)  # hex
