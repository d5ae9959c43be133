"""The compliance report (OV-1): per officer and camera, how much was recorded, in how many
sessions, how each interruption was explained, which sessions opened without narration, which
camera clocks and clip times cannot be trusted, which clips arrived late and which
must-record cases have no footage; every breach listed as a finding with its rule (OV-3).

Everything is computed from the records as they stand: run `evault compliance scan` first
so sessions, gaps and narration are up to date (the report says when clips still wait).

Filters never lie (issue 16): a unit resolves through the unit registry (vault.cases.units),
so the officer's unit, the case's unit and the unit the camera reported at docking all count
as the same unit however each was written; the report says how many records its filters
matched (`matched`) and which values exist (`known`), so that a report over nothing (a
misspelt unit, a badge nobody has) is never read as a clean one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select, true

from vault.cases import units
from vault.compliance import badges, clock, copies, deadline, stops
from vault.compliance.custody import custody_findings
from vault.compliance.figures import summarise
from vault.compliance.openings import opening as opening_rule
from vault.compliance.reasons import (
    Histories,
    LazyHistories,
    all_histories,
    rejected,
    unresumed_json,
)
from vault.compliance.review import review_json
from vault.compliance.sequences import log_findings, missing_sequences
from vault.context import Vault
from vault.db.models import (
    AnnotationVersion,
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
    Sighting,
    UnresumedStop,
)
from vault.db.slices import slices
from vault.timeutil import as_utc, iso


@dataclass(frozen=True)
class ReportFilters:
    range_from: datetime | None = None  # corrected recording time, inclusive
    range_to: datetime | None = None  # exclusive
    # The unit: the officer's, the case's or the one the camera reported at docking, each
    # resolved through the unit registry (a string nobody registered matches itself).
    unit: str | None = None
    officer_id: str | None = None
    device_id: str | None = None


@dataclass(frozen=True)
class _Camera:
    device_id: str


@dataclass(frozen=True)
class _Person:
    officer_id: str
    unit: str | None


class _Checks:
    """Narration checks by evidence id: every one loaded at once for a whole report, else
    each looked up when asked (a worklist judges a few clips among a million)."""

    def __init__(self, session: Session, whole: bool) -> None:
        self._session, self._whole = session, whole
        self._found: dict[int, NarrationCheck | None] = {}
        if whole:
            self._found = {c.evidence_id: c for c in session.exec(select(NarrationCheck))}

    def prefetch(self, evidence_ids: Iterable[int]) -> None:
        """Read the checks of EVIDENCE_IDS at once (those about to be asked for)."""
        if self._whole:
            return
        wanted = [i for i in set(evidence_ids) if i not in self._found]
        self._found |= dict.fromkeys(wanted)
        for check in _rows_for(self._session, NarrationCheck, NarrationCheck.evidence_id, wanted):
            self._found[check.evidence_id] = check

    def get(self, evidence_id: int) -> NarrationCheck | None:
        if self._whole or evidence_id in self._found:
            return self._found.get(evidence_id)
        query = select(NarrationCheck).where(NarrationCheck.evidence_id == evidence_id)
        found = self._found[evidence_id] = self._session.exec(query).first()
        return found


class _Context:
    """Lookups shared by the report's sections, loaded once. WHOLE False (a worklist): the
    narration checks and the reasons' histories are read for the records asked about only."""

    def __init__(
        self, vault: Vault, session: Session, filters: ReportFilters, whole: bool = True
    ) -> None:
        self.vault, self.session, self.filters = vault, session, filters
        self.settings = vault.settings.compliance
        self.opening = opening_rule(self.settings)  # RC-1: the preset checked against
        self.openings_heard = {"elements": 0, "presence": 0}  # with / without a transcript
        # What the sections read of cameras and officers, as columns (no rows to build).
        self.devices = {
            pk: _Camera(device_id)
            for pk, device_id in session.exec(select(Device.id, Device.device_id))
        }
        self.officers = {
            pk: _Person(badge, unit)
            for pk, badge, unit in session.exec(
                select(Officer.id, Officer.officer_id, Officer.unit)
            )
        }
        self.whole = whole
        self.checks = _Checks(session, whole)
        self.stops = stops.all_stops(session)
        self.gap_history: Histories
        self.late_history: Histories
        self.end_history: Histories
        if whole:
            self.gap_history, self.late_history, self.end_history = all_histories(session)
        else:
            self.gap_history = LazyHistories(session, "gap")
            self.late_history = LazyHistories(session, "late")
            self.end_history = LazyHistories(session, "ended")
        self.unresumed = {u.session_id: u for u in session.exec(select(UnresumedStop))}
        self.findings: list[dict[str, Any]] = []
        # What the filters selected, by kind: the report's `matched`.
        self.matched: dict[str, set[int]] = {
            "dockings": set(),
            "clips": set(),
            "sessions": set(),
            "cases": set(),
        }
        self.unit_filter = units.unit_filter(session, filters.unit) if filters.unit else None
        self._units: dict[str, str] = {}  # an officer's unit as written -> the unit's name
        self.unit_officers: set[int] = set()
        self.unit_docks: set[int] = set()
        self.unit_clips: set[int] = set()
        self.unit_sessions: set[int] = set()
        if self.unit_filter is not None:
            self._unit_records(self.unit_filter)

    def _unit_records(self, unit: units.UnitFilter) -> None:
        """The records of the filter's unit: its officers, the dockings whose camera reported
        it, the clips delivered at those dockings and the sessions holding those clips."""
        self.unit_officers = {
            pk for pk, o in self.officers.items() if pk is not None and unit.matches(o.unit)
        }
        self.unit_docks = {
            d.id
            for d in self.session.exec(select(DockSession))
            if d.id is not None
            and (unit.matches(d.camera_unit_name) or unit.matches(d.camera_unit_id))
        }
        self.unit_clips = {
            evidence_id
            for evidence_id, dock_id in self.session.exec(
                select(Sighting.evidence_id, Sighting.dock_session_id)
            )
            if dock_id in self.unit_docks
        }
        self.unit_sessions = {
            session_id
            for session_id, evidence_id in self.session.exec(
                select(SessionClip.session_id, SessionClip.evidence_id)
            )
            if evidence_id in self.unit_clips
        }

    def device_id(self, pk: int | None) -> str | None:
        device = self.devices.get(pk) if pk is not None else None
        return device.device_id if device else None

    def officer_id(self, pk: int | None) -> str | None:
        officer = self.officers.get(pk) if pk is not None else None
        return officer.officer_id if officer else None

    def unit(self, pk: int | None) -> str | None:
        """The officer's unit: the registered unit's name where the string resolves to one."""
        officer = self.officers.get(pk) if pk is not None else None
        if officer is None or officer.unit is None:
            return None
        if officer.unit not in self._units:  # a few units among many officers
            registered = units.resolve(self.session, officer.unit)
            self._units[officer.unit] = registered.name if registered else officer.unit
        return self._units[officer.unit]

    def wanted(
        self,
        device_pk: int | None,
        officer_pk: int | None,
        *,
        dock_id: int | None = None,
        evidence_id: int | None = None,
        session_id: int | None = None,
    ) -> bool:
        f = self.filters
        if f.device_id and self.device_id(device_pk) != f.device_id:
            return False
        if f.officer_id and self.officer_id(officer_pk) != f.officer_id:
            return False
        if self.unit_filter is None:
            return True
        return (
            officer_pk in self.unit_officers
            or dock_id in self.unit_docks
            or evidence_id in self.unit_clips
            or session_id in self.unit_sessions
        )

    def unit_matches(self, text: str | None) -> bool:
        return self.unit_filter is None or self.unit_filter.matches(text)

    def count(self, kind: str, record_id: int | None) -> None:
        if record_id is not None:
            self.matched[kind].add(record_id)

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
        _camera_findings(ctx)
        copies.report_findings(ctx.session, ctx.finding, ctx.wanted, ctx.in_range)
        camera_badges = _badges(ctx)
        reviews = _reviews(ctx, {s["session_id"] for s in sessions})
        verification = _verification(ctx)
        known = _known(ctx)
        unknown = _unknown(ctx, known)
        session.commit()
    matched = {kind: len(ids) for kind, ids in ctx.matched.items()}
    unit = ctx.unit_filter
    return {
        "generated_at": iso(vault.clock.now()),
        "station_id": vault.settings.station_id,
        "filters": {
            "from": iso(filters.range_from),
            "to": iso(filters.range_to),
            "unit": filters.unit,
            "officer_id": filters.officer_id,
            "device_id": filters.device_id,
            # The registered unit --unit resolved to (None: not registered), and every name
            # of it the report matched.
            "unit_registered": unit.unit if unit else None,
            "unit_names": list(unit.names) if unit else [],
        },
        # How many records the filters selected (dockings, clips, sessions, must-record
        # cases); 0: the report is over nothing, and says so. `known`: the values that exist
        # for each filter; `unknown`: the filters naming a value no record has.
        "matched": sum(matched.values()),
        "matched_records": matched,
        "known": known,
        "unknown": unknown,
        "settings": {
            "max_clock_offset_s": ctx.settings.max_clock_offset_s,
            "continuity_tolerance_s": ctx.settings.continuity_tolerance_s,
            "session_gap_s": ctx.settings.session_gap_s,
            "narration_window_s": ctx.settings.narration_window_s,
            "min_speech_s": ctx.opening.min_speech_s,
            "min_resume_speech_s": ctx.settings.min_resume_speech_s,
            "upload_deadline": ctx.settings.upload_deadline,
            # RC-1: the preset's elements and notice, the speech they need, and how many
            # openings were checked element by element (a transcript) or only for presence.
            "narration": ctx.opening.to_json()
            | {
                "elements_checked": ctx.openings_heard["elements"],
                "presence_only": ctx.openings_heard["presence"],
            },
            "record_list": ctx.settings.record_list,
            "archive_days": ctx.settings.archive_days,
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


def _camera_findings(ctx: _Context) -> None:
    """OV-4: numbers a camera skipped (clips deleted on it before docking); DV-3, DV-5,
    DV-6: what its custody ledger shows (handed out unready, lost, damaged, misused)."""
    for gap in missing_sequences(ctx.session):
        before, after = gap.before, gap.after
        wanted = ctx.wanted(gap.device_pk, before.officer_pk, evidence_id=before.evidence_id)
        if not wanted or not ctx.in_range(before.recorded_at, after.recorded_at):
            continue
        numbers = gap.numbers()
        shown = numbers[0] if gap.count == 1 else f"{numbers[0]}..{numbers[-1]}"
        ctx.finding(
            "OV-4",
            f"device:{gap.device_id}",
            f"camera {gap.device_id} skipped clip number {shown} ({gap.count}) between "
            f"{before.file_name} and {after.file_name}: deleted on the camera?",
            code="missing_sequence",
            **gap.to_json(),
        )
    for said in log_findings(ctx.session):
        wanted = ctx.wanted(said.device_pk, said.officer_pk, dock_id=said.dock_id)
        if not wanted or not ctx.in_range(said.docked_at):
            continue
        what = (
            "names a file that never arrived:"
            if said.code == "log_names_missing"
            else "records the deletion of"
        )
        ctx.finding(
            "OV-4",
            f"device:{said.device_id}",
            f"camera {said.device_id}'s log {said.log_path} {what} {said.file_name}",
            code=said.code,
            **said.to_json(),
        )
    f = ctx.filters
    for found in custody_findings(ctx.session, ctx.vault.settings, f.range_from, f.range_to):
        if not ctx.wanted(found.device_pk, found.officer_pk):
            continue
        ctx.finding(
            found.rule,
            f"device:{found.device_id}",
            f"custody ledger event {found.event_id} ({found.code})",
            code=found.code,
            device_id=found.device_id,
            officer_id=found.officer_id,
            event_id=found.event_id,
            at=iso(found.at),
            **found.detail,
        )


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


def _elements(ctx: _Context, subject: str, opening: dict[str, Any]) -> None:
    """RC-1 with a transcript: each of the preset's elements and the notice, by keyword;
    without one only the presence of an opening was checked, and the opening says so."""
    transcript = opening.get("transcript")
    opening["elements_checked"], opening["missing_elements"] = False, []
    if not opening.get("has_audio"):
        return
    if not transcript:
        ctx.openings_heard["presence"] += 1
        return
    ctx.openings_heard["elements"] += 1
    missing = ctx.opening.missing(str(transcript))
    opening["elements_checked"], opening["missing_elements"] = True, missing
    if missing:
        ctx.finding(
            "RC-1",
            subject,
            f"the opening does not state {', '.join(missing)} ({ctx.opening.source})",
            code="elements_missing",
            missing=missing,
            preset=ctx.opening.preset,
        )


def _sessions(ctx: _Context) -> list[dict[str, Any]]:
    rows = ctx.session.exec(
        select(RecordingSession)
        .where(RecordingSession.state == "current")
        .order_by(col(RecordingSession.starts_at), col(RecordingSession.id))
    )
    found = []
    for row in rows:
        wanted = ctx.wanted(row.device_pk, row.officer_pk, session_id=row.id)
        if wanted and ctx.in_range(row.starts_at, row.ends_at):
            ctx.count("sessions", row.id)
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
    if opening["checked"]:
        _elements(ctx, subject, opening)
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
    ended = _unresumed(ctx, row, [e.id for e in clips if e.id is not None])
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
        "unresumed": ended,
    }


def _open_cases(ctx: _Context, evidence_ids: list[int]) -> list[str]:
    """The numbers of the open cases the session's footage is linked to."""
    query = (
        select(Case.number)
        .join(CaseLink, col(CaseLink.case_id) == Case.id)
        .where(
            col(CaseLink.evidence_id).in_(evidence_ids),
            col(CaseLink.unlinked_at).is_(None),
            Case.status == "open",
        )
        .distinct()
    )
    return sorted(ctx.session.exec(query))


def _unresumed(
    ctx: _Context, row: RecordingSession, evidence_ids: list[int]
) -> dict[str, Any] | None:
    """RC-3 (Gansu-Eco 第42条, Gansu-Radio 第19条, Shanxi 第17条): a recording that stopped
    and could not be resumed, as recorded (`evault session unresumed`) or as an objective
    cause's stop record that runs past the session's end shows it. It needs the immediate
    report (to whom, when); while its case is open, the written explanation too."""
    assert row.id is not None
    marked = ctx.unresumed.get(row.id)
    stop = stops.never_resumed(
        ctx.stops, row.device_pk, row.officer_pk, as_utc(row.starts_at), as_utc(row.ends_at)
    )
    if marked is None and stop is None:
        return None
    history = ctx.end_history.get(row.id, [])
    refused = rejected(history)
    cases = _open_cases(ctx, evidence_ids)
    subject = f"session:{row.id}"
    if marked is None or marked.reported_to is None or refused:
        ctx.finding(
            "RC-3",
            subject,
            f"recording in session {row.id} stopped and was not resumed; "
            "no immediate report (to whom, when) is recorded",
            code="unresumed_not_reported",
            stop_record_id=stop.id if stop else None,
        )
    if cases and (marked is None or not marked.note or refused):
        ctx.finding(
            "RC-3",
            subject,
            f"session {row.id} ended without resuming while case {', '.join(cases)} is open; "
            "no written explanation is given",
            code="unresumed_unexplained",
            cases=cases,
        )
    return {
        "stop_record_id": stop.id if stop else None,
        "record": unresumed_json(marked) if marked else None,
        "open_cases": cases,
        "history": history,
    }


def _gap_json(
    ctx: _Context, row: RecordingSession, gap: RecordingGap, names: dict[int | None, str]
) -> dict[str, Any]:
    resume = _narration(ctx, gap.before_evidence_id)
    stop = stops.covering(
        ctx.stops, row.device_pk, row.officer_pk, as_utc(gap.gap_from), as_utc(gap.gap_to)
    )
    history = ctx.gap_history.get(gap.id or 0, [])
    refused = rejected(history) if gap.reason else None  # RC-6: a rejected reason is none
    reason = None if refused else gap.reason
    if reason is None and stop is not None and stop.status == "approved":
        reason = f"stop_record:{stop.id} {stop.reason}"
    subject = f"gap:{gap.id}"
    if not resume["narrated"] and reason is None:
        if refused:
            ctx.finding(
                "RC-3",
                subject,
                f"{gap.seconds:.0f} s interruption in session {row.id}: its written reason was "
                f"rejected by {refused['by']}: {refused['note']}",
                code="reason_rejected",
            )
        elif stop is not None:
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
        "note": gap.note if reason == gap.reason else (stop.basis if reason and stop else None),
        "stop_record_id": stop.id if stop else None,
        "reason_history": history,
    }


