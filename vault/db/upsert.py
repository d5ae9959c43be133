"""Officers and devices as the records know them: found, or inserted once even when two
stations meet the same one at the same time. Ingest, the dock's ledger, cases and
principals all name officers and devices through here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from vault.db.models import Device, Officer

T = TypeVar("T", Officer, Device)


def _insert_once(session: Session, row: T, again: Callable[[], T | None]) -> T:
    """Insert ROW in a savepoint; when another station inserted the same unique key since we
    looked (PostgreSQL: nothing serialises two stations' transactions), take theirs."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = again()
        if found is None:
            raise
        return found
    return row


def upsert_officer(session: Session, officer_id: str, unit: str | None = None) -> Officer:
    def find() -> Officer | None:
        return session.exec(select(Officer).where(Officer.officer_id == officer_id)).first()

    officer = find()
    if officer is None:
        officer = _insert_once(session, Officer(officer_id=officer_id, unit=unit), find)
    if unit and not officer.unit:
        officer.unit = unit
    return officer


def upsert_device(
    session: Session,
    device_id: str,
    profile: str,
    now: datetime,
    *,
    model: str | None,
    vendor: str | None,
    firmware: str | None,
) -> Device:
    def find() -> Device | None:
        return session.exec(select(Device).where(Device.device_id == device_id)).first()

    device = find()
    if device is None:
        new = Device(device_id=device_id, profile=profile, first_seen_at=now, last_seen_at=now)
        device = _insert_once(session, new, find)
    device.last_seen_at = now
    device.model = model or device.model
    device.vendor = vendor or device.vendor
    device.firmware = firmware or device.firmware
    session.flush()
    return device
