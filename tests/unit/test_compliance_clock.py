"""DV-2: camera clocks that cannot be trusted, and clip times that disagree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vault.compliance import clock
from vault.compliance.clock import ClipTimes
from vault.db.models import DockSession

STATION = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TZ = "Asia/Shanghai"


def dock(device_time: datetime | None) -> DockSession:
    offset = (device_time - STATION).total_seconds() if device_time else None
    return DockSession(
        station_id="s",
        profile="zfy-ref",
        volume="/v",
        started_at=STATION,
        device_time=device_time,
        station_time=STATION,
        clock_offset_s=offset,
    )


def test_small_offset_is_not_flagged() -> None:
    assert clock.dock_flags(dock(STATION - timedelta(seconds=9)), 10) == []
    assert clock.dock_flags(dock(STATION + timedelta(seconds=9)), 10) == []


def test_camera_47_minutes_slow_is_flagged() -> None:
    assert clock.dock_flags(dock(STATION - timedelta(minutes=47)), 10) == ["offset_exceeds_limit"]


def test_camera_that_believes_it_is_1970_is_a_reset_clock() -> None:
    flags = clock.dock_flags(dock(datetime(1970, 1, 1, 2, tzinfo=UTC)), 10)
    assert flags == ["offset_exceeds_limit", "clock_before_2000"]


def test_camera_clock_in_the_future_is_flagged() -> None:
    flags = clock.dock_flags(dock(datetime(2037, 1, 1, tzinfo=UTC)), 10)
    assert flags == ["offset_exceeds_limit", "clock_ahead_of_station"]


def test_unread_clock_is_flagged() -> None:
    assert clock.dock_flags(dock(None), 10) == ["clock_not_read"]


START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def times(creation: datetime | None = None, mtime: datetime | None = None) -> ClipTimes:
    return ClipTimes(START, creation, mtime, 600.0)


def test_times_stamped_at_start_or_close_agree() -> None:
    end = START + timedelta(seconds=600)
    assert clock.clip_flags(times(START, end), 10, TZ).flags == []
    assert clock.clip_flags(times(end, end + timedelta(seconds=3)), 10, TZ).flags == []


def test_disagreeing_creation_time_and_mtime_are_flagged() -> None:
    check = clock.clip_flags(
        times(START + timedelta(minutes=5), START + timedelta(hours=2)), 10, TZ
    )
    assert check.flags == ["creation_time_disagrees", "mtime_disagrees"]
    assert check.differences_s == {"creation_time": 300.0, "mtime": 6600.0}


def test_creation_time_written_as_local_time_is_told_apart() -> None:
    """Many cameras write Beijing time into the UTC creation_time field: 8 h off exactly."""
    check = clock.clip_flags(times(START + timedelta(hours=8)), 10, TZ)
    assert check.flags == ["creation_time_is_local_time"]


def test_creation_time_parsing() -> None:
    assert clock.parse_creation_time("2026-11-23T01:00:00.000000Z") == START
    assert clock.parse_creation_time("garbage") is None
    assert clock.parse_creation_time(None) is None