def unexplained_gaps(ctx: _Context) -> list[tuple[RecordingSession, dict[str, Any]]]:
    """The interruptions _sessions would list as RC-3 findings, found without reading every
    session: the current ones whose resume was heard without narration (resume_unnarrated)
    and that have no reason written, and those whose written reason was ever rejected
    (RC-6); _gap_json judges each exactly as the report does. Each with its session, in
    the report's order."""
    refused = select(AnnotationVersion.gap_id).where(
        col(AnnotationVersion.gap_id).is_not(None), AnnotationVersion.review == "rejected"
    )
    # Two index ranges of the interruptions alone (an OR of them, or a join with the
    # sessions, has the planner read every one): heard without narration and no reason
    # written (ix_recording_gap_open; compared with = TRUE, which an index serves), and a
    # reason once rejected. Their sessions are then looked up by key.
    silent = select(RecordingGap).where(
        col(RecordingGap.resume_unnarrated) == true(), col(RecordingGap.reason).is_(None)
    )
    gaps = {
        gap.id: gap
        for gap in [
            *ctx.session.exec(silent),
            *ctx.session.exec(select(RecordingGap).where(col(RecordingGap.id).in_(refused))),
        ]
        if gap.is_current
    }
    sessions = {
        row.id: row
        for row in _rows_for(
            ctx.session,
            RecordingSession,
            RecordingSession.id,
            [g.session_id for g in gaps.values()],
        )
        if row.state == "current"
    }
    unique = {
        gap.id: (sessions[gap.session_id], gap)
        for gap in gaps.values()
        if gap.session_id in sessions
    }
    ordered = sorted(
        unique.values(),
        key=lambda pair: (as_utc(pair[0].starts_at), pair[0].id or 0, as_utc(pair[1].gap_from)),
    )
    candidates = [
        (row, gap)
        for row, gap in ordered
        if ctx.wanted(row.device_pk, row.officer_pk, session_id=row.id)
        and ctx.in_range(row.starts_at, row.ends_at)
    ]
    # What judging them reads, read at once: their resumes' checks, their reasons' versions
    # and the file names on either side.
    ctx.checks.prefetch(gap.before_evidence_id for _, gap in candidates)
    if isinstance(ctx.gap_history, LazyHistories):
        ctx.gap_history.prefetch(gap.id for _, gap in candidates if gap.id is not None)
    ends = [i for _, gap in candidates for i in (gap.after_evidence_id, gap.before_evidence_id)]
    names = {
        evidence_id: file_name  # the names alone, not the clips' rows
        for chunk in slices(ends)
        for evidence_id, file_name in ctx.session.exec(
            select(Evidence.id, Evidence.file_name).where(col(Evidence.id).in_(chunk))
        )
    }
    found = []
    for row, gap in candidates:
        before = len(ctx.findings)
        entry = _gap_json(ctx, row, gap, names)
        subject = f"gap:{gap.id}"
        if any(f["rule"] == "RC-3" and f["subject"] == subject for f in ctx.findings[before:]):
            found.append((row, entry))
    return found


