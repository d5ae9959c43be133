"""Devices, officers, dockings, evidence, sightings and the audit chain (the spine)."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from vault.db.models.types import utc_column
from vault.timeutil import as_utc


class Officer(SQLModel, table=True):
    """An enforcement officer (执法人员), identified by badge number."""

    id: int | None = Field(default=None, primary_key=True)
    officer_id: str = Field(max_length=32, unique=True, index=True)
    name: str | None = Field(default=None, max_length=128)
    unit: str | None = Field(default=None, max_length=128)


class Device(SQLModel, table=True):
    """A body camera (执法记录仪); keeper_officer_id is its one responsible keeper (DV-1)."""

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=64, unique=True, index=True)
    model: str | None = Field(default=None, max_length=128)
    vendor: str | None = Field(default=None, max_length=128)
    firmware: str | None = Field(default=None, max_length=64)
    profile: str = Field(max_length=64)
    keeper_officer_id: int | None = Field(default=None, foreign_key="officer.id")
    first_seen_at: datetime = Field(sa_column=utc_column(nullable=False))
    last_seen_at: datetime = Field(sa_column=utc_column(nullable=False))


CLOCK_SYNCED_AT = "clock_synced_at"  # in DockSession.device_info: when the dock set the clock


class DockSession(SQLModel, table=True):
    """One docking of one camera at one station: the device usage ledger's line (DV-1, DV-3)."""

    __tablename__ = "dock_session"

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(max_length=64, index=True)
    device_pk: int | None = Field(default=None, foreign_key="device.id", index=True)
    officer_pk: int | None = Field(default=None, foreign_key="officer.id", index=True)
    profile: str = Field(max_length=64)
    volume: str = Field(max_length=1024)
    started_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())
    # reading | done | incomplete | failed | interrupted (the station stopped mid-dock)
    status: str = Field(default="reading", max_length=32)
    error: str | None = None
    # Where the camera sat and what the dock saw of it (issue 3); empty for `evault ingest`.
    bay: str | None = Field(default=None, max_length=64)  # USB port path, e.g. "usb-1-1.2"
    devname: str | None = Field(default=None, max_length=256)  # /dev/sdb1
    fs_type: str | None = Field(default=None, max_length=16)  # vfat | exfat | ...
    fs_label: str | None = Field(default=None, max_length=64)
    usb_id: str | None = Field(default=None, max_length=16)  # vendor:product
    usb_serial: str | None = Field(default=None, max_length=128)
    mounted_with: str | None = Field(default=None, max_length=32)  # kernel | fusefat | exfat-fuse
    docked_at: datetime | None = Field(default=None, sa_column=utc_column())  # camera plugged in
    undocked_at: datetime | None = Field(default=None, sa_column=utc_column())  # pulled out
    clips_erased: int = 0
    # What the camera said of itself over USB (GA/T 947.4 ZFY_INFO), beside what the files
    # say (officer_pk, the clips' officers): a disagreement is a DV-1 finding.
    camera_officer_id: str | None = Field(default=None, max_length=32)
    camera_officer_name: str | None = Field(default=None, max_length=64)
    camera_unit_id: str | None = Field(default=None, max_length=32)
    camera_unit_name: str | None = Field(default=None, max_length=64)
    device_info: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    device_time_raw: str | None = Field(default=None, max_length=64)  # as the camera states it
    device_time: datetime | None = Field(default=None, sa_column=utc_column())
    station_time: datetime | None = Field(default=None, sa_column=utc_column())
    clock_offset_s: float | None = None  # camera minus station, seconds (DV-2)
    battery_percent: int | None = None
    free_bytes: int | None = Field(default=None, sa_type=BigInteger)
    clips_sealed: int = 0
    clips_seen: int = 0
    bytes_read: int = Field(default=0, sa_type=BigInteger)


