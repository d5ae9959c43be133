"""Operations on recording compliance: the scan, written reasons (RC-3, RC-6, IN-1), stop
records (RC-4), spot checks (OV-2) and the report (OV-1, OV-3).

An interruption's reason comes from the officer concerned or a records keeper (RC-6): an
officer (scope `own`) annotates only gaps of his own recording, explains only his own late
clips and files stop records only for himself.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from vault.compliance import deadline
from vault.compliance.printable import write_html
from vault.compliance.reasons import (
    GAP_REASONS,
    add_late_reason,
    annotate_gap,
    late_reason_json,
    record_unresumed,
    review_annotation,
    unresumed_json,
)
from vault.compliance.report import ReportFilters, build_report
from vault.compliance.review import draw_json, draw_sample, record_review, review_json
from vault.compliance.scan import scan as run_scan
from vault.compliance.stops import add_stop, all_stops, approve_stop, stop_json
from vault.db.models import Evidence, Officer, RecordingGap, RecordingSession, StopRecord
from vault.errors import AccessRefused, NotFound, VaultError
from vault.i18n import N_
from vault.logs import configure as configure_logging
from vault.service.api import Call, operation
from vault.service.ops.scopes import own_badge
from vault.timeutil import parse_span, parse_time


def _officer_id(call: Call, officer_pk: int | None) -> str | None:
    if officer_pk is None:
        return None
    with call.vault.session() as session:
        officer = session.get(Officer, officer_pk)
        return officer.officer_id if officer else None


@operation("compliance.scan")
def scan(call: Call, since: str | None = None) -> dict[str, Any]:
    configure_logging(call.vault.settings)
    report = run_scan(call.vault, parse_time(since, call.vault.settings.timezone))
    return report.to_json()


@operation("compliance.late-reason")
def late_reason(call: Call, evidence_id: int, note: str) -> dict[str, Any]:
    if call.scope == "own":
        badge = own_badge(call)
        with call.vault.session() as session:
            evidence = session.get(Evidence, evidence_id)
            if evidence is None:
                raise NotFound(N_("no evidence {id}"), id=evidence_id)
            officer_pk = evidence.officer_pk
        if _officer_id(call, officer_pk) != badge:
            raise AccessRefused(
                N_(
                    "{who}: evidence {id} was not recorded by officer {badge}; "
                    "its late upload is explained by its officer or a records keeper"
                ),
                who=call.name,
                id=evidence_id,
                badge=badge,
            )
    return late_reason_json(add_late_reason(call.vault, evidence_id, note))


@operation("compliance.calendar")
def calendar(call: Call) -> dict[str, object]:
    return deadline.calendar_info()


@operation("report.compliance")
def report(
    call: Call,
    from_: str | None = None,
    to: str | None = None,
    unit: str | None = None,
    officer: str | None = None,
    device: str | None = None,
    html: bool = False,
) -> dict[str, Any]:
    tz = call.vault.settings.timezone
    range_from, range_to = parse_span(from_, to, tz)
    filters = ReportFilters(
        range_from=range_from,
        range_to=range_to,
        unit=unit,
        officer_id=officer,
        device_id=device,
    )
    found = build_report(call.vault, filters)
    if html:
        write_html(found, call.output("report.html"), tz, call.vault.settings.language)
    return found


@operation("session.annotate")
def annotate(call: Call, gap_id: int, reason: str, note: str) -> dict[str, Any]:
    if call.scope == "own":
        badge = own_badge(call)
        with call.vault.session() as session:
            gap = session.get(RecordingGap, gap_id)
            if gap is None:
                raise NotFound(
                    N_("no gap {id} (list them: `{command}`)"),
                    id=gap_id,
                    command="evault session gaps",
                )
            recording = session.get(RecordingSession, gap.session_id)
            officer_pk = recording.officer_pk if recording else None
        if _officer_id(call, officer_pk) != badge:
            raise AccessRefused(
                N_(
                    "{who}: gap {id} is not in a session recorded by officer {badge}; "
                    "its reason is given by its officer or a records keeper (RC-6)"
                ),
                who=call.name,
                id=gap_id,
                badge=badge,
            )
    gap = annotate_gap(call.vault, gap_id, reason, note)
    return {
        "gap_id": gap.id,
        "session_id": gap.session_id,
        "reason": gap.reason,
        "reason_label": GAP_REASONS[reason],
        "note": gap.note,
        "annotated_by": gap.annotated_by,
    }


@operation("session.unresumed")
def unresumed(
    call: Call,
    session_id: int,
    reason: str,
    reported_to: str | None = None,
    reported_at: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """RC-3: a recording that could not be resumed: the immediate report and the written
    explanation, from the officer concerned or a records keeper (RC-6)."""
    if call.scope == "own":
        badge = own_badge(call)
        with call.vault.session() as session:
            recording = session.get(RecordingSession, session_id)
            if recording is None:
                raise NotFound(
                    N_("no recording session {id} (see {command})"),
                    id=session_id,
                    command="evault session list",
                )
            officer_pk = recording.officer_pk
        if _officer_id(call, officer_pk) != badge:
            raise AccessRefused(
                N_(
                    "{who}: session {id} was not recorded by officer {badge}; "
                    "it is explained by its officer or a records keeper (RC-6)"
                ),
                who=call.name,
                id=session_id,
                badge=badge,
            )
    when = parse_time(reported_at, call.vault.settings.timezone) if reported_at else None
    row = record_unresumed(
        call.vault,
        session_id,
        reason,
        reported_to=reported_to,
        reported_at=when,
        note=note,
    )
    return unresumed_json(row)


@operation("session.review")
def review_reason(call: Call, subject: str, result: str, note: str | None = None) -> dict[str, Any]:
    """RC-6: accept or reject the newest written reason of gap:ID, evidence:ID or
    session:ID."""
    return review_annotation(call.vault, subject, result, note)


@operation("stop-record.add")
def stop_add(
    call: Call,
    device: str,
    officer: str,
    from_: str,
    to: str,
    reason: str,
    basis: str,
    statement: str | None = None,
) -> dict[str, Any]:
    """STATEMENT: the name of the sent file (the requester's signed statement)."""
    if call.scope == "own":
        badge = own_badge(call)
        if officer != badge:
            raise AccessRefused(
                N_(
                    "{who} files stop records only for officer {badge} (their own), "
                    "not for {officer}; a records keeper files them for others"
                ),
                who=call.name,
                badge=badge,
                officer=officer,
            )
    tz = call.vault.settings.timezone
    start, end = parse_time(from_, tz), parse_time(to, tz)
    if start is None or end is None:
        raise VaultError(N_("{since} and {to} are required"), since="--from", to="--to")
    path = None
    if statement is not None:
        if statement not in call.inputs:
            raise VaultError(N_("the statement file {path} was not sent"), path=statement)
        path = call.inputs[statement]
    row = add_stop(
        call.vault,
        device_id=device,
        officer_id=officer,
        stop_from=start,
        stop_to=end,
        reason=reason,
        basis=basis,
        statement=path,
    )
    with call.vault.session() as session:
        return stop_json(session, row)


@operation("stop-record.approve")
def stop_approve(call: Call, stop_id: int) -> dict[str, Any]:
    row = approve_stop(call.vault, stop_id)
    return {"stop_id": row.id, "approved_by": row.approved_by}


@operation("stop-record.list")
def stop_list(call: Call) -> list[dict[str, Any]]:
    with call.vault.session() as session:
        if call.scope == "own":
            badge = own_badge(call)
            query = (
                select(StopRecord)
                .join(Officer, col(Officer.id) == StopRecord.officer_pk)
                .where(Officer.officer_id == badge)
                .order_by(col(StopRecord.id))
            )
            rows = list(session.exec(query))
        else:
            rows = all_stops(session)
        return [stop_json(session, row) for row in rows]


@operation("review.sample")
def sample(
    call: Call,
    count: int,
    seed: str | None = None,
    from_: str | None = None,
    to: str | None = None,
) -> dict[str, Any]:
    tz = call.vault.settings.timezone
    draw = draw_sample(call.vault, count, seed, *parse_span(from_, to, tz))
    return draw_json(draw)


@operation("review.record")
def record(call: Call, session_id: int, result: str, note: str) -> dict[str, Any]:
    return review_json(record_review(call.vault, session_id, result, note))
