"""Anchors: the heads of the audit chain and of the access register, sealed into the WORM
store as they grow, so that verification can hold each chain against something the
database cannot change (issue 15).

An anchor is a record anchor/<chain>/<seq>-<hash>.json holding the chain's head: its
sequence (the register's seq, the audit event's id), its hash, when and at which station.
One is written at every signing of the register, every `store.anchor_every` entries, and
at least every `store.anchor_minutes` while the chain grows (the service's timer calls
tick()). A chain whose rows no longer hold an anchored head has lost entries: a cut tail,
a wiped table, a rewritten stretch — found without the signing key.

Anchors are written after the commit that made the head (an anchor never names an entry
that was rolled back); one that cannot be written is logged and retried by the next
commit or tick, never failing the act that was already done.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from vault.config import Settings
from vault.db.audit import HEADS_KEY
from vault.db.models import AuditEvent, RegisterEntry
from vault.errors import StoreError
from vault.sealing import seals
from vault.sealing.seals import BadRecord
from vault.store import WormStore
from vault.timeutil import Clock, as_utc

log = logging.getLogger(__name__)

CHAINS = ("audit", "register")


@dataclass(frozen=True)
class Anchor:
    chain: str
    seq: int
    hash: str
    at: datetime
    station: str

    @property
    def name(self) -> str:
        return f"anchor/{self.chain}/{self.seq:012d}-{self.hash[:16]}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at.isoformat(),
            "station": self.station,
        }


def write(store: WormStore, anchor: Anchor) -> None:
    body = json.dumps(anchor.to_json(), sort_keys=True, separators=(",", ":")).encode()
    store.put_record(anchor.name, body)


def _read(store: WormStore, name: str) -> Anchor:
    """One anchor; BadRecord when it is not one the vault wrote (its name included)."""
    data = seals.read_json(store, name)
    seq, head, at, station = (data.get(k) for k in ("seq", "hash", "at", "station"))
    chain = name.split("/")[1] if name.count("/") >= 2 else None
    if data.get("chain") not in CHAINS or data.get("chain") != chain:
        raise BadRecord(f"names no chain, or another than its folder ({data.get('chain')!r})")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise BadRecord(f"no sequence ({seq!r})")
    if not seals.is_sha256(head):
        raise BadRecord("no hash")
    try:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRecord(f"no time with a zone ({at!r})")
    if not isinstance(station, str):
        raise BadRecord("no station")
    anchor = Anchor(str(chain), seq, str(head), moment, station)
    if anchor.name != name:
        raise BadRecord(f"not named as its head says ({anchor.name})")
    return anchor


def _left_out(name: str, exc: BadRecord, bad: list[tuple[str, str]] | None) -> None:
    if bad is None:
        log.warning("not an anchor, left out record=%s reason=%s", name, exc)
    else:
        bad.append((name, str(exc)))


def read_all(
    store: WormStore, chain: str, bad: list[tuple[str, str]] | None = None
) -> list[Anchor]:
    """Every anchor of a chain, lowest sequence first. One that is not an anchor (not JSON,
    keys missing, no zone ...) is left out: added to BAD as (name, reason), logged when no
    list is given."""
    found = []
    for name in store.record_names(f"anchor/{chain}/"):
        try:
            found.append(_read(store, name))
        except BadRecord as exc:
            _left_out(name, exc, bad)
    return sorted(found, key=lambda a: a.seq)


def newest(store: WormStore, chain: str, bad: list[tuple[str, str]] | None = None) -> Anchor | None:
    """The anchor of the highest sequence: names sort by their zero-padded sequence, so
    only the last one is read (and those before it, while the last are not anchors)."""
    for name in reversed(list(store.record_names(f"anchor/{chain}/"))):
        try:
            return _read(store, name)
        except BadRecord as exc:
            _left_out(name, exc, bad)
    return None


def heads(session: Session) -> dict[str, tuple[int, str]]:
    """The chains' heads as the database has them now: (seq, hash) per chain."""
    found: dict[str, tuple[int, str]] = {}
    event = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    if event is not None and event.id is not None:
        found["audit"] = (event.id, event.hash)
    entry = session.exec(
        select(RegisterEntry).order_by(col(RegisterEntry.seq).desc()).limit(1)
    ).first()
    if entry is not None:
        found["register"] = (entry.seq, entry.hash)
    return found


class Anchorer:
    """When a head is due an anchor, for one opened vault (its processes' threads share it)."""

    def __init__(self, store: Callable[[], WormStore], settings: Settings, clock: Clock) -> None:
        self._store = store
        self._every = settings.store.anchor_every
        self._minutes = timedelta(minutes=settings.store.anchor_minutes)
        self._station = settings.station_id
        self._clock = clock
        self._last: dict[str, Anchor | None] = {}
        self._lock = threading.Lock()

    def _newest(self, chain: str) -> Anchor | None:
        if chain not in self._last:
            self._last[chain] = newest(self._store(), chain)
        return self._last[chain]

    def offer(self, chain: str, seq: int, head_hash: str, force: bool = False) -> Anchor | None:
        """Anchor CHAIN at (SEQ, HEAD_HASH) if it is due; the anchor written, or None."""
        now = self._clock.now()
        with self._lock:
            last = self._newest(chain)
            if last is not None and seq <= last.seq:
                return None
            due = (
                force
                or last is None
                or seq - last.seq >= self._every
                or as_utc(now) - as_utc(last.at) >= self._minutes
            )
            if not due:
                return None
            anchor = Anchor(chain, seq, head_hash, now, self._station)
            write(self._store(), anchor)
            self._last[chain] = anchor
            log.info("chain anchored chain=%s seq=%d", chain, seq)
            return anchor

    def after_commit(self, session: Session) -> None:
        pending = session.info.pop(HEADS_KEY, None)
        for chain, (row, force) in (pending or {}).items():
            seq = row.id if isinstance(row, AuditEvent) else row.seq
            if seq is None:
                continue
            try:
                self.offer(chain, seq, row.hash, force)
            except (StoreError, OSError, ValueError) as exc:
                log.warning("chain not anchored chain=%s seq=%s error=%s", chain, seq, exc)

    def tick(self, session: Session) -> list[Anchor]:
        """Anchor every head that moved since its last anchor once ANCHOR_MINUTES have
        passed (the service's timer, `evault verify`): a quiet chain ends anchored."""
        written = []
        for chain, (seq, head_hash) in heads(session).items():
            with self._lock:
                self._last.pop(chain, None)  # another process may have anchored it since
            try:
                anchor = self.offer(chain, seq, head_hash)
            except (StoreError, OSError, ValueError) as exc:
                log.warning("chain not anchored chain=%s seq=%s error=%s", chain, seq, exc)
                continue
            if anchor is not None:
                written.append(anchor)
        return written

    def anchor_now(self, session: Session) -> list[Anchor]:
        """Anchor every head that moved, due or not (after `evault access sign`, a rebuild)."""
        written = []
        for chain, (seq, head_hash) in heads(session).items():
            with self._lock:
                self._last.pop(chain, None)
            anchor = self.offer(chain, seq, head_hash, force=True)
            if anchor is not None:
                written.append(anchor)
        return written
