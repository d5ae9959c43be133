"""Decisions on requests and the grants they yield: only an approver of the level the
settings name for the requester and action approves or denies (AC-0, AC-2, AC-3); a grant
has one scope, one action and an expiry, and can be revoked. Confidentiality markings
(AC-9) are set here too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from vault.access import approval, policy, register
from vault.access.principals import KINDS, current, require_role
from vault.access.requests import reader_detail
from vault.cases.retention import get_evidence
from vault.context import Vault
from vault.db.models import AccessDocument, AccessGrant, AccessRequest, Principal
from vault.errors import AccessRefused, Conflict, NotFound
from vault.i18n import N_, Named, Phrase
from vault.timeutil import iso


def _pending(session: Session, request_id: int) -> tuple[AccessRequest, Principal]:
    request = session.get(AccessRequest, request_id)
    if request is None:
        raise NotFound(N_("no access request {id}"), id=request_id)
    if request.status != "pending":
        raise Conflict(
            N_("request {id} was already {status}"),
            id=request_id,
            status=_DECIDED.get(request.status, request.status),
        )
    return request, session.get_one(Principal, request.requester_id)


_DECIDED = {"approved": Phrase(N_("approved")), "denied": Phrase(N_("denied"))}


def _require_level(vault: Vault, caller: Principal, request: AccessRequest, kind: str) -> None:
    """AC-0: the level the matrix names for this requester kind and action decides."""
    needed = approval.required_level(vault.settings, kind=kind, action=request.action)
    doing = Phrase(
        N_("deciding a {kind} request to {action}"),
        kind=Named(f"{kind} ({KINDS[kind]})", KINDS[kind]),
        action=Named(request.action, policy.ACTION_WORDS.get(request.action, request.action)),
    )
    approval.require_level(vault.settings, caller, needed, doing)


def _documents(session: Session, request_id: int) -> list[str]:
    query = select(AccessDocument.kind).where(AccessDocument.request_id == request_id)
    return sorted(set(session.exec(query)))


def approve(vault: Vault, request_id: int, reason: str, days: int | None = None) -> AccessGrant:
    """Approve a pending request: a grant for its scope and action, valid for `days`."""
    settings = vault.settings.access
    days = settings.grant_days if days is None else days  # 0 is refused, never the default
    if not 1 <= days <= settings.max_grant_days:
        raise Conflict(
            N_("a grant lasts 1 to {most} days ({setting})"),
            most=settings.max_grant_days,
            setting="access.max_grant_days",
        )
    with (
        register.refusals_registered(
            vault,
            "approve",
            request_id=request_id,
            reason=reason,
            what=f"approve request {request_id}",
        ),
        vault.session() as session,
    ):
        caller = current(vault, session)
        require_role(caller, ("approver",), N_("approving a request"))
        request, requester = _pending(session, request_id)
        if requester.id == caller.id:
            raise AccessRefused(N_("an approver cannot approve their own request"))
        _require_level(vault, caller, request, requester.kind)
        covered = policy.scope_evidence(session, policy.parse_scope(request.scope))
        for record in covered:
            if refusal := policy.marking_refusal(record, requester, request.action):
                raise AccessRefused(
                    N_("{refusal}; deny it: {command}"),
                    refusal=refusal,
                    command=f"evault access deny {request_id}",
                )
        if refusal := policy.party_scope_refusal(session, requester, covered):
            raise AccessRefused(
                N_("{refusal}; deny it: {command}"),
                refusal=refusal,
                command=f"evault access deny {request_id}",
            )
        now = vault.clock.now()
        request.status, request.decided_by_id, request.decided_at = "approved", caller.id, now
        request.decision_reason = reason
        assert request.id is not None and requester.id is not None and caller.id is not None
        grant = AccessGrant(
            request_id=request.id,
            grantee_id=requester.id,
            scope=request.scope,
            action=request.action,
            granted_by_id=caller.id,
            granted_at=now,
            expires_at=now + timedelta(days=days),
            evidence_ids=sorted(e.id for e in covered if e.id is not None),
        )
        session.add_all([request, grant])
        session.flush()
        register.append(
            vault,
            session,
            "approve",
            who=requester.name,
            unit=requester.unit,
            documents=_documents(session, request.id),
            what=f"{request.action} {request.scope}",
            reason=request.reason,
            approver=caller.name,
            handled_by=caller.name,
            request_id=request.id,
            grant_id=grant.id,
            detail={
                "decision": reason,
                "expires_at": iso(grant.expires_at),
                **reader_detail(request),
            },
        )
        session.commit()
    return grant


def deny(
    vault: Vault, request_id: int, reason: str, statutory_ground: str | None = None
) -> AccessRequest:
    with (
        register.refusals_registered(
            vault, "deny", request_id=request_id, reason=reason, what=f"deny request {request_id}"
        ),
        vault.session() as session,
    ):
        caller = current(vault, session)
        require_role(caller, ("approver",), N_("denying a request"))
        request, requester = _pending(session, request_id)
        _require_level(vault, caller, request, requester.kind)
        if problem := policy.refusal_needs_ground(requester.kind, statutory_ground):
            raise AccessRefused(problem)
        request.status, request.decided_by_id = "denied", caller.id
        request.decided_at, request.decision_reason = vault.clock.now(), reason
        session.add(request)
        register.append(
            vault,
            session,
            "deny",
            who=requester.name,
            unit=requester.unit,
            documents=_documents(session, request_id),
            what=f"{request.action} {request.scope}",
            reason=request.reason,
            approver=caller.name,
            handled_by=caller.name,
            request_id=request_id,
            detail={
                "decision": reason,
                "statutory_ground": statutory_ground,
                **reader_detail(request),
            },
        )
        session.commit()
    return request


def revoke(vault: Vault, grant_id: int, reason: str) -> AccessGrant:
    with (
        register.refusals_registered(
            vault, "revoke", grant_id=grant_id, reason=reason, what=f"revoke grant {grant_id}"
        ),
        vault.session() as session,
    ):
        caller = current(vault, session)
        require_role(caller, ("approver", "records_keeper"), N_("revoking a grant"))
        grant = session.get(AccessGrant, grant_id)
        if grant is None:
            raise NotFound(N_("no grant {id}"), id=grant_id)
        if grant.revoked_at is not None:
            raise Conflict(N_("grant {id} was already revoked"), id=grant_id)
        grant.revoked_at, grant.revoked_by_id = vault.clock.now(), caller.id
        grant.revoke_reason = reason
        session.add(grant)
        grantee = session.get_one(Principal, grant.grantee_id)
        register.append(
            vault,
            session,
            "revoke",
            who=grantee.name,
            unit=grantee.unit,
            what=f"{grant.action} {grant.scope}",
            reason=reason,
            handled_by=caller.name,
            request_id=grant.request_id,
            grant_id=grant_id,
        )
        session.commit()
    return grant


def mark(vault: Vault, evidence_id: int, markings: list[str], reason: str) -> list[str]:
    """Set an evidence's confidentiality markings (AC-9); an empty list clears them."""
    unknown = [m for m in markings if m not in policy.MARKINGS]
    if unknown:
        raise Conflict(
            N_("unknown marking {marking}; known: {known}"),
            marking=repr(unknown[0]),
            known=", ".join(policy.MARKINGS),
        )
    with (
        register.refusals_registered(vault, "mark", what=f"mark evidence:{evidence_id}"),
        vault.session() as session,
    ):
        caller = current(vault, session)
        require_role(caller, ("records_keeper", "legal", "approver"), "marking evidence")
        evidence = get_evidence(session, evidence_id)
        previous = evidence.confidentiality or []
        evidence.confidentiality = sorted(set(markings)) or None
        session.add(evidence)
        register.append(
            vault,
            session,
            "mark",
            what=f"mark evidence:{evidence_id}",
            reason=reason,
            handled_by=caller.name,
            detail={"markings": sorted(set(markings)), "previous": previous},
        )
        session.commit()
    return sorted(set(markings))


def grant_json(session: Session, grant: AccessGrant) -> dict[str, Any]:
    return {
        "grant_id": grant.id,
        "request_id": grant.request_id,
        "grantee": session.get_one(Principal, grant.grantee_id).name,
        "scope": grant.scope,
        "action": grant.action,
        "granted_by": session.get_one(Principal, grant.granted_by_id).name,
        "granted_at": iso(grant.granted_at),
        "expires_at": iso(grant.expires_at),
        "revoked_at": iso(grant.revoked_at),
        "revoke_reason": grant.revoke_reason,
    }


def list_grants(session: Session) -> list[dict[str, Any]]:
    rows = session.exec(select(AccessGrant).order_by(col(AccessGrant.id)))
    return [grant_json(session, g) for g in rows]
