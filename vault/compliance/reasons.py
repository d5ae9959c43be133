"""Written reasons: why a recording was interrupted (RC-3) and why a clip reached the vault
late (IN-1). Each is stored beside what it explains and recorded in the audit chain. A changed
reason is a new attributed version (RC-6, issue 13): the report shows the newest, with every
earlier one, who gave it and when, as its history; nothing is replaced in place.

A recording that stopped and could not be resumed (RC-3: Gansu-Eco 第42条, Gansu-Radio
第19条, Shanxi 第17条) states the immediate report (立即报告: to whom, when) and the written
explanation given afterwards (事后书面说明), versioned the same way (`record_unresumed`).

Each version is reviewed (RC-6, `review_annotation`): a reviewer other than its author marks
it accepted or rejected, with who and when; a rejected reason explains nothing, so the
interruption is a finding again until a new version is given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from vault.access.principals import current
from vault.context import Vault
from vault.db import audit
from vault.db.models import (
    AnnotationVersion,
    Evidence,
    LateReason,
    RecordingGap,
    RecordingSession,
    UnresumedStop,
)
from vault.db.slices import slices
from vault.errors import AccessRefused, Conflict, NotFound
from vault.i18n import N_, Phrase, either
from vault.timeutil import iso

# RC-3: the reasons the rules name for stopping (Gansu-Eco 第42条, Shanxi 第17条).
GAP_REASONS = {
    "device_fault": "设备故障",
    "battery": "电量不足",
    "storage_full": "存储空间已满",
    "weather": "恶劣天气",
    "obstruction": "现场阻碍",
    "other": "其他",
}


def acting_name(vault: Vault, session: Session, role: str) -> str:
    """Who acts: the acting principal (vault.acting_principal), else role:user (as ingest
    records)."""
    found = vault.acting_principal(session)
    if found is not None and found.disabled_at is None:
        return found.name
    return vault.actor(role).name


def _note(note: str) -> str:
    text = note.strip()
    if not text:
        raise Conflict(N_("a note is required: the written explanation is what the rule asks for"))
    return text


def _where(gap_id: int | None, evidence_id: int | None, session_id: int | None) -> Any:
    if gap_id is not None:
        return AnnotationVersion.gap_id == gap_id
    if session_id is not None:
        return AnnotationVersion.session_id == session_id
    return AnnotationVersion.evidence_id == evidence_id


def _versions(
    session: Session, gap_id: int | None, evidence_id: int | None, session_id: int | None = None
) -> int:
    """How many versions the gap's (late clip's, unresumed session's) reason has so far."""
    query = select(AnnotationVersion.id).where(_where(gap_id, evidence_id, session_id))
    return len(list(session.exec(query)))


def _add_version(
    session: Session,
    *,
    gap_id: int | None = None,
    evidence_id: int | None = None,
    session_id: int | None = None,
    reason: str | None = None,
    note: str,
    who: str,
    at: datetime,
    reported_to: str | None = None,
    reported_at: datetime | None = None,
) -> AnnotationVersion:
    version = AnnotationVersion(
        gap_id=gap_id,
        evidence_id=evidence_id,
        session_id=session_id,
        version=_versions(session, gap_id, evidence_id, session_id) + 1,
        reason=reason,
        note=note,
        given_by=who,
        given_at=at,
        reported_to=reported_to,
        reported_at=reported_at,
    )
    session.add(version)
    return version


def annotate_gap(vault: Vault, gap_id: int, reason: str, note: str) -> RecordingGap:
    """RC-3: the written reason for an interruption."""
    if reason not in GAP_REASONS:
        raise Conflict(
            N_("unknown reason {reason}; use one of {known}"),
            reason=repr(reason),
            known=", ".join(GAP_REASONS),
        )
    text = _note(note)
    with vault.session() as session:
        gap = session.get(RecordingGap, gap_id)
        if gap is None:
            raise NotFound(
                N_("no gap {id} (list them: `{command}`)"), id=gap_id, command="evault session gaps"
            )
        now = vault.clock.now()
        who = acting_name(vault, session, "officer")
        previous = {"reason": gap.reason, "note": gap.note} if gap.reason else None
        gap.reason, gap.note, gap.annotated_by, gap.annotated_at = reason, text, who, now
        session.add(gap)
        added = _add_version(session, gap_id=gap_id, reason=reason, note=text, who=who, at=now)
        audit.append(
            session,
            vault.actor("compliance"),
            at=now,
            action="compliance.gap_annotated",
            subject=f"gap:{gap_id}",
            detail={
                "reason": reason,
                "note": text,
                "by": who,
                "session_id": gap.session_id,
                "version": added.version,
                "previous": previous,
            },
        )
        session.commit()
    return gap


