"""Case files: created, linked to evidence, closed, and put under litigation hold (RT-3, IN-4).

Every link and unlink is recorded with who and when; unlinking never deletes the link row.
"""

from __future__ import annotations

import difflib
from typing import Any

from sqlmodel import Session, col, func, select

from vault.cases import record_list
from vault.cases.retention import count_linked, get_evidence, reapply, reapply_case, record_event
from vault.config import CASE_TYPES
from vault.context import Vault
from vault.db.models import Case, CaseHandler, CaseLink, Evidence, Officer, Sighting
from vault.db.slices import slices
from vault.db.upsert import upsert_officer
from vault.errors import Conflict, NotFound, UsageError
from vault.i18n import N_, either
from vault.timeutil import iso

STATUSES = ("open", "closed")  # what Case.status may be

# RC-5: activities that must be recorded on video (Shanxi 第12条 and others).
ACTIVITIES = (
    "查封",
    "扣押",
    "代履行",
    "责令停产整治",
    "责令停产停业",
    "责令关闭",
    "限制从业",
    "禁止从业",
    "责令限期拆除",
    "可能行政拘留",
)


# Case numbers are typed with whatever brackets the keyboard gives: 环罚〔2026〕12号,
# 环罚[2026]12号, 环罚（2026）12号 and 环罚【2026】12号 are one case. 〔〕 is the canonical
# form (GB/T 9704's 发文字号), the one stored and printed.
_OPENING = "[(（［【〖﹝〔"
_CLOSING = "])）］】〗﹞〕"
_BRACKETS = str.maketrans(_OPENING + _CLOSING, "〔" * len(_OPENING) + "〕" * len(_CLOSING))


def normalise_number(number: str) -> str:
    """The canonical form of a case number: brackets made 〔〕, spaces around it dropped."""
    return number.strip().translate(_BRACKETS)


def find_case(session: Session, number: str) -> Case | None:
    """The case a number names, whichever brackets it was typed or once stored with."""
    canonical = normalise_number(number)
    case = session.exec(select(Case).where(Case.number == canonical)).first()
    if case is not None:
        return case
    # A case stored before numbers were normalised keeps the brackets it was typed with.
    for stored in session.exec(select(Case).where(col(Case.number) != canonical)):
        if normalise_number(stored.number) == canonical:
            return stored
    return None


def known_numbers(session: Session) -> list[str]:
    return list(session.exec(select(Case.number).order_by(col(Case.number))))


def get_case(session: Session, number: str) -> Case:
    case = find_case(session, number)
    if case is None:
        close = _suggestion(session, number)
        if close:
            raise NotFound(
                N_("no case {number} (did you mean {numbers}?)"),
                number=repr(number),
                numbers=either(close),
            )
        raise NotFound(N_("no case {number}"), number=repr(number))
    return case


def _suggestion(session: Session, number: str) -> list[str]:
    return difflib.get_close_matches(normalise_number(number), known_numbers(session), n=3)


def active_link(session: Session, case: Case, evidence_id: int) -> CaseLink | None:
    """The link of this evidence to this case that has not been undone, if any."""
    query = select(CaseLink).where(
        CaseLink.case_id == case.id,
        CaseLink.evidence_id == evidence_id,
        col(CaseLink.unlinked_at).is_(None),
    )
    return session.exec(query).first()


def create_case(
    vault: Vault,
    number: str,
    name: str,
    case_type: str,
    unit: str,
    handlers: list[str],
    activities: list[str],
    matters: list[str] | None = None,
    stages: list[str] | None = None,
    place: str | None = None,
    to_prove: str | None = None,
) -> Case:
    """matters, stages: the 事项 and 环节 of the bureau's must-record list the case involves
    (RC-5), checked against the list the settings name (vault.cases.record_list)."""
    if case_type not in CASE_TYPES:
        raise Conflict(
            N_("unknown case type {type} (known: {known})"),
            type=repr(case_type),
            known=", ".join(CASE_TYPES),
        )
    unknown = [a for a in activities if a not in ACTIVITIES]
    if unknown:
        raise Conflict(
            N_("unknown activity {activity} (known: {known})"),
            activity=repr(unknown[0]),
            known=", ".join(ACTIVITIES),
        )
    stated: list[record_list.Stated] = []
    if matters or stages:
        listed = record_list.load(vault.settings.compliance.record_list)
        stated = record_list.resolve(listed, list(matters or []), list(stages or []))
    years = vault.settings.retention.case_years[case_type]
    typed, number = number, normalise_number(number)
    if not number:
        raise Conflict(N_("a case needs a number"))
    with vault.session() as session:
        existing = find_case(session, number)
        if existing is not None:
            if existing.number == typed:
                raise Conflict(N_("case {number} already exists"), number=existing.number)
            raise Conflict(
                N_("case {number} already exists ({typed} is the same number)"),
                number=existing.number,
                typed=typed,
            )
        case = Case(
            number=number,
            name=name,
            case_type=case_type,
            unit=unit,
            activities=sorted(set(activities)),
            stages=[s.to_json() for s in stated],
            record_list=vault.settings.compliance.record_list if stated else None,
            file_retention_years=None if years == "permanent" else years,
            opened_at=vault.clock.now(),
            created_by=vault.actor("records").name,
            place=(place or "").strip() or None,  # EV-1: where its footage was recorded
            to_prove=(to_prove or "").strip() or None,  # EV-1: 证明对象
        )
        session.add(case)
        session.flush()
        assert case.id is not None
        for badge in handlers:
            officer = upsert_officer(session, badge)
            assert officer.id is not None
            session.add(CaseHandler(case_id=case.id, officer_pk=officer.id))
        record_event(
            vault,
            session,
            "case.created",
            f"case:{number}",
            name=name,
            type=case_type,
            unit=unit,
            handlers=handlers,
            activities=case.activities,
            stages=case.stages,
            **({"place": case.place} if case.place else {}),
            **({"to_prove": case.to_prove} if case.to_prove else {}),
        )
        session.commit()
    return case


