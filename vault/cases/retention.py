"""Applying the retention rules: recompute on every change, push to the store, record it.

The store is told first and the database second: a crash in between leaves the store
keeping longer than the records say, never shorter (RT-4).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlmodel import Session, col, func, select

from vault.context import Vault
from vault.db import audit
from vault.db.models import Case, CaseLink, Evidence, Hold
from vault.errors import Conflict, NotFound, RetentionRefused
from vault.i18n import N_, Phrase
from vault.media.derivatives import follow_retention
from vault.retention_rules import (
    CLASSES,
    LONG_TERM_CATEGORIES,
    PERMANENT,
    CaseFacts,
    Decision,
    EvidenceFacts,
    decide,
    shortens,
)
from vault.timeutil import iso


def get_evidence(session: Session, evidence_id: int, *, lock: bool = False) -> Evidence:
    """lock: hold the row until the transaction ends (SELECT ... FOR UPDATE), for every
    change that recomputes retention. On PostgreSQL two stations changing one clip at once
    then go one after the other, the second reading what the first committed, so neither
    overwrites the other's longer retention (RT-4). SQLite's BEGIN IMMEDIATE already
    serialises them, and its dialect leaves FOR UPDATE out."""
    evidence = session.get(Evidence, evidence_id, with_for_update=lock or None)
    if evidence is None:
        raise NotFound(N_("no evidence {id}"), id=evidence_id)
    if evidence.purged_at is not None:
        raise Conflict(
            N_("evidence {id} was purged on {when}"), id=evidence_id, when=iso(evidence.purged_at)
        )
    return evidence


def linked_cases(session: Session, evidence_id: int) -> list[Case]:
    query = (
        select(Case)
        .join(CaseLink, col(CaseLink.case_id) == Case.id)
        .where(CaseLink.evidence_id == evidence_id, col(CaseLink.unlinked_at).is_(None))
        .order_by(col(Case.number))
    )
    return list(session.exec(query))


def active_holds(session: Session, evidence_id: int) -> list[Hold]:
    query = select(Hold).where(Hold.evidence_id == evidence_id, col(Hold.released_at).is_(None))
    return list(session.exec(query.order_by(col(Hold.id))))


def facts_for(session: Session, evidence: Evidence) -> EvidenceFacts:
    assert evidence.id is not None
    return facts_for_batch(session, [evidence])[evidence.id]


class RetentionInputs(Protocol):
    """What the rules read of an evidence row (an Evidence, or a row of just these columns)."""

    @property
    def id(self) -> int | None: ...
    @property
    def recorded_at_corrected(self) -> datetime | None: ...
    @property
    def docked_at(self) -> datetime: ...
    @property
    def retention_class(self) -> str: ...
    @property
    def long_term_category(self) -> str | None: ...


def facts_for_batch(session: Session, batch: Sequence[RetentionInputs]) -> dict[int, EvidenceFacts]:
    """The facts the rules need for many pieces of evidence, in two queries."""
    ids = [e.id for e in batch if e.id is not None]
    cases: dict[int, list[CaseFacts]] = {i: [] for i in ids}
    links = session.exec(
        select(CaseLink.evidence_id, CaseLink.stage, Case)
        .join(Case, col(CaseLink.case_id) == Case.id)
        .where(col(CaseLink.evidence_id).in_(ids), col(CaseLink.unlinked_at).is_(None))
        .order_by(col(Case.number))
    )
    for evidence_id, stage, case in links:
        cases[evidence_id].append(
            CaseFacts(
                case.number,
                case.case_type,
                case.status,
                case.closed_at,
                case.litigation,
                stage,
                stage_retention(case, stage),
            )
        )
    holds = dict(
        session.exec(
            select(Hold.evidence_id, func.count())
            .where(col(Hold.evidence_id).in_(ids), col(Hold.released_at).is_(None))
            .group_by(col(Hold.evidence_id))
        ).all()
    )
    return {
        e.id: EvidenceFacts(
            recorded_at=e.recorded_at_corrected,
            docked_at=e.docked_at,
            retention_class=e.retention_class,
            long_term_category=e.long_term_category,
            legal_holds=holds.get(e.id, 0),
            cases=tuple(cases[e.id]),
        )
        for e in batch
        if e.id is not None
    }


def stage_retention(case: Case, stage: str | None) -> str | int | None:
    """The longest storage time the case's must-record list gave a 环节 (stored on the case
    when it was created: what the list said then)."""
    found = [s.get("retention") for s in case.stages or [] if stage and s.get("stage") == stage]
    if "long_term" in found:
        return "long_term"
    months = [m for m in found if isinstance(m, int)]
    return max(months) if months else None


def reapply(vault: Vault, session: Session, evidence: Evidence) -> Decision:
    """Recompute the effective retention; refuse a shorter one (RT-4); push, then record."""
    decision = decide(facts_for(session, evidence), vault.settings.retention)
    if shortens(evidence.retain_until, decision.retain_until):
        raise RetentionRefused(
            N_(
                "evidence {id} is retained until {until}; this change would bring that to "
                "{then} ({rule}), and retention may only grow (RT-4)"
            ),
            id=evidence.id,
            until=iso(evidence.retain_until) or Phrase(N_("forever")),
            then=iso(decision.retain_until),
            rule=decision.rule,
        )
    vault.store.extend_retention(evidence.storage_key, decision.retain_until or PERMANENT)
    vault.store.set_legal_hold(evidence.storage_key, decision.blocked)
    assert evidence.id is not None
    follow_retention(vault, session, evidence.id, decision.retain_until, decision.blocked)
    evidence.retain_until = decision.retain_until
    evidence.legal_hold = decision.blocked
    session.add(evidence)
    return decision


def record_event(
    vault: Vault, session: Session, action: str, subject: str, **detail: object
) -> None:
    actor = vault.actor("records")
    audit.append(
        session,
        actor,
        at=vault.clock.now(),
        action=action,
        subject=subject,
        detail=detail,
    )


def classify(
    vault: Vault, evidence_id: int, retention_class: str, category: str | None, reason: str
) -> Decision:
    """Set the retention class (RT-1, RT-2); a class that would shorten retention is refused."""
    if retention_class not in CLASSES:
        raise Conflict(
            N_("unknown retention class {name} (known: {known})"),
            name=repr(retention_class),
            known=", ".join(CLASSES),
        )
    if retention_class == "long_term" and category not in LONG_TERM_CATEGORIES:
        raise Conflict(
            N_("{code} needs {option}, one of {known}"),
            code="long_term",
            option="--category",
            known=", ".join(LONG_TERM_CATEGORIES),
        )
    if retention_class != "long_term" and category is not None:
        raise Conflict(
            N_("{option} applies to the {code} class only"), option="--category", code="long_term"
        )
    if not reason.strip():
        raise Conflict(N_("a reason is required"))
    with vault.session() as session:
        evidence = get_evidence(session, evidence_id, lock=True)
        if retention_class == "case" and not linked_cases(session, evidence_id):
            raise Conflict(N_("evidence {id} is linked to no case; link it first"), id=evidence_id)
        before = (evidence.retention_class, evidence.long_term_category)
        evidence.retention_class, evidence.long_term_category = retention_class, category
        evidence.retention_reason = reason
        decision = reapply(vault, session, evidence)
        record_event(
            vault,
            session,
            "evidence.classified",
            f"evidence:{evidence_id}",
            before=list(before),
            after=[retention_class, category],
            reason=reason,
            retain_until=iso(decision.retain_until),
        )
        session.commit()
    return decision


def keep_as_evidence(
    vault: Vault, evidence_ids: list[int], reason: str, **detail: object
) -> list[int]:
    """RT-3: footage used as evidence (an export package, the evidence discs) is kept at
    least long-term: each record not long-term already becomes long_term:evidence_use, its
    retention recomputed (only ever longer: its cases still count, RT-4) and the change
    recorded in the audit chain. A record already long-term keeps its category. Returns the
    ids changed; running it again changes nothing (the export journal's recovery calls it)."""
    changed = []
    with vault.session() as session:
        for evidence_id in sorted(set(evidence_ids)):  # rows locked in id order
            evidence = session.get(Evidence, evidence_id, with_for_update=True)
            if evidence is None or evidence.purged_at is not None:
                continue
            if evidence.retention_class == "long_term":
                continue
            before = (evidence.retention_class, evidence.long_term_category)
            evidence.retention_class, evidence.long_term_category = "long_term", "evidence_use"
            evidence.retention_reason = reason
            decision = reapply(vault, session, evidence)
            record_event(
                vault,
                session,
                "evidence.classified",
                f"evidence:{evidence_id}",
                before=list(before),
                after=["long_term", "evidence_use"],
                reason=reason,
                retain_until=iso(decision.retain_until),
                rule=decision.rule,
                **detail,
            )
            changed.append(evidence_id)
        session.commit()
    return changed


def place_hold(vault: Vault, evidence_id: int, reason: str) -> Hold:
    """A manual legal hold on one piece of evidence: no deletion until it is released."""
    if not reason.strip():
        raise Conflict(N_("a reason is required"))
    with vault.session() as session:
        evidence = get_evidence(session, evidence_id, lock=True)
        hold = Hold(
            kind="legal",
            evidence_id=evidence_id,
            reason=reason,
            placed_by=vault.actor("records").name,
            placed_at=vault.clock.now(),
        )
        session.add(hold)
        session.flush()
        reapply(vault, session, evidence)
        record_event(
            vault, session, "hold.placed", f"evidence:{evidence_id}", hold_id=hold.id, reason=reason
        )
        session.commit()
    return hold


def release_hold(vault: Vault, hold_id: int, reason: str) -> Hold:
    """Releasing a hold only drops the hold; the dated retention stays as it was."""
    with vault.session() as session:
        hold = session.get(Hold, hold_id)
        if hold is None or hold.kind != "legal" or hold.evidence_id is None:
            raise NotFound(N_("no legal hold {id} on evidence"), id=hold_id)
        if hold.released_at is not None:
            raise Conflict(
                N_("hold {id} was already released on {when}"),
                id=hold_id,
                when=iso(hold.released_at),
            )
        hold.released_at, hold.released_by = vault.clock.now(), vault.actor("records").name
        hold.release_reason = reason
        session.add(hold)
        session.flush()
        reapply(vault, session, get_evidence(session, hold.evidence_id, lock=True))
        record_event(
            vault,
            session,
            "hold.released",
            f"evidence:{hold.evidence_id}",
            hold_id=hold_id,
            reason=reason,
        )
        session.commit()
    return hold


def case_evidence(session: Session, case: Case, *, lock: bool = False) -> list[Evidence]:
    """The evidence linked to a case now (links not undone, records not purged), by id;
    lock: their rows held until the transaction ends, in id order (see get_evidence)."""
    query = (
        select(Evidence)
        .join(CaseLink, col(CaseLink.evidence_id) == Evidence.id)
        .where(
            CaseLink.case_id == case.id,
            col(CaseLink.unlinked_at).is_(None),
            col(Evidence.purged_at).is_(None),
        )
        .order_by(col(Evidence.id))
    )
    if lock:
        query = query.with_for_update(of=Evidence)
    return list(session.exec(query))


def reapply_case(vault: Vault, session: Session, case: Case) -> int:
    """Recompute every piece of evidence linked to a case; returns how many."""
    linked = case_evidence(session, case, lock=True)
    for evidence in linked:
        reapply(vault, session, evidence)
    return len(linked)


def count_linked(session: Session, case_id: int) -> int:
    query = (
        select(func.count())
        .select_from(CaseLink)
        .where(CaseLink.case_id == case_id, col(CaseLink.unlinked_at).is_(None))
    )
    return session.exec(query).one()
