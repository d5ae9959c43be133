"""What `evault verify` holds against the store, read once: the database's rows of sealed
objects, and the store's seal records and deletion records (S3 answers a list per prefix,
so each is listed once rather than per object)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

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

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.evidence if e.id is not None}

    def device_id(self, pk: int | None) -> str | None:
        device = self.devices.get(pk) if pk is not None else None
        return device.device_id if device else None

    def officer_id(self, pk: int | None) -> str | None:
        officer = self.officers.get(pk) if pk is not None else None
        return officer.officer_id if officer else None

    def in_chain(self, seal: Seal) -> bool:
        event = seal.body.get("event") or {}
        return (str(event.get("chain")), int(event.get("seq") or 0), seal.event_hash) in self.chain


def _deleted(store: WormStore) -> set[str]:
    found = set()
    for name in store.record_names("deleted/"):
        parts = name.split("/")
        if len(parts) >= 4:
            found.add(parts[2])
    return found


def load(session: Session, store: WormStore) -> Inventory:
    by_sha: dict[str, list[Seal]] = defaultdict(list)
    for seal in seals.all_seals(store):
        by_sha[seal.sha256].append(seal)
    chain = {("audit", i, h) for i, h in session.exec(select(AuditEvent.id, AuditEvent.hash))}
    chain |= {
        ("register", s, h) for s, h in session.exec(select(RegisterEntry.seq, RegisterEntry.hash))
    }
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
        deleted=_deleted(store),
        purging=set(session.exec(purging)),
        rebuilt=session.exec(
            select(AuditEvent.action).order_by(col(AuditEvent.id)).limit(1)
        ).first()
        == REBUILT,
    )
