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

import errno
import hashlib
import json
import logging
import os
import stat
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
from vault.errors import ObjectMissing, StoreError
from vault.store import LocalWormStore, WormStore
from vault.store.base import check_record_name

log = logging.getLogger(__name__)

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
    name, body = record(facts, event, part)
    store.put_record(name, body)
    return name


def record(
    facts: dict[str, Any], event: AuditEvent | RegisterEntry, part: str = ""
) -> tuple[str, bytes]:
    """The seal record write() would seal: (name, body), for a caller that seals several
    at once (the ingest's group commit)."""
    body = {**facts, "event": {**_event(event), "at": event.at.isoformat()}}
    return seal_name(str(facts["sha256"]), event.hash, part), canonical(body)


def put_all(store: WormStore, items: list[tuple[str, bytes]]) -> None:
    """Seal every (name, body): as one group where the store can (the local store's
    put_records), else one by one."""
    group = getattr(store, "put_records", None)
    if group is not None and isinstance(store, LocalWormStore):
        group(items)
        return
    for name, body in items:
        store.put_record(name, body)


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

    @property
    def part(self) -> str:
        """What tells apart two documents of one event (the document row's id)."""
        if self.kind != "document":
            return ""
        return str((self.body.get("row") or {}).get("id") or "")

    @property
    def expected_name(self) -> str:
        """The name the vault gives a record of these facts (seal_name)."""
        return seal_name(self.sha256, self.event_hash, self.part)

    @property
    def canonical(self) -> bool:
        return self.name == self.expected_name

    @property
    def sealing_event(self) -> tuple[str, int, str]:
        event = self.body["event"]
        return (str(event["chain"]), int(event["seq"]), str(event["hash"]))

    @property
    def identity(self) -> tuple[Any, ...]:
        """What one sealing is: its event, and for a document which one of the event."""
        return (*self.sealing_event, self.kind, self.part)


# A record is read whole into memory: one larger than this is no record the vault wrote.
MAX_RECORD = 1 << 20


class BadRecord(ValueError):
    """A record that is not what the vault writes: unreadable, too large, not its format."""


def read_bounded(store: WormStore, name: str, limit: int = MAX_RECORD) -> bytes:
    """A record's bytes, at most LIMIT of them. A local store's file is opened without
    following a link and only when it is a plain file (never a FIFO, a device, a link to
    somewhere else); other stores answer the record whole, held to LIMIT after."""
    local = getattr(store, "spool", store)
    if isinstance(local, LocalWormStore):
        data = _read_local(local, name, limit)
        if data is not None or local is store:
            if data is None:
                raise BadRecord("no such record")
            return data
    try:
        data = store.read_record(name)
    except ObjectMissing:
        raise BadRecord("no such record") from None
    except (StoreError, OSError) as exc:
        raise BadRecord(f"cannot be read: {exc}") from exc
    if len(data) > limit:
        raise BadRecord(f"larger than {limit} bytes")
    return data


def _read_local(store: LocalWormStore, name: str, limit: int) -> bytes | None:
    try:
        path = store.root / "records" / check_record_name(name)
    except StoreError as exc:
        raise BadRecord(str(exc)) from exc
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadRecord("a symbolic link, not a record") from None
        raise BadRecord(f"cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadRecord("not a plain file")
        if info.st_size > limit:
            raise BadRecord(f"larger than {limit} bytes ({info.st_size})")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise BadRecord(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise BadRecord(f"larger than {limit} bytes")
    return data


def read_json(store: WormStore, name: str) -> dict[str, Any]:
    """A record that must hold one JSON object."""
    data = read_bounded(store, name)
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise BadRecord("not JSON") from None
    if not isinstance(body, dict):
        raise BadRecord(f"not a JSON object but a {type(body).__name__}")
    return body


def is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value)


HEX = frozenset("0123456789abcdef")
# What each kind of record must hold (its dumps, read by verify and rebuild).
_DUMPS: dict[str, dict[str, tuple[str, ...]]] = {
    "evidence": {"evidence": ("sha256", "storage_key", "kind"), "dock": ()},
    "derivative": {"derivative": ("sha256", "storage_key", "kind"), "original": ("sha256",)},
    "document": {"row": ()},
}
_OPTIONAL = {"officer": "officer_id", "keeper": "officer_id", "device": "device_id"}


def check_body(body: dict[str, Any]) -> None:
    """BadRecord unless BODY is a seal record as write() makes them."""
    kind = body.get("type")
    if kind not in KINDS:
        raise BadRecord(f"no known type ({kind!r})")
    if not is_sha256(body.get("sha256")):
        raise BadRecord("no sha256")
    check_event(body.get("event"))
    for dump, keys in _DUMPS[str(kind)].items():
        value = body.get(dump)
        if not isinstance(value, dict):
            raise BadRecord(f"no {dump}")
        missing = [k for k in keys if not isinstance(value.get(k), str)]
        if missing:
            raise BadRecord(f"its {dump} has no {', '.join(missing)}")
    if kind == "evidence":
        if body["evidence"]["sha256"] != body["sha256"]:
            raise BadRecord("its evidence row names other bytes")
        for role, key in _OPTIONAL.items():
            value = body.get(role)
            if value is not None and not (isinstance(value, dict) and value.get(key)):
                raise BadRecord(f"its {role} has no {key}")
    if kind == "derivative" and body["derivative"]["sha256"] != body["sha256"]:
        raise BadRecord("its derivative row names other bytes")
    if kind == "document" and not isinstance(body.get("subject"), str):
        raise BadRecord("no subject")


def check_event(event: Any) -> None:
    if not isinstance(event, dict):
        raise BadRecord("no event")
    if event.get("chain") not in ("audit", "register"):
        raise BadRecord("its event names no chain")
    seq = event.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise BadRecord(f"its event has no sequence ({seq!r})")
    if not is_sha256(event.get("hash")):
        raise BadRecord("its event has no hash")
    at = event.get("at")
    try:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRecord(f"its event has no time with a zone ({at!r})")


def read(store: WormStore, name: str) -> Seal:
    """One seal record; BadRecord when it is not one the vault wrote."""
    body = read_json(store, name)
    check_body(body)
    return Seal(name, body)


def seals_of(store: WormStore, sha256: str, bad: list[tuple[str, str]] | None = None) -> list[Seal]:
    """Every seal record of one object, in name order (bad ones: see all_seals)."""
    return list(_read_each(store, f"seal/{sha256[:2]}/{sha256}/", bad))


def all_seals(store: WormStore, bad: list[tuple[str, str]] | None = None) -> Iterator[Seal]:
    """Every seal record, in name order. One that is not a seal record (not JSON, not its
    format, a link, too large) is left out: added to BAD as (name, reason), logged when no
    list is given."""
    return _read_each(store, "seal/", bad)


def _read_each(store: WormStore, prefix: str, bad: list[tuple[str, str]] | None) -> Iterator[Seal]:
    for name in store.record_names(prefix):
        try:
            yield read(store, name)
        except BadRecord as exc:
            if bad is None:
                log.warning("not a seal record, left out record=%s reason=%s", name, exc)
            else:
                bad.append((name, str(exc)))
