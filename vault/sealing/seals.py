"""Seal records: the facts of a sealed object, sealed into the same WORM store.

Sealing an original, a derivative or a presented document also writes, in the same
transaction as its database row and after the object is durable, a record under
seal/ab/<sha256>/<event>.json: the object's SHA-256 and size, where it is, the rows it
was recorded with (docking, camera, officer) and the audit event that sealed it. The
database row is an index of this record, never the only copy of a fact: `evault verify`
holds each row against it and `evault store rebuild-index` rebuilds the rows from it.

An object may have several seal records (a crash between the record and the commit, then
a second docking; two stations racing for the same bytes): the one whose event is in the
chain is the row's; the newest otherwise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, SQLModel

from vault.db.models import (
    AuditEvent,
    Derivative,
    Device,
    DockSession,
    Evidence,
    Officer,
    RegisterEntry,
)
from vault.store import WormStore

FORMAT = 1
KINDS = ("evidence", "derivative", "document")


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def row_facts(row: SQLModel | None) -> dict[str, Any] | None:
    """A row's columns as JSON (datetimes in ISO 8601 with their zone)."""
    if row is None:
        return None
    out: dict[str, Any] = {}
    for name, value in row.model_dump().items():
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def seal_name(sha256: str, event_hash: str, part: str = "") -> str:
    """PART tells apart two objects of one event with the same bytes (one scan presented
    twice with a request)."""
    return f"seal/{sha256[:2]}/{sha256}/{event_hash[:16]}{'-' + part if part else ''}.json"


def _event(event: AuditEvent | RegisterEntry) -> dict[str, Any]:
    """The chain entry that sealed the object: an audit event, or a register entry."""
    if isinstance(event, RegisterEntry):
        return {"chain": "register", "seq": event.seq, "hash": event.hash, "action": event.event}
    assert event.id is not None, "flush the session first: the record names the event's id"
    return {"chain": "audit", "seq": event.id, "hash": event.hash, "action": event.action}


def facts_digest(facts: dict[str, Any]) -> str:
    """The SHA-256 of a seal record's facts (all but its event): the sealing event carries
    it in its detail as "seal_facts", so a second record forged for the same event, with
    other facts, is told from the real one (`evault verify`)."""
    return hashlib.sha256(canonical(facts)).hexdigest()


def facts_of(seal_body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in seal_body.items() if k != "event"}


def write(
    store: WormStore, facts: dict[str, Any], event: AuditEvent | RegisterEntry, part: str = ""
) -> str:
    """Seal FACTS (from evidence_facts() and its kin) with the chain entry that records them."""
    body = {**facts, "event": {**_event(event), "at": event.at.isoformat()}}
    name = seal_name(str(facts["sha256"]), event.hash, part)
    store.put_record(name, canonical(body))
    return name


def _facts(kind: str, sha256: str, **facts: Any) -> dict[str, Any]:
    return {"format": FORMAT, "type": kind, "sha256": sha256, **facts}


def evidence_facts(session: Session, evidence: Evidence, path: str) -> dict[str, Any]:
    """An original's facts: its row and those of its docking, camera and officer."""
    dock = session.get(DockSession, evidence.dock_session_id)
    device = session.get(Device, evidence.device_pk) if evidence.device_pk else None
    officer = session.get(Officer, evidence.officer_pk) if evidence.officer_pk else None
    keeper = None
    if device is not None and device.keeper_officer_id is not None:
        keeper = session.get(Officer, device.keeper_officer_id)
    return _facts(
        "evidence",
        evidence.sha256,
        path=path,
        station=dock.station_id if dock else None,
        evidence=row_facts(evidence),
        dock=row_facts(dock),
        device=row_facts(device),
        officer=row_facts(officer),
        keeper=row_facts(keeper),
    )


def derivative_facts(derivative: Derivative, original: Evidence) -> dict[str, Any]:
    return _facts(
        "derivative",
        derivative.sha256,
        original={"evidence_id": original.id, "sha256": original.sha256},
        derivative=row_facts(derivative),
    )


def seal_document(
    store: WormStore,
    sha256: str,
    subject: str,
    row: SQLModel,
    event: AuditEvent | RegisterEntry,
) -> str:
    """A document presented with a request (ROW: its AccessDocument) or a signed stop
    statement (ROW: the StopRecord); SUBJECT says which ("request:7", "stop:3")."""
    part = str(getattr(row, "id", "") or "")
    facts = _facts("document", sha256, subject=subject, row=row_facts(row))
    return write(store, facts, event, part)


@dataclass(frozen=True)
class Seal:
    name: str
    body: dict[str, Any]

    @property
    def sha256(self) -> str:
        return str(self.body["sha256"])

    @property
    def kind(self) -> str:
        return str(self.body["type"])

    @property
    def event_hash(self) -> str:
        return str(self.body["event"]["hash"])


def read(store: WormStore, name: str) -> Seal:
    return Seal(name, json.loads(store.read_record(name)))


def seals_of(store: WormStore, sha256: str) -> list[Seal]:
    """Every seal record of one object, in name order."""
    return [read(store, n) for n in store.record_names(f"seal/{sha256[:2]}/{sha256}/")]


def all_seals(store: WormStore) -> Iterator[Seal]:
    for name in store.record_names("seal/"):
        yield read(store, name)
