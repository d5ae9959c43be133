"""Camera custody (DV-3, DV-5, DV-6): the usage 台账 of Pingdingshan 第4条 — checkout and
return with times, the officer and the pre-use check; maintenance, faults, loss, damage
and misuse — one row per event, never changed after it is written."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from vault.db.models.types import utc_column


class DeviceEvent(SQLModel, table=True):
    """One event in a camera's custody ledger."""

    __tablename__ = "device_event"

    id: int | None = Field(default=None, primary_key=True)
    device_pk: int = Field(foreign_key="device.id", index=True)
    # checkout | return | maintenance | fault | loss | damage | misuse
    kind: str = Field(max_length=16, index=True)
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    officer_pk: int | None = Field(default=None, foreign_key="officer.id", index=True)
    recorded_by: str = Field(max_length=128)  # the principal who entered it
    note: str | None = Field(default=None, max_length=2000)
    # The pre-use check of a checkout (DV-3): what the officer read off the camera, or the
    # latest docking's readings where he gave none (check_source "dock:<id>").
    battery_percent: int | None = None
    free_bytes: int | None = Field(default=None, sa_type=BigInteger)
    clock_ok: bool | None = None
    check_source: str | None = Field(default=None, max_length=32)  # officer | dock:<id>


class DockLog(SQLModel, table=True):
    """A camera's own operation log as it was at one docking (OV-4): its bytes sealed as a
    store record (`custody/<ab>/<sha256>`), what its lines say read by the camera's profile.
    A custody record of the docking, not evidence: never listed, never erased."""

    __tablename__ = "dock_log"

    id: int | None = Field(default=None, primary_key=True)
    dock_session_id: int = Field(foreign_key="dock_session.id", index=True)
    path: str = Field(max_length=1024)  # on the camera, relative to the volume root
    sha256: str = Field(max_length=64, index=True)
    size: int = Field(sa_type=BigInteger)
    record: str = Field(max_length=256)  # the store record that holds its bytes
    sealed_at: datetime = Field(sa_column=utc_column(nullable=False))
    # What the profile's patterns found: file names the camera says it wrote or deleted.
    recorded: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    deleted: list[str] = Field(default_factory=list, sa_column=Column(JSON))
