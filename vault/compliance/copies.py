"""Copies between cameras (IN-6): the same bytes arriving from two different cameras.

A clip is sealed once however often it arrives (IN-6), so a file copied from one camera onto
another becomes one evidence record with a sighting at each docking. That a clip recorded by
one camera was on another is a fact a reviewer must see (a recording handed around, or
footage planted on a camera): each such record is a finding, code `copied_between_cameras`,
naming every camera it came from. `evault compliance scan` records each new one in the audit
chain; the compliance report lists them (`findings`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from vault.db import audit
from vault.db.audit import Actor
from vault.db.models import AuditEvent, Device, DockSession, Evidence, Sighting

CODE = "copied_between_cameras"
RULE = "IN-6"
AUDIT_ACTION = "compliance.copy_between_cameras"


@dataclass(frozen=True)
class Arrival:
    """One camera a clip came from: its first docking there and the file's path on it."""

    device_pk: int
    device_id: str
    officer_pk: int | None
    dock_id: int
    path: str


@dataclass(frozen=True)
class Copy:
    evidence_id: int
    file_name: str
    sha256: str
    recorded_at: datetime | None  # corrected recording time
    officer_pk: int | None  # the officer the clip's own name gives
    arrivals: tuple[Arrival, ...]  # first the camera it first came from

    @property
    def device_ids(self) -> list[str]:
        return [a.device_id for a in self.arrivals]

    def detail(self) -> str:
        came = ", ".join(
            f"camera {a.device_id} ({a.path}, docking {a.dock_id})" for a in self.arrivals
        )
        return f"{self.file_name}: the same bytes arrived from {came}"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": CODE,
            "rule": RULE,
            "evidence_id": self.evidence_id,
            "file_name": self.file_name,
            "sha256": self.sha256,
            "device_ids": self.device_ids,
            "arrivals": [
                {"device_id": a.device_id, "dock_id": a.dock_id, "path": a.path}
                for a in self.arrivals
            ],
        }


def find_copies(session: Session) -> list[Copy]:
    """Every record whose sightings come from more than one camera, in evidence id order."""
    copied = (
        select(Sighting.evidence_id)
        .join(DockSession, col(Sighting.dock_session_id) == DockSession.id)
        .where(col(DockSession.device_pk).is_not(None))
        .group_by(col(Sighting.evidence_id))
        .having(func.count(func.distinct(DockSession.device_pk)) > 1)
    )
    rows = session.exec(
        select(Evidence, Sighting, DockSession, Device)
        .join(Sighting, col(Sighting.evidence_id) == Evidence.id)
        .join(DockSession, col(Sighting.dock_session_id) == DockSession.id)
        .join(Device, col(Device.id) == DockSession.device_pk)
        .where(col(Evidence.id).in_(copied))
        .order_by(col(Evidence.id), col(Sighting.seen_at), col(Sighting.id))
    )
    found: dict[int, tuple[Evidence, dict[int, Arrival]]] = {}
    for evidence, sighting, dock, device in rows:
        assert evidence.id is not None and device.id is not None and dock.id is not None
        _, arrivals = found.setdefault(evidence.id, (evidence, {}))
        arrivals.setdefault(
            device.id, Arrival(device.id, device.device_id, dock.officer_pk, dock.id, sighting.path)
        )
    return [
        Copy(
            evidence_id,
            evidence.file_name,
            evidence.sha256,
            evidence.recorded_at_corrected,
            evidence.officer_pk,
            tuple(arrivals.values()),
        )
        for evidence_id, (evidence, arrivals) in found.items()
    ]


def _recorded(session: Session) -> set[tuple[str, tuple[str, ...]]]:
    """(subject, cameras) of each copy the audit chain already holds."""
    events = session.exec(select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION))
    found = set()
    for event in events:
        cameras = event.detail.get("device_ids")
        listed = tuple(str(c) for c in cameras) if isinstance(cameras, list) else ()
        found.add((str(event.subject), listed))
    return found


def record_new(session: Session, copies: list[Copy], actor: Actor, at: datetime) -> list[Copy]:
    """Audit each copy not recorded yet (or come from one more camera since); the caller
    commits. Idempotent: a scan run again records nothing new."""
    known = _recorded(session)
    new = []
    for copy in copies:
        subject = f"evidence:{copy.evidence_id}"
        if (subject, tuple(copy.device_ids)) in known:
            continue
        audit.append(
            session,
            actor,
            at=at,
            action=AUDIT_ACTION,
            subject=subject,
            detail={
                "code": CODE,
                "rule": RULE,
                "sha256": copy.sha256,
                "device_ids": copy.device_ids,
                "docks": [a.dock_id for a in copy.arrivals],
            },
        )
        new.append(copy)
    return new


Wanted = Callable[[int | None, int | None], bool]  # (device_pk, officer_pk): in the report?
InRange = Callable[[datetime | None], bool]
Finding = Callable[..., None]  # (rule, subject, detail, **extra): how the report records one


def report_findings(session: Session, finding: Finding, wanted: Wanted, in_range: InRange) -> None:
    """The compliance report's findings: one per copy whose recording time is in range and
    one of whose cameras (or officers) the report's filters want."""
    for copy in find_copies(session):
        if not in_range(copy.recorded_at):
            continue
        if not any(wanted(a.device_pk, a.officer_pk or copy.officer_pk) for a in copy.arrivals):
            continue
        finding(
            RULE,
            f"evidence:{copy.evidence_id}",
            copy.detail(),
            code=CODE,
            device_ids=copy.device_ids,
            file_name=copy.file_name,
        )
