"""Operations on access: requests, decisions, grants and the access register (AC-1..AC-9)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlmodel import col, or_, select

from vault.access import grants, printable, register, requests
from vault.access.policy import DOCUMENTS, describe_document
from vault.db.models import AccessGrant, AccessRequest
from vault.errors import Conflict, VolumeError
from vault.i18n import N_
from vault.service.api import Call, operation
from vault.service.ops.choices import at_least_one, choose
from vault.timeutil import iso, parse_span


def _presented(call: Call, documents: list[dict[str, Any]]) -> list[requests.Presented]:
    """The documents the caller presents, as --document KIND=FILE gave them: {"text" (the
    option as typed), "input" (its bytes' name in call.inputs; None: the caller found no
    such file), "file_name" (the caller's own name for it, kept for the sealed document)}."""
    found = []
    for document in documents:
        text = str(document.get("text", ""))
        kind, sep, shown = text.partition("=")
        if not sep or kind not in DOCUMENTS:
            known = ", ".join(describe_document(k) for k in DOCUMENTS)
            raise Conflict(
                N_("document {text}: give {form} with KIND one of {known}"),
                text=repr(text),
                form="KIND=FILE",
                known=known,
            )
        path = call.inputs.get(str(document.get("input") or ""))
        if path is None:
            raise VolumeError(
                N_("document file {path} does not exist or is not a file"), path=shown
            )
        name = Path(str(document.get("file_name") or "")).name or path.name
        found.append(requests.Presented(kind, path, name))
    return found


@operation("access.request")
def request(
    call: Call,
    scope: str,
    action: str,
    reason: str,
    requester: str | None = None,
    documents: list[dict[str, Any]] | None = None,
    reader: str | None = None,
    reader_id: str | None = None,
    to_prove: str | None = None,
) -> dict[str, Any]:
    # Scope "own": a person files for himself; for someone else the domain asks for the
    # records keeper's role (and registers a refusal).
    presented = _presented(call, documents or [])
    filed = requests.file_request(
        call.vault,
        scope,
        action,
        reason,
        requester,
        presented,
        reader,
        reader_id,
        to_prove=to_prove,
    )
    return {"request_id": filed.id, "action": filed.action, "scope": filed.scope}


@operation("access.approve")
def approve(call: Call, request_id: int, reason: str, days: int | None = None) -> dict[str, Any]:
    at_least_one("--days", days)
    grant = grants.approve(call.vault, request_id, reason, days)
    return {
        "grant_id": grant.id,
        "request_id": request_id,
        "action": grant.action,
        "scope": grant.scope,
        "expires_at": iso(grant.expires_at),
    }


@operation("access.deny")
def deny(
    call: Call, request_id: int, reason: str, statutory_ground: str | None = None
) -> dict[str, Any]:
    denied = grants.deny(call.vault, request_id, reason, statutory_ground)
    return {"request_id": request_id, "status": denied.status}


@operation("access.revoke")
def revoke(call: Call, grant_id: int, reason: str) -> dict[str, Any]:
    revoked = grants.revoke(call.vault, grant_id, reason)
    return {"grant_id": grant_id, "revoked_at": iso(revoked.revoked_at)}


def _own_id(call: Call) -> int | None:
    return call.principal.id if call.principal is not None else None


@operation("access.requests")
def list_requests(
    call: Call,
    status: str | None = None,
    explain: bool = False,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> list[dict[str, Any]] | dict[str, Any]:
    """Every request; an officer (scope own) sees those he filed or is the requester of.
    With EXPLAIN: {"matched", "requests", and when --status matched nothing "known": how
    many requests the caller sees in each status}. LIMIT of them from OFFSET (NEWEST_FIRST:
    by id descending): one page, the web console's queue."""
    choose("--status", status, requests.STATUSES)
    order = col(AccessRequest.id).desc() if newest_first else col(AccessRequest.id)
    query = select(AccessRequest).order_by(order)
    if call.scope == "own":
        me = _own_id(call)
        query = query.where(
            or_(col(AccessRequest.requester_id) == me, col(AccessRequest.filed_by_id) == me)
        )
    if limit is not None and not explain:
        if status:
            query = query.where(AccessRequest.status == status)
        with call.vault.session() as session:
            page = session.exec(query.offset(offset).limit(limit))
            return [requests.request_json(session, r) for r in page]
    with call.vault.session() as session:
        visible = list(session.exec(query))
        rows = [
            requests.request_json(session, r) for r in visible if r.status == (status or r.status)
        ]
    if not explain:
        return rows
    answer: dict[str, Any] = {"matched": len(rows), "requests": rows}
    if status and not rows:
        counts = Counter(r.status for r in visible)
        answer["known"] = {
            "status": {
                "given": status,
                "counts": {s: counts[s] for s in requests.STATUSES if counts[s]},
            }
        }
    return answer


@operation("access.grants")
def list_grants(call: Call, mine: bool = False) -> list[dict[str, Any]]:
    """Every grant; an officer (scope own), or anyone with --mine, sees his own: those whose
    grantee he is (the system account, no principal, holds none)."""
    query = select(AccessGrant).order_by(col(AccessGrant.id))
    if call.scope == "own" or mine:
        query = query.where(col(AccessGrant.grantee_id) == _own_id(call))
    with call.vault.session() as session:
        return [grants.grant_json(session, g) for g in session.exec(query)]


@operation("access.log")
def log(
    call: Call,
    from_: str | None = None,
    to: str | None = None,
    verify: bool = False,
    csv: bool = False,
    pdf: bool = False,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> Any:
    """The register: its entries as JSON (LIMIT of them from OFFSET, NEWEST_FIRST: a page);
    with VERIFY the chain's report (the caller exits 4 when it is not intact); with CSV/PDF
    the printable files (register.csv, register.pdf)."""
    settings = call.vault.settings
    tz = settings.timezone
    if verify:
        return register.verify(call.vault).to_json()
    page: dict[str, Any] = {"limit": limit, "offset": offset, "newest_first": newest_first}
    if csv or pdf:
        page = {}  # the printable register is whole
    with call.vault.session() as session:
        entries = register.entries(session, *parse_span(from_, to, tz), **page)
    if csv or pdf:
        written = []
        if csv:
            printable.write_csv(entries, tz, call.output("register.csv"))
            written.append("register.csv")
        if pdf:
            printable.write_pdf(settings, entries, call.output("register.pdf"))
            written.append("register.pdf")
        return {"entries": len(entries), "files": written}
    return [register.entry_json(e) for e in entries]


@operation("access.sign")
def sign(call: Call) -> dict[str, Any]:
    """Sign the register's head now (the service account, which reads the key)."""
    seq = register.sign_now(call.vault)
    return {"signed_through": seq}
