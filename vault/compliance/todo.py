"""`evault todo` (issues 17, 18): what each role is expected to act on, from the records as
they stand. An approver sees the requests his approval level may decide (AC-0; with no
level set, every pending one, since he must first be given one), the stop records and the
written reasons to review, and the purge lists to sign; a records keeper the gaps and late
clips still without a reason, the purge lists to mark, dead media jobs, stop records
awaiting approval and the cameras whose clock to set; a records keeper and an auditor the
sessions that open without narration and the spot-check draws not yet reviewed; an officer
his own gaps, late clips and unnarrated openings and his grants about to expire; an
auditor the newest verification. Each section is found from the records it concerns
(indexed queries), never by computing the whole compliance report.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select as columns  # any number of columns
from sqlmodel import Session, col, func, select, true

from vault.access import approval, discs
from vault.compliance import clock, report
from vault.compliance.report import ReportFilters
from vault.compliance.stops import STOP_REASONS
from vault.compliance.worklists import EXPIRING, _principal, officer_names, without_reason
from vault.context import Vault
from vault.db.models import (
    AccessGrant,
    AccessRequest,
    AnnotationVersion,
    AuditEvent,
    Device,
    DockSession,
    MediaJob,
    NarrationCheck,
    Officer,
    Principal,
    PurgeList,
    PurgeListItem,
    RecordingSession,
    ReviewDraw,
    SessionClip,
    SessionReview,
    StopRecord,
)
from vault.db.models.records import CLOCK_SYNCED_AT
from vault.db.slices import slices
from vault.timeutil import as_utc, iso


def _pending_requests(vault: Vault, session: Session, me: int | None) -> list[dict[str, Any]]:
    """Pending requests, each with the level that decides it; to an approver with a level,
    only those his level reaches (AC-0)."""
    principal = session.get(Principal, me) if me is not None else None
    query = (
        select(AccessRequest)
        .where(AccessRequest.status == "pending")
        .order_by(col(AccessRequest.id))
    )
    if me is not None:  # nobody approves his own request
        query = query.where(col(AccessRequest.requester_id) != me)
    rows = []
    for request in session.exec(query):
        requester = _principal(session, request.requester_id) or {}
        needed = approval.required_level(
            vault.settings, kind=str(requester.get("kind")), action=request.action
        )
        leveled = principal is not None and principal.approver_level is not None
        if leveled and principal is not None and not approval.may_decide(principal, needed):
            continue
        rows.append(
            {
                "request_id": request.id,
                "requester": requester.get("name"),
                "requester_kind": requester.get("kind_label"),
                "action": request.action,
                "scope": request.scope,
                "filed_at": iso(request.filed_at),
                "level_needed": approval.LEVELS[needed],
            }
        )
    return rows


def _pending_stops(session: Session) -> list[dict[str, Any]]:
    query = select(StopRecord).where(StopRecord.status == "pending").order_by(col(StopRecord.id))
    names = officer_names(session)
    rows = []
    for stop in session.exec(query):
        device = session.get(Device, stop.device_pk)
        officer = session.get(Officer, stop.officer_pk)
        badge = officer.officer_id if officer else None
        rows.append(
            {
                "stop_id": stop.id,
                "device_id": device.device_id if device else None,
                "officer_id": badge,
                "officer_name": names.get(badge or ""),
                "from": iso(stop.stop_from),
                "to": iso(stop.stop_to),
                "reason": STOP_REASONS.get(stop.reason, stop.reason),
                "filed_by": stop.filed_by,
            }
        )
    return rows


def _dead_jobs(session: Session) -> list[dict[str, Any]]:
    dead = Counter(session.exec(select(MediaJob.kind).where(MediaJob.state == "dead")))
    return [{"kind": kind, "dead": count} for kind, count in sorted(dead.items())]


def _expiring(session: Session, me: int | None, now: datetime) -> list[dict[str, Any]]:
    if me is None:
        return []
    query = (
        select(AccessGrant)
        .where(
            AccessGrant.grantee_id == me,
            col(AccessGrant.revoked_at).is_(None),
            col(AccessGrant.expires_at) > now,
            col(AccessGrant.expires_at) <= now + EXPIRING,
        )
        .order_by(col(AccessGrant.expires_at))
    )
    return [
        {
            "grant_id": g.id,
            "action": g.action,
            "scope": g.scope,
            "expires_at": iso(g.expires_at),
        }
        for g in session.exec(query)
    ]


def _verification(vault: Vault, session: Session) -> list[dict[str, Any]]:
    """The newest `evault verify` (the report's own reading of it) and what it found."""
    ctx = report._Context(vault, session, ReportFilters(), whole=False)
    found = report._verification(ctx)
    if found is None:
        return [{"verified_at": None, "exit_code": None, "findings": None, "by": None}]
    return [
        {
            "verified_at": found["at"],
            "exit_code": found["exit_code"],
            "findings": len(ctx.findings),
            "by": found["by"],
        }
    ]


def _purge_lists(session: Session, to: str) -> list[dict[str, Any]]:
    """Purge lists drawn and not yet signed: to mark (items without a mark) or to sign."""
    rows = []
    for listing in session.exec(
        select(PurgeList).where(PurgeList.status == "drawn").order_by(col(PurgeList.id))
    ):
        marks = list(
            session.exec(select(PurgeListItem.mark).where(PurgeListItem.list_id == listing.id))
        )
        unmarked = sum(1 for mark in marks if mark is None)
        if (to == "mark") != bool(unmarked):
            continue
        rows.append(
            {
                "list_id": listing.id,
                "drawn_by": listing.drawn_by,
                "drawn_at": iso(listing.drawn_at),
                "items": len(marks),
                "unmarked": unmarked,
            }
        )
    return rows


def _reasons_to_review(session: Session, me_name: str | None) -> list[dict[str, Any]]:
    """Written reasons (RC-6) whose newest version nobody has reviewed yet; never one the
    reviewer wrote himself. Read from the versions not reviewed, each then checked to be
    its subject's newest."""
    subjects = (("gap", "gap_id"), ("evidence", "evidence_id"), ("session", "session_id"))
    newest: dict[tuple[str, int], AnnotationVersion] = {}
    query = select(AnnotationVersion).where(col(AnnotationVersion.review).is_(None))
    for row in session.exec(query.order_by(col(AnnotationVersion.version))):
        for kind, name in subjects:
            key = getattr(row, name)
            if key is None:
                continue
            column = getattr(AnnotationVersion, name)
            last = session.exec(select(func.max(AnnotationVersion.version)).where(column == key))
            if last.one() == row.version:
                newest[(kind, key)] = row
    return [
        {
            "subject": f"{kind}:{key}",
            "version": row.version,
            "given_by": row.given_by,
            "given_at": iso(row.given_at),
            "note": row.note,
        }
        for (kind, key), row in sorted(newest.items())
        if row.given_by != me_name
    ]


def _session_row(
    names: Names,
    session_id: int | None,
    device_pk: int,
    officer_pk: int | None,
    starts_at: datetime,
    ends_at: datetime,
) -> dict[str, Any]:
    badge = names.badges.get(officer_pk or 0)
    return {
        "session_id": session_id,
        "device_id": names.devices.get(device_pk),
        "officer_id": badge,
        "officer_name": names.officers.get(badge or ""),
        "start": iso(starts_at),
        "end": iso(ends_at),
    }


class Names:
    """Cameras' and officers' numbers and names, read once for a to-do (columns, not rows)."""

    def __init__(self, session: Session) -> None:
        self.devices = dict(session.exec(select(Device.id, Device.device_id)).all())
        self.badges = dict(session.exec(select(Officer.id, Officer.officer_id)).all())
        self.officers = officer_names(session)


def _openings_unnarrated(
    vault: Vault, session: Session, names: Names, officer_pk: int | None
) -> list[dict[str, Any]]:
    """RC-1: the sessions whose opening clip was heard without narration (the report's
    finding "recording opens without narration") that nobody has reviewed yet (a
    supervisor's `review record` takes one off); an officer's own only (OFFICER_PK)."""
    # The sessions alone by their flag (an index range), then their opening clips' checks;
    # columns, not whole rows.
    query = columns(
        col(RecordingSession.id),
        col(RecordingSession.device_pk),
        col(RecordingSession.officer_pk),
        col(RecordingSession.starts_at),
        col(RecordingSession.ends_at),
    ).where(
        col(RecordingSession.opening_unnarrated) == true(),
        col(RecordingSession.state) == "current",
    )
    if officer_pk is not None:
        query = query.where(col(RecordingSession.officer_pk) == officer_pk)
    # Sorted here: an ORDER BY starts_at had SQLite walk every session in that index rather
    # than take the few flagged (a flag of two values looks unselective to its planner).
    found = sorted(session.execute(query), key=lambda row: (as_utc(row[3]), row[0] or 0))
    reviewed: set[int] = set()
    opening: dict[int, int] = {}
    for chunk in slices(row[0] for row in found if row[0] is not None):
        reviewed |= set(
            session.exec(
                select(SessionReview.session_id).where(col(SessionReview.session_id).in_(chunk))
            )
        )
        opening |= dict(
            session.exec(
                select(SessionClip.session_id, SessionClip.evidence_id).where(
                    col(SessionClip.session_id).in_(chunk), SessionClip.position == 0
                )
            ).all()
        )
    heard = columns(
        col(NarrationCheck.evidence_id),
        col(NarrationCheck.state),
        col(NarrationCheck.narrated),
        col(NarrationCheck.has_audio),
        col(NarrationCheck.speech_s),
    )
    checks = {
        row[0]: row
        for chunk in slices(opening.values())
        for row in session.execute(heard.where(col(NarrationCheck.evidence_id).in_(chunk)))
    }
    window = vault.settings.compliance.narration_window_s
    rows = []
    for recording in found:
        session_id = recording[0]
        check = checks.get(opening.get(session_id or 0, 0))
        if session_id in reviewed or check is None:
            continue
        evidence_id, state, narrated, has_audio, speech_s = check
        if state != "done" or narrated:
            continue  # heard otherwise since (the report judges by the check)
        why = (
            "no audio track"
            if not has_audio
            else f"{speech_s} s of speech in the first {window:g} s"
        )
        rows.append(_session_row(names, *recording) | {"evidence_id": evidence_id, "finding": why})
    return rows


def _spot_checks(session: Session, names: Names) -> list[dict[str, Any]]:
    """OV-2: the sessions of each spot-check draw whose review is not recorded yet."""
    rows = []
    for draw in session.exec(select(ReviewDraw).order_by(col(ReviewDraw.id))):
        done = set(
            session.exec(select(SessionReview.session_id).where(SessionReview.draw_id == draw.id))
        )
        for session_id in draw.session_ids or []:
            recording = session.get(RecordingSession, session_id)
            if session_id in done or recording is None:
                continue
            rows.append(
                {"draw_id": draw.id, "drawn_at": iso(draw.drawn_at)}
                | _session_row(
                    names,
                    recording.id,
                    recording.device_pk,
                    recording.officer_pk,
                    recording.starts_at,
                    recording.ends_at,
                )
            )
    return rows


def _clocks_to_set(vault: Vault, session: Session, names: Names) -> list[dict[str, Any]]:
    """DV-2: the cameras whose latest docking found a clock that cannot be trusted and did
    not set it: set the camera's clock (the next docking measures it again)."""
    latest = select(func.max(DockSession.id)).where(col(DockSession.device_pk).is_not(None))
    # The columns clock.dock_flags reads, not whole dockings: one row per camera.
    reading = columns(
        col(DockSession.id),
        col(DockSession.device_pk),
        col(DockSession.started_at),
        col(DockSession.device_time),
        col(DockSession.station_time),
        col(DockSession.clock_offset_s),
    ).where(col(DockSession.id).in_(latest.group_by(col(DockSession.device_pk))))
    limit = vault.settings.compliance.max_clock_offset_s
    flagged = sorted(
        (dock_id, device_pk, started, round(offset, 1) if offset is not None else None, found)
        for dock_id, device_pk, started, camera_time, station_time, offset in session.execute(
            reading
        )
        if dock_id is not None
        and (found := clock.clock_flags(camera_time, station_time, offset, limit))
    )
    # Set at that docking? Its own record says so, or an audit event naming it.
    ids = [row[0] for row in flagged]
    synced = {
        dock_id
        for chunk in slices(ids)
        for dock_id, info in session.exec(
            select(DockSession.id, DockSession.device_info).where(col(DockSession.id).in_(chunk))
        )
        if (info or {}).get(CLOCK_SYNCED_AT)
    }
    synced |= {
        int((subject or "").removeprefix("dock:"))
        for chunk in slices(ids)
        for subject in session.exec(
            select(AuditEvent.subject).where(
                AuditEvent.action == "device.clock_synced",
                col(AuditEvent.subject).in_([f"dock:{i}" for i in chunk]),
            )
        )
    }
    return [
        {
            "device_id": names.devices.get(device_pk or 0),
            "dock_id": dock_id,
            "docked_at": iso(started),
            "offset_s": offset,
            "finding": "; ".join(clock.DESCRIPTIONS[f] for f in found),
        }
        for dock_id, device_pk, started, offset, found in flagged
        if dock_id not in synced
    ]


SECTIONS = (
    "requests_to_decide",
    "purge_lists_to_sign",
    "reasons_to_review",
    "purge_lists_to_mark",
    "stop_records_to_approve",
    "gaps_without_reason",
    "late_without_reason",
    "openings_without_narration",
    "spot_checks_to_review",
    "clocks_to_set",
    "dead_media_jobs",
    "discs_to_make",
    "grants_expiring",
    "last_verification",
)


def todo(vault: Vault, roles: list[str], me: int | None, badge: str | None) -> dict[str, Any]:
    """Sections by role: an approver the requests and stop records to decide; a records
    keeper every gap and late clip still without a reason, dead media jobs and stop records
    awaiting approval; an officer his own gaps and late clips and his grants about to
    expire; an auditor the newest verification. A section is a list of rows."""
    keeper, officer = "records_keeper" in roles, "officer" in roles
    sections: dict[str, list[dict[str, Any]]] = {}
    with vault.session() as session:
        now = vault.clock.now()
        principal = session.get(Principal, me) if me is not None else None
        read: list[Names] = []

        def names() -> Names:
            if not read:
                read.append(Names(session))
            return read[0]

        if "approver" in roles:
            sections["requests_to_decide"] = _pending_requests(vault, session, me)
            sections["purge_lists_to_sign"] = _purge_lists(session, "sign")
            sections["reasons_to_review"] = _reasons_to_review(
                session, principal.name if principal else None
            )
        if keeper:
            sections["purge_lists_to_mark"] = _purge_lists(session, "mark")
        if "approver" in roles or keeper:
            sections["stop_records_to_approve"] = _pending_stops(session)
        if keeper:
            sections["dead_media_jobs"] = _dead_jobs(session)
            sections["discs_to_make"] = discs.to_make(session)  # EV-2
            sections["clocks_to_set"] = _clocks_to_set(vault, session, names())  # DV-2
        if keeper or "auditor" in roles:
            sections["openings_without_narration"] = _openings_unnarrated(
                vault, session, names(), None
            )
            sections["spot_checks_to_review"] = _spot_checks(session, names())  # OV-2
        elif officer and principal is not None and principal.officer_pk is not None:
            sections["openings_without_narration"] = _openings_unnarrated(
                vault, session, names(), principal.officer_pk
            )
        if officer:
            sections["grants_expiring"] = _expiring(session, me, now)
        if "auditor" in roles:
            sections["last_verification"] = _verification(vault, session)
        officers = read[0].officers if read else None
    if keeper or (officer and badge):
        mine = ReportFilters(officer_id=None if keeper else badge)
        found = without_reason(vault, mine, officers)
        sections["gaps_without_reason"], sections["late_without_reason"] = found
    ordered = {name: sections[name] for name in SECTIONS if name in sections}
    return {"roles": roles, "generated_at": iso(vault.clock.now()), "sections": ordered}
