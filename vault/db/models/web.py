"""The web console's accounts and sessions (issue 19): one account per principal, its
password as an Argon2 hash, an optional TOTP secret, the failed logins that lock it; and
the server-side sessions whose random token the browser holds (only its SHA-256 is kept)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from vault.db.models.types import utc_column


class WebAccount(SQLModel, table=True):
    """A principal's web login, made by a records keeper (`evault principal password`)."""

    __tablename__ = "web_account"

    id: int | None = Field(default=None, primary_key=True)
    principal_id: int = Field(foreign_key="principal.id", unique=True, index=True)
    password_hash: str = Field(max_length=256)  # Argon2id, with its parameters and salt
    password_set_at: datetime = Field(sa_column=utc_column(nullable=False))
    password_set_by: str = Field(max_length=128)
    totp_secret: str | None = Field(default=None, max_length=64)  # base32; None: no TOTP
    totp_last_step: int | None = Field(default=None, sa_type=BigInteger)  # no code twice
    failures: int = 0  # failed logins in a row
    locked_until: datetime | None = Field(default=None, sa_column=utc_column())


class WebSession(SQLModel, table=True):
    """One browser's login: ended by logout, by the idle timeout, or by a new password."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)  # SHA-256 of the cookie
    principal_id: int = Field(foreign_key="principal.id", index=True)
    csrf: str = Field(max_length=64)
    stage: str = Field(max_length=8)  # totp: the password was right, the code is due | ok
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    last_seen_at: datetime = Field(sa_column=utc_column(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=utc_column())
    remote: str | None = Field(default=None, max_length=64)