def add_late_reason(vault: Vault, evidence_id: int, note: str) -> LateReason:
    """IN-1: the officer's reason why a clip reached the vault after its deadline."""
    text = _note(note)
    with vault.session() as session:
        if session.get(Evidence, evidence_id) is None:
            raise NotFound(N_("no evidence {id}"), id=evidence_id)
        now = vault.clock.now()
        who = acting_name(vault, session, "officer")
        row = session.exec(select(LateReason).where(LateReason.evidence_id == evidence_id)).first()
        previous = row.note if row else None
        row = row or LateReason(evidence_id=evidence_id, note=text, given_by=who, given_at=now)
        row.note, row.given_by, row.given_at = text, who, now
        session.add(row)
        added = _add_version(session, evidence_id=evidence_id, note=text, who=who, at=now)
        audit.append(
            session,
            vault.actor("compliance"),
            at=now,
            action="compliance.late_reason",
            subject=f"evidence:{evidence_id}",
            detail={"note": text, "by": who, "version": added.version, "previous": previous},
        )
        session.commit()
    return row


def late_reason_json(row: LateReason) -> dict[str, Any]:
    return {
        "evidence_id": row.evidence_id,
        "note": row.note,
        "given_by": row.given_by,
        "given_at": iso(row.given_at),
    }


def version_json(row: AnnotationVersion) -> dict[str, Any]:
    found: dict[str, Any] = {"version": row.version}
    if row.gap_id is not None or row.session_id is not None:
        found["reason"] = row.reason
    found |= {"note": row.note, "given_by": row.given_by, "given_at": iso(row.given_at)}
    if row.session_id is not None:
        found |= {"reported_to": row.reported_to, "reported_at": iso(row.reported_at)}
    if row.review is not None:  # RC-6: the review, where one was made
        found["review"] = {
            "result": row.review,
            "note": row.review_note,
            "by": row.reviewed_by,
            "at": iso(row.reviewed_at),
        }
    return found


Histories = dict[int, list[dict[str, Any]]]


def histories(session: Session) -> tuple[Histories, Histories]:
    """Every reason's versions, oldest first: by gap id, and by late clip's evidence id."""
    gaps, late, _ended = all_histories(session)
    return gaps, late


class LazyHistories(dict[int, list[dict[str, Any]]]):
    """One of all_histories' three (KIND: "gap", "late" or "ended"), each subject's
    versions read only when asked: a worklist asks about a few subjects among many."""

    def __init__(self, session: Session, kind: str) -> None:
        super().__init__()
        self._session = session
        gap, ended, clip = (
            col(AnnotationVersion.gap_id),
            col(AnnotationVersion.session_id),
            col(AnnotationVersion.evidence_id),
        )
        # As all_histories sorts a version: by its gap, else its session, else its clip.
        self._column, self._also = {
            "gap": (gap, []),
            "ended": (ended, [gap.is_(None)]),
            "late": (clip, [gap.is_(None), ended.is_(None)]),
        }[kind]
        self._name = {"gap": "gap_id", "ended": "session_id", "late": "evidence_id"}[kind]

    def prefetch(self, keys: Iterable[int]) -> None:
        """Read the versions of KEYS at once (the subjects about to be asked for)."""
        for chunk in slices(k for k in keys if k not in self):
            for key in chunk:
                self[key] = []
            query = (
                select(AnnotationVersion)
                .where(self._column.in_(chunk), *self._also)
                .order_by(col(AnnotationVersion.version), col(AnnotationVersion.id))
            )
            for row in self._session.exec(query):
                self[getattr(row, self._name)].append(version_json(row))

    def get(self, key: int, default: Any = None) -> Any:
        if key not in self:
            query = (
                select(AnnotationVersion)
                .where(self._column == key, *self._also)
                .order_by(col(AnnotationVersion.version), col(AnnotationVersion.id))
            )
            self[key] = [version_json(row) for row in self._session.exec(query)]
        return super().get(key) or default


def all_histories(session: Session) -> tuple[Histories, Histories, Histories]:
    """Every reason's versions, oldest first: by gap id, by late clip's evidence id and by
    unresumed session's id."""
    gaps: Histories = defaultdict(list)
    late: Histories = defaultdict(list)
    ended: Histories = defaultdict(list)
    query = select(AnnotationVersion).order_by(
        col(AnnotationVersion.version), col(AnnotationVersion.id)
    )
    for row in session.exec(query):
        if row.gap_id is not None:
            gaps[row.gap_id].append(version_json(row))
        elif row.session_id is not None:
            ended[row.session_id].append(version_json(row))
        elif row.evidence_id is not None:
            late[row.evidence_id].append(version_json(row))
    return gaps, late, ended


