"""The compliance report (OV-1): per officer and camera, how much was recorded, in how many
sessions, how each interruption was explained, which sessions opened without narration, which
camera clocks and clip times cannot be trusted, which clips arrived late and which
must-record cases have no footage; every breach listed as a finding with its rule (OV-3).

Everything is computed from the records as they stand: run `evault compliance scan` first
so sessions, gaps and narration are up to date (the report says when clips still wait).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from vault.compliance import badges, clock, deadline, stops
from vault.compliance.figures import summarise
from vault.compliance.reasons import histories
from vault.compliance.review import review_json
from vault.context import Vault
from vault.db.models import (
    AuditEvent,
    Case,
    CaseHandler,
    CaseLink,
    Device,
    DockSession,
    Evidence,
    LateReason,
    NarrationCheck,
    Officer,
    RecordingGap,
    RecordingSession,
    SessionClip,
    SessionReview,
)
from vault.timeutil import as_utc, iso


@dataclass(frozen=True)
class ReportFilters:
    range_from: datetime | None = None  # corrected recording time, inclusive
    range_to: datetime | None = None  # exclusive
    unit: str | None = None  # the officer's unit
    officer_id: str | None = None
    device_id: str | None = None


class _Context:
    """Lookups shared by the report's sections, loaded once."""

    def __init__(self, vault: Vault, session: Session, filters: ReportFilters) -> None:
        self.vault, self.session, self.filters = vault, session, filters
        self.settings = vault.settings.compliance
        self.devices = {d.id: d for d in session.exec(select(Device))}
        self.officers = {o.id: o for o in session.exec(select(Officer))}
        self.checks = {c.evidence_id: c for c in session.exec(select(NarrationCheck))}
        self.stops = stops.all_stops(session)
        self.gap_history, self.late_history = histories(session)
        self.findings: list[dict[str, Any]] = []

    def device_id(self, pk: int | None) -> str | None:
        device = self.devices.get(pk) if pk is not None else None
        return device.device_id if device else None

    def officer_id(self, pk: int | None) -> str | None:
        officer = self.officers.get(pk) if pk is not None else None
        return officer.officer_id if officer else None

    def unit(self, pk: int | None) -> str | None:
        officer = self.officers.get(pk) if pk is not None else None
        return officer.unit if officer else None

    def wanted(self, device_pk: int | None, officer_pk: int | None) -> bool:
        f = self.filters
        if f.device_id and self.device_id(device_pk) != f.device_id:
            return False
        if f.officer_id and self.officer_id(officer_pk) != f.officer_id:
            return False
        return not (f.unit and self.unit(officer_pk) != f.unit)

    def in_range(self, start: datetime | None, end: datetime | None = None) -> bool:
        f = self.filters
        if start is None:
            return f.range_from is None and f.range_to is None
        end = end or start
        if f.range_from is not None and as_utc(end) < f.range_from:
            return False
        return not (f.range_to is not None and as_utc(start) >= f.range_to)

    def finding(self, rule: str, subject: str, detail: str, **extra: Any) -> None:
        self.findings.append({"rule": rule, "subject": subject, "detail": detail, **extra})


def build_report(vault: Vault, filters: ReportFilters) -> dict[str, Any]:
    with vault.session() as session:
        ctx = _Context(vault, session, filters)
        sessions = _sessions(ctx)
        clock_rows, clip_rows = _clocks(ctx)
        late, clips = _late(ctx)
        _must_record(ctx)
        camera_badges = _badges(ctx)
        reviews = _reviews(ctx, {s["session_id"] for s in sessions})
        verification = _verification(ctx)
        session.commit()
    return {
        "generated_at": iso(vault.clock.now()),
        "station_id": vault.settings.station_id,
        "filters": {
            "from": iso(filters.range_from),
            "to": iso(filters.range_to),
            "unit": filters.unit,
            "officer_id": filters.officer_id,
            "device_id": filters.device_id,
        },
        "settings": {
            "max_clock_offset_s": ctx.settings.max_clock_offset_s,
            "continuity_tolerance_s": ctx.settings.continuity_tolerance_s,
            "session_gap_s": ctx.settings.session_gap_s,
            "narration_window_s": ctx.settings.narration_window_s,
            "min_speech_s": ctx.settings.min_speech_s,
            "upload_deadline": ctx.settings.upload_deadline,
        },
        "calendar": deadline.calendar_info(),
        "summary": summarise(
            [_clip_owner(ctx, e) for e in clips], sessions, clock_rows + clip_rows, late
        ),
        "sessions": sessions,
        "clock": clock_rows,
        "clip_times": clip_rows,
        "late": late,
        "reviews": reviews,
        "camera_badges": camera_badges,
        "verification": verification,
        "findings": ctx.findings,
    }


