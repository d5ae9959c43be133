"""Cases, links, holds and the purge job's records (RT-1..RT-5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from vault.db.models.types import utc_column


class Case(SQLModel, table=True):
    """A case file (案件); its evidence is kept as long as the file (RT-3)."""

    __tablename__ = "case_file"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=256)
    case_type: str = Field(max_length=32, index=True)
    unit: str = Field(max_length=128)
    activities: list[str] = Field(default_factory=list, sa_column=Column(JSON))  # RC-5 flags
    # RC-5: the 事项 and 环节 of the must-record list the case states ({"matter", "stage"}),
    # and the list they were checked against (vault.cases.record_list).
    stages: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    record_list: str | None = Field(default=None, max_length=256)
    file_retention_years: int | None = None  # None: permanent
    status: str = Field(default="open", max_length=16, index=True)  # open | closed
    opened_at: datetime = Field(sa_column=utc_column(nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column())
    litigation: bool = False  # administrative litigation pending: litigation hold (RT-3)
    # EV-1: where its footage was recorded and what it is to prove (证明对象), for the statement.
    place: str | None = Field(default=None, max_length=256)
    to_prove: str | None = None
    created_by: str = Field(max_length=128)


class CaseHandler(SQLModel, table=True):
    __tablename__ = "case_handler"
    __table_args__ = (UniqueConstraint("case_id", "officer_pk"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    officer_pk: int = Field(foreign_key="officer.id", index=True)


class CaseLink(SQLModel, table=True):
    """Evidence linked to a case; unlinking keeps the row, with who, when and why."""

    __tablename__ = "case_link"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    evidence_id: int = Field(foreign_key="evidence.id", index=True)
    linked_at: datetime = Field(sa_column=utc_column(nullable=False))
    linked_by: str = Field(max_length=128)
    unlinked_at: datetime | None = Field(default=None, sa_column=utc_column())
    unlinked_by: str | None = Field(default=None, max_length=128)
    unlink_reason: str | None = None
    stage: str | None = Field(default=None, max_length=128)  # RC-5: the 环节 it records


class Hold(SQLModel, table=True):
    """A legal hold on one piece of evidence or a litigation hold on a case (RT-3, RT-4)."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # legal | litigation
    evidence_id: int | None = Field(default=None, foreign_key="evidence.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case_file.id", index=True)
    reason: str
    placed_by: str = Field(max_length=128)
    placed_at: datetime = Field(sa_column=utc_column(nullable=False))
    released_by: str | None = Field(default=None, max_length=128)
    released_at: datetime | None = Field(default=None, sa_column=utc_column())
    release_reason: str | None = None


class PurgeJob(SQLModel, table=True):
    __tablename__ = "purge_job"

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(max_length=64)
    actor: str = Field(max_length=128)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())
    status: str = Field(default="running", max_length=16)  # running | done | failed
    deleted: int = 0
    kept: int = 0
    error: str | None = None


class PurgeRecord(SQLModel, table=True):
    """What the purge deleted, under which rule, when, by which job; outlives the bytes (RT-5)."""

    __tablename__ = "purge_record"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", unique=True, index=True)
    job_id: int = Field(foreign_key="purge_job.id", index=True)
    state: str = Field(default="deleting", max_length=16)  # deleting | deleted
    sha256: str = Field(max_length=64)
    size: int = Field(sa_type=BigInteger)
    device_id: str | None = Field(default=None, max_length=64)
    officer_id: str | None = Field(default=None, max_length=32)
    recorded_at: datetime | None = Field(default=None, sa_column=utc_column())
    rule: str = Field(max_length=64)
    retain_until: datetime = Field(sa_column=utc_column(nullable=False))
    storage_key: str = Field(max_length=512)
    storage_version: str | None = Field(default=None, max_length=1024)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    deleted_at: datetime | None = Field(default=None, sa_column=utc_column())


class PurgeList(SQLModel, table=True):
    """A list of what may be cleared (待清除清单, RT-1): drawn up by the timer or a records
    keeper, its items marked by a records keeper, signed by an approver; only a signed
    list's items are ever deleted. Kept after the bytes are gone (RT-5)."""

    __tablename__ = "purge_list"

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(max_length=64)
    drawn_by: str = Field(max_length=128)  # the principal, or the timer's account
    drawn_at: datetime = Field(sa_column=utc_column(nullable=False))
    status: str = Field(default="drawn", max_length=16, index=True)  # drawn | signed | done
    signed_by: str | None = Field(default=None, max_length=128)
    signed_at: datetime | None = Field(default=None, sa_column=utc_column())
    sign_note: str | None = Field(default=None, max_length=2000)
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())


class PurgeListItem(SQLModel, table=True):
    """One clip on a purge list: what it was when drawn, the keeper's mark, the outcome."""

    __tablename__ = "purge_list_item"
    __table_args__ = (UniqueConstraint("list_id", "evidence_id"),)

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="purge_list.id", index=True)
    evidence_id: int = Field(foreign_key="evidence.id", index=True)
    sha256: str = Field(max_length=64)
    size: int = Field(sa_type=BigInteger)
    device_id: str | None = Field(default=None, max_length=64)
    officer_id: str | None = Field(default=None, max_length=32)
    recorded_at: datetime | None = Field(default=None, sa_column=utc_column())
    rule: str = Field(max_length=64)
    retain_until: datetime = Field(sa_column=utc_column(nullable=False))
    mark: str | None = Field(default=None, max_length=16)  # no_value | keep
    mark_reason: str | None = Field(default=None, max_length=2000)
    marked_by: str | None = Field(default=None, max_length=128)
    marked_at: datetime | None = Field(default=None, sa_column=utc_column())
    outcome: str | None = Field(default=None, max_length=16)  # deleted | skipped | kept
    outcome_reason: str | None = Field(default=None, max_length=2000)
    outcome_at: datetime | None = Field(default=None, sa_column=utc_column())
    job_id: int | None = Field(default=None, foreign_key="purge_job.id")