def record_unresumed(
    vault: Vault,
    session_id: int,
    reason: str,
    *,
    reported_to: str | None,
    reported_at: datetime | None,
    note: str | None,
) -> UnresumedStop:
    """RC-3: a recording that stopped and could not be resumed: why, the immediate report
    (to whom, when) and, afterwards, the written explanation. Given again, what is given
    replaces nothing: a new version keeps the earlier ones (what is not given again is
    kept from the newest)."""
    if reason not in GAP_REASONS:
        raise Conflict(
            N_("unknown reason {reason}; use one of {known}"),
            reason=repr(reason),
            known=", ".join(GAP_REASONS),
        )
    to = reported_to.strip() if reported_to else None
    if (to is None) != (reported_at is None):
        raise Conflict(
            N_("the immediate report needs both {to} and {at}"),
            to="--reported-to",
            at="--reported-at",
        )
    text = note.strip() if note else None
    with vault.session() as session:
        recording = session.get(RecordingSession, session_id)
        if recording is None:
            raise NotFound(
                N_("no recording session {id} (see {command})"),
                id=session_id,
                command="evault session list",
            )
        if reported_at is not None and reported_at < recording.starts_at:
            raise Conflict(N_("the report cannot come before the recording began"))
        now = vault.clock.now()
        who = acting_name(vault, session, "officer")
        row = session.exec(
            select(UnresumedStop).where(UnresumedStop.session_id == session_id)
        ).first()
        previous = (
            {"reason": row.reason, "reported_to": row.reported_to, "note": row.note}
            if row
            else None
        )
        if row is None:
            row = UnresumedStop(session_id=session_id, reason=reason, given_by=who, given_at=now)
        row.reason, row.given_by, row.given_at = reason, who, now
        if to is not None:
            row.reported_to, row.reported_at = to, reported_at
        if text:
            row.note = text
        session.add(row)
        added = _add_version(
            session,
            session_id=session_id,
            reason=reason,
            note=row.note or "",
            who=who,
            at=now,
            reported_to=row.reported_to,
            reported_at=row.reported_at,
        )
        audit.append(
            session,
            vault.actor("compliance"),
            at=now,
            action="compliance.unresumed",
            subject=f"session:{session_id}",
            detail={
                "reason": reason,
                "reported_to": row.reported_to,
                "reported_at": iso(row.reported_at),
                "note": row.note,
                "by": who,
                "version": added.version,
                "previous": previous,
            },
        )
        session.commit()
    return row


def unresumed_json(row: UnresumedStop) -> dict[str, Any]:
    return {
        "session_id": row.session_id,
        "reason": row.reason,
        "reason_label": GAP_REASONS.get(row.reason, row.reason),
        "reported_to": row.reported_to,
        "reported_at": iso(row.reported_at),
        "note": row.note,
        "given_by": row.given_by,
        "given_at": iso(row.given_at),
    }


REVIEW_RESULTS = ("accepted", "rejected")
_SUBJECTS = {"gap": "gap_id", "evidence": "evidence_id", "session": "session_id"}


_REVIEWED = {"accepted": Phrase(N_("accepted")), "rejected": Phrase(N_("rejected"))}


def review_annotation(vault: Vault, subject: str, result: str, note: str | None) -> dict[str, Any]:
    """RC-6: review the newest written reason of SUBJECT (gap:ID, evidence:ID for a late
    clip, session:ID for an unresumed recording): accepted or rejected, by a reviewer other
    than its author, with who and when. A rejection says why."""
    kind, _sep, ident = subject.partition(":")
    if kind not in _SUBJECTS or not ident.isdigit():
        raise Conflict(
            N_("unknown subject {subject}; use {known}"),
            subject=repr(subject),
            known=either(["gap:ID", "evidence:ID", "session:ID"]),
        )
    if result not in REVIEW_RESULTS:
        raise Conflict(
            N_("unknown result {result}; use one of {known}"),
            result=repr(result),
            known=", ".join(REVIEW_RESULTS),
        )
    text = note.strip() if note else None
    if result == "rejected" and not text:
        raise Conflict(N_("a rejection says why ({option})"), option="--note")
    with vault.session() as session:
        reviewer = current(vault, session)
        ids = {"gap_id": None, "evidence_id": None, "session_id": None} | {
            _SUBJECTS[kind]: int(ident)
        }
        newest = session.exec(
            select(AnnotationVersion)
            .where(_where(ids["gap_id"], ids["evidence_id"], ids["session_id"]))
            .order_by(col(AnnotationVersion.version).desc())
        ).first()
        if newest is None:
            raise NotFound(N_("{subject} has no written reason to review"), subject=subject)
        if newest.given_by == reviewer.name:
            raise AccessRefused(
                N_("{who} gave this reason; it is reviewed by someone else (RC-6)"),
                who=reviewer.name,
            )
        if newest.review is not None:
            raise Conflict(
                N_(
                    "version {version} of {subject} was {review} by {who}; a new version is "
                    "reviewed afresh"
                ),
                version=newest.version,
                subject=subject,
                review=_REVIEWED.get(newest.review, newest.review),
                who=newest.reviewed_by,
            )
        now = vault.clock.now()
        newest.review, newest.review_note = result, text
        newest.reviewed_by, newest.reviewed_at = reviewer.name, now
        session.add(newest)
        audit.append(
            session,
            vault.actor("compliance"),
            at=now,
            action="compliance.reason_reviewed",
            subject=subject,
            detail={"version": newest.version, "result": result, "note": text, "by": reviewer.name},
        )
        session.commit()
        return {"subject": subject} | version_json(newest)


def rejected(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest version's review where it rejected the reason (RC-6), else None."""
    if not history:
        return None
    review = history[-1].get("review")
    return review if review and review["result"] == "rejected" else None