VERIFIED = "vault.verified"  # the audit event `evault verify` leaves (vault.recovery.verify)


def _verification(ctx: _Context) -> dict[str, Any] | None:
    """OV-3, altered records: what the newest `evault verify` (the daily timer) found. The
    report does not re-hash the store; it says when the store was last held to the
    database, and lists each altered, lost or unprotected record found then."""
    query = select(AuditEvent).where(AuditEvent.action == VERIFIED)
    if ctx.filters.range_to is not None:
        query = query.where(col(AuditEvent.at) < ctx.filters.range_to)
    event = ctx.session.exec(query.order_by(col(AuditEvent.id).desc()).limit(1)).first()
    if event is None:
        return None  # never verified: the printed report says so
    detail = event.detail
    listed = detail.get("findings")
    for found in listed if isinstance(listed, list) else []:
        if not isinstance(found, dict) or found.get("class") == "warnings":
            continue
        ctx.finding(
            "OV-3",
            str(found.get("subject")),
            f"altered records ({found.get('class')}), found by evault verify on "
            f"{iso(event.at)}: {found.get('reason')}",
        )
    return {"at": iso(event.at), "exit_code": detail.get("exit_code"), "by": event.actor}


def _narration(ctx: _Context, evidence_id: int) -> dict[str, Any]:
    check = ctx.checks.get(evidence_id)
    if check is None or check.state != "done":
        return {"checked": False, "narrated": False, "error": check.error if check else None}
    return {
        "checked": True,
        "narrated": check.narrated,
        "has_audio": check.has_audio,
        "speech_s": check.speech_s,
        "speech": check.speech,
        "transcript": check.transcript,
        "engine": check.engine,
    }


def _sessions(ctx: _Context) -> list[dict[str, Any]]:
    rows = ctx.session.exec(
        select(RecordingSession)
        .where(RecordingSession.state == "current")
        .order_by(col(RecordingSession.starts_at), col(RecordingSession.id))
    )
    found = []
    for row in rows:
        if ctx.wanted(row.device_pk, row.officer_pk) and ctx.in_range(row.starts_at, row.ends_at):
            found.append(_session_json(ctx, row))
    return found


def _session_json(ctx: _Context, row: RecordingSession) -> dict[str, Any]:
    assert row.id is not None
    clips = list(
        ctx.session.exec(
            select(Evidence)
            .join(SessionClip, col(SessionClip.evidence_id) == Evidence.id)
            .where(SessionClip.session_id == row.id)
            .order_by(col(SessionClip.position))
        )
    )
    names = {e.id: e.file_name for e in clips}
    opening = _narration(ctx, clips[0].id or 0) if clips else {"checked": False}
    subject = f"session:{row.id}"
    if opening["checked"] and not opening["narrated"]:
        why = (
            "no audio track"
            if not opening.get("has_audio")
            else (
                f"{opening['speech_s']} s of speech in the first "
                f"{ctx.settings.narration_window_s:g} s"
            )
        )
        ctx.finding("RC-1", subject, f"recording opens without narration ({why})")
    gaps = []
    query = (
        select(RecordingGap)
        .where(RecordingGap.session_id == row.id, col(RecordingGap.is_current))
        .order_by(col(RecordingGap.gap_from))
    )
    for gap in ctx.session.exec(query):
        gaps.append(_gap_json(ctx, row, gap, names))
    return {
        "session_id": row.id,
        "device_id": ctx.device_id(row.device_pk),
        "officer_id": ctx.officer_id(row.officer_pk),
        "unit": ctx.unit(row.officer_pk),
        "start": iso(row.starts_at),
        "end": iso(row.ends_at),
        "recorded_s": row.recorded_s,
        "clips": [e.file_name for e in clips],
        "evidence_ids": [e.id for e in clips],
        "opening_narrated": bool(opening["narrated"]),
        "opening": opening,
        "gaps": gaps,
    }


