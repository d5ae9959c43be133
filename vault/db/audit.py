"""The audit chain: every event hashes its predecessor, so an edit or a deletion shows (AC-7)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from vault.db.engine import lock_for_transaction
from vault.db.models import AuditEvent, RegisterEntry
from vault.timeutil import iso

GENESIS = "0" * 64
HEADS_KEY = "vault.chain_heads"  # Session.info: the chains' heads this transaction moved


def note_head(session: Session, chain: str, row: AuditEvent | RegisterEntry, force: bool) -> None:
    """This transaction moved CHAIN's head to ROW: once it commits, the vault anchors the
    head in the store if it is due (vault.sealing.anchors; FORCE: due now, a signing)."""
    pending = session.info.setdefault(HEADS_KEY, {})
    _, forced = pending.get(chain, (None, False))
    pending[chain] = (row, force or forced)


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    body = {
        "prev": prev_hash,
        "at": iso(event.at),
        "station": event.station_id,
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "detail": event.detail,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who acts, and at which station: "ingest:root", later the principal of the OS user."""

    station_id: str
    name: str


def append(
    session: Session,
    actor: Actor,
    *,
    at: datetime,
    action: str,
    subject: str | None = None,
    detail: dict[str, object] | None = None,
) -> AuditEvent:
    """Add an event to the chain inside the caller's transaction. Appenders take turns until
    they commit (on PostgreSQL two stations would otherwise read the same head, and the
    unique prev_hash would fail the second's whole transaction instead of forking the chain)."""
    lock_for_transaction(session, "audit_chain")
    last = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    prev = last.hash if last else GENESIS
    event = AuditEvent(
        at=at,
        station_id=actor.station_id,
        actor=actor.name,
        action=action,
        subject=subject,
        detail=detail or {},
        prev_hash=prev,
        hash="",
    )
    event.hash = event_hash(prev, event)
    session.add(event)
    note_head(session, "audit", event, False)
    return event


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def check_chain(events: Iterable[AuditEvent]) -> list[ChainBreak]:
    """Walk the events in id order; report each one whose link or content does not hash."""
    breaks: list[ChainBreak] = []
    prev = GENESIS
    for event in events:
        assert event.id is not None
        if event.prev_hash != prev:
            breaks.append(ChainBreak(event.id, "does not follow its predecessor"))
        if event_hash(event.prev_hash, event) != event.hash:
            breaks.append(ChainBreak(event.id, "content does not match its hash"))
        prev = event.hash
    return breaks
