"""Injected clocks and time-zone helpers: logic never calls datetime.now() itself."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The station's (NTP-disciplined) clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests: stands still until advanced."""

    at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def local_to_utc(naive: datetime, tz: str) -> datetime:
    """Interpret a camera's naive local time in the station's zone and return UTC."""
    return naive.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """Databases may hand back naive datetimes; all stored times are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def add_months(value: datetime, months: int) -> datetime:
    """Calendar months, clamping the day (31 Jan + 1 month = 28/29 Feb)."""
    month0 = value.month - 1 + months
    year, month = value.year + month0 // 12, month0 % 12 + 1
    for day in (value.day, 30, 29, 28):
        try:
            return value.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as the JSON outputs print times."""
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")


def parse_span(
    start: str | None, end: str | None, tz: str
) -> tuple[datetime | None, datetime | None]:
    """A listing's `--from`/`--to` as [start, end): a bare date as `--to` takes that whole
    day in (`--from 2026-11-23 --to 2026-11-23` is the 23rd); a range that ends before it
    begins is refused, not answered with nothing."""
    from vault.errors import VaultError
    from vault.i18n import N_

    first = parse_time(start, tz)
    last = parse_time(end, tz)
    if last is not None and end is not None and _BARE_DATE.match(end.strip()):
        try:
            last += timedelta(days=1)
        except OverflowError:
            raise VaultError(
                N_("{option} {end} is past the last day a date can name"),
                option="--to",
                end=repr(end),
            ) from None
    if first is not None and last is not None and last <= first:
        raise VaultError(
            N_("{to} {end} comes before {since} {start}: give the earlier one first"),
            to="--to",
            end=end,
            since="--from",
            start=start,
        )
    return first, last


_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(value: str | None, tz: str) -> datetime | None:
    """ISO 8601 from a person; a time without a zone is the station's local time."""
    from vault.errors import VaultError
    from vault.i18n import N_

    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise VaultError(
            N_("not an ISO 8601 time: {value} (e.g. {example})"),
            value=repr(value),
            example="2026-11-23T09:00",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(tz))


ZONE_NAMES = {
    "Asia/Shanghai": "北京时间",
    "Asia/Chongqing": "北京时间",
    "Asia/Harbin": "北京时间",
    "PRC": "北京时间",
    "Asia/Urumqi": "乌鲁木齐时间",
    "Asia/Hong_Kong": "香港时间",
    "Asia/Macau": "澳门时间",
    "Asia/Taipei": "台北时间",
}


def zone_name(tz: str, at: datetime | None = None) -> str:
    """The zone's name for an official paper: 北京时间, or 当地时间（UTC+08:00）."""
    if tz in ZONE_NAMES:
        return ZONE_NAMES[tz]
    offset = (at or datetime.now(UTC)).astimezone(ZoneInfo(tz)).strftime("%z")
    return f"当地时间（UTC{offset[:3]}:{offset[3:]}）"


def paper_time(value: datetime | None, tz: str) -> str | None:
    """A time on an official paper: 2026-12-02 03:01:05 北京时间 (issue 17)."""
    if value is None:
        return None
    shown = value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")
    return f"{shown} {zone_name(tz, value)}"


def local_display(value: str | None, tz: str) -> str:
    """A UTC ISO time from the records, shown in the station's zone to the second."""
    if value is None:
        return "?"
    return datetime.fromisoformat(value).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")