def _gap_json(
    ctx: _Context, row: RecordingSession, gap: RecordingGap, names: dict[int | None, str]
) -> dict[str, Any]:
    resume = _narration(ctx, gap.before_evidence_id)
    stop = stops.covering(
        ctx.stops, row.device_pk, row.officer_pk, as_utc(gap.gap_from), as_utc(gap.gap_to)
    )
    reason = gap.reason
    if reason is None and stop is not None and stop.status == "approved":
        reason = f"stop_record:{stop.id} {stop.reason}"
    subject = f"gap:{gap.id}"
    if not resume["narrated"] and reason is None:
        if stop is not None:
            ctx.finding("RC-4", subject, f"stop record {stop.id} awaits the supervisor's review")
        elif resume["checked"]:
            ctx.finding(
                "RC-3",
                subject,
                f"{gap.seconds:.0f} s interruption in session {row.id}: the resume is not "
                "narrated and no written reason was given",
            )
    return {
        "gap_id": gap.id,
        "after": names.get(gap.after_evidence_id),
        "before": names.get(gap.before_evidence_id),
        "from": iso(gap.gap_from),
        "to": iso(gap.gap_to),
        "seconds": gap.seconds,
        "resume_narrated": bool(resume["narrated"]),
        "resume_checked": resume["checked"],
        "reason": reason,
        "note": gap.note if gap.reason else (stop.basis if reason and stop else None),
        "stop_record_id": stop.id if stop else None,
        "reason_history": ctx.gap_history.get(gap.id or 0, []),
    }


