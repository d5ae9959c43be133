"""`own` scopes: what an officer's own work is (issue 13). Shared by the operations."""

from __future__ import annotations

from sqlmodel import col, select

from vault.access.policy import handles
from vault.db.models import Case, CaseHandler, Evidence, Officer
from vault.errors import AccessRefused, NotFound
from vault.i18n import N_
from vault.service.api import Call


def own_badge(call: Call) -> str:
    """The officer's badge, or a refusal: `own` means nothing without one."""
    badge = call.badge()
    if badge is None:
        raise AccessRefused(
            N_("{who} has no officer badge: own records cannot be found"), who=call.name
        )
    return badge


def require_own_evidence(call: Call, evidence_id: int) -> None:
    """An officer's own clip: recorded by him, or linked to a case he handles (AC-2)."""
    if call.scope != "own":
        return
    badge = own_badge(call)
    with call.vault.session() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None:
            raise NotFound(N_("no evidence {id}"), id=evidence_id)
        officer = session.get(Officer, evidence.officer_pk) if evidence.officer_pk else None
        if officer is not None and officer.officer_id == badge:
            return
        assert call.principal is not None
        if handles(session, call.principal, evidence_id):
            return
    raise AccessRefused(
        N_(
            "{who}: evidence {id} is neither recorded by officer {badge} nor "
            "linked to a case they handle"
        ),
        who=call.name,
        id=evidence_id,
        badge=badge,
    )


def handles_case(call: Call, number: str) -> bool:
    if call.principal is None or call.principal.officer_pk is None:
        return False
    with call.vault.session() as session:
        query = (
            select(CaseHandler.id)
            .join(Case, col(Case.id) == CaseHandler.case_id)
            .where(Case.number == number, CaseHandler.officer_pk == call.principal.officer_pk)
        )
        return session.exec(query).first() is not None
