"""What a camera says, checked before it becomes a record: identifiers that fit their
column and hold no control characters, numbers the database can hold, times the records
can compute with. A value that fails is never a database error or a traceback: it is not
recorded (the camera's own text stays in the docking's device_info, or in camera_time) and
the docking's problems say why, in one line."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

# Times a record can hold and compute with (time zones, clock corrections, retention in
# years): a camera time outside is kept as the camera wrote it and flagged, never used.
# Wide enough for a camera whose clock was reset (2000-01-01, 1970) or never set.
TIME_FROM = datetime(1900, 1, 1)
TIME_UNTIL = datetime(3000, 1, 1)
INT64_MAX = 2**63 - 1


def column_length(model: Any, column: str) -> int:
    """The length a model's string column holds."""
    length = model.__table__.columns[column].type.length
    assert isinstance(length, int)
    return length


def shown(value: str, limit: int = 40) -> str:
    """A camera's value in a problem line: quoted, escaped, and cut if long."""
    text = repr(value[:limit])
    return text + (f" (+{len(value) - limit} more characters)" if len(value) > limit else "")


def identifier(value: str | None, what: str, limit: int, problems: list[str]) -> str | None:
    """VALUE if a record can hold it: not longer than LIMIT, no control characters."""
    if value is None or value.strip() == "":
        return None
    if len(value) > limit:
        problems.append(
            f"{what} is longer than the records hold ({len(value)} characters, at most "
            f"{limit}); not recorded: {shown(value)}"
        )
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in value):
        problems.append(f"{what} holds control characters; not recorded: {shown(value)}")
        return None
    return value


def whole_number(
    value: str | None, what: str, low: int, high: int, problems: list[str]
) -> int | None:
    """VALUE as a whole number from LOW to HIGH; else None, and the problem said."""
    if value is None or value.strip() == "":
        return None
    try:
        number = int(value.strip())
    except ValueError:
        problems.append(f"{what} is not a number: {shown(value)}")
        return None
    if not low <= number <= high:
        problems.append(f"{what} is out of range ({low} to {high}); not recorded: {shown(value)}")
        return None
    return number


def usable_local(naive: datetime | None) -> bool:
    """Is a camera's naive local time one the records can compute with?"""
    return naive is not None and TIME_FROM <= naive.replace(tzinfo=None) < TIME_UNTIL


def usable_instant(instant: datetime | None) -> bool:
    if instant is None:
        return False
    return TIME_FROM.replace(tzinfo=UTC) <= instant < TIME_UNTIL.replace(tzinfo=UTC)


def shifted(instant: datetime | None, seconds: float | None) -> datetime | None:
    """INSTANT less SECONDS (a clock offset), or None when that leaves the usable times."""
    if instant is None or not seconds:
        return instant
    try:
        moved = instant - timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return None
    return moved if usable_instant(moved) else None