def _clocks(ctx: _Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    synced = clock.synced_docks(ctx.session)
    limit = ctx.settings.max_clock_offset_s
    docks = []
    for dock in ctx.session.exec(select(DockSession).order_by(col(DockSession.id))):
        wanted = ctx.wanted(dock.device_pk, dock.officer_pk, dock_id=dock.id)
        if not wanted or not ctx.in_range(dock.started_at):
            continue
        ctx.count("dockings", dock.id)
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
        if ctx.wanted(d.device_pk, d.officer_pk, dock_id=d.id) and ctx.in_range(d.started_at)
    ]
    ids = {pk: d.device_id for pk, d in ctx.devices.items()}
    return badges.camera_badges(ctx.session, docks, ids, ctx.finding)


def _evidence(ctx: _Context, video_only: bool = False) -> list[Evidence]:
    query = select(Evidence).where(Evidence.kind != "unclassified").order_by(col(Evidence.id))
    if video_only:
        query = query.where(Evidence.kind == "video")
    found = [
        e
        for e in ctx.session.exec(query)
        if ctx.wanted(e.device_pk, e.officer_pk, dock_id=e.dock_session_id, evidence_id=e.id)
        and ctx.in_range(e.recorded_at_corrected)
    ]
    for evidence in found:
        ctx.count("clips", evidence.id)
    return found


