"""Sorting a camera volume's files into clip candidates and reported skips, by profile."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from vault.ingest.deviceinfo import info_file_names
from vault.ingest.volume import Volume, VolumeFile
from vault.profiles import NameInfo, Profile


@dataclass
class Candidate:
    """A file in a clip folder: what the scan saw and what its name says."""

    item: VolumeFile
    important: bool
    name: NameInfo | None


def plan(volume: Volume, profile: Profile) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Sort every file into clip candidates and reported skips."""
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
            name = profile.parse_name(item.name)
            important = where.important or bool(name and name.important)
            candidates.append(Candidate(item, important, name))
    return candidates, skipped


def most_common(values: list[str | None]) -> str | None:
    """The value most files agree on (the device or officer of a volume), if any."""
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None