def _clocks(ctx: _Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    synced = clock.synced_docks(ctx.session)
    limit = ctx.settings.max_clock_offset_s
    docks = []
    for dock in ctx.session.exec(select(DockSession).order_by(col(DockSession.id))):
        if not ctx.wanted(dock.device_pk, dock.officer_pk) or not ctx.in_range(dock.started_at):
            continue
        entry = clock.dock_entry(ctx.session, dock, limit, synced)
        entry |= {"officer_id": ctx.officer_id(dock.officer_pk), "unit": ctx.unit(dock.officer_pk)}
        docks.append(entry)
        if entry["flags"]:
            described = "; ".join(clock.DESCRIPTIONS[f] for f in entry["flags"])
            ctx.finding("DV-2", f"dock:{dock.id}", f"offset {entry['offset_s']} s: {described}")
    clips = []
    tz = ctx.vault.settings.timezone
    for evidence in _evidence(ctx, video_only=True):
        found = clock.clip_entry(ctx.session, evidence, limit, tz)
        if found is not None:
            found["device_id"] = ctx.device_id(evidence.device_pk)
            found["officer_id"] = ctx.officer_id(evidence.officer_pk)
            found["unit"] = ctx.unit(evidence.officer_pk)
            clips.append(found)
            described = "; ".join(clock.DESCRIPTIONS[f] for f in found["flags"])
            ctx.finding("DV-2", f"evidence:{evidence.id}", f"{evidence.file_name}: {described}")
    return docks, clips


def _badges(ctx: _Context) -> list[dict[str, Any]]:
    """DV-1: the badge each camera reported against its files' officers and its keeper."""
    docks = [
        d
        for d in ctx.session.exec(select(DockSession).order_by(col(DockSession.id)))
        if ctx.wanted(d.device_pk, d.officer_pk) and ctx.in_range(d.started_at)
    ]
    ids = {pk: d.device_id for pk, d in ctx.devices.items()}
    return badges.camera_badges(ctx.session, docks, ids, ctx.finding)


def _evidence(ctx: _Context, video_only: bool = False) -> list[Evidence]:
    query = select(Evidence).where(Evidence.kind != "unclassified").order_by(col(Evidence.id))
    if video_only:
        query = query.where(Evidence.kind == "video")
    return [
        e
        for e in ctx.session.exec(query)
        if ctx.wanted(e.device_pk, e.officer_pk) and ctx.in_range(e.recorded_at_corrected)
    ]


def _late(ctx: _Context) -> tuple[list[dict[str, Any]], list[Evidence]]:
    """IN-1: corrected recording time to sealing against the upload deadline."""
    reasons = {r.evidence_id: r for r in ctx.session.exec(select(LateReason))}
    rule, tz = ctx.settings.upload_deadline, ctx.vault.settings.timezone
    late, clips = [], _evidence(ctx)
    for evidence in clips:
        recorded = evidence.recorded_at_corrected
        if recorded is None or as_utc(recorded) < clock.EPOCH_2000:
            continue  # no trustworthy time: a DV-2 finding, no deadline to judge
        result = deadline.check(as_utc(recorded), as_utc(evidence.sealed_at), rule, tz)
        if not result.late:
            continue
        reason = reasons.get(evidence.id or 0)
        entry = {
            "evidence_id": evidence.id,
            "file_name": evidence.file_name,
            "device_id": ctx.device_id(evidence.device_pk),
            "officer_id": ctx.officer_id(evidence.officer_pk),
            "unit": ctx.unit(evidence.officer_pk),
            "recorded_at": iso(recorded),
            "sealed_at": iso(evidence.sealed_at),
            "due": iso(result.deadline.due),
            "hours": result.hours,
            "rule": rule,
            "approximate": result.deadline.approximate,
            "calendar_note": result.deadline.note,
            "reason": reason.note if reason else None,
            "reason_history": ctx.late_history.get(evidence.id or 0, []),
        }
        late.append(entry)
        detail = f"sealed {result.hours:.1f} h after recording, deadline {rule}"
        if result.deadline.approximate:
            detail += " (approximate: " + (result.deadline.note or "") + ")"
        detail += f"; reason given: {reason.note}" if reason else "; no reason given"
        ctx.finding("IN-1", f"evidence:{evidence.id}", detail)
    return late, clips


def _must_record(ctx: _Context) -> None:
    """RC-5: a case of a must-record activity with no footage linked to it."""
    f = ctx.filters
    if f.device_id:
        return  # a case belongs to no camera: not part of a report on one camera
    for case in ctx.session.exec(select(Case).order_by(col(Case.id))):
        if not case.activities or not ctx.in_range(case.opened_at):
            continue
        if f.unit and case.unit != f.unit:
            continue
        if f.officer_id:
            handlers = ctx.session.exec(
                select(Officer.officer_id)
                .join(CaseHandler, col(CaseHandler.officer_pk) == Officer.id)
                .where(CaseHandler.case_id == case.id)
            )
            if f.officer_id not in set(handlers):
                continue
        footage = ctx.session.exec(
            select(CaseLink.id)
            .join(Evidence, col(CaseLink.evidence_id) == Evidence.id)
            .where(
                CaseLink.case_id == case.id,
                col(CaseLink.unlinked_at).is_(None),
                col(Evidence.kind).in_(("video", "audio")),
            )
        ).first()
        if footage is None:
            ctx.finding(
                "RC-5",
                f"case:{case.number}",
                f"{case.name} ({'、'.join(case.activities)}) must be recorded; no footage linked",
            )


def _reviews(ctx: _Context, session_ids: set[int]) -> list[dict[str, Any]]:
    found = []
    rows = ctx.session.exec(select(SessionReview).order_by(col(SessionReview.id)))
    for row in rows:
        if row.session_id not in session_ids:
            continue
        found.append(review_json(row))
        if row.result == "finding":
            ctx.finding(
                "OV-3",
                f"session:{row.session_id}",
                f"spot check (OV-2) by {row.reviewer}: {row.note}",
            )
    return found


def _clip_owner(ctx: _Context, evidence: Evidence) -> dict[str, Any]:
    return {
        "officer_id": ctx.officer_id(evidence.officer_pk),
        "device_id": ctx.device_id(evidence.device_pk),
        "unit": ctx.unit(evidence.officer_pk),
        "kind": evidence.kind,
    }
