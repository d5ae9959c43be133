"""Keys asked for in slices: one IN (...) of a few hundred values each, which every database
takes (SQLite's bound-parameter limit was 999 before 3.32), instead of one query a key."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

IN_SLICE = 500


def slices(keys: Iterable[int], size: int = IN_SLICE) -> Iterator[list[int]]:
    """KEYS once each, in ascending order, in lists of at most SIZE."""
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), size):
        yield wanted[start : start + size]
