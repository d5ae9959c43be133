"""Written reasons: why a recording was interrupted (RC-3) and why a clip reached the vault
late (IN-1). Each is stored beside what it explains and recorded in the audit chain. A changed
reason is a new attributed version (RC-6, issue 13): the report shows the newest, with every
earlier one, who gave it and when, as its history; nothing is replaced in place."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from vault.context import Vault
from vault.db import audit
from vault.db.models import AnnotationVersion, Evidence, LateReason, Principal, RecordingGap
from vault.errors import Conflict, NotFound
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
    """Who acts: the principal the OS user is mapped to, else role:user (as ingest records)."""
    found = session.exec(select(Principal).where(Principal.os_user == vault.user)).first()
    if found is not None and found.disabled_at is None:
        return found.name
    return vault.actor(role).name


def _note(note: str) -> str:
    text = note.strip()
    if not text:
        raise Conflict("a note is required: the written explanation is what the rule asks for")
    return text


def _versions(session: Session, gap_id: int | None, evidence_id: int | None) -> int:
    """How many versions the gap's (or late clip's) reason has so far."""
    query = select(AnnotationVersion.id)
    if gap_id is not None:
        query = query.where(AnnotationVersion.gap_id == gap_id)
    else:
        query = query.where(AnnotationVersion.evidence_id == evidence_id)
    return len(list(session.exec(query)))


def _add_version(
    session: Session,
    *,
    gap_id: int | None = None,
    evidence_id: int | None = None,
    reason: str | None = None,
    note: str,
    who: str,
    at: datetime,
) -> AnnotationVersion:
    version = AnnotationVersion(
        gap_id=gap_id,
        evidence_id=evidence_id,
        version=_versions(session, gap_id, evidence_id) + 1,
        reason=reason,
        note=note,
        given_by=who,
        given_at=at,
    )
    session.add(version)
    return version


def annotate_gap(vault: Vault, gap_id: int, reason: str, note: str) -> RecordingGap:
    """RC-3: the written reason for an interruption."""
    if reason not in GAP_REASONS:
        raise Conflict(f"unknown reason {reason!r}; use one of {', '.join(GAP_REASONS)}")
    text = _note(note)
    with vault.session() as session:
        gap = session.get(RecordingGap, gap_id)
        if gap is None:
            raise NotFound(f"no gap {gap_id} (list them: `evault session gaps`)")
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
            raise NotFound(f"no evidence {evidence_id}")
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
    if row.gap_id is not None:
        found["reason"] = row.reason
    found |= {"note": row.note, "given_by": row.given_by, "given_at": iso(row.given_at)}
    return found


def histories(
    session: Session,
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[dict[str, Any]]]]:
    """Every reason's versions, oldest first: by gap id, and by late clip's evidence id."""
    gaps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    late: dict[int, list[dict[str, Any]]] = defaultdict(list)
    query = select(AnnotationVersion).order_by(
        col(AnnotationVersion.version), col(AnnotationVersion.id)
    )
    for row in session.exec(query):
        if row.gap_id is not None:
            gaps[row.gap_id].append(version_json(row))
        elif row.evidence_id is not None:
            late[row.evidence_id].append(version_json(row))
    return gaps, late
