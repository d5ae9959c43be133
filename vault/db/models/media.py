"""Derivatives of originals and the persistent media job queue (IN-3, IN-5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from vault.db.models.types import utc_column


class Derivative(SQLModel, table=True):
    """A file made from an original (viewing copy, poster, contact sheet, audio, salvage);
    stored with its own SHA-256 beside the original, never in its place (IN-3)."""

    __table_args__ = (UniqueConstraint("evidence_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", index=True)
    kind: str = Field(max_length=16)  # viewing | poster | contact_sheet | audio | salvage
    sha256: str = Field(max_length=64, index=True)
    size: int = Field(sa_type=BigInteger)
    storage_key: str = Field(max_length=512)
    storage_version: str | None = Field(default=None, max_length=1024)
    media_type: str = Field(max_length=64)  # video/mp4, image/jpeg, audio/flac, ...
    encoder: str | None = Field(default=None, max_length=32)  # libx264 | h264_nvenc | pillow
    params: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))
    recovered_s: float | None = None  # salvage: seconds of footage recovered
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    purged_at: datetime | None = Field(default=None, sa_column=utc_column())


class MediaJob(SQLModel, table=True):
    """Persistent media work: survives restarts; sealing never waits for it."""

    __tablename__ = "media_job"
    __table_args__ = (UniqueConstraint("evidence_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", index=True)
    kind: str = Field(max_length=16)  # probe | viewing | poster | contact_sheet | audio | salvage
    state: str = Field(default="queued", max_length=16, index=True)
    # queued | running | done | failed (will retry) | dead (gave up) | skipped
    attempts: int = 0
    max_attempts: int = 5
    last_error: str | None = None
    not_before: datetime = Field(sa_column=utc_column(nullable=False, index=True))  # backoff
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column())
    heartbeat_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())


class RedactionPlan(SQLModel, table=True):
    """One version of what a released copy of a clip hides (AC-9, issue 20): detected faces
    and a reviewer's boxes (time ranges × rectangles) and mute ranges, as JSON. Each change
    is a new attributed version, never an update; a render names the version it shows."""

    __tablename__ = "redaction_plan"
    __table_args__ = (UniqueConstraint("evidence_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", index=True)
    version: int  # 1, 2, ... per evidence
    plan: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))
    sha256: str = Field(max_length=64)  # of the plan's canonical JSON
    author: str = Field(max_length=128)  # the principal who made this version
    os_user: str = Field(max_length=64)  # the OS user it acted through
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    note: str | None = None
