"""What `evault verify` holds against the store, read once: the database's rows of sealed
objects, and the store's seal records and deletion records (S3 answers a list per prefix,
so each is listed once rather than per object)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from vault.db.models import (
    AccessDocument,
    AuditEvent,
    Derivative,
    Device,
    Evidence,
    Officer,
    PurgeRecord,
    RegisterEntry,
    StopRecord,
)
from vault.errors import StoreError
from vault.recovery.chains import REBUILT
from vault.sealing import seals
from vault.sealing.seals import Seal
from vault.store import WormStore
from vault.timeutil import as_utc

SPOOL = "spool:"


def exists(store: WormStore, key: str) -> bool | None:
    """Whether the store holds KEY; None when KEY is no key of this store (an edited row)."""
    try:
        return store.exists(key)
    except StoreError:
        return None


def bare_key(key: str | None) -> str | None:
    """A storage key without the spool's prefix (the upload drops it; not a fact)."""
    return key.removeprefix(SPOOL) if key is not None else None


@dataclass
class Inventory:
    evidence: list[Evidence]
    derivatives: list[Derivative]
    documents: list[AccessDocument]
    stops: list[StopRecord]  # those with a sealed statement
    devices: dict[int, Device]
    officers: dict[int, Officer]
    seals: dict[str, list[Seal]]  # sha256: its seal records, in name order
    chain: set[tuple[str, int, str]]  # (chain, seq, hash) of every entry in the database
    deleted: set[str]  # SHA-256 of objects the store itself recorded deleting
    purging: set[int]  # evidence ids whose purge is claimed and not yet finished
    rebuilt: bool = False  # the database was rebuilt from the store (rebuild.py)
    by_id: dict[int, Evidence] = field(default_factory=dict)
    # (chain, seq, hash) of each sealing event: the "seal_facts" its detail carries
    vouched: dict[tuple[str, int, str], str] = field(default_factory=dict)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (record, why it is no record)
    rebuilt_at: datetime | None = None  # when (the first event's time, when rebuilt)

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.evidence if e.id is not None}

    def device_id(self, pk: int | None) -> str | None:
        device = self.devices.get(pk) if pk is not None else None
        return device.device_id if device else None

    def officer_id(self, pk: int | None) -> str | None:
        officer = self.officers.get(pk) if pk is not None else None
        return officer.officer_id if officer else None

    def in_chain(self, seal: Seal) -> bool:
        return seal.sealing_event in self.chain

    def forged(self, seal: Seal) -> bool:
        """A seal record whose sealing event carries the digest of other facts."""
        digest = self.vouched.get(seal.sealing_event)
        return digest is not None and digest != seals.facts_digest(seals.facts_of(seal.body))

    def trusted(self, seal: Seal) -> bool:
        """A record named as the vault names it and not disowned by its sealing event."""
        return seal.canonical and not self.forged(seal)


SEALING = ("evidence.sealed", "media.derivative", "seal.backfilled")


def deleted_records(store: WormStore, bad: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """The store's records of the purge deleting an object, by SHA-256: the latest of each
    (one that is not such a record goes to BAD and counts for no deletion)."""
    found: dict[str, dict[str, Any]] = {}
    for name in store.record_names("deleted/"):
        parts = name.split("/")
        try:
            if len(parts) != 4 or not seals.is_sha256(parts[2]):
                raise seals.BadRecord("not named deleted/ab/<sha256>/<n>.json")
            body = seals.read_json(store, name)
            if body.get("sha256") != parts[2]:
                raise seals.BadRecord("names no object, or another than its folder")
            if not isinstance(body.get("deleted_at"), str):
                raise seals.BadRecord("no time of the deletion")
        except seals.BadRecord as exc:
            bad.append((name, str(exc)))
            continue
        found[parts[2]] = body
    return found


def _vouched(session: Session) -> dict[tuple[str, int, str], str]:
    found = {}
    sealing = select(AuditEvent.id, AuditEvent.hash, AuditEvent.detail).where(
        col(AuditEvent.action).in_(SEALING)
    )
    for event_id, event_hash, detail in session.exec(sealing):
        digest = detail.get("seal_facts") if isinstance(detail, dict) else None
        if event_id is not None and isinstance(digest, str):
            found[("audit", int(event_id), event_hash)] = digest
    return found


def load(session: Session, store: WormStore) -> Inventory:
    by_sha: dict[str, list[Seal]] = defaultdict(list)
    bad: list[tuple[str, str]] = []
    for seal in seals.all_seals(store, bad):
        by_sha[seal.sha256].append(seal)
    chain = {("audit", i, h) for i, h in session.exec(select(AuditEvent.id, AuditEvent.hash))}
    chain |= {
        ("register", s, h) for s, h in session.exec(select(RegisterEntry.seq, RegisterEntry.hash))
    }
    first = session.exec(select(AuditEvent).order_by(col(AuditEvent.id)).limit(1)).first()
    stops = select(StopRecord).where(col(StopRecord.statement_sha256).is_not(None))
    purging = select(PurgeRecord.evidence_id).where(PurgeRecord.state == "deleting")
    return Inventory(
        evidence=list(session.exec(select(Evidence).order_by(col(Evidence.id)))),
        derivatives=list(session.exec(select(Derivative).order_by(col(Derivative.id)))),
        documents=list(session.exec(select(AccessDocument).order_by(col(AccessDocument.id)))),
        stops=list(session.exec(stops.order_by(col(StopRecord.id)))),
        devices={d.id: d for d in session.exec(select(Device)) if d.id is not None},
        officers={o.id: o for o in session.exec(select(Officer)) if o.id is not None},
        seals=dict(by_sha),
        chain={(c, int(s), h) for c, s, h in chain if s is not None},
        deleted=set(deleted_records(store, bad)),
        purging=set(session.exec(purging)),
        rebuilt=first is not None and first.action == REBUILT,
        rebuilt_at=as_utc(first.at) if first is not None and first.action == REBUILT else None,
        vouched=_vouched(session),
        bad=bad,
    )
