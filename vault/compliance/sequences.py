"""Deletion on the camera (OV-4): a camera numbers its clips, so a number that never arrived
is a clip deleted (or lost) on the camera before it was docked.

Each camera's clips are taken in the order the camera recorded them (its own clock, which
orders its own numbering even when it is wrong by hours); where the next number is more
than one above the last, the numbers between never reached the vault. A number at or
below the last is the camera's counter starting again (a wrap from 9999, a reset after
service): no finding, the walk goes on from there. The camera's IMP copy carries the
number of its original and counts once. Purged clips still arrived: their rows stay.
Numbers before the first clip a camera ever delivered are not known to be missing (the
camera may have been used elsewhere before), so only gaps between two delivered clips are
findings; a later docking that brings a missing clip retires its finding.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from vault.db.models import Device, DockLog, DockSession, Evidence, Officer, Sighting

# At most this many numbers are named one by one; a longer run is named by its ends.
NAMED_MAX = 20


@dataclass(frozen=True)
class Clip:
    evidence_id: int
    file_name: str
    number: int
    width: int
    recorded_at: datetime
    officer_pk: int | None


@dataclass(frozen=True)
class SequenceGap:
    """Numbers a camera skipped between two clips it delivered."""

    device_pk: int
    device_id: str
    officer_id: str | None  # the officer of the clip before the gap
    before: Clip  # the last clip before the missing numbers
    after: Clip  # the first clip after them
    first_missing: int
    last_missing: int

    @property
    def count(self) -> int:
        return self.last_missing - self.first_missing + 1

    def numbers(self) -> list[str]:
        """The missing numbers as the camera writes them (zero-padded), all of them when few,
        else the first and the last."""
        width = self.before.width
        if self.count <= NAMED_MAX:
            span = range(self.first_missing, self.last_missing + 1)
            return [str(n).zfill(width) for n in span]
        return [str(self.first_missing).zfill(width), str(self.last_missing).zfill(width)]

    def to_json(self) -> dict[str, object]:
        return {
            "device_id": self.device_id,
            "officer_id": self.officer_id,
            "missing": self.numbers(),
            "missing_count": self.count,
            "clip_before": {"evidence_id": self.before.evidence_id, "file": self.before.file_name},
            "clip_after": {"evidence_id": self.after.evidence_id, "file": self.after.file_name},
            "between": [self.before.recorded_at.isoformat(), self.after.recorded_at.isoformat()],
        }


def _number(sequence: str | None) -> int | None:
    if sequence is None or not sequence.isascii() or not sequence.isdigit():
        return None
    return int(sequence)


def clips_by_camera(session: Session) -> dict[int, list[Clip]]:
    """Every numbered clip each camera delivered, in recording order, one per number run."""
    rows = session.execute(
        columns(
            col(Evidence.id),
            col(Evidence.device_pk),
            col(Evidence.officer_pk),
            col(Evidence.file_name),
            col(Evidence.sequence),
            col(Evidence.recorded_at),
        ).where(col(Evidence.device_pk).is_not(None), col(Evidence.sequence).is_not(None))
    )
    cameras: dict[int, list[Clip]] = defaultdict(list)
    for evidence_id, device_pk, officer_pk, file_name, sequence, recorded_at in rows:
        number = _number(sequence)
        if number is None or recorded_at is None or device_pk is None or evidence_id is None:
            continue  # unnumbered, or no time to place it: nothing to infer
        assert sequence is not None
        clip = Clip(evidence_id, file_name, number, len(sequence), recorded_at, officer_pk)
        cameras[device_pk].append(clip)
    for clips in cameras.values():
        clips.sort(key=lambda c: (c.recorded_at, c.number, c.evidence_id))
    return cameras


def gaps_in(clips: list[Clip]) -> list[tuple[Clip, Clip]]:
    """(before, after) pairs of consecutive clips with numbers missing between them."""
    found = []
    for before, after in pairwise(clips):
        if after.number > before.number + 1:
            found.append((before, after))
    return found


def missing_sequences(session: Session) -> list[SequenceGap]:
    """Every camera's skipped numbers, by camera id and then recording time."""
    devices = {d.id: d.device_id for d in session.exec(select(Device))}
    officers = {o.id: o.officer_id for o in session.exec(select(Officer))}
    found = []
    for device_pk, clips in clips_by_camera(session).items():
        for before, after in gaps_in(clips):
            found.append(
                SequenceGap(
                    device_pk=device_pk,
                    device_id=devices.get(device_pk, str(device_pk)),
                    officer_id=officers.get(before.officer_pk) if before.officer_pk else None,
                    before=before,
                    after=after,
                    first_missing=before.number + 1,
                    last_missing=after.number - 1,
                )
            )
    found.sort(key=lambda g: (g.device_id, g.before.recorded_at))
    return found


@dataclass(frozen=True)
class LogFinding:
    """What a camera's own log says that the vault does not hold (OV-4)."""

    code: str  # log_names_missing | log_records_deletion
    device_pk: int
    device_id: str
    officer_pk: int | None
    dock_id: int  # the docking whose sealed log says it first
    docked_at: datetime
    log_path: str
    file_name: str

    def to_json(self) -> dict[str, object]:
        return {
            "device_id": self.device_id,
            "dock_id": self.dock_id,
            "log": self.log_path,
            "file": self.file_name,
        }


def log_findings(session: Session) -> list[LogFinding]:
    """Files a camera's sealed logs name as written that never arrived from that camera,
    and deletions they record; each said once per camera, at the first log that says it."""
    devices = {d.id: d.device_id for d in session.exec(select(Device))}
    arrived: dict[int, set[str]] = defaultdict(set)
    sightings = session.execute(
        columns(col(DockSession.device_pk), col(Sighting.path)).join(
            DockSession, col(DockSession.id) == Sighting.dock_session_id
        )
    )
    for device_pk, path in sightings:
        if device_pk is not None:
            arrived[device_pk].add(path.rpartition("/")[2].upper())
    logs = session.exec(
        select(DockLog, DockSession)
        .join(DockSession, col(DockSession.id) == DockLog.dock_session_id)
        .where(col(DockSession.device_pk).is_not(None))
        .order_by(col(DockSession.started_at), col(DockLog.id))
    )
    said: set[tuple[int, str, str]] = set()
    found = []
    for log, dock in logs:
        assert dock.device_pk is not None and dock.id is not None
        named = [
            ("log_names_missing", n)
            for n in log.recorded or []
            if n.upper() not in arrived[dock.device_pk]
        ]
        named += [("log_records_deletion", n) for n in log.deleted or []]
        for code, name in named:
            if (dock.device_pk, code, name) in said:
                continue
            said.add((dock.device_pk, code, name))
            found.append(
                LogFinding(
                    code,
                    dock.device_pk,
                    devices.get(dock.device_pk, str(dock.device_pk)),
                    dock.officer_pk,
                    dock.id,
                    dock.started_at,
                    log.path,
                    name,
                )
            )
    return found
