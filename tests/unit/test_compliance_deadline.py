"""IN-1: the upload deadline, 24 h or two PRC working days (holidays and adjusted working days
from chinese-calendar), and a clear answer outside the calendar's years."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from vault.compliance import deadline
from vault.compliance.deadline import CalendarRangeError
from vault.errors import VaultError

TZ = "Asia/Shanghai"


def shanghai(text: str) -> datetime:
    """Local Asia/Shanghai wall time as aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(TZ)).astimezone(UTC)


def test_installed_calendar_covers_2026_and_says_which_years() -> None:
    first, last = deadline.covered_years()
    assert first <= 2026 <= last
    info = deadline.calendar_info()
    assert info["package"] == "chinese-calendar" and info["years"] == [first, last]


def test_24h_is_a_plain_day_regardless_of_holidays() -> None:
    recorded = shanghai("2026-09-30 20:30:00")
    due = deadline.deadline(recorded, "24h", TZ)
    assert due.due == shanghai("2026-10-01 20:30:00") and not due.approximate


def test_national_day_eve_counts_the_first_two_working_days_after_the_holiday() -> None:
    """IN-1: 2026-10-01..07 are holidays; Thu 10-08 and Fri 10-09 are the two working days."""
    recorded = shanghai("2026-09-30 20:30:00")
    due = deadline.deadline(recorded, "2 working days", TZ)
    assert due.due == shanghai("2026-10-10 00:00:00")
    on_time = deadline.check(recorded, shanghai("2026-10-09 10:00:00"), "2 working days", TZ)
    assert on_time.late is False and on_time.hours == pytest.approx(205.5)
    assert deadline.check(recorded, shanghai("2026-10-09 10:00:00"), "24h", TZ).late is True
    # Saturday 10-10 is itself an adjusted working day, but the third one: late.
    assert deadline.check(recorded, shanghai("2026-10-10 09:00:00"), "2 working days", TZ).late


def test_adjusted_working_sunday_counts_as_a_working_day() -> None:
    """Sunday 2026-09-20 is worked (调休): Fri 09-18's two working days are Sun 20, Mon 21."""
    assert deadline.is_working_day(date(2026, 9, 20)) is True
    assert deadline.is_working_day(date(2026, 9, 19)) is False  # an ordinary Saturday
    recorded = shanghai("2026-09-18 20:00:00")
    assert deadline.deadline(recorded, "2 working days", TZ).due == shanghai("2026-09-22 00:00:00")
    assert deadline.check(recorded, shanghai("2026-09-22 10:00:00"), "2 working days", TZ).late


def test_the_recording_day_is_not_counted() -> None:
    recorded = shanghai("2026-11-23 08:00:00")  # a Monday morning
    assert deadline.deadline(recorded, "2 working days", TZ).due == shanghai("2026-11-26 00:00:00")


def test_years_outside_the_calendar_are_an_error_or_a_flagged_estimate() -> None:
    """Never a silent wrong answer: strict raises naming the years; lenient says approximate."""
    _, last = deadline.covered_years()
    outside = datetime(last + 1, 6, 2, 4, tzinfo=UTC)
    with pytest.raises(CalendarRangeError, match=f"not {last + 1}"):
        deadline.deadline(outside, "2 working days", TZ, strict=True)
    rough = deadline.deadline(outside, "2 working days", TZ)
    assert rough.approximate is True and rough.note and "check this deadline by hand" in rough.note
    inside = deadline.deadline(shanghai("2026-06-02 12:00:00"), "2 working days", TZ, strict=True)
    assert inside.approximate is False


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(VaultError, match="unknown upload deadline"):
        deadline.deadline(shanghai("2026-06-02 12:00:00"), "3 days", TZ)
