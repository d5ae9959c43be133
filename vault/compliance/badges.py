"""DV-1: the badge a camera reports (GA/T 947.4 ZFY_INFO) against its files and its keeper.

A camera that says it is officer A's while its clips name officer B, or while the records
keeper assigned it to officer C, was used by someone else than the ledger says, or carries
a stale badge: either way the records keeper must look. Each disagreement is a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from vault.db.models import DeviceAssignment, DockSession, Evidence, Officer, Sighting
from vault.timeutil import as_utc

# (rule, subject, detail): how the report records a finding
Finding = Callable[[str, str, str], None]


def _files_officers(session: Session, dock_id: int) -> set[str]:
    rows = session.exec(
        select(Officer.officer_id)
        .join(Evidence, col(Evidence.officer_pk) == Officer.id)
        .join(Sighting, col(Sighting.evidence_id) == Evidence.id)
        .where(Sighting.dock_session_id == dock_id)
    )
    return set(rows)


def _keeper_at(session: Session, device_pk: int, at: datetime) -> str | None:
    for assignment, badge in session.exec(
        select(DeviceAssignment, Officer.officer_id)
        .join(Officer, col(Officer.id) == DeviceAssignment.officer_pk)
        .where(DeviceAssignment.device_pk == device_pk)
        .order_by(col(DeviceAssignment.assigned_at).desc())
    ):
        if as_utc(assignment.assigned_at) <= at and (
            assignment.ended_at is None or as_utc(assignment.ended_at) > at
        ):
            return str(badge)
    return None


def camera_badges(
    session: Session,
    docks: list[DockSession],
    device_ids: Mapping[int | None, str | None],
    finding: Finding,
) -> list[dict[str, Any]]:
    """Per docking whose camera reported a badge: what the files and the keeper say."""
    rows = []
    for dock in docks:
        badge = dock.camera_officer_id
        if not badge or dock.id is None:
            continue
        files = sorted(_files_officers(session, dock.id))
        keeper = (
            _keeper_at(session, dock.device_pk, as_utc(dock.docked_at or dock.started_at))
            if dock.device_pk is not None
            else None
        )
        device = device_ids.get(dock.device_pk) or "?"
        subject = f"dock:{dock.id}"
        others = [f for f in files if f != badge]
        if others:
            finding(
                "DV-1",
                subject,
                f"camera {device} reports badge {badge}; its files name officer "
                f"{', '.join(others)}",
            )
        if keeper is not None and keeper != badge:
            finding(
                "DV-1",
                subject,
                f"camera {device} reports badge {badge}; its keeper is {keeper} "
                "(evault device ledger)",
            )
        rows.append(
            {
                "dock_id": dock.id,
                "device_id": device,
                "camera_badge": badge,
                "camera_name": dock.camera_officer_name,
                "camera_unit": dock.camera_unit_name or dock.camera_unit_id,
                "files_officers": files,
                "keeper": keeper,
                "agrees": not others and (keeper is None or keeper == badge),
            }
        )
    return rows
