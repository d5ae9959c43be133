"""Filing access requests: scope, action, reason, and the documents the requester presents
(AC-4..AC-6), each sealed in the store like evidence before the request is recorded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from vault.access import policy, register
from vault.access.principals import KINDS, current, get_principal, require_role
from vault.cases.cases import get_case
from vault.context import Vault
from vault.db.models import AccessDocument, AccessGrant, AccessRequest, Principal
from vault.errors import AccessRefused, Conflict, VolumeError
from vault.i18n import N_, Named
from vault.sealing import seals
from vault.timeutil import iso

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Presented:
    kind: str
    path: Path
    name: str | None = None  # the caller's file name, when PATH is the service's copy


def parse_document(text: str) -> Presented:
    """KIND=FILE, e.g. unit_letter=/scans/letter.pdf."""
    kind, sep, path = text.partition("=")
    if not sep or kind not in policy.DOCUMENTS:
        known = ", ".join(policy.describe_document(k) for k in policy.DOCUMENTS)
        raise Conflict(
            N_("document {text}: give {form} with KIND one of {known}"),
            text=repr(text),
            form="KIND=FILE",
            known=known,
        )
    if not Path(path).is_file():
        raise VolumeError(N_("document file {path} does not exist or is not a file"), path=path)
    return Presented(kind, Path(path))


def seal_document(vault: Vault, request_id: int, presented: Presented) -> AccessDocument:
    """Stream the file into the WORM store, hashing the same bytes that are stored."""
    digest, size = hashlib.sha256(), 0
    writer = vault.store.begin_put()
    try:
        with presented.path.open("rb") as source:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
        now = vault.clock.now()
        until = now + timedelta(days=366 * vault.settings.access.document_years)
        result = writer.commit(digest.hexdigest(), size, until)
    except BaseException:
        writer.abort()
        raise
    return AccessDocument(
        request_id=request_id,
        kind=presented.kind,
        file_name=(presented.name or presented.path.name)[:255],
        sha256=digest.hexdigest(),
        size=size,
        storage_key=result.key,
        storage_version=result.version,
        sealed_at=now,
    )


def file_request(
    vault: Vault,
    scope_text: str,
    action: str,
    reason: str,
    requester_name: str | None,
    documents: list[Presented],
    reader: str | None = None,
    reader_id_number: str | None = None,
    to_prove: str | None = None,
) -> AccessRequest:
    """Record a request; refused (and registered) when documents are missing, a marking
    rules the requester out or a party asks beyond its own case. READER is the natural
    person who looks (查阅人) with the ID number presented: by default the requester."""
    if action not in policy.ACTIONS:
        raise Conflict(
            N_("action {action}: give one of {known}"),
            action=repr(action),
            known=", ".join(policy.ACTIONS),
        )
    if not reason.strip():
        raise Conflict(N_("a reason is required (it goes into the register)"))
    scope = policy.parse_scope(scope_text)
    what = f"{action} {scope}"
    kinds = sorted({d.kind for d in documents})
    with (
        register.refusals_registered(
            vault, "request", who=requester_name, what=what, reason=reason, documents=kinds
        ),
        vault.session() as session,
    ):
        caller = current(vault, session)
        requester = get_principal(session, requester_name) if requester_name else caller
        if requester.id != caller.id:
            require_role(caller, ("records_keeper",), N_("filing a request for someone else"))
        evidence = policy.scope_evidence(session, scope)
        if scope.kind == "case":  # the number as stored, whatever brackets were typed
            scope = policy.Scope("case", get_case(session, scope.ref).number)
        missing = policy.missing_documents(requester.kind, set(kinds))
        if missing:
            raise AccessRefused(
                N_("a {kind} must present: {documents} (attach with {option})"),
                kind=Named(requester.kind, KINDS.get(requester.kind, requester.kind)),
                documents="; ".join(missing),
                option="--document KIND=FILE",
            )
        for record in evidence:
            if refusal := policy.marking_refusal(record, requester, action):
                raise AccessRefused(refusal)
        if refusal := policy.party_scope_refusal(session, requester, evidence):
            raise AccessRefused(refusal)
        assert requester.id is not None and caller.id is not None
        request = AccessRequest(
            requester_id=requester.id,
            filed_by_id=caller.id,
            scope=str(scope),
            action=action,
            reason=reason,
            filed_at=vault.clock.now(),
            reader=(reader or requester.name)[:128],
            reader_id_number=reader_id_number or requester.id_number,
            to_prove=(to_prove or "").strip() or None,  # EV-1: 证明对象, for the statement
        )
        session.add(request)
        session.flush()
        assert request.id is not None
        sealed = [seal_document(vault, request.id, presented) for presented in documents]
        session.add_all(sealed)
        entry = register.append(
            vault,
            session,
            "request",
            who=requester.name,
            unit=requester.unit,
            documents=kinds,
            what=what,
            reason=reason,
            handled_by=caller.name,
            request_id=request.id,
            detail={"requester_kind": requester.kind, **reader_detail(request)},
        )
        session.flush()
        for document in sealed:
            seals.seal_document(
                vault.store, document.sha256, f"request:{request.id}", document, entry
            )
        session.commit()
    return request


def reader_detail(request: AccessRequest | None) -> dict[str, str]:
    """The register's record of who looks (AC-4: 查阅人, with the ID presented)."""
    if request is None or not request.reader:
        return {}
    found = {"reader": request.reader}
    if request.reader_id_number:
        found["reader_id"] = request.reader_id_number
    return found


def _name(session: Session, principal_id: int | None) -> str | None:
    return session.get_one(Principal, principal_id).name if principal_id else None


def request_json(session: Session, request: AccessRequest) -> dict[str, Any]:
    documents = session.exec(select(AccessDocument).where(AccessDocument.request_id == request.id))
    grant = session.exec(select(AccessGrant).where(AccessGrant.request_id == request.id)).first()
    return {
        "request_id": request.id,
        "requester": _name(session, request.requester_id),
        "filed_by": _name(session, request.filed_by_id),
        "scope": request.scope,
        "action": request.action,
        "reason": request.reason,
        "reader": request.reader,
        "reader_id_number": request.reader_id_number,
        "status": request.status,
        "filed_at": iso(request.filed_at),
        "decided_by": _name(session, request.decided_by_id),
        "decided_at": iso(request.decided_at),
        "decision_reason": request.decision_reason,
        "grant_id": grant.id if grant else None,
        "documents": [
            {"kind": d.kind, "file_name": d.file_name, "sha256": d.sha256, "size": d.size}
            for d in documents
        ],
    }


STATUSES = ("pending", "approved", "denied")  # what AccessRequest.status may be


def list_requests(session: Session, status: str | None = None) -> list[dict[str, Any]]:
    query = select(AccessRequest).order_by(col(AccessRequest.id))
    if status:
        query = query.where(AccessRequest.status == status)
    return [request_json(session, r) for r in session.exec(query)]