class DeviceAssignment(SQLModel, table=True):
    """Who was the responsible keeper of a camera, from when to when (DV-1)."""

    __tablename__ = "device_assignment"

    id: int | None = Field(default=None, primary_key=True)
    device_pk: int = Field(foreign_key="device.id", index=True)
    officer_pk: int = Field(foreign_key="officer.id", index=True)
    assigned_at: datetime = Field(sa_column=utc_column(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=utc_column())
    assigned_by: str = Field(max_length=128)
    note: str | None = None
    # When the camera was last seen carrying this keeper's badge (read, or written by the
    # dock with WriteZFYInfo where its profile allows); None: not yet.
    carried_at: datetime | None = Field(default=None, sa_column=utc_column())


class Evidence(SQLModel, table=True):
    """One original clip, stored once however often it is docked (IN-3, IN-6)."""

    # A camera's or an officer's clips of a span of time are one range of an index (issue 22:
    # `evidence list --device/--officer --from --to` at ten million clips).
    __table_args__ = (
        Index("ix_evidence_device_pk_recorded", "device_pk", "recorded_at_corrected"),
        Index("ix_evidence_officer_pk_recorded", "officer_pk", "recorded_at_corrected"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True, index=True)
    size: int = Field(sa_type=BigInteger)  # clips pass 4 GiB: 64-bit on every database
    kind: str = Field(max_length=16)  # video | photo | audio | unclassified
    status: str = Field(default="sealed", max_length=16, index=True)  # sealed | verified | failed
    device_pk: int | None = Field(default=None, foreign_key="device.id")
    officer_pk: int | None = Field(default=None, foreign_key="officer.id")
    dock_session_id: int = Field(foreign_key="dock_session.id", index=True)  # first docking
    file_name: str = Field(max_length=255)
    camera_folder: str = Field(max_length=1024)
    important: bool = False
    sequence: str | None = Field(default=None, max_length=16)
    # Times as the camera states them (its own clock, its local zone) and where they came from.
    camera_time: str | None = Field(default=None, max_length=32)
    camera_time_source: str = Field(default="none", max_length=16)  # file_name | mtime | none
    recorded_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    recorded_at_corrected: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    docked_at: datetime = Field(sa_column=utc_column(nullable=False))
    sealed_at: datetime = Field(sa_column=utc_column(nullable=False))
    # Whole seconds from the corrected recording time to sealing (upload_delay_s()); None
    # without a recording time. Indexed: the clips that may be late (IN-1) are one range.
    upload_delay_s: int | None = Field(default=None, sa_type=BigInteger, index=True)
    verified_at: datetime | None = Field(default=None, sa_column=utc_column())
    verify_error: str | None = None
    storage_backend: str = Field(max_length=16)
    storage_key: str = Field(max_length=512)
    storage_version: str | None = Field(default=None, max_length=1024)  # S3 VersionId
    immutable_applied: bool = False
    # Retention (RT-1..RT-4): the class and what it rests on; retain_until is the effective
    # date, the maximum over every rule, recomputed on each change. None: kept indefinitely.
    retention_class: str = Field(default="routine", max_length=16, index=True)
    long_term_category: str | None = Field(default=None, max_length=32)
    retention_reason: str | None = None
    legal_hold: bool = Field(default=False, index=True)  # any hold: evidence's own or a case's
    retain_until: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    purged_at: datetime | None = Field(default=None, sa_column=utc_column())
    # Media (IN-5): what ffprobe found; "damaged" clips are still sealed exactly as they came.
    media_state: str = Field(default="pending", max_length=16, index=True)
    # pending | ok | damaged | not_media
    media: dict[str, object] | None = Field(default=None, sa_column=Column(JSON))
    damage: str | None = None  # why ffprobe could not read it
    # AC-9: confidentiality markings (state_secret, commercial_secret, privacy); None: none.
    confidentiality: list[str] | None = Field(default=None, sa_column=Column(JSON))


class Sighting(SQLModel, table=True):
    """A file seen on a camera at one docking; several sightings may share one evidence (IN-6)."""

    __table_args__ = (UniqueConstraint("dock_session_id", "path"),)

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", index=True)
    dock_session_id: int = Field(foreign_key="dock_session.id", index=True)
    path: str = Field(max_length=1024)  # relative to the volume root
    size: int = Field(sa_type=BigInteger)  # clips pass 4 GiB: 64-bit on every database
    mtime: datetime | None = Field(default=None, sa_column=utc_column())
    important: bool = False
    outcome: str = Field(max_length=16)  # sealed | already_sealed | duplicate | unclassified
    seen_at: datetime = Field(sa_column=utc_column(nullable=False))
    erased_at: datetime | None = Field(default=None, sa_column=utc_column())


class AuditEvent(SQLModel, table=True):
    """What the vault did and on whose behalf; each row hashes its predecessor (AC-7)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    station_id: str = Field(max_length=64)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64, index=True)
    subject: str | None = Field(default=None, max_length=128, index=True)
    detail: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))
    # unique: two writers that read the same predecessor cannot both append (no forks).
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


def upload_delay_s(recorded_corrected: datetime | None, sealed: datetime) -> int | None:
    """Evidence.upload_delay_s: whole seconds (rounded down) from the corrected recording
    time to the sealing."""
    if recorded_corrected is None:
        return None
    return math.floor((as_utc(sealed) - as_utc(recorded_corrected)).total_seconds())
