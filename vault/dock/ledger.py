"""The device usage ledger (DV-1, DV-3): who keeps each camera, and every docking of it with
its battery, free space, clock, officer and dock and undock times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from vault.context import Vault
from vault.db import audit, upsert
from vault.db.models import Device, DeviceAssignment, DockSession, Officer
from vault.errors import VaultError
from vault.timeutil import iso


class UnknownDevice(VaultError):
    """No camera with that device id is on record."""


def device_on_record(session: Session, device_id: str) -> Device:
    device = session.exec(select(Device).where(Device.device_id == device_id)).first()
    if device is None:
        raise UnknownDevice(
            f"no camera {device_id!r} on record: dock it once, or name its profile with --profile"
        )
    return device


def assign(
    vault: Vault, device_id: str, keeper: str, note: str | None = None, profile: str | None = None
) -> DeviceAssignment:
    """Make keeper (a badge number) the camera's one responsible keeper from now on (DV-1)."""
    now = vault.clock.now()
    with vault.session() as session:
        if profile is not None:
            if profile not in vault.profiles:
                known = ", ".join(sorted(vault.profiles))
                raise VaultError(f"no device profile named {profile!r} (known: {known})")
            upsert.upsert_device(
                session, device_id, profile, now, model=None, vendor=None, firmware=None
            )
        device = device_on_record(session, device_id)
        officer = upsert.upsert_officer(session, keeper, None)
        assert device.id is not None and officer.id is not None
        current = session.exec(
            select(DeviceAssignment).where(
                DeviceAssignment.device_pk == device.id, col(DeviceAssignment.ended_at).is_(None)
            )
        ).first()
        if current is not None:
            if current.officer_pk == officer.id:
                raise VaultError(f"{keeper} already keeps camera {device_id}")
            current.ended_at = now
        assignment = DeviceAssignment(
            device_pk=device.id,
            officer_pk=officer.id,
            assigned_at=now,
            assigned_by=vault.actor("keeper").name,
            note=note,
        )
        session.add(assignment)
        device.keeper_officer_id = officer.id
        audit.append(
            session,
            vault.actor("keeper"),
            at=now,
            action="device.assigned",
            subject=f"device:{device_id}",
            detail={"keeper": keeper, "note": note},
        )
        session.commit()
        return assignment


def badge_written_by_dock(vault: Vault, device_id: str) -> bool:
    """Does the camera's profile let the dock write its keeper's badge into it (WriteZFYInfo)?"""
    with vault.session() as session:
        device = session.exec(select(Device).where(Device.device_id == device_id)).first()
    profile = vault.profiles.get(device.profile) if device is not None else None
    options = profile.driver_options if profile is not None else None
    return options is not None and options.write_keeper


# ZFY_INFO's userNo (GA/T 947.4): the badge a camera can carry, in GBK bytes, NUL optional.
CAMERA_BADGE_BYTES = 7


def camera_badge_problem(badge: str) -> str | None:
    """Why the camera cannot carry this badge in ZFY_INFO (userNo[7], GBK), or None."""
    try:
        size = len(badge.encode("gbk"))
    except UnicodeEncodeError:
        return f"badge {badge!r} is not GBK text, which ZFY_INFO holds"
    if size > CAMERA_BADGE_BYTES:
        return (
            f"badge {badge!r} is {size} bytes in GBK; ZFY_INFO's userNo holds {CAMERA_BADGE_BYTES}"
        )
    return None


@dataclass(frozen=True)
class Keeper:
    """The camera's current keeper, as the dock writes it into a camera (WriteZFYInfo)."""

    assignment_id: int
    badge: str
    name: str | None
    unit: str | None
    carried_at: datetime | None  # when the camera was last seen carrying this badge


def keeper_of(vault: Vault, device_id: str) -> Keeper | None:
    """The open keeper assignment of a camera (DV-1), or None."""
    with vault.session() as session:
        found = session.exec(
            select(DeviceAssignment, Officer)
            .join(Device, col(Device.id) == DeviceAssignment.device_pk)
            .join(Officer, col(Officer.id) == DeviceAssignment.officer_pk)
            .where(Device.device_id == device_id, col(DeviceAssignment.ended_at).is_(None))
        ).first()
    if found is None:
        return None
    assignment, officer = found
    assert assignment.id is not None
    return Keeper(
        assignment.id, officer.officer_id, officer.name, officer.unit, assignment.carried_at
    )


def mark_carried(vault: Vault, assignment_id: int, at: datetime) -> None:
    """The camera was seen (or made) carrying this assignment's badge."""
    with vault.session() as session:
        assignment = session.get(DeviceAssignment, assignment_id)
        if assignment is not None:
            assignment.carried_at = at
            session.commit()


def ledger(vault: Vault, device_id: str | None = None) -> list[dict[str, Any]]:
    """Per camera: its keepers over time and its dockings, newest first."""
    with vault.session() as session:
        query = select(Device).order_by(col(Device.device_id))
        if device_id is not None:
            query = query.where(Device.device_id == device_on_record(session, device_id).device_id)
        badges = {o.id: o.officer_id for o in session.exec(select(Officer)).all()}
        out = []
        for device in session.exec(query).all():
            keepers = session.exec(
                select(DeviceAssignment)
                .where(DeviceAssignment.device_pk == device.id)
                .order_by(col(DeviceAssignment.assigned_at))
            ).all()
            docks = session.exec(
                select(DockSession)
                .where(DockSession.device_pk == device.id)
                .order_by(col(DockSession.started_at).desc())
            ).all()
            out.append(
                {
                    "device_id": device.device_id,
                    "model": device.model,
                    "vendor": device.vendor,
                    "profile": device.profile,
                    "keeper": badges.get(device.keeper_officer_id),
                    "first_seen_at": iso(device.first_seen_at),
                    "last_seen_at": iso(device.last_seen_at),
                    "keepers": [
                        {
                            "keeper": badges.get(a.officer_pk),
                            "from": iso(a.assigned_at),
                            "to": iso(a.ended_at),
                            "by": a.assigned_by,
                            "note": a.note,
                            "carried_at": iso(a.carried_at),
                        }
                        for a in keepers
                    ],
                    "docks": [_dock_line(d, badges) for d in docks],
                }
            )
        return out


def _dock_line(dock: DockSession, badges: dict[int | None, str]) -> dict[str, Any]:
    return {
        "dock_id": dock.id,
        "station_id": dock.station_id,
        "bay": dock.bay,
        "officer_id": badges.get(dock.officer_pk),
        "docked_at": iso(dock.docked_at or dock.started_at),
        "undocked_at": iso(dock.undocked_at),
        "started_at": iso(dock.started_at),
        "finished_at": iso(dock.finished_at),
        "status": dock.status,
        "error": dock.error,
        "camera": {  # what the camera said of itself over USB (ZFY_INFO), DV-1
            "officer_id": dock.camera_officer_id,
            "officer_name": dock.camera_officer_name,
            "unit_id": dock.camera_unit_id,
            "unit_name": dock.camera_unit_name,
        },
        "battery_percent": dock.battery_percent,
        "free_bytes": dock.free_bytes,
        "clock_offset_s": dock.clock_offset_s,
        "clips_seen": dock.clips_seen,
        "clips_sealed": dock.clips_sealed,
        "clips_erased": dock.clips_erased,
        "bytes_read": dock.bytes_read,
        "mounted_with": dock.mounted_with,
        "fs_type": dock.fs_type,
    }