def late_candidates(ctx: _Context) -> list[Evidence]:
    """The clips that may have been sealed late (IN-1), as _evidence would select them: those
    sealed at least MIN_DEADLINE after their corrected recording time (the indexed
    Evidence.upload_delay_s), since no deadline ends sooner; _late judges each."""
    # Sorted here: an ORDER BY id would have SQLite walk the table by id, not the index.
    query = select(Evidence).where(
        Evidence.kind != "unclassified",
        col(Evidence.upload_delay_s) >= int(deadline.MIN_DEADLINE.total_seconds()),
        col(Evidence.recorded_at_corrected) >= clock.EPOCH_2000,
    )
    found = [
        e
        for e in ctx.session.exec(query)
        if ctx.wanted(e.device_pk, e.officer_pk, dock_id=e.dock_session_id, evidence_id=e.id)
        and ctx.in_range(e.recorded_at_corrected)
    ]
    return sorted(found, key=lambda e: e.id or 0)


def _rows_for(session: Session, model: Any, column: Any, keys: Iterable[int]) -> list[Any]:
    """The rows of MODEL whose COLUMN is one of KEYS, asked in slices every database takes."""
    found = list[Any]()
    for chunk in slices(keys):
        found.extend(session.exec(select(model).where(col(column).in_(chunk))))
    return found


