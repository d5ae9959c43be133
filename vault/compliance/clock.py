"""Camera clocks (DV-2): which dockings found a clock that cannot be trusted, and which clips
carry times that disagree with one another.

At docking the vault measures the camera's clock against the station's and keeps both the
camera's and the corrected times (vault.ingest.pipeline). Here the measurement is judged:
an offset beyond `max_clock_offset_s`; a clock before 2000 or ahead of the station (a clock
reset to its factory date, or set by hand into the future); no clock reading at all. Per
clip, the three times the camera stamped — its file name, the MP4 creation_time, the file's
modification time — come from the same clock and must agree within the same tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from vault.db.models import AuditEvent, Device, DockSession, Evidence, Sighting
from vault.db.models.records import CLOCK_SYNCED_AT
from vault.timeutil import as_utc, iso, local_to_utc

EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)

# Dock flags
OFFSET = "offset_exceeds_limit"
BEFORE_2000 = "clock_before_2000"
AHEAD = "clock_ahead_of_station"
UNKNOWN = "clock_not_read"
# Clip flags
CREATION_TIME = "creation_time_disagrees"
CREATION_LOCAL = "creation_time_is_local_time"  # the camera wrote local time as UTC
MTIME = "mtime_disagrees"
CLIP_BEFORE_2000 = "clip_time_before_2000"

DESCRIPTIONS = {
    OFFSET: "camera clock off by more than the limit",
    BEFORE_2000: "camera clock before 2000 (reset)",
    AHEAD: "camera clock ahead of the station (reset or set wrong)",
    UNKNOWN: "camera clock not read at docking: times uncorrected",
    CREATION_TIME: "MP4 creation_time disagrees with the file-name time",
    CREATION_LOCAL: "MP4 creation_time holds local time marked as UTC",
    MTIME: "file modification time disagrees with the file-name time",
    CLIP_BEFORE_2000: "the camera stamped the clip before 2000",
}


def dock_flags(dock: DockSession, limit_s: float) -> list[str]:
    """DV-2 flags for one docking's clock measurement."""
    return clock_flags(dock.device_time, dock.station_time, dock.clock_offset_s, limit_s)


def clock_flags(
    camera_time: datetime | None,
    station_time: datetime | None,
    offset_s: float | None,
    limit_s: float,
) -> list[str]:
    """DV-2 flags for a clock read: the camera's time, the station's, their difference."""
    if camera_time is None or offset_s is None:
        return [UNKNOWN]
    flags = []
    if abs(offset_s) > limit_s:
        flags.append(OFFSET)
    device_time = as_utc(camera_time)
    if device_time < EPOCH_2000:
        flags.append(BEFORE_2000)
    station = as_utc(station_time) if station_time else None
    if station is not None and device_time > station + timedelta(seconds=limit_s):
        flags.append(AHEAD)
    return flags


def parse_creation_time(value: object) -> datetime | None:
    """ffprobe's creation_time ('2026-11-23T07:00:00.000000Z'), aware; None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ClipTimes:
    """What the camera's own clock stamped on one clip (all UTC)."""

    name_time: datetime | None  # the file name's time
    creation_time: datetime | None  # MP4 creation_time (probe)
    mtime: datetime | None  # modification time on the camera's volume
    duration_s: float | None


@dataclass
class ClipCheck:
    flags: list[str] = field(default_factory=list)
    differences_s: dict[str, float] = field(default_factory=dict)


def _near(moment: datetime, anchors: list[datetime]) -> float:
    """The smallest distance in seconds from moment to any anchor."""
    return min(abs((moment - anchor).total_seconds()) for anchor in anchors)


