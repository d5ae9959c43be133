"""Cases, links, holds and the purge job's records (RT-1..RT-5)."""

from __future__ import annotations

from datetime import datetime

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
