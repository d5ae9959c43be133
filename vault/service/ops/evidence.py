"""Operations on evidence: find, show, verify, retention, markings, viewing, redaction and
export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vault.access import discs as access_discs
from vault.access import export as access_export
from vault.access.grants import mark as mark_evidence
from vault.cases.cases import normalise_number
from vault.cases.retention import classify as classify_evidence
from vault.cases.retention import place_hold, release_hold
from vault.errors import AccessRefused, VaultError
from vault.i18n import N_
from vault.media import redact as media_redact
from vault.retention_rules import CLASSES, LONG_TERM_CATEGORIES
from vault.retrieval import (
    Filters,
    find_orphans,
    known_values,
    page_evidence,
    show_evidence,
    verify_evidence,
)
from vault.service.api import Call, operation
from vault.service.ops.choices import at_least_one, choose
from vault.service.ops.scopes import handles_case, own_badge, require_own_evidence
from vault.timeutil import iso, parse_span

EVIDENCE_STATUSES = ("sealed", "verified", "failed")  # what Evidence.status may be


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
    explain: bool = False,
    after: str | None = None,
    status: str | None = None,
    unit: str | None = None,
    officer_name: str | None = None,
    case_name: str | None = None,
) -> list[dict[str, Any]] | dict[str, Any]:
    """The evidence the filters select, in order of recording time and id: at most LIMIT
    rows (a page), after AFTER (the cursor a page before gave as its "next"). With EXPLAIN:
    {"matched", "evidence", "next": the cursor of the page after this one (None: no more),
    and when filters matched nothing "known": the values that exist for each filter
    given}."""
    tz = call.vault.settings.timezone
    choose("--class", retention_class, CLASSES)
    choose("--status", status, EVIDENCE_STATUSES)
    at_least_one("--limit", limit)
    case = normalise_number(case) if case else None
    recorded_by = mine = None
    if call.scope == "own":
        mine = own_badge(call)
        if not (case and handles_case(call, case)):
            if officer not in (None, mine):
                raise AccessRefused(f"{call.name} may list only officer {mine}'s own evidence")
            recorded_by = mine
    recorded_from, recorded_to = parse_span(from_, to, tz)
    filters = Filters(
        device_id=device,
        officer_id=officer,
        recorded_by=recorded_by,
        recorded_from=recorded_from,
        recorded_to=recorded_to,
        case_number=case,
        retention_class=retention_class,
        limit=limit,
        after=after,
        status=status,
        unit=unit,
        officer_name=officer_name,
        case_name=case_name,
    )
    with call.vault.session() as session:
        page = page_evidence(session, filters)
    rows = page.rows
    if not explain:
        return rows
    answer: dict[str, Any] = {"matched": len(rows), "evidence": rows, "next": page.next}
    if not rows and after is None:
        handled = call.handled_case_ids() if mine else None
        with call.vault.session() as session:
            known = known_values(session, filters, mine, handled)
        if "recorded" in known:  # as typed: a bare --to date takes its whole day in
            known["recorded"]["given"] = {"from": from_, "to": to}
        answer["known"] = known
    return answer


@operation("evidence.show")
def show(call: Call, evidence_id: int) -> dict[str, Any]:
    require_own_evidence(call, evidence_id)
    with call.vault.session() as session:
        return show_evidence(session, evidence_id, call.vault.store)


@operation("evidence.verify")
def verify(call: Call, evidence_id: int | None = None, orphans: bool = False) -> dict[str, Any]:
    report = verify_evidence(call.vault, None if evidence_id is None else [evidence_id])
    if orphans:
        if evidence_id is not None:
            raise VaultError(
                N_("{option} needs {all} (every record must be known)"),
                option="--orphans",
                all="--all",
            )
        report.orphans = find_orphans(call.vault)
    return report.to_json()


@operation("evidence.classify")
def classify(
    call: Call, evidence_id: int, retention_class: str, reason: str, category: str | None = None
) -> dict[str, Any]:
    choose("--class", retention_class, CLASSES)
    choose("--category", category, LONG_TERM_CATEGORIES)
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
        raise VaultError(N_("a {option} is required to mark evidence"), option="--reason")
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


@operation("evidence.redact")
def redact(
    call: Call,
    evidence_id: int,
    faces: bool = False,
    boxes: list[str] | None = None,
    mutes: list[str] | None = None,
    drops: list[str] | None = None,
    plan: dict[str, Any] | None = None,
    style: str | None = None,
    every: int = 5,
    detect_width: int = 640,
    note: str | None = None,
    render: bool = False,
) -> dict[str, Any]:
    """A new version of the clip's redaction plan (attributed to the caller's principal)
    when the changes change it; with RENDER, the newest version rendered and sealed."""
    assert call.principal is not None  # the policy lets only a records keeper in
    changes = media_redact.Changes(
        faces=faces,
        boxes=list(boxes or []),
        mutes=list(mutes or []),
        drops=list(drops or []),
        plan_in=plan,
        style=style,
        every=every,
        detect_width=detect_width,
        note=note,
    )
    return media_redact.redact(call.vault, evidence_id, call.principal.name, changes, render)


@operation("evidence.export")
def export(
    call: Call,
    out: str,
    evidence_id: int | None = None,
    case: str | None = None,
    grant: int | None = None,
    iso: bool = False,
    place: str | None = None,
    redacted: bool = False,
) -> dict[str, Any]:
    if (evidence_id is None) == (case is None):
        raise VaultError(N_("give one evidence id or {option}"), option="--case NUMBER")
    scope = f"case:{normalise_number(case)}" if case is not None else f"evidence:{evidence_id}"
    package = call.output("package")
    result = access_export.export(
        call.vault, scope, package, grant, iso, place, shown_out=Path(out), redacted=redacted
    )
    return result.to_json()


@operation("evidence.discs")
def discs(call: Call, out: str, evidence_ids: list[int]) -> dict[str, Any]:
    """EV-2: the pair of labelled disc images of footage kept long-term."""
    return access_discs.make_discs(
        call.vault, evidence_ids, call.output("discs"), shown_out=Path(out)
    )
