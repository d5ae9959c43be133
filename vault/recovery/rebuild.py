"""`evault store rebuild-index`: the database made again from the WORM store alone, after
it was lost, or instead of one restored from an old dump (issue 15).

Into an empty database it writes, from the seal records (seal_rows.py), every clip with
its original id and facts, the dockings, cameras and officers they were sealed with, one
sighting per sealing, the derivatives and stop-record statements; from the store itself
each object's retention and hold as the store keeps them (never the seal record's, never
earlier), and which objects the purge removed (its deleted/ records). The chains cannot
be rebuilt, only continued: one audit event "index.rebuilt" follows the newest audit
anchor, and one register entry "rebuilt" the newest register anchor, so that verification
holds the new chain to the old one. Everything goes in one transaction: a crash leaves
the database empty, and the next run starts again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, text
from sqlalchemy import inspect as sa_inspect
from sqlmodel import Session, SQLModel, select

from vault.access import register
from vault.context import Vault
from vault.db import audit
from vault.db.engine import lock_for_transaction
from vault.db.models import (
    AccessDocument,
    AuditEvent,
    Derivative,
    Device,
    DockSession,
    Evidence,
    Hold,
    Officer,
    RegisterEntry,
    Sighting,
    StopRecord,
    UTCDateTime,
)
from vault.errors import Conflict
from vault.media.jobs import MEDIA_KINDS
from vault.recovery import seal_rows, store_state
from vault.sealing.anchors import CHAINS, Anchor, read_all
from vault.sealing.seals import all_seals
from vault.store import WormStore

log = logging.getLogger(__name__)

BATCH = 2000  # rows per INSERT statement
HOLD_REASON = (
    "rebuilt from the WORM store: a hold stands on this object there; the reason, and who "
    "placed it, were lost with the database"
)
# Tables that must be empty, and the tables written with explicit ids.
MUST_BE_EMPTY: tuple[tuple[type[SQLModel], str], ...] = (
    (Evidence, "evidence"),
    (Derivative, "derivatives"),
    (AccessDocument, "access documents"),
    (StopRecord, "stop records"),
    (DockSession, "dockings"),
    (AuditEvent, "audit events"),
    (RegisterEntry, "register entries"),
)
NUMBERED = (
    "officer",
    "device",
    "dock_session",
    "evidence",
    "derivative",
    "stop_record",
    "audit_event",
)
NOT_REBUILT = (
    "audit events and access-register entries: the chains continue from their newest "
    "anchors, which prove what came before without restoring it; entries made after the "
    "newest anchors are gone",
    "access requests, approvals, grants, revocations and principals (re-add the staff), and "
    "so the documents presented with requests (their sealed copies stay in the store)",
    "cases, case links, handlers and litigation; holds' reasons (a hold that stands in the "
    "store comes back as a placeholder hold; retain-until dates come from the store, so "
    "nothing is deleted early)",
    "retention classes, long-term categories and confidentiality markings set after sealing",
    "sightings other than the sealing one (re-dockings, IMP copies), erasures from cameras, "
    "and the dockings' ends, counts and status",
    "media jobs and probe results (the media worker probes again and remakes the "
    "derivatives that have no seal record)",
    "recording sessions, gaps and their reasons, narration checks, spot checks, late "
    "reasons, stop-record approvals",
    "purge jobs and purge records (purged clips are marked purged from the store's own "
    "deletion records), device assignments, register signatures",
    "the unit registry (re-add with `evault unit add`) and the cameras' custody ledger "
    "(checkouts, returns, upkeep: their audit events stay in the anchored chain); the rows "
    "of the cameras' sealed logs (their bytes stay in the store as custody/ records)",
    "the clips' verification: they come back as sealed; run `evault evidence verify --all`",
)


@dataclass
class RebuildReport:
    seal_records: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    anchors: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    purged: int = 0
    unsealed_objects: list[str] = field(default_factory=list)
    missing_objects: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    renumbered: list[dict[str, Any]] = field(default_factory=list)
    register_signed: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "seal_records": self.seal_records,
            "rows": self.rows,
            "anchors": self.anchors,
            "purged": self.purged,
            # in the store but in no seal record: sealed before seal records existed
            "unsealed_objects": self.unsealed_objects,
            # a seal record whose object is gone, with no record of the purge deleting it
            "missing_objects": self.missing_objects,
            "skipped": self.skipped,
            # seal records of one sealing event that disagree: the first by name was taken
            "conflicts": self.conflicts,
            "renumbered": self.renumbered,
            "register_signed": self.register_signed,
            "sightings_partial": True,
            "not_rebuilt": list(NOT_REBUILT),
            "seconds": round(self.seconds, 3),
        }


def refuse_unless_empty(session: Session) -> None:
    held = []
    for model, what in MUST_BE_EMPTY:
        count = session.exec(select(func.count()).select_from(model)).one()
        if count:
            held.append(f"{count} {what}")
    if held:
        raise Conflict(
            f"the database already holds records ({', '.join(held)}); rebuild-index only "
            "fills an empty one: point database.url at a new, empty database and run it again"
        )


def _evidence_state(
    store: WormStore, rows: list[dict[str, Any]], deleted: dict[str, Any], report: RebuildReport
) -> None:
    for row in rows:
        row.update(status="sealed", verified_at=None, verify_error=None, media=None)
        row["media_state"] = "pending" if row["kind"] in MEDIA_KINDS else "not_media"
        state = store_state.place(store, row, deleted)
        if state == "purged":
            row["status"] = "purged"
            report.purged += 1
        elif state == "missing":
            row["status"] = "failed"
            row["verify_error"] = "object missing from the store at rebuild-index"
            report.missing_objects.append(
                {
                    "subject": f"evidence:{row['id']}",
                    "sha256": row["sha256"],
                    "key": row["storage_key"],
                }
            )


def _derivative_state(
    store: WormStore, rows: list[dict[str, Any]], deleted: dict[str, Any], report: RebuildReport
) -> None:
    for row in rows:
        if store_state.place(store, row, deleted) == "missing":
            report.missing_objects.append(
                {
                    "subject": f"derivative:{row['id']}",
                    "sha256": row["sha256"],
                    "key": row["storage_key"],
                }
            )


def _columns(model: type[SQLModel]) -> list[tuple[str, bool, Any]]:
    """Each column of MODEL: its name, whether it holds a time, and its default."""
    table = {c.key: isinstance(c.type, UTCDateTime) for c in sa_inspect(model).columns}
    return [(name, table[name], info) for name, info in model.model_fields.items() if name in table]


def _insert(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> int:
    """Insert ROWS (dumps: times as ISO 8601, columns missing from an older dump take
    their defaults) in batches of BATCH. Built by hand rather than through model_validate,
    which costs more than the whole rest of a rebuild."""
    columns = _columns(model)
    values = []
    for row in rows:
        value: dict[str, Any] = {}
        for name, is_time, info in columns:
            if name in row:
                item = row[name]
                value[name] = (
                    store_state.as_date(item) if is_time and isinstance(item, str) else item
                )
            else:
                value[name] = info.get_default(call_default_factory=True)
        values.append(value)
    for start in range(0, len(values), BATCH):
        session.execute(insert(model), values[start : start + BATCH])
    return len(values)


def _reset_sequences(session: Session) -> None:
    """PostgreSQL: rows went in with their own ids, so move each id sequence past them
    (SQLite takes the next id after the highest by itself)."""
    if session.connection().dialect.name != "postgresql":
        return
    for table in NUMBERED:  # our own table names, never user text
        sql = (
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f'COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1, false)'
        )
        session.execute(text(sql))


def _anchor_json(anchor: Anchor | None) -> dict[str, Any] | None:
    if anchor is None:
        return None
    return {"seq": anchor.seq, "hash": anchor.hash, "at": anchor.at.isoformat()}


def _continue_audit(
    vault: Vault, session: Session, anchor: Anchor | None, detail: dict[str, object]
) -> AuditEvent:
    """The audit chain's first event after the loss: it follows the newest anchored head
    (its id the anchor's sequence + 1), so the chain goes on from what the store proves."""
    lock_for_transaction(session, "audit_chain")
    event = AuditEvent(
        id=anchor.seq + 1 if anchor else None,
        at=vault.clock.now(),
        station_id=vault.settings.station_id,
        actor=vault.actor("recovery").name,
        action="index.rebuilt",
        subject="store",
        detail=detail,
        prev_hash=anchor.hash if anchor else audit.GENESIS,
        hash="",
    )
    event.hash = audit.event_hash(event.prev_hash, event)
    session.add(event)
    session.flush()
    audit.note_head(session, "audit", event, True)
    return event


def _continue_register(
    vault: Vault, session: Session, anchor: Anchor, event: AuditEvent
) -> tuple[RegisterEntry, bool]:
    """The register's first entry after the loss, following its newest anchor; signed
    when this process holds the key (so the head file names this head, not a lost one)."""
    lock_for_transaction(session, "access_register")
    entry = RegisterEntry(
        seq=anchor.seq + 1,
        at=vault.clock.now(),
        station_id=vault.settings.station_id,
        os_user=vault.user,
        event="rebuilt",
        what="the database, rebuilt from the WORM store",
        reason="evault store rebuild-index",
        detail={"anchor": _anchor_json(anchor), "audit_event": event.id},
        prev_hash=anchor.hash,
        hash="",
    )
    entry.hash = register.entry_hash(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    audit.note_head(session, "register", entry, True)
    return entry, register.sign_head(vault, session, entry) is not None


def _holds(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """A placeholder hold for each clip the store holds, so that the next change to its
    retention (which counts hold rows) does not lift the store's hold (RT-4)."""
    return [
        {
            "kind": "legal",
            "evidence_id": row["id"],
            "reason": HOLD_REASON,
            "placed_by": "rebuild-index",
            "placed_at": now,
        }
        for row in rows
        if row.get("legal_hold")
    ]


def rebuild_index(vault: Vault) -> RebuildReport:
    """Fill an empty database from the WORM store; what could not be rebuilt is listed."""
    began = time.perf_counter()
    report = RebuildReport()
    with vault.session() as session:
        refuse_unless_empty(session)
    store = vault.store
    bad: list[tuple[str, str]] = []
    sealed, misnamed = seal_rows.named(all_seals(store, bad))
    found = seal_rows.plan(sealed)
    found.skipped[:0] = misnamed
    report.seal_records = found.seal_records
    deleted = store_state.deleted(store, bad)
    # An anchor that cannot be read is never continued from (nor any that is not one).
    newest = {chain: next(reversed(read_all(store, chain, bad)), None) for chain in CHAINS}
    report.anchors = {chain: _anchor_json(anchor) for chain, anchor in newest.items()}
    evidence = seal_rows.evidence_rows(found)
    derivatives = seal_rows.derivative_rows(found)
    _evidence_state(store, evidence, deleted, report)
    _derivative_state(store, derivatives, deleted, report)
    tables: list[tuple[type[SQLModel], list[dict[str, Any]]]] = [
        (Officer, seal_rows.officer_rows(found)),
        (Device, seal_rows.device_rows(found)),
        (DockSession, _finished(seal_rows.dock_rows(found), found)),
        (Evidence, evidence),
        (Sighting, seal_rows.sighting_rows(found)),
        (Derivative, derivatives),
        (StopRecord, seal_rows.stop_rows(found)),
        (Hold, _holds(evidence, vault.clock.now())),
    ]
    report.unsealed_objects = store_state.unsealed(store, found.sealed_sha256)
    report.skipped = found.skipped + [
        {"record": name, "subject": name.split("/")[0], "reason": f"not a record: {reason}"}
        for name, reason in bad
    ]
    report.conflicts = found.conflicts
    report.renumbered = [
        {"table": table.name, "from": old, "to": new}
        for table in found.tables()
        for old, new in table.renumbered
    ]
    with vault.session() as session:
        refuse_unless_empty(session)  # again, now in the writing transaction
        for model, rows in tables:
            report.rows[str(model.__tablename__)] = _insert(session, model, rows)
        detail: dict[str, object] = {
            "rows": dict(report.rows),
            "seal_records": report.seal_records,
            "anchors": dict(report.anchors),
            "purged": report.purged,
            "unsealed_objects": len(report.unsealed_objects),
            "missing_objects": len(report.missing_objects),
            "skipped": len(report.skipped),
        }
        event = _continue_audit(vault, session, newest["audit"], detail)
        report.rows["audit_event"] = 1
        report.rows["register_entry"] = 0
        if newest["register"] is not None:
            _, report.register_signed = _continue_register(
                vault, session, newest["register"], event
            )
            report.rows["register_entry"] = 1
        _reset_sequences(session)
        session.commit()
    with vault.session() as session:
        vault.anchorer.anchor_now(session)
    report.seconds = time.perf_counter() - began
    log.info(
        "index rebuilt from the store seal_records=%d evidence=%d purged=%d missing=%d "
        "unsealed=%d seconds=%.1f",
        report.seal_records,
        report.rows.get("evidence", 0),
        report.purged,
        len(report.missing_objects),
        len(report.unsealed_objects),
        report.seconds,
    )
    return report


def _finished(rows: list[dict[str, Any]], found: seal_rows.Plan) -> list[dict[str, Any]]:
    """A docking as its first clip's seal record saw it was still reading: close it at its
    last sealing, marked "rebuilt" (so no daemon takes it for one it left unfinished),
    with the clips it sealed counted."""
    last: dict[int, datetime] = {}
    sealed: dict[int, int] = {}
    for sha256, seals in found.sightings_of.items():
        first_dock = found.docks.ids[seal_rows.dock_key(found.evidence.source[sha256].body["dock"])]
        sealed[first_dock] = sealed.get(first_dock, 0) + 1
        for seal in seals:
            dock = found.docks.ids[seal_rows.dock_key(seal.body["dock"])]
            at = seal_rows.sealed_at(seal)
            last[dock] = max(last.get(dock, at), at)
    for row in rows:
        if row.get("finished_at") is None:
            row["finished_at"] = last.get(row["id"], store_state.as_date(row.get("started_at")))
            row["status"] = "rebuilt"
        row["clips_sealed"] = max(int(row.get("clips_sealed") or 0), sealed.get(row["id"], 0))
    return rows