def _late(
    ctx: _Context, clips: list[Evidence] | None = None
) -> tuple[list[dict[str, Any]], list[Evidence]]:
    """IN-1: corrected recording time to sealing against the upload deadline; of CLIPS where
    given (late_candidates), else of every clip the filters select."""
    rule, tz = ctx.settings.upload_deadline, ctx.vault.settings.timezone
    if clips is None:
        clips = _evidence(ctx)
        reasons = {r.evidence_id: r for r in ctx.session.exec(select(LateReason))}
    else:
        ids = [e.id for e in clips if e.id is not None]
        given = _rows_for(ctx.session, LateReason, LateReason.evidence_id, ids)
        reasons = {r.evidence_id: r for r in given}
        if isinstance(ctx.late_history, LazyHistories):
            ctx.late_history.prefetch(ids)
    late = []
    for evidence in clips:
        recorded = evidence.recorded_at_corrected
        if recorded is None or as_utc(recorded) < clock.EPOCH_2000:
            continue  # no trustworthy time: a DV-2 finding, no deadline to judge
        result = deadline.check(as_utc(recorded), as_utc(evidence.sealed_at), rule, tz)
        if not result.late:
            continue
        reason = reasons.get(evidence.id or 0)
        history = ctx.late_history.get(evidence.id or 0, [])
        if reason is not None and rejected(history):  # RC-6: a rejected reason is none
            reason = None
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
            "reason_history": history,
        }
        late.append(entry)
        detail = f"sealed {result.hours:.1f} h after recording, deadline {rule}"
        if result.deadline.approximate:
            detail += " (approximate: " + (result.deadline.note or "") + ")"
        detail += f"; reason given: {reason.note}" if reason else "; no reason given"
        ctx.finding("IN-1", f"evidence:{evidence.id}", detail)
    return late, clips


