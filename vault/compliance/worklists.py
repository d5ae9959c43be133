"""Worklists (issue 17): what is waiting for someone, found from the records as they stand.

The gaps that still need a written reason (RC-3, RC-6) and the clips sealed late without one
(IN-1) are computed exactly as the compliance report computes them (vault.compliance.report:
its sessions, gaps and `_late`, with the deadline of vault.compliance.deadline), so a
worklist and the report never disagree. Besides them: one access request as an approver
weighs it (with its sealed documents, one of which can be written out), the sessions a
spot-check draw names, and `todo`, what each role is expected to act on.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from vault.access import policy
from vault.access.principals import KINDS
from vault.access.requests import request_json
from vault.compliance import report
from vault.compliance.reasons import GAP_REASONS, acting_name
from vault.compliance.report import ReportFilters
from vault.context import Vault
from vault.db import audit
from vault.db.models import (
    AccessDocument,
    AccessGrant,
    AccessRequest,
    Device,
    Officer,
    Principal,
)
from vault.errors import NotFound, StoreError, VaultError
from vault.i18n import N_
from vault.timeutil import as_utc, iso

EXPIRING = timedelta(days=3)  # a grant "about to expire" (todo): within this of its end
CHUNK = 1024 * 1024


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def officer_names(session: Session) -> dict[str, str | None]:
    """Badge -> name: the officer's own name, else the staff principal with that badge."""
    staff = select(Principal.officer_pk, Principal.name).where(
        col(Principal.officer_pk).is_not(None)
    )
    named = dict(session.exec(staff).all())
    return {
        badge: name or named.get(pk or 0)
        for pk, badge, name in session.exec(select(Officer.id, Officer.officer_id, Officer.name))
    }


def _overlaps(filters: ReportFilters, start: datetime | None, end: datetime | None) -> bool:
    if start is None or end is None:
        return True
    if filters.range_from is not None and as_utc(end) < filters.range_from:
        return False
    return filters.range_to is None or as_utc(start) < filters.range_to


def _gap_status(gap: dict[str, Any], needing: set[str]) -> str:
    if f"gap:{gap['gap_id']}" in needing:
        return "needs_reason"
    if gap["reason"] is not None:
        return "stop_record" if gap["reason"].startswith("stop_record:") else "reason"
    if gap["resume_narrated"]:
        return "narrated"
    if gap["stop_record_id"] is not None:
        return "stop_record_pending"
    return "not_checked"


