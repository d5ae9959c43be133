"""Findings from the cameras' custody ledger (DV-3, DV-5, DV-6) for the compliance report.

- DV-3: a camera handed out with low battery, little free space or its clock off (the
  `[devices]` minimums, the compliance clock limit), or with no pre-use check at all.
- DV-5: a camera lost or damaged (Xiangxi 第14条: 谁使用谁负责). A camera not yet
  returned is no finding (officers keep cameras across shifts); the ledger shows it.
- DV-6: misuse a reviewer recorded (private use, lending to outsiders).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from vault.config import Settings
from vault.db.models import Device, DeviceEvent, Officer


@dataclass(frozen=True)
class CustodyFinding:
    rule: str  # DV-3 | DV-5 | DV-6
    code: str  # low_battery | low_space | clock_off | no_check | loss | damage | misuse
    device_pk: int
    device_id: str
    officer_pk: int | None
    officer_id: str | None
    event_id: int
    at: datetime
    detail: dict[str, object]


def _problems(event: DeviceEvent, settings: Settings) -> list[tuple[str, dict[str, object]]]:
    minimum = settings.devices
    found: list[tuple[str, dict[str, object]]] = []
    if event.check_source is None:
        return [("no_check", {})]
    if event.battery_percent is not None and event.battery_percent < minimum.min_battery_percent:
        found.append(
            (
                "low_battery",
                {"battery_percent": event.battery_percent, "min": minimum.min_battery_percent},
            )
        )
    free_min = round(minimum.min_free_gb * 1e9)
    if event.free_bytes is not None and event.free_bytes < free_min:
        found.append(("low_space", {"free_bytes": event.free_bytes, "min_bytes": free_min}))
    if event.clock_ok is False:
        found.append(("clock_off", {}))
    return found


def custody_findings(
    session: Session, settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> list[CustodyFinding]:
    """The ledger's findings between START and END (event times), by time."""
    query = (
        select(DeviceEvent, Device, Officer)
        .join(Device, col(Device.id) == DeviceEvent.device_pk)
        .join(Officer, col(Officer.id) == DeviceEvent.officer_pk, isouter=True)
        .where(col(DeviceEvent.kind).in_(("checkout", "loss", "damage", "misuse")))
        .order_by(col(DeviceEvent.at), col(DeviceEvent.id))
    )
    if start is not None:
        query = query.where(col(DeviceEvent.at) >= start)
    if end is not None:
        query = query.where(col(DeviceEvent.at) < end)
    found = []
    for event, device, officer in session.exec(query):
        assert event.id is not None
        badge = officer.officer_id if officer else None
        if event.kind == "checkout":
            problems = _problems(event, settings)
            rules = ["DV-3"] * len(problems)
        else:
            problems = [(event.kind, {"note": event.note})]
            rules = ["DV-6" if event.kind == "misuse" else "DV-5"]
        for rule, (code, detail) in zip(rules, problems, strict=True):
            found.append(
                CustodyFinding(
                    rule,
                    code,
                    event.device_pk,
                    device.device_id,
                    event.officer_pk,
                    badge,
                    event.id,
                    event.at,
                    detail,
                )
            )
    return found
