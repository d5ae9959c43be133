"""Camera custody (DV-3, DV-5, DV-6): issue and return, the pre-use check, upkeep, faults,
loss, damage and misuse, as events in the camera's usage 台账 (Pingdingshan 第4条:
使用人员、交接时间、记录内容; Xiangxi 第12、14条: 定人管理, 谁使用谁负责).

A checkout records the officer's pre-use check (Xiangxi 第12、13条: charge for a working
day, storage, clock). Where he gives no reading, the camera's latest docking supplies it
(the dock reads battery and free space and measures the clock), and the event says so.
A camera handed out below `[devices] min_battery_percent` or `min_free_gb`, or with its
clock off, is a DV-3 finding of the compliance report (vault/compliance/custody.py).
Events are only added, never changed: a mistaken one is corrected by a later one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from vault.access.statement import FAMILY, new_pdf
from vault.config import Settings
from vault.context import Vault
from vault.db import audit
from vault.db.models import Device, DeviceEvent, DockSession, Officer
from vault.dock.ledger import device_on_record
from vault.errors import Conflict, NotFound
from vault.timeutil import iso, paper_time, zone_name

UPKEEP = ("maintenance", "fault", "loss", "damage", "misuse")
KINDS = ("checkout", "return", *UPKEEP)
WORDS = {
    "checkout": "领用",
    "return": "归还",
    "maintenance": "维护保养",
    "fault": "故障",
    "loss": "丢失",
    "damage": "损坏",
    "misuse": "违规使用",
}
NOTE_MAX = 2000


@dataclass(frozen=True)
class Check:
    """The pre-use check of a checkout: what was read, and from where."""

    battery_percent: int | None
    free_bytes: int | None
    clock_ok: bool | None
    source: str | None  # officer | dock:<id> | None (nothing known)


def _officer(session: Session, badge: str) -> Officer:
    officer = session.exec(select(Officer).where(Officer.officer_id == badge)).first()
    if officer is None:
        raise NotFound(f"no officer with badge {badge!r} on record")
    return officer


def _last_handover(session: Session, device_pk: int) -> DeviceEvent | None:
    return session.exec(
        select(DeviceEvent)
        .where(
            DeviceEvent.device_pk == device_pk, col(DeviceEvent.kind).in_(("checkout", "return"))
        )
        .order_by(col(DeviceEvent.at).desc(), col(DeviceEvent.id).desc())
    ).first()


def _note(note: str | None, required: bool) -> str | None:
    text = (note or "").strip()
    if required and not text:
        raise Conflict("a note is required: what happened, as the ledger should read it")
    if len(text) > NOTE_MAX:
        raise Conflict(f"the note is {len(text)} characters; at most {NOTE_MAX}")
    return text or None


def pre_use_check(
    vault: Vault,
    session: Session,
    device: Device,
    battery_percent: int | None,
    free_gb: float | None,
    clock_ok: bool | None,
) -> Check:
    """The officer's readings; what he left out, from the camera's latest docking."""
    if battery_percent is not None and not 0 <= battery_percent <= 100:
        raise Conflict(f"battery {battery_percent}% is not a percentage (0 to 100)")
    if free_gb is not None and not 0 <= free_gb <= 100_000:
        raise Conflict(f"free space {free_gb} GB is out of range (0 to 100000)")
    free = round(free_gb * 1e9) if free_gb is not None else None
    given = (battery_percent, free, clock_ok)
    if all(value is not None for value in given):
        return Check(battery_percent, free, clock_ok, "officer")
    dock = session.exec(
        select(DockSession)
        .where(DockSession.device_pk == device.id)
        .order_by(col(DockSession.started_at).desc(), col(DockSession.id).desc())
    ).first()
    if dock is None:
        source = "officer" if any(value is not None for value in given) else None
        return Check(battery_percent, free, clock_ok, source)
    limit = vault.settings.compliance.max_clock_offset_s
    dock_clock = abs(dock.clock_offset_s) <= limit if dock.clock_offset_s is not None else None
    return Check(
        battery_percent if battery_percent is not None else dock.battery_percent,
        free if free is not None else dock.free_bytes,
        clock_ok if clock_ok is not None else dock_clock,
        f"dock:{dock.id}",
    )


def _add(vault: Vault, session: Session, device: Device, kind: str, **values: Any) -> DeviceEvent:
    assert device.id is not None
    event = DeviceEvent(
        device_pk=device.id,
        kind=kind,
        at=vault.clock.now(),
        recorded_by=vault.actor("keeper").name,
        **values,
    )
    session.add(event)
    session.flush()
    audit.append(
        session,
        vault.actor("keeper"),
        at=event.at,
        action=f"device.{kind}",
        subject=f"device:{device.device_id}",
        detail={
            "event_id": event.id,
            "officer_pk": event.officer_pk,
            "note": event.note,
            "battery_percent": event.battery_percent,
            "free_bytes": event.free_bytes,
            "clock_ok": event.clock_ok,
            "check_source": event.check_source,
        },
    )
    return event


def checkout(
    vault: Vault,
    device_id: str,
    badge: str,
    *,
    battery_percent: int | None = None,
    free_gb: float | None = None,
    clock_ok: bool | None = None,
    note: str | None = None,
) -> DeviceEvent:
    """Hand a camera out to an officer, with the pre-use check (DV-3, DV-5)."""
    with vault.session() as session:
        device = device_on_record(session, device_id)
        officer = _officer(session, badge)
        assert device.id is not None
        last = _last_handover(session, device.id)
        if last is not None and last.kind == "checkout":
            holder = session.get(Officer, last.officer_pk) if last.officer_pk else None
            raise Conflict(
                f"camera {device_id} is out with {holder.officer_id if holder else '?'} since "
                f"{iso(last.at)}; record its return first"
            )
        check = pre_use_check(vault, session, device, battery_percent, free_gb, clock_ok)
        event = _add(
            vault,
            session,
            device,
            "checkout",
            officer_pk=officer.id,
            note=_note(note, required=False),
            battery_percent=check.battery_percent,
            free_bytes=check.free_bytes,
            clock_ok=check.clock_ok,
            check_source=check.source,
        )
        session.commit()
        session.refresh(event)
        return event


def give_back(vault: Vault, device_id: str, note: str | None = None) -> DeviceEvent:
    """The camera came back from the officer who had it."""
    with vault.session() as session:
        device = device_on_record(session, device_id)
        assert device.id is not None
        last = _last_handover(session, device.id)
        if last is None or last.kind != "checkout":
            raise Conflict(f"camera {device_id} is not out: no checkout to return")
        event = _add(
            vault,
            session,
            device,
            "return",
            officer_pk=last.officer_pk,
            note=_note(note, required=False),
        )
        session.commit()
        session.refresh(event)
        return event


def record_upkeep(
    vault: Vault, device_id: str, kind: str, note: str, badge: str | None = None
) -> DeviceEvent:
    """Maintenance, a fault, loss, damage or misuse (DV-5, DV-6), with what happened."""
    if kind not in UPKEEP:
        raise Conflict(f"unknown event {kind!r} (known: {', '.join(UPKEEP)})")
    with vault.session() as session:
        device = device_on_record(session, device_id)
        officer = _officer(session, badge) if badge else None
        event = _add(
            vault,
            session,
            device,
            kind,
            officer_pk=officer.id if officer else None,
            note=_note(note, required=True),
        )
        session.commit()
        session.refresh(event)
        return event


def event_json(
    event: DeviceEvent, device_id: str, badge: str | None, name: str | None
) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "device_id": device_id,
        "kind": event.kind,
        "at": iso(event.at),
        "officer_id": badge,
        "officer_name": name,
        "recorded_by": event.recorded_by,
        "note": event.note,
        "battery_percent": event.battery_percent,
        "free_bytes": event.free_bytes,
        "clock_ok": event.clock_ok,
        "check_source": event.check_source,
    }


def custody_ledger(vault: Vault, device_id: str | None = None) -> list[dict[str, Any]]:
    """Every custody event, by camera and time; with device_id, that camera's only."""
    with vault.session() as session:
        query = (
            select(DeviceEvent, Device, Officer)
            .join(Device, col(Device.id) == DeviceEvent.device_pk)
            .join(Officer, col(Officer.id) == DeviceEvent.officer_pk, isouter=True)
            .order_by(col(Device.device_id), col(DeviceEvent.at), col(DeviceEvent.id))
        )
        if device_id is not None:
            device_on_record(session, device_id)
            query = query.where(Device.device_id == device_id)
        return [
            event_json(
                event,
                device.device_id,
                officer.officer_id if officer else None,
                officer.name if officer else None,
            )
            for event, device, officer in session.exec(query)
        ]


