"""The grants class of `evault verify`: each access_grant row held against the register.

The register's approve entry is what was decided (its grant id, request, "action scope",
requester, approver and expiry); its revoke entry ends the grant. A grant row with no
approval, one that differs from it, or one un-revoked although the register revoked it
lets an export through that nobody approved (AC-8); the register's hash chain and anchors
(chains.py) keep the entries themselves honest.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from vault.db.models import AccessGrant, Case, CaseLink, Principal, RegisterEntry
from vault.recovery.findings import Report
from vault.timeutil import as_utc, iso


def _registered(session: Session) -> tuple[dict[int, RegisterEntry], dict[int, RegisterEntry]]:
    """The approve and revoke entries of the register, by grant id (the first of each)."""
    approved: dict[int, RegisterEntry] = {}
    revoked: dict[int, RegisterEntry] = {}
    query = (
        select(RegisterEntry)
        .where(
            col(RegisterEntry.event).in_(("approve", "revoke")),
            col(RegisterEntry.grant_id).is_not(None),
        )
        .order_by(col(RegisterEntry.seq))
    )
    for entry in session.exec(query):
        assert entry.grant_id is not None
        into = approved if entry.event == "approve" else revoked
        into.setdefault(entry.grant_id, entry)
    return approved, revoked


# A grant row is written a moment before its register entry (the same transaction; the
# register waits its turn): closer than this is the same time.
SLACK = timedelta(hours=1)


def _near(row_at: datetime | None, entry_at: datetime) -> bool:
    if row_at is None:
        return False
    return timedelta(0) <= as_utc(entry_at) - as_utc(row_at) <= SLACK


def _linked(session: Session) -> dict[str, list[tuple[int, datetime]]]:
    """Each case's links, by case number: (evidence id, when linked)."""
    found: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    query = select(Case.number, CaseLink.evidence_id, CaseLink.linked_at).join(
        CaseLink, col(CaseLink.case_id) == Case.id
    )
    for number, evidence_id, linked_at in session.exec(query):
        found[number].append((evidence_id, as_utc(linked_at)))
    return found


def _covered(
    grant: AccessGrant, entry: RegisterEntry, links: dict[str, list[tuple[int, datetime]]]
) -> set[int]:
    """What the grant's scope could have held when the register approved it."""
    kind, _, ref = grant.scope.partition(":")
    if kind == "evidence":
        return {int(ref)} if ref.isdigit() else set()
    return {e for e, at in links.get(ref, []) if at <= as_utc(entry.at) + SLACK}


def _expiry(entry: RegisterEntry) -> datetime | None:
    value: Any = (entry.detail or {}).get("expires_at")
    try:
        return as_utc(datetime.fromisoformat(str(value))) if value else None
    except ValueError:
        return None


def _differences(
    grant: AccessGrant,
    entry: RegisterEntry,
    names: dict[int, str],
    links: dict[str, list[tuple[int, datetime]]],
) -> list[str]:
    differ = []
    if entry.what != f"{grant.action} {grant.scope}":
        differ.append(f"scope and action ({grant.action} {grant.scope}, registered {entry.what})")
    if entry.request_id != grant.request_id:
        differ.append(f"request ({grant.request_id}, registered {entry.request_id})")
    if _expiry(entry) != as_utc(grant.expires_at):
        differ.append(
            f"expiry ({iso(grant.expires_at)}, registered {(entry.detail or {}).get('expires_at')})"
        )
    if entry.who != names.get(grant.grantee_id):
        differ.append(f"grantee ({names.get(grant.grantee_id)}, registered {entry.who})")
    if entry.approver != names.get(grant.granted_by_id):
        differ.append(f"approver ({names.get(grant.granted_by_id)}, registered {entry.approver})")
    if not _near(grant.granted_at, entry.at):
        differ.append(f"time ({iso(grant.granted_at)}, registered {iso(entry.at)})")
    if grant.evidence_ids is not None:
        listed = grant.evidence_ids if isinstance(grant.evidence_ids, list) else [None]
        beyond = sorted(set(listed) - _covered(grant, entry, links), key=str)
        if beyond:
            differ.append(f"evidence {beyond}, which its scope did not hold when approved")
    return differ


def _revocation_differences(
    grant: AccessGrant, entry: RegisterEntry, names: dict[int, str]
) -> list[str]:
    differ = []
    if not _near(grant.revoked_at, entry.at):
        differ.append(f"time ({iso(grant.revoked_at)}, registered {iso(entry.at)})")
    if grant.revoke_reason != entry.reason:
        differ.append("reason")
    revoker = names.get(grant.revoked_by_id) if grant.revoked_by_id is not None else None
    if revoker != entry.handled_by:
        differ.append(f"revoked by ({revoker}, registered {entry.handled_by})")
    return differ


def check_grants(report: Report, session: Session) -> None:
    approved, revoked = _registered(session)
    names = {p.id: p.name for p in session.exec(select(Principal)) if p.id is not None}
    links = _linked(session)
    grants = list(session.exec(select(AccessGrant).order_by(col(AccessGrant.id))))
    for grant in grants:
        subject = f"grant:{grant.id}"
        assert grant.id is not None
        entry = approved.get(grant.id)
        if entry is None:
            report.add("grants", subject, "no approval in the register: nobody approved it")
        elif differ := _differences(grant, entry, names, links):
            report.add(
                "grants",
                subject,
                f"differs from its approval (register entry {entry.seq}) in "
                f"{'; '.join(differ)}: the database row was altered",
            )
        revocation = revoked.get(grant.id)
        if revocation is not None and grant.revoked_at is None:
            report.add(
                "grants",
                subject,
                f"revoked in the register (entry {revocation.seq}) but not in the database: "
                "un-revoked by hand; exports under it are refused",
            )
        elif revocation is None and grant.revoked_at is not None:
            report.add(
                "grants", subject, "revoked in the database but the register has no revocation"
            )
        elif revocation is not None and (
            differ := _revocation_differences(grant, revocation, names)
        ):
            report.add(
                "grants",
                subject,
                f"differs from its revocation (register entry {revocation.seq}) in "
                f"{'; '.join(differ)}: the database row was altered",
            )
    held = {g.id for g in grants}
    for grant_id, entry in sorted(approved.items()):
        if grant_id not in held:
            report.add(
                "grants",
                f"grant:{grant_id}",
                f"approved in the register (entry {entry.seq}) but missing from the database",
            )
    report.checked["grants"] = len(grants)
