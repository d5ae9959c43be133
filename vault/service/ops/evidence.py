"""Operations on evidence: find, show, verify, retention, markings, viewing and export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vault.access import export as access_export
from vault.access.grants import mark as mark_evidence
from vault.cases.retention import classify as classify_evidence
from vault.cases.retention import place_hold, release_hold
from vault.errors import AccessRefused, VaultError
from vault.retrieval import Filters, find_orphans, list_evidence, show_evidence, verify_evidence
from vault.service.api import Call, operation
from vault.service.ops.scopes import handles_case, own_badge, require_own_evidence
from vault.timeutil import iso, parse_time


@operation("evidence.list")
def list_(
    call: Call,
    device: str | None = None,
    officer: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    case: str | None = None,
    retention_class: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    tz = call.vault.settings.timezone
    if call.scope == "own" and not (case and handles_case(call, case)):
        badge = own_badge(call)
        if officer not in (None, badge):
            raise AccessRefused(f"{call.name} may list only officer {badge}'s own evidence")
        officer = badge
    filters = Filters(
        device_id=device,
        officer_id=officer,
        recorded_from=parse_time(from_, tz),
        recorded_to=parse_time(to, tz),
        case_number=case,
        retention_class=retention_class,
        limit=limit,
    )
    with call.vault.session() as session:
        return list_evidence(session, filters)


@operation("evidence.show")
def show(call: Call, evidence_id: int) -> dict[str, Any]:
    require_own_evidence(call, evidence_id)
    with call.vault.session() as session:
        return show_evidence(session, evidence_id)


@operation("evidence.verify")
def verify(call: Call, evidence_id: int | None = None, orphans: bool = False) -> dict[str, Any]:
    report = verify_evidence(call.vault, None if evidence_id is None else [evidence_id])
    if orphans:
        if evidence_id is not None:
            raise VaultError("--orphans needs --all (every record must be known)")
        report.orphans = find_orphans(call.vault)
    return report.to_json()


@operation("evidence.classify")
def classify(
    call: Call, evidence_id: int, retention_class: str, reason: str, category: str | None = None
) -> dict[str, Any]:
    decision = classify_evidence(call.vault, evidence_id, retention_class, category, reason)
    return {
        "evidence_id": evidence_id,
        "retention_class": retention_class,
        "retain_until": iso(decision.retain_until),
        "rule": decision.rule,
    }


@operation("evidence.hold")
def hold(call: Call, evidence_id: int, reason: str) -> dict[str, Any]:
    placed = place_hold(call.vault, evidence_id, reason)
    return {"hold_id": placed.id, "evidence_id": evidence_id}


@operation("evidence.release")
def release(call: Call, hold_id: int, reason: str) -> dict[str, Any]:
    released = release_hold(call.vault, hold_id, reason)
    return {"hold_id": hold_id, "evidence_id": released.evidence_id}


@operation("evidence.mark")
def mark(call: Call, evidence_id: int, markings: list[str], reason: str) -> list[str]:
    if not reason.strip():
        raise VaultError("a --reason is required to mark evidence")
    return mark_evidence(call.vault, evidence_id, markings, reason)


@operation("evidence.view")
def view(call: Call, evidence_id: int, keep: bool = False) -> dict[str, Any]:
    """The viewing copy handed to the caller: to play and remove (a view), or to keep (a
    copy, under a copy grant)."""
    folder = call.output("view")
    path = access_export.view(call.vault, evidence_id, folder, keep=keep)
    return {"evidence_id": evidence_id, "file": f"view/{path.name}", "kept": keep}


def _derivative(call: Call, evidence_id: int, kind: str) -> dict[str, Any]:
    out = call.output(kind + ".jpg")
    row = access_export.view_derivative(call.vault, evidence_id, kind, out)
    return {
        "evidence_id": evidence_id,
        "file": out.name,
        "size": row.size,
        "sha256": row.sha256,
        "frames": row.params.get("frames"),
    }


@operation("evidence.thumbnail")
def thumbnail(call: Call, evidence_id: int) -> dict[str, Any]:
    return _derivative(call, evidence_id, "poster")


@operation("evidence.contact-sheet")
def contact_sheet(call: Call, evidence_id: int) -> dict[str, Any]:
    return _derivative(call, evidence_id, "contact_sheet")


@operation("evidence.export")
def export(
    call: Call,
    out: str,
    evidence_id: int | None = None,
    case: str | None = None,
    grant: int | None = None,
    iso: bool = False,
    place: str | None = None,
) -> dict[str, Any]:
    if (evidence_id is None) == (case is None):
        raise VaultError("give one evidence id or --case NUMBER")
    scope = f"case:{case}" if case is not None else f"evidence:{evidence_id}"
    package = call.output("package")
    result = access_export.export(
        call.vault, scope, package, grant, iso, place, shown_out=Path(out)
    )
    return result.to_json()