def sessions(
    vault: Vault, filters: ReportFilters, ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """Recording sessions (the report's): camera, officer (name and badge), times, clips."""
    with vault.session() as session:
        ctx = report._Context(vault, session, filters)
        names = officer_names(session)
        found = []
        for row in report._sessions(ctx):
            if ids is not None and row["session_id"] not in ids:
                continue
            keep = ("session_id", "device_id", "officer_id", "unit", "start", "end")
            found.append(
                {key: row[key] for key in keep}
                | {
                    "officer_name": names.get(row["officer_id"] or ""),
                    "recorded_s": row["recorded_s"],
                    "clips": row["clips"],
                    "evidence_ids": row["evidence_ids"],
                    "opening_narrated": row["opening_narrated"],
                    "gaps": len(row["gaps"]),
                }
            )
    return found


def gaps(
    vault: Vault, filters: ReportFilters, include_explained: bool = False
) -> list[dict[str, Any]]:
    """The interruptions the report lists as RC-3 findings (no narrated resume, no written
    reason, no stop record); with include_explained every interruption, with its reason.
    The findings alone are found without reading every session (report.unexplained_gaps)."""
    with vault.session() as session:
        names = officer_names(session)
        if not include_explained:
            ctx = report._Context(vault, session, filters, whole=False)
            return _gaps_needing_reason(ctx, names)
        ctx = report._Context(vault, session, filters)
        rows = report._sessions(ctx)
        needing = {f["subject"] for f in ctx.findings if f["rule"] == "RC-3"}
        found = [
            (row["session_id"], row["device_id"], row["officer_id"], gap)
            for row in rows
            for gap in row["gaps"]
        ]
    return _gap_rows(filters, found, needing, names, include_explained=True)


def late(vault: Vault, filters: ReportFilters) -> list[dict[str, Any]]:
    """Clips sealed after the upload deadline (IN-1) with no late reason: the report's own
    computation (report._late, deadline.check) over the clips that may be late."""
    with vault.session() as session:
        ctx = report._Context(vault, session, filters, whole=False)
        return _late_without_reason(ctx, officer_names(session))


def without_reason(
    vault: Vault, filters: ReportFilters, names: dict[str, str | None] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """gaps() and late() at once, as the to-do asks for both: one session, one reading of
    the cameras, officers and stop records (NAMES, badge -> name, where already read)."""
    with vault.session() as session:
        ctx = report._Context(vault, session, filters, whole=False)
        names = officer_names(session) if names is None else names
        return _gaps_needing_reason(ctx, names), _late_without_reason(ctx, names)


def _gaps_needing_reason(
    ctx: report._Context, names: dict[str, str | None]
) -> list[dict[str, Any]]:
    needing = set()
    found = []
    for recording, gap in report.unexplained_gaps(ctx):
        needing.add(f"gap:{gap['gap_id']}")
        found.append(
            (
                recording.id,
                ctx.device_id(recording.device_pk),
                ctx.officer_id(recording.officer_pk),
                gap,
            )
        )
    return _gap_rows(ctx.filters, found, needing, names, include_explained=False)


def _gap_rows(
    filters: ReportFilters,
    found: list[tuple[int | None, str | None, str | None, dict[str, Any]]],
    needing: set[str],
    names: dict[str, str | None],
    include_explained: bool,
) -> list[dict[str, Any]]:
    listed = []
    for session_id, device_id, officer_id, gap in found:
        if not _overlaps(filters, _time(gap["from"]), _time(gap["to"])):
            continue
        status = _gap_status(gap, needing)
        if status != "needs_reason" and not include_explained:
            continue
        code = gap["reason"] if gap["reason"] in GAP_REASONS else None
        listed.append(
            {
                "gap_id": gap["gap_id"],
                "session_id": session_id,
                "device_id": device_id,
                "officer_id": officer_id,
                "officer_name": names.get(officer_id or ""),
                "from": gap["from"],
                "to": gap["to"],
                "seconds": round(gap["seconds"], 1),
                "after": gap["after"],
                "before": gap["before"],
                "status": status,
                "reason": gap["reason"],
                "reason_label": GAP_REASONS[code] if code else None,
                "note": gap["note"],
                "stop_record_id": gap["stop_record_id"],
            }
        )
    return listed


def _late_without_reason(
    ctx: report._Context, names: dict[str, str | None]
) -> list[dict[str, Any]]:
    rows, _ = report._late(ctx, report.late_candidates(ctx))
    found = []
    for row in rows:
        if row["reason"] is not None:
            continue
        sealed, due = _time(row["sealed_at"]), _time(row["due"])
        assert sealed is not None and due is not None
        keep = ("evidence_id", "file_name", "device_id", "officer_id", "recorded_at")
        found.append(
            {key: row[key] for key in keep}
            | {
                "officer_name": names.get(row["officer_id"] or ""),
                "sealed_at": row["sealed_at"],
                "due": row["due"],
                "rule": row["rule"],
                "hours_late": round((sealed - due).total_seconds() / 3600, 2),
                "approximate": row["approximate"],
            }
        )
    return found


# Access requests: one as an approver weighs it, and its sealed documents.


def _principal(session: Session, pk: int | None) -> dict[str, Any] | None:
    found = session.get(Principal, pk) if pk else None
    if found is None:
        return None
    return {
        "name": found.name,
        "kind": found.kind,
        "kind_label": KINDS.get(found.kind, found.kind),
        "unit": found.unit,
    }


def get_request(session: Session, request_id: int) -> AccessRequest:
    found = session.get(AccessRequest, request_id)
    if found is None:
        raise NotFound(
            N_("no access request {id} (see {command})"),
            id=request_id,
            command="evault access requests",
        )
    return found


def request_detail(vault: Vault, request_id: int) -> dict[str, Any]:
    """A request with all an approver needs: who asks (and as what), what the scope covers
    now, the decision, the grant and the documents presented."""
    with vault.session() as session:
        request = get_request(session, request_id)
        shown = request_json(session, request)
        try:
            covered = policy.scope_evidence(session, policy.parse_scope(request.scope))
            gone = None
        except VaultError as exc:  # purged, or a case with nothing linked any more
            covered, gone = [], str(exc)
        devices = {d.id: d.device_id for d in session.exec(select(Device))}
        badges = {o.id: o.officer_id for o in session.exec(select(Officer))}
        grant = session.exec(
            select(AccessGrant).where(AccessGrant.request_id == request.id)
        ).first()
        documents = session.exec(
            select(AccessDocument)
            .where(AccessDocument.request_id == request.id)
            .order_by(col(AccessDocument.id))
        )
        now = vault.clock.now()
        return {
            "request_id": request.id,
            "requester": _principal(session, request.requester_id),
            "filed_by": shown["filed_by"],
            "filed_at": shown["filed_at"],
            "scope": request.scope,
            "action": request.action,
            "reason": request.reason,
            "status": request.status,
            "covers": [
                {
                    "evidence_id": e.id,
                    "file_name": e.file_name,
                    "device_id": devices.get(e.device_pk),
                    "officer_id": badges.get(e.officer_pk),
                    "recorded_at": iso(e.recorded_at_corrected),
                }
                for e in covered
            ],
            "covers_nothing": gone,
            "decision": {
                "by": shown["decided_by"],
                "at": shown["decided_at"],
                "reason": shown["decision_reason"],
            }
            if request.decided_at
            else None,
            "grant": {
                "grant_id": grant.id,
                "expires_at": iso(grant.expires_at),
                "revoked_at": iso(grant.revoked_at),
                "revoke_reason": grant.revoke_reason,
                "valid": grant.revoked_at is None and as_utc(grant.expires_at) > now,
            }
            if grant
            else None,
            "documents": [
                {
                    "kind": d.kind,
                    "kind_label": policy.DOCUMENTS.get(d.kind, d.kind),
                    "file_name": d.file_name,
                    "size": d.size,
                    "sha256": d.sha256,
                }
                for d in documents
            ],
        }


def write_document(vault: Vault, request_id: int, kind: str, out: Path) -> dict[str, Any]:
    """One sealed document of the request, read out of the store into OUT, its bytes checked
    against the SHA-256 sealed with it. Not an access-register entry (the register's events
    are uses of footage); recorded in the audit chain as access.document_read."""
    with vault.session() as session:
        get_request(session, request_id)
        found = session.exec(
            select(AccessDocument)
            .where(AccessDocument.request_id == request_id, AccessDocument.kind == kind)
            .order_by(col(AccessDocument.id))
        ).first()
        if found is None:
            kinds = session.exec(
                select(AccessDocument.kind).where(AccessDocument.request_id == request_id)
            )
            known = ", ".join(sorted(set(kinds))) or "none"
            raise NotFound(
                N_("request {id} has no {kind} document (it has: {known})"),
                id=request_id,
                kind=kind,
                known=known,
            )
        digest, size = hashlib.sha256(), 0
        with vault.store.open(found.storage_key) as source, out.open("wb") as target:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                target.write(chunk)
                size += len(chunk)
        if digest.hexdigest() != found.sha256 or size != found.size:
            out.unlink(missing_ok=True)
            raise StoreError(
                N_(
                    "the stored {kind} of request {id} does not match its seal "
                    "({hash} {digest}, sealed {sha256}): run {command}"
                ),
                kind=kind,
                id=request_id,
                hash="SHA-256",
                digest=digest.hexdigest(),
                sha256=found.sha256,
                command="evault verify",
            )
        audit.append(
            session,
            vault.actor("access"),
            at=vault.clock.now(),
            action="access.document_read",
            subject=f"request:{request_id}",
            detail={
                "kind": kind,
                "file_name": found.file_name,
                "sha256": found.sha256,
                "by": acting_name(vault, session, "access"),
            },
        )
        session.commit()
        return {
            "request_id": request_id,
            "kind": kind,
            "file_name": found.file_name,
            "size": size,
            "sha256": found.sha256,
        }