def stated_stages(case: Case) -> list[str]:
    """The 环节 a case states (RC-5), in the order stated, each once."""
    return list(dict.fromkeys(s["stage"] for s in case.stages or []))


def _link_stage(case: Case, stage: str | None) -> str | None:
    """The 环节 a link records: the one named (one of the case's), else the case's only one."""
    known = stated_stages(case)
    if stage is None:
        return known[0] if len(known) == 1 else None
    if stage not in known:
        close = difflib.get_close_matches(stage, known, n=3, cutoff=0.3)
        if not known:
            raise UsageError(
                N_("case {number} states no 环节 {stage} (it states no 环节: {command})"),
                number=case.number,
                stage=repr(stage),
                command="case create --matter ... --stage ...",
            )
        if close:
            raise UsageError(
                N_("case {number} states no 环节 {stage} (did you mean {stages}?)"),
                number=case.number,
                stage=repr(stage),
                stages=either(close),
            )
        raise UsageError(
            N_("case {number} states no 环节 {stage} (it states: {stages})"),
            number=case.number,
            stage=repr(stage),
            stages="、".join(known),
        )
    return stage


def link(
    vault: Vault,
    number: str,
    evidence_ids: list[int],
    dock_ids: list[int],
    stage: str | None = None,
) -> list[int]:
    """Link evidence (or all evidence seen at a docking) to a case; returns the ids linked.
    stage: the 环节 of the case the footage records (RC-5); a case stating one 环节 gets it."""
    with vault.session() as session:
        case = get_case(session, number)
        number = case.number  # as stored, whatever brackets were typed
        assert case.id is not None
        stage = _link_stage(case, stage)
        ids = list(evidence_ids)
        for dock_id in dock_ids:
            query = select(Sighting.evidence_id).where(Sighting.dock_session_id == dock_id)
            found = sorted(set(session.exec(query)))
            if not found:
                raise NotFound(N_("no evidence was seen at docking {dock}"), dock=dock_id)
            ids.extend(found)
        linked = []
        for evidence_id in sorted(dict.fromkeys(ids)):  # rows locked in id order
            evidence = get_evidence(session, evidence_id, lock=True)
            if active_link(session, case, evidence_id):
                continue
            session.add(
                CaseLink(
                    case_id=case.id,
                    evidence_id=evidence_id,
                    linked_at=vault.clock.now(),
                    linked_by=vault.actor("records").name,
                    stage=stage,
                )
            )
            if evidence.retention_class == "routine":
                evidence.retention_class = "case"  # RT-3: evidence follows its case
            session.flush()
            reapply(vault, session, evidence)
            linked.append(evidence_id)
        record_event(vault, session, "case.linked", f"case:{number}", evidence=linked, stage=stage)
        session.commit()
    return linked


def unlink(vault: Vault, number: str, evidence_ids: list[int], reason: str) -> None:
    """Recorded, never silent; refused where the evidence would lose retention (RT-4)."""
    if not reason.strip():
        raise Conflict(N_("a reason is required to unlink evidence from a case"))
    with vault.session() as session:
        case = get_case(session, number)
        number = case.number  # as stored, whatever brackets were typed
        for evidence_id in evidence_ids:
            row = active_link(session, case, evidence_id)
            if row is None:
                raise NotFound(
                    N_("evidence {id} is not linked to case {number}"),
                    id=evidence_id,
                    number=repr(number),
                )
            row.unlinked_at, row.unlinked_by = vault.clock.now(), vault.actor("records").name
            row.unlink_reason = reason
            session.add(row)
            session.flush()
            reapply(vault, session, get_evidence(session, evidence_id, lock=True))
        record_event(
            vault, session, "case.unlinked", f"case:{number}", evidence=evidence_ids, reason=reason
        )
        session.commit()