def clip_flags(times: ClipTimes, tolerance_s: float, tz: str) -> ClipCheck:
    """DV-2: the file-name time against creation_time and mtime. Cameras stamp either the
    start or the close of a recording, so each may match the start or start + duration."""
    check = ClipCheck()
    start = times.name_time
    if start is None:
        return check
    if start < EPOCH_2000:
        check.flags.append(CLIP_BEFORE_2000)
    anchors = [start]
    if times.duration_s:
        anchors.append(start + timedelta(seconds=times.duration_s))
    if times.creation_time is not None:
        diff = _near(times.creation_time, anchors)
        check.differences_s["creation_time"] = round(diff, 1)
        if diff > tolerance_s:
            zone_s = start.astimezone(ZoneInfo(tz)).utcoffset() or timedelta(0)
            shifted = times.creation_time - zone_s
            if zone_s and _near(shifted, anchors) <= tolerance_s:
                check.flags.append(CREATION_LOCAL)
            else:
                check.flags.append(CREATION_TIME)
    if times.mtime is not None:
        diff = _near(times.mtime, anchors)
        check.differences_s["mtime"] = round(diff, 1)
        if diff > tolerance_s:
            check.flags.append(MTIME)
    return check


def times_of(evidence: Evidence, mtime: datetime | None, tz: str) -> ClipTimes:
    """The camera-clock times of a clip from its records."""
    name_time = None
    if evidence.camera_time_source == "file_name" and evidence.camera_time:
        try:
            name_time = local_to_utc(datetime.fromisoformat(evidence.camera_time), tz)
        except ValueError:
            name_time = None
    media: dict[str, Any] = evidence.media or {}
    duration = media.get("duration_s")
    return ClipTimes(
        name_time=name_time,
        creation_time=parse_creation_time(media.get("creation_time")),
        mtime=as_utc(mtime) if mtime else None,
        duration_s=float(duration) if isinstance(duration, int | float) else None,
    )


def first_mtime(session: Session, evidence: Evidence) -> datetime | None:
    """The modification time the file had when it was first docked."""
    query = (
        select(Sighting.mtime)
        .where(Sighting.evidence_id == evidence.id)
        .where(Sighting.dock_session_id == evidence.dock_session_id)
        .order_by(col(Sighting.id))
    )
    return session.exec(query).first()


def was_synced(dock: DockSession, synced: set[int]) -> bool:
    """Did the dock set the camera's clock at this docking? Its device_info says so (the
    driver sets the clock before the docking's record exists, so its audit event names the
    bay), or an audit event names the docking (SYNCED: synced_docks)."""
    return dock.id in synced or bool((dock.device_info or {}).get(CLOCK_SYNCED_AT))


def synced_docks(session: Session) -> set[int]:
    """Dockings at which the dock daemon set the camera's clock (audit: device.clock_synced)."""
    found: set[int] = set()
    for event in session.exec(select(AuditEvent).where(AuditEvent.action == "device.clock_synced")):
        dock_id = (event.detail or {}).get("dock_id")
        if isinstance(dock_id, int):
            found.add(dock_id)
        elif event.subject and event.subject.startswith("dock:"):
            number = event.subject.removeprefix("dock:")
            if number.isdigit():
                found.add(int(number))
    return found


def dock_entry(
    session: Session, dock: DockSession, limit_s: float, synced: set[int]
) -> dict[str, Any]:
    """One docking's clock as the report shows it."""
    assert dock.id is not None
    device = session.get(Device, dock.device_pk) if dock.device_pk else None
    return {
        "dock_id": dock.id,
        "device_id": device.device_id if device else None,
        "station_id": dock.station_id,
        "device_time": iso(dock.device_time),
        "station_time": iso(dock.station_time),
        "offset_s": round(dock.clock_offset_s, 1) if dock.clock_offset_s is not None else None,
        "flags": dock_flags(dock, limit_s),
        "synced": was_synced(dock, synced),
    }


def clip_entry(
    session: Session, evidence: Evidence, tolerance_s: float, tz: str
) -> dict[str, Any] | None:
    """One clip's time disagreements, or None when its times agree."""
    times = times_of(evidence, first_mtime(session, evidence), tz)
    check = clip_flags(times, tolerance_s, tz)
    if not check.flags:
        return None
    return {
        "evidence_id": evidence.id,
        "file_name": evidence.file_name,
        "flags": check.flags,
        "name_time": iso(times.name_time),
        "creation_time": iso(times.creation_time),
        "mtime": iso(times.mtime),
        "differences_s": check.differences_s,
    }