COLUMNS = [
    "记录仪编号",
    "事项",
    "时间",
    "使用人",
    "电量",
    "剩余空间",
    "时钟",
    "检查来源",
    "记载人",
    "说明",
]
WIDTHS = (22, 16, 34, 34, 12, 18, 12, 20, 24, 85)


def _cells(entry: dict[str, Any], tz: str) -> list[str]:
    person = entry["officer_id"] or ""
    if entry["officer_name"] and person:
        person = f"{entry['officer_name']}（{person}）"
    battery = entry["battery_percent"]
    free = entry["free_bytes"]
    clock = {True: "准确", False: "不准", None: ""}[entry["clock_ok"]]
    source = entry["check_source"] or ""
    source = "使用人" if source == "officer" else (f"入库读数 {source[5:]}" if source else "")
    if entry["kind"] == "checkout" and not source:
        source = "未检查"
    moment = datetime.fromisoformat(entry["at"])
    return [
        entry["device_id"],
        WORDS.get(entry["kind"], entry["kind"]),
        (paper_time(moment, tz) or "").removesuffix(" " + zone_name(tz, moment)),
        person,
        f"{battery}%" if battery is not None else "",
        f"{free / 1e9:.1f} GB" if free is not None else "",
        clock,
        source,
        entry["recorded_by"],
        entry["note"] or "",
    ]


def write_ledger_pdf(settings: Settings, entries: list[dict[str, Any]], out: Path) -> None:
    """The usage 台账 as an official paper: the bureau, the table, the keeper's signature."""
    from fpdf.fonts import FontFace  # lazy, as in statement.new_pdf

    pdf = new_pdf(settings, landscape=True)
    pdf.set_font(FAMILY, size=14)
    title = "执法记录仪使用管理台账"
    pdf.cell(0, 10, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    bureau = settings.access.bureau_name or "（执法机关名称）"
    zone = zone_name(settings.timezone)
    pdf.cell(0, 6, f"{bureau}　　时间均为{zone}", new_x="LMARGIN", new_y="NEXT")
    headings = FontFace(emphasis="", fill_color=(225, 225, 225))
    pdf.set_font(FAMILY, size=7)
    with pdf.table(
        col_widths=WIDTHS, text_align="LEFT", line_height=4, headings_style=headings
    ) as table:
        table.row(COLUMNS)
        for entry in entries:
            table.row(_cells(entry, settings.timezone))
    pdf.set_font(FAMILY, size=10)
    pdf.ln(8)
    pdf.cell(
        0,
        8,
        "管理人员（签名）：＿＿＿＿＿＿＿＿　　日期：＿＿＿＿＿＿＿＿",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.output(str(out))