def close(vault: Vault, number: str) -> int:
    """Closing starts the case file's retention clock for its evidence (RT-3)."""
    with vault.session() as session:
        case = get_case(session, number)
        number = case.number  # as stored, whatever brackets were typed
        if case.status == "closed":
            raise Conflict(
                N_("case {number} was closed on {when}"),
                number=repr(number),
                when=iso(case.closed_at),
            )
        case.status, case.closed_at = "closed", vault.clock.now()
        session.add(case)
        session.flush()
        count = reapply_case(vault, session, case)
        record_event(vault, session, "case.closed", f"case:{number}", evidence=count)
        session.commit()
    return count


def litigation(vault: Vault, number: str, pending: bool, reason: str) -> int:
    """Administrative litigation pending: every linked record is held regardless (RT-3)."""
    with vault.session() as session:
        case = get_case(session, number)
        number = case.number  # as stored, whatever brackets were typed
        if case.litigation == pending:
            if pending:
                raise Conflict(
                    N_("case {number} is already under litigation hold"), number=repr(number)
                )
            raise Conflict(N_("case {number} is not under litigation hold"), number=repr(number))
        case.litigation = pending
        session.add(case)
        session.flush()
        count = reapply_case(vault, session, case)
        record_event(
            vault,
            session,
            "case.litigation_started" if pending else "case.litigation_ended",
            f"case:{number}",
            evidence=count,
            reason=reason,
        )
        session.commit()
    return count


def case_summary(
    session: Session,
    case: Case,
    handlers: list[str] | None = None,
    evidence_count: int | None = None,
) -> dict[str, Any]:
    """A case's facts; HANDLERS and EVIDENCE_COUNT where the caller read them already (a
    page of cases reads them for all its cases at once)."""
    assert case.id is not None
    if handlers is None:
        handlers = list(
            session.exec(
                select(Officer.officer_id)
                .join(CaseHandler, col(CaseHandler.officer_pk) == Officer.id)
                .where(CaseHandler.case_id == case.id)
            )
        )
    if evidence_count is None:
        evidence_count = count_linked(session, case.id)
    return {
        "number": case.number,
        "name": case.name,
        "type": case.case_type,
        "unit": case.unit,
        "activities": case.activities,
        "stages": case.stages or [],
        "record_list": case.record_list,
        "status": case.status,
        "opened_at": iso(case.opened_at),
        "closed_at": iso(case.closed_at),
        "litigation": case.litigation,
        "file_retention_years": case.file_retention_years,
        "handlers": sorted(handlers),
        "evidence_count": evidence_count,
    }


def show_case(session: Session, number: str) -> dict[str, Any]:
    case = get_case(session, number)
    detail = case_summary(session, case)
    links = session.exec(
        select(CaseLink, Evidence)
        .join(Evidence, col(CaseLink.evidence_id) == Evidence.id)
        .where(CaseLink.case_id == case.id)
        .order_by(col(CaseLink.id))
    )
    detail["evidence"] = [
        {
            "evidence_id": e.id,
            "file_name": e.file_name,
            "sha256": e.sha256,
            "linked_at": iso(link_row.linked_at),
            "linked_by": link_row.linked_by,
            "stage": link_row.stage,
            "unlinked_at": iso(link_row.unlinked_at),
            "unlink_reason": link_row.unlink_reason,
            "retain_until": iso(e.retain_until),
            "hold": e.legal_hold,
        }
        for link_row, e in links
    ]
    return detail


def list_cases(
    session: Session,
    status: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    handled_by: str | None = None,
) -> list[dict[str, Any]]:
    """Cases by number; LIMIT and OFFSET: one page of them; HANDLED_BY: only those whose
    handler is that badge."""
    query = select(Case).order_by(col(Case.number))
    if status:
        query = query.where(Case.status == status)
    if handled_by is not None:
        handled = (
            select(CaseHandler.case_id)
            .join(Officer, col(CaseHandler.officer_pk) == Officer.id)
            .where(Officer.officer_id == handled_by)
        )
        query = query.where(col(Case.id).in_(handled))
    if offset:
        query = query.offset(offset)
    if limit:
        query = query.limit(limit)
    page = list(session.exec(query))
    ids = [case.id for case in page if case.id is not None]
    handlers: dict[int, list[str]] = {i: [] for i in ids}
    counts: dict[int, int] = dict.fromkeys(ids, 0)
    for chunk in slices(ids):  # two queries a slice of cases, not two a case
        for case_id, badge in session.exec(
            select(CaseHandler.case_id, Officer.officer_id)
            .join(Officer, col(CaseHandler.officer_pk) == Officer.id)
            .where(col(CaseHandler.case_id).in_(chunk))
        ):
            handlers[case_id].append(badge)
        for case_id, count in session.exec(
            select(CaseLink.case_id, func.count())
            .where(col(CaseLink.case_id).in_(chunk), col(CaseLink.unlinked_at).is_(None))
            .group_by(col(CaseLink.case_id))
        ):
            counts[case_id] = count
    return [
        case_summary(session, case, handlers[case.id], counts[case.id])
        for case in page
        if case.id is not None
    ]
