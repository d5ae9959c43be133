"""Operations on camera custody (DV-3, DV-5, DV-6): checkout and return with the pre-use
check, upkeep and loss events, and the usage 台账 as JSON or as a paper."""

from __future__ import annotations

from typing import Any

from vault.dock import custody
from vault.service.api import Call, operation


def _one(call: Call, event_id: int | None) -> dict[str, Any]:
    return next(e for e in custody.custody_ledger(call.vault) if e["event_id"] == event_id)


@operation("device.checkout")
def checkout(
    call: Call,
    device_id: str,
    officer: str,
    battery: int | None = None,
    free_gb: float | None = None,
    clock_ok: bool | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    event = custody.checkout(
        call.vault,
        device_id,
        officer,
        battery_percent=battery,
        free_gb=free_gb,
        clock_ok=clock_ok,
        note=note,
    )
    return _one(call, event.id)


@operation("device.return")
def give_back(call: Call, device_id: str, note: str | None = None) -> dict[str, Any]:
    return _one(call, custody.give_back(call.vault, device_id, note).id)


@operation("device.event")
def upkeep(
    call: Call, device_id: str, kind: str, note: str, officer: str | None = None
) -> dict[str, Any]:
    return _one(call, custody.record_upkeep(call.vault, device_id, kind, note, officer).id)


@operation("device.custody")
def ledger(call: Call, device_id: str | None = None, pdf: bool = False) -> dict[str, Any]:
    entries = custody.custody_ledger(call.vault, device_id)
    if pdf:
        custody.write_ledger_pdf(call.vault.settings, entries, call.output("ledger.pdf"))
    return {"events": entries}
