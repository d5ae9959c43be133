"""The upload deadline (IN-1): footage reaches the store within 24 hours of recording, or
within two working days where the rules say so (Shanxi 第19条).

Working days follow the PRC State Council's calendar: statutory holidays are not working
days, and the adjusted working days (调休: a Saturday or Sunday worked in exchange) are. The
calendar comes from the `chinese-calendar` package, which its maintainers extend each year
once the State Council publishes the next one; each release covers a fixed range of years
(1.11.0: 2004-2026). Outside that range there is no way to know the holidays: the strict
call raises CalendarRangeError, the lenient one counts Monday to Friday and says so on the
result (`approximate`), so no report ever states a deadline it could not know.

Counting (民法典 第201条, 行政处罚法 第85条 practice): the day of recording is not counted;
the deadline is the end (24:00 local time) of the second working day after it.
"""

from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from vault.errors import VaultError
from vault.i18n import N_

RULES = ("24h", "2 working days")
WORKING_DAYS = 2
# No rule's deadline ends sooner after the recording: 24 h, or the end of the second working
# day after the day of recording (more than 48 h). A clip sealed sooner is never late, which
# lets a worklist look only at the clips sealed at least this long after their recording.
MIN_DEADLINE = timedelta(hours=24)


class CalendarRangeError(VaultError):
    """A working-day deadline was asked for a year the installed calendar does not cover."""


@dataclass(frozen=True)
class Deadline:
    rule: str
    due: datetime  # UTC
    approximate: bool = False  # counted Mon-Fri: the calendar had no data for a year
    note: str | None = None


def calendar_version() -> str:
    try:
        return importlib.metadata.version("chinese-calendar")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a broken install
        return "unknown"


@functools.cache
def covered_years() -> tuple[int, int]:
    """The first and last year the installed calendar knows the holidays of."""
    days = [*chinese_calendar.holidays, *chinese_calendar.workdays]
    years = {day.year for day in days}
    return min(years), max(years)


def calendar_info() -> dict[str, object]:
    first, last = covered_years()
    return {"package": "chinese-calendar", "version": calendar_version(), "years": [first, last]}


def is_working_day(day: date) -> bool:
    """A PRC working day; CalendarRangeError for a year the calendar does not cover."""
    first, last = covered_years()
    if not first <= day.year <= last:
        raise CalendarRangeError(
            N_(
                "the installed {package} {version} knows the PRC holidays of {first}-{last} "
                "only, not {year}: update it ({command}) to count working days in that year"
            ),
            package="chinese-calendar",
            version=calendar_version(),
            first=first,
            last=last,
            year=day.year,
            command="pip install -U chinese-calendar",
        )
    return bool(chinese_calendar.is_workday(day))


def _weekday(day: date) -> bool:
    return day.weekday() < 5


def nth_working_day_after(day: date, count: int, *, strict: bool = True) -> tuple[date, bool]:
    """The count-th working day after `day`; with strict=False, days outside the calendar's
    range count Mon-Fri and the second value says the answer is approximate."""
    approximate, found, current = False, 0, day
    while found < count:
        current += timedelta(days=1)
        try:
            working = is_working_day(current)
        except CalendarRangeError:
            if strict:
                raise
            approximate, working = True, _weekday(current)
        found += working
    return current, approximate


def deadline(recorded: datetime, rule: str, tz: str, *, strict: bool = False) -> Deadline:
    """When a clip recorded at `recorded` (corrected, aware) must be sealed by (IN-1)."""
    if rule == "24h":
        return Deadline(rule, recorded + timedelta(hours=24))
    if rule != "2 working days":
        raise VaultError(
            N_("unknown upload deadline {rule}; use one of {known}"),
            rule=repr(rule),
            known=", ".join(RULES),
        )
    zone = ZoneInfo(tz)
    local_day = recorded.astimezone(zone).date()
    last, approximate = nth_working_day_after(local_day, WORKING_DAYS, strict=strict)
    due = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    note = None
    if approximate:
        first, end = covered_years()
        note = (
            f"chinese-calendar {calendar_version()} covers {first}-{end} only: working days "
            "were counted Monday to Friday, without holidays; check this deadline by hand"
        )
    return Deadline(rule, due, approximate, note)


@dataclass(frozen=True)
class Lateness:
    late: bool
    hours: float  # from recording to sealing
    deadline: Deadline


def check(recorded: datetime, sealed: datetime, rule: str, tz: str) -> Lateness:
    """Was the clip sealed after its deadline? (IN-1)"""
    due = deadline(recorded, rule, tz)
    hours = (sealed - recorded).total_seconds() / 3600
    return Lateness(sealed > due.due, round(hours, 2), due)