def _must_record(ctx: _Context) -> None:
    """RC-5: a case of a must-record activity with no footage linked to it; each 环节 a case
    states (of the bureau's 音像记录事项清单) with no footage linked as that 环节; and a
    case closed more than `archive_days` ago whose footage is still not linked (Gansu-Eco
    第41条: the file is formed within 30 days of the action's end)."""
    f = ctx.filters
    if f.device_id:
        return  # a case belongs to no camera: not part of a report on one camera
    now, limit = as_utc(ctx.vault.clock.now()), ctx.settings.archive_days
    for case in ctx.session.exec(select(Case).order_by(col(Case.id))):
        required = [s for s in case.stages or [] if s.get("required", True)]
        if not (case.activities or required) or not ctx.in_range(case.opened_at):
            continue
        if not ctx.unit_matches(case.unit):
            continue
        if f.officer_id:
            handlers = ctx.session.exec(
                select(Officer.officer_id)
                .join(CaseHandler, col(CaseHandler.officer_pk) == Officer.id)
                .where(CaseHandler.case_id == case.id)
            )
            if f.officer_id not in set(handlers):
                continue
        ctx.count("cases", case.id)
        recorded = list(
            ctx.session.exec(
                select(CaseLink.stage)
                .join(Evidence, col(CaseLink.evidence_id) == Evidence.id)
                .where(
                    CaseLink.case_id == case.id,
                    col(CaseLink.unlinked_at).is_(None),
                    col(Evidence.kind).in_(("video", "audio")),
                )
            )
        )
        subject = f"case:{case.number}"
        if case.activities and not recorded:
            ctx.finding(
                "RC-5",
                subject,
                f"{case.name} ({'、'.join(case.activities)}) must be recorded; no footage linked",
            )
        missing = [s for s in required if s["stage"] not in recorded]
        for stated in missing:
            ctx.finding(
                "RC-5",
                subject,
                f"{case.name}: 环节 {stated['stage']} of 事项 {stated['matter']} must be "
                "recorded; no footage of it linked",
                code="stage_not_recorded",
                case_name=case.name,
                matter=stated["matter"],
                stage=stated["stage"],
                record_list=case.record_list,
            )
        unrecorded = missing or (case.activities and not recorded)
        if case.status != "closed" or case.closed_at is None or not unrecorded:
            continue
        days = (now - as_utc(case.closed_at)).days
        if now - as_utc(case.closed_at) <= timedelta(days=limit):
            continue
        ctx.finding(
            "RC-5",
            subject,
            f"{case.name} was closed {days} days ago (more than {limit}) and its footage is "
            "still not linked",
            code="closed_without_footage",
            case_name=case.name,
            closed_at=iso(case.closed_at),
            days=days,
            limit_days=limit,
            stages=[s["stage"] for s in missing],
            activities=case.activities if not recorded else [],
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


def _known(ctx: _Context) -> dict[str, list[str]]:
    """The values each filter can be given: units (registered, then the strings in the
    records no registered unit has), officers' badges, cameras' device ids."""
    return {
        "unit": units.known_units(ctx.session),
        "officer_id": sorted(o.officer_id for o in ctx.officers.values()),
        "device_id": sorted(d.device_id for d in ctx.devices.values()),
    }


def _unknown(ctx: _Context, known: dict[str, list[str]]) -> list[str]:
    """The filters that name a value the vault does not know: a unit neither registered
    nor written in any record, a badge or device id no record has."""
    f, found = ctx.filters, []
    unit = ctx.unit_filter
    if unit is not None and unit.unit is None and unit.names[0] not in known["unit"]:
        found.append("unit")
    if f.officer_id and f.officer_id not in known["officer_id"]:
        found.append("officer_id")
    if f.device_id and f.device_id not in known["device_id"]:
        found.append("device_id")
    return found
