"""Options that take one of a few known values: a value that is none of them is a usage error
with the nearest one named ("did you mean long_term?"), never a listing that is silently
empty (issue 16)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from vault.errors import UsageError
from vault.i18n import N_

__all__ = ["UsageError", "nearest"]


def nearest(value: str, known: Sequence[str], n: int = 1) -> list[str]:
    """The known values closest to VALUE (difflib), closest first; none when nothing is near."""
    folded = {k.casefold(): k for k in known}
    if value.casefold() in folded:
        return [folded[value.casefold()]]
    return difflib.get_close_matches(value, list(known), n=n, cutoff=0.6)


def choose(option: str, value: str | None, known: Sequence[str]) -> str | None:
    """VALUE when it is one of KNOWN (or None: the option was not given); else a usage error
    naming the nearest known value and all of them."""
    if value is None or value in known:
        return value
    close = nearest(value, known)
    if close:
        raise UsageError(
            N_("{option} {value} is not known: did you mean {nearest}? (one of {known})"),
            option=option,
            value=repr(value),
            nearest=close[0],
            known=", ".join(known),
        )
    raise UsageError(
        N_("{option} {value} is not known: (one of {known})"),
        option=option,
        value=repr(value),
        known=", ".join(known),
    )


def at_least_one(option: str, value: int | None) -> int | None:
    """A count of days (or of anything) that must be 1 or more when given."""
    if value is not None and value < 1:
        raise UsageError(
            N_("{option} must be at least 1 (got {value})"), option=option, value=value
        )
    return value
