"""Sorting a camera volume's files into clip candidates and reported skips, by profile."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from vault.db.models import Device, Evidence, Officer
from vault.ingest import values
from vault.ingest.deviceinfo import info_file_names
from vault.ingest.volume import Volume, VolumeFile
from vault.profiles import NameInfo, Profile


@dataclass
class Candidate:
    """A file in a clip folder: what the scan saw and what its name says."""

    item: VolumeFile
    important: bool
    name: NameInfo | None


def plan(
    volume: Volume, profile: Profile, problems: list[str] | None = None
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Sort every file into clip candidates and reported skips; what a name says that no
    record can hold is left out, and said once in PROBLEMS."""
    said: set[str] = set()
    problems = [] if problems is None else problems
    candidates: list[Candidate] = []
    skipped = [(s.rel, s.reason) for s in volume.skipped]
    info_names = info_file_names(profile)
    for item in volume.files:
        if not item.dir_rel and item.name.upper() in info_names:
            skipped.append((item.rel, "device information file (recorded with the docking)"))
            continue
        where = profile.classify(item.rel)
        if where.role != "clip":
            skipped.append((item.rel, where.reason or "not a clip"))
        elif item.size == 0:
            skipped.append((item.rel, "empty file (nothing to seal)"))
        else:
            name = _checked(profile.parse_name(item.name), said, problems)
            important = where.important or bool(name and name.important)
            candidates.append(Candidate(item, important, name))
    return candidates, skipped


NAME_FIELDS = {
    "device_id": (Device, "device_id"),
    "officer_id": (Officer, "officer_id"),
    "sequence": (Evidence, "sequence"),
}


def _checked(name: NameInfo | None, said: set[str], problems: list[str]) -> NameInfo | None:
    """NAME without the identifiers a record cannot hold (each problem said once)."""
    if name is None:
        return None
    changes: dict[str, str | None] = {}
    for field, (model, column) in NAME_FIELDS.items():
        value = getattr(name, field)
        if value is None:
            continue
        found: list[str] = []
        limit = values.column_length(model, column)
        if values.identifier(value, f"a {field} in a file name", limit, found) is None:
            changes[field] = None
            for problem in found:
                if problem not in said:
                    said.add(problem)
                    problems.append(problem)
    return replace(name, **changes) if changes else name  # type: ignore[arg-type]


def most_common(values: list[str | None]) -> str | None:
    """The value most files agree on (the device or officer of a volume), if any."""
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None
