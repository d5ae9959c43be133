"""The state of one ingest, shared by its stages (pipeline, verification and erase), and
what the docking station tells ingest of a camera beyond its files."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from vault.context import Vault
from vault.db.models import DockSession, Evidence
from vault.ingest.deviceinfo import DeviceInfo
from vault.ingest.plan import Candidate
from vault.ingest.report import IngestReport, Progress
from vault.ingest.volume import Volume
from vault.profiles import Profile
from vault.store.base import PutResult, VerifyResult


@dataclass(frozen=True)
class DockContext:
    """What the docking station knows of a camera beyond its files (issue 3, DV-1, DV-3)."""

    bay: str | None = None
    devname: str | None = None
    fs_type: str | None = None
    fs_label: str | None = None
    usb_id: str | None = None
    usb_serial: str | None = None
    mounted_with: str | None = None
    # The mount's correction of the modification times it shows (fusefat's month), if any.
    true_mtime: Callable[[int], int] | None = None
    docked_at: datetime | None = None
    on_dock: Callable[[int], None] | None = None  # told the dock session's id once it exists
    # What the camera's control driver said (GA/T 947.4 GetZFYInfo and clock), if it has one.
    driver_info: dict[str, str] = field(default_factory=dict)
    device_id: str | None = None
    officer_id: str | None = None
    device_time: datetime | None = None  # the camera's clock read over USB, aware
    measured_at: datetime | None = None  # the station's time when device_time was read
    battery_percent: int | None = None  # reported over USB (DV-3)
    # What the camera said of its user (GA/T 947.4 ZFY_INFO), kept beside the files' (DV-1).
    camera_officer_id: str | None = None
    camera_officer_name: str | None = None
    camera_unit_id: str | None = None
    camera_unit_name: str | None = None


@dataclass
class ReadClip:
    """A clip read, hashed and written, its seal under way on the sealing thread: recorded
    once the seal's result is in (in the order the clips were read)."""

    candidate: Candidate
    stat: os.stat_result
    sha256: str
    size: int
    camera_time: str | None
    camera_time_source: str
    recorded_at: datetime | None
    recorded_at_corrected: datetime | None
    retain_until: datetime
    sealed: Future[PutResult]


# Given the read-only volume, close it, make the camera writable and return it opened anew.
Remount = Callable[[Volume], Volume]


@dataclass
class Run:
    """Mutable state of one ingest."""

    vault: Vault
    volume: Volume
    profile: Profile
    info: DeviceInfo
    dock: DockSession
    report: IngestReport
    erase: bool
    progress: Progress
    officers: dict[str, int] = field(default_factory=dict)
    newly_sealed: set[str] = field(default_factory=set)
    pending: dict[int, Future[VerifyResult]] = field(default_factory=dict)
    verified: dict[int, VerifyResult] = field(default_factory=dict)
    read_stats: dict[str, os.stat_result] = field(default_factory=dict)
    unrecorded: deque[ReadClip] = field(default_factory=deque)  # read, not yet recorded
    retain_of: dict[str, datetime] = field(default_factory=dict)  # this run's, by sha256
    rows: dict[int, Evidence] = field(default_factory=dict)  # held until their verification
    stop: threading.Event | None = None
    remount_rw: Remount | None = None
    context: DockContext | None = None
    stopped: bool = False
    bad_times: int = 0  # clips whose time is no usable date (kept as written, flagged)
