"""`evault verify --seal-missing`: seal records for rows sealed before seal records existed
(a vault upgraded to issue 15), once, by the records keeper.

A row gets one only when nothing says it was forged: its object re-hashes to it, the entry
that first recorded it (the audit event "evidence.sealed", "media.derivative" or
"compliance.stop_filed", or the register's "request") names the very same bytes, and the
audit chain holds against its anchors. Each record written is registered in the audit
chain ("seal.backfilled") and names that event. A row with bytes or facts that no entry
vouches for is refused and listed: `evault verify` keeps reporting it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from vault.context import Vault
from vault.db import audit
from vault.db.models import (
    AccessDocument,
    AuditEvent,
    Derivative,
    Evidence,
    RegisterEntry,
    Sighting,
    StopRecord,
)
from vault.errors import Conflict
from vault.recovery import chains
from vault.recovery.inventory import Inventory, load
from vault.sealing import seals

SEALING_ACTIONS = ("evidence.sealed", "media.derivative", "compliance.stop_filed")


@dataclass
class Backfill:
    sealed: list[str] = field(default_factory=list)  # subjects given a seal record
    refused: list[dict[str, str]] = field(default_factory=list)  # subject, reason

    def to_json(self) -> dict[str, Any]:
        return {"sealed": self.sealed, "refused": self.refused}


def _sealing_events(session: Session) -> dict[str, list[AuditEvent]]:
    found: dict[str, list[AuditEvent]] = defaultdict(list)
    query = select(AuditEvent).where(col(AuditEvent.action).in_(SEALING_ACTIONS))
    for event in session.exec(query.order_by(col(AuditEvent.id))):
        found[event.subject or ""].append(event)
    return found


def _vouched(events: list[AuditEvent], sha_key: str, sha256: str, size: int | None) -> bool:
    for event in events:
        detail = event.detail or {}
        if detail.get(sha_key) == sha256 and detail.get("size", size) == size:
            return True
    return False


def _unsealed(inv: Inventory, sha256: str | None, kind: str, subject: str | None = None) -> bool:
    return not any(
        s.kind == kind and (subject is None or s.body.get("subject") == subject)
        for s in inv.seals.get(sha256 or "", [])
    )


class _Writer:
    def __init__(self, vault: Vault, session: Session, result: Backfill) -> None:
        self.vault, self.session, self.result = vault, session, result

    def object_ok(self, subject: str, key: str, sha256: str, size: int | None) -> bool:
        check = self.vault.store.verify(key, sha256, size)
        if not check.ok:
            self.result.refused.append({"subject": subject, "reason": f"object: {check.reason}"})
        return check.ok

    def event(
        self,
        subject: str,
        sha256: str,
        size: int | None,
        kind: str,
        facts: dict[str, Any] | None = None,
    ) -> AuditEvent:
        event = audit.append(
            self.session,
            self.vault.actor("verify"),
            at=self.vault.clock.now(),
            action="seal.backfilled",
            subject=subject,
            detail={
                "sha256": sha256,
                "size": size,
                "kind": kind,
                **({"seal_facts": seals.facts_digest(facts)} if facts else {}),
            },
        )
        self.session.flush()
        return event

    def done(self, subject: str) -> None:
        self.session.commit()
        self.result.sealed.append(subject)

    def refuse(self, subject: str, reason: str) -> None:
        self.result.refused.append({"subject": subject, "reason": reason})


def _evidence(w: _Writer, inv: Inventory, events: dict[str, list[AuditEvent]]) -> None:
    for row in inv.evidence:
        subject = f"evidence:{row.id}"
        if not _unsealed(inv, row.sha256, "evidence"):
            continue
        if row.purged_at is not None:
            w.refuse(subject, "purged: its object is gone and cannot be verified")
            continue
        if not _vouched(events.get(subject, []), "sha256", row.sha256, row.size):
            w.refuse(subject, "the audit chain's sealing event names other bytes, or none")
            continue
        if not w.object_ok(subject, row.storage_key, row.sha256, row.size):
            continue
        first = w.session.exec(
            select(Sighting.path)
            .where(Sighting.evidence_id == row.id, Sighting.dock_session_id == row.dock_session_id)
            .order_by(col(Sighting.id))
        ).first()
        current = w.session.get_one(Evidence, row.id)
        facts = seals.evidence_facts(w.session, current, first or row.file_name)
        event = w.event(subject, row.sha256, row.size, "evidence", facts)
        seals.write(w.vault.store, facts, event)
        w.done(subject)


def _derivatives(w: _Writer, inv: Inventory, events: dict[str, list[AuditEvent]]) -> None:
    for row in inv.derivatives:
        subject = f"derivative:{row.id}"
        if row.purged_at is not None or not _unsealed(inv, row.sha256, "derivative"):
            continue
        made = events.get(f"evidence:{row.evidence_id}", [])
        if not _vouched(made, "sha256", row.sha256, row.size):
            w.refuse(subject, "no media.derivative event of the audit chain names these bytes")
            continue
        if not w.object_ok(subject, row.storage_key, row.sha256, row.size):
            continue
        current = w.session.get_one(Derivative, row.id)
        original = w.session.get_one(Evidence, row.evidence_id)
        facts = seals.derivative_facts(current, original)
        event = w.event(subject, row.sha256, row.size, "derivative", facts)
        seals.write(w.vault.store, facts, event)
        w.done(subject)


def _documents(w: _Writer, inv: Inventory, events: dict[str, list[AuditEvent]]) -> None:
    requested = {
        e.request_id: set(e.documents or [])
        for e in w.session.exec(select(RegisterEntry).where(RegisterEntry.event == "request"))
    }
    for doc in inv.documents:
        subject, about = f"document:{doc.id}", f"request:{doc.request_id}"
        if not _unsealed(inv, doc.sha256, "document", about):
            continue
        if doc.kind not in requested.get(doc.request_id, set()):
            w.refuse(subject, f"the register's request entry lists no {doc.kind} document")
            continue
        if not w.object_ok(subject, doc.storage_key, doc.sha256, doc.size):
            continue
        event = w.event(subject, doc.sha256, doc.size, "document")
        row = w.session.get_one(AccessDocument, doc.id)
        seals.seal_document(w.vault.store, doc.sha256, about, row, event)
        w.done(subject)
    for stop in inv.stops:
        subject, about = f"stop-record:{stop.id}", f"stop:{stop.id}"
        sha, key = stop.statement_sha256, stop.statement_key
        if sha is None or key is None or not _unsealed(inv, sha, "document", about):
            continue
        if not _vouched(events.get(about, []), "statement_sha256", sha, None):
            w.refuse(subject, "the audit chain's stop_filed event names another statement")
            continue
        if not w.object_ok(subject, key, sha, stop.statement_size):
            continue
        event = w.event(subject, sha, stop.statement_size, "document")
        seals.seal_document(
            w.vault.store, sha, about, w.session.get_one(StopRecord, stop.id), event
        )
        w.done(subject)


def seal_missing(vault: Vault) -> Backfill:
    """Seal records for every row that has none and that the audit chain vouches for."""
    broken = [f for f in chains.check_audit(vault) if f.kind == "chains"]
    if broken:
        raise Conflict(
            f"the audit chain does not hold ({broken[0].subject}: {broken[0].reason}); "
            "seal records are written only over a sound chain: run `evault verify`"
        )
    result = Backfill()
    with vault.session() as session:
        inv = load(session, vault.store)
        events = _sealing_events(session)
        session.rollback()  # nothing of the look is kept open while objects are re-read
        writer = _Writer(vault, session, result)
        _evidence(writer, inv, events)
        _derivatives(writer, inv, events)
        _documents(writer, inv, events)
    return result
