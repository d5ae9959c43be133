"""Finding evidence and checking it against the store (IN-4; OV-3: altered or lost records)."""

from __future__ import annotations

import base64
import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select as select_columns  # any number of columns
from sqlalchemy import union
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, or_, select

from vault.cases import units
from vault.cases.cases import find_case, normalise_number
from vault.cases.retention import active_holds, linked_cases
from vault.context import Vault
from vault.db.models import (
    AccessDocument,
    Case,
    CaseLink,
    Derivative,
    Device,
    DockSession,
    Evidence,
    Officer,
    Principal,
    PurgeRecord,
    Sighting,
    StopRecord,
)
from vault.errors import Conflict, NotFound, UsageError, VaultError
from vault.i18n import N_
from vault.ingest import records
from vault.media.derivatives import derivatives_json, media_json
from vault.store import WormStore
from vault.timeutil import iso


@dataclass(frozen=True)
class Filters:
    device_id: str | None = None  # the camera that recorded it, or any that delivered it
    officer_id: str | None = None  # the officer who recorded it, or any who docked it
    recorded_by: str | None = None  # only the officer who recorded it (an `own` scope)
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    case_number: str | None = None
    retention_class: str | None = None
    limit: int | None = None  # a page's rows at most
    after: str | None = None  # a page's cursor: the rows after it (page_evidence)
    # The web console's search (issue 19): the record's status, the unit of the officer who
    # recorded it (through the unit registry), words of the officer's or the case's name.
    status: str | None = None
    unit: str | None = None
    officer_name: str | None = None
    case_name: str | None = None


def _row(evidence: Evidence, device: Device | None, officer: Officer | None) -> dict[str, Any]:
    return {
        "evidence_id": evidence.id,
        "sha256": evidence.sha256,
        "size": evidence.size,
        "kind": evidence.kind,
        "device_id": device.device_id if device else None,
        "officer_id": officer.officer_id if officer else None,
        "recorded_at": iso(evidence.recorded_at),
        "recorded_at_corrected": iso(evidence.recorded_at_corrected),
        "camera_time": evidence.camera_time,
        "camera_time_source": evidence.camera_time_source,
        "file_name": evidence.file_name,
        "important": evidence.important,
        "status": evidence.status,
        "sealed_at": iso(evidence.sealed_at),
        "verified_at": iso(evidence.verified_at),
        "retention_class": evidence.retention_class,
        "retain_until": iso(evidence.retain_until),  # None: permanent
        "hold": evidence.legal_hold,
        "purged_at": iso(evidence.purged_at),
    }


def _recorded_within(evidence: Any, filters: Filters) -> list[Any]:
    """The span of FILTERS on the corrected recording time of EVIDENCE (a table or alias)."""
    within = []
    if filters.recorded_from:
        within.append(col(evidence.recorded_at_corrected) >= filters.recorded_from)
    if filters.recorded_to:
        within.append(col(evidence.recorded_at_corrected) < filters.recorded_to)
    return within


def _delivered_by(column: str, key: Any, filters: Filters) -> Any:
    """Evidence of a camera or an officer (COLUMN: device_pk or officer_pk, KEY: its key):
    recorded by it, or seen at any docking of it (a copy between cameras, IN-6), within the
    span of FILTERS. The ids of both, as one set the listing looks its rows up by (an OR of
    the two had PostgreSQL test every row of the vault), each over an index: evidence by
    camera or officer and recording time, dockings by camera or officer, sightings by
    docking. With the span inside the set, the set is small however long the vault's
    history, and looking its rows up by id beats reading the span's rows of every camera."""
    recorded, seen_as = aliased(Evidence), aliased(Evidence)
    seen = (
        select(Sighting.evidence_id)
        .join(DockSession, col(Sighting.dock_session_id) == DockSession.id)
        .where(getattr(DockSession, column) == key)
    )
    within = _recorded_within(seen_as, filters)
    if within:
        seen = seen.join(seen_as, col(seen_as.id) == Sighting.evidence_id).where(*within)
    by_own = select(recorded.id).where(
        getattr(recorded, column) == key, *_recorded_within(recorded, filters)
    )
    ids: Any = union(by_own, seen)
    return col(Evidence.id).in_(ids)


def _delivered_by_device(device_id: str, filters: Filters) -> Any:
    device_pk = select(Device.id).where(Device.device_id == device_id).scalar_subquery()
    return _delivered_by("device_pk", device_pk, filters)


def _delivered_by_officer(officer_id: str, filters: Filters) -> Any:
    officer_pk = select(Officer.id).where(Officer.officer_id == officer_id).scalar_subquery()
    return _delivered_by("officer_pk", officer_pk, filters)


def _case_ids(session: Session, number: str) -> list[int]:
    case = find_case(session, number)
    return [case.id] if case is not None and case.id is not None else []


def _narrowed(session: Session, query: Any, filters: Filters) -> Any:
    if filters.device_id:
        query = query.where(_delivered_by_device(filters.device_id, filters))
    if filters.officer_id:
        query = query.where(_delivered_by_officer(filters.officer_id, filters))
    if filters.recorded_by:
        recorded_by = select(Officer.id).where(Officer.officer_id == filters.recorded_by)
        query = query.where(col(Evidence.officer_pk).in_(recorded_by))
    if filters.case_number:
        linked = select(CaseLink.evidence_id).where(
            col(CaseLink.case_id).in_(_case_ids(session, filters.case_number)),
            col(CaseLink.unlinked_at).is_(None),
        )
        query = query.where(col(Evidence.id).in_(linked))
    if filters.retention_class:
        query = query.where(Evidence.retention_class == filters.retention_class)
    if filters.status:
        query = query.where(Evidence.status == filters.status)
    if filters.unit:
        wanted = units.unit_filter(session, filters.unit)
        officers = session.exec(select(Officer.id, Officer.unit)).all()
        pks = [pk for pk, unit in officers if wanted.matches(unit)]
        query = query.where(col(Evidence.officer_pk).in_(pks))
    if filters.officer_name:  # as the camera named him, or his principal's name
        named = select(Officer.id).where(col(Officer.name).contains(filters.officer_name))
        principals = select(Principal.officer_pk).where(
            col(Principal.name).contains(filters.officer_name)
        )
        query = query.where(
            or_(col(Evidence.officer_pk).in_(named), col(Evidence.officer_pk).in_(principals))
        )
    if filters.case_name:
        cases = select(Case.id).where(col(Case.name).contains(filters.case_name))
        linked = select(CaseLink.evidence_id).where(
            col(CaseLink.case_id).in_(cases), col(CaseLink.unlinked_at).is_(None)
        )
        query = query.where(col(Evidence.id).in_(linked))
    return query.where(*_recorded_within(Evidence, filters))


# A listing's order is its key: the corrected recording time, then the id (unique), so a
# page ends at a key and the next page starts after it (keyset paging: no OFFSET, each page
# as quick as the first however deep it is). Clips with no recording time sort where the
# database puts NULLs of an ascending index: first on SQLite, last on PostgreSQL.
Key = tuple[datetime | None, int]


def encode_cursor(key: Key) -> str:
    """The opaque `next` of a page: where the following page starts (after KEY)."""
    recorded, evidence_id = key
    plain = f"{iso(recorded) or ''}|{evidence_id}"
    return base64.urlsafe_b64encode(plain.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Key:
    """The key a cursor of encode_cursor names; anything else is a usage error."""
    try:
        plain = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        recorded, evidence_id = plain.split("|")
        key = (datetime.fromisoformat(recorded) if recorded else None, int(evidence_id))
        if key[0] is not None and key[0].tzinfo is None:
            raise ValueError("no zone")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", cursor) or encode_cursor(key) != cursor:
            raise ValueError("not as encoded")
        return key
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise UsageError(
            N_("{option} {cursor} is not a cursor of this listing (give the {next} of a page)"),
            option="--after",
            cursor=repr(cursor),
            next="next",
        ) from None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next: str | None  # the cursor of the page after this one; None: this was the last


# The camera's and the officer's numbers, looked up by key for each row: a join let
# PostgreSQL read both whole tables into hashes (25,000 cameras at 10,000,000 clips) for an
# hour's 600 rows.
_device_id = select(Device.device_id).where(Device.id == Evidence.device_pk).scalar_subquery()
_officer_id = select(Officer.officer_id).where(Officer.id == Evidence.officer_pk).scalar_subquery()
_COLUMNS = (
    col(Evidence.id),
    col(Evidence.sha256),
    col(Evidence.size),
    col(Evidence.kind),
    _device_id,
    _officer_id,
    col(Evidence.recorded_at),
    col(Evidence.recorded_at_corrected),
    col(Evidence.camera_time),
    col(Evidence.camera_time_source),
    col(Evidence.file_name),
    col(Evidence.important),
    col(Evidence.status),
    col(Evidence.sealed_at),
    col(Evidence.verified_at),
    col(Evidence.retention_class),
    col(Evidence.retain_until),
    col(Evidence.legal_hold),
    col(Evidence.purged_at),
)
_NAMES = (
    "evidence_id",
    "sha256",
    "size",
    "kind",
    "device_id",
    "officer_id",
    "recorded_at",
    "recorded_at_corrected",
    "camera_time",
    "camera_time_source",
    "file_name",
    "important",
    "status",
    "sealed_at",
    "verified_at",
    "retention_class",
    "retain_until",
    "hold",
    "purged_at",
)
_TIMED = ("recorded_at", "recorded_at_corrected", "sealed_at", "verified_at", "retain_until")
_TIMES = [_NAMES.index(name) for name in (*_TIMED, "purged_at")]


def _listed_row(values: Any) -> dict[str, Any]:
    """One listing row from plain columns (no ORM object: at hundreds of rows a listing's
    time went into building them), with the keys and values of _row. The times come back
    aware and in UTC (UTCDateTime), so iso() is their isoformat with a Z."""
    values = list(values)
    for n in _TIMES:
        if values[n] is not None:
            values[n] = values[n].isoformat().replace("+00:00", "Z")
    return dict(zip(_NAMES, values, strict=True))


def _segments(query: Any, after: Key | None, nulls_first: bool) -> list[Any]:
    """The queries that together give the rows after AFTER in the listing's order, to run in
    turn until a page is full: each is one range of an index (by time, or by id where the
    time is NULL), never a scan from the start filtered up to the cursor."""
    recorded = col(Evidence.recorded_at_corrected)
    if after is None:
        return [query]
    at, evidence_id = after
    if at is None:
        untimed = query.where(recorded.is_(None), col(Evidence.id) > evidence_id)
        return [untimed, query.where(recorded.is_not(None))] if nulls_first else [untimed]
    timed = query.where(recorded >= at, or_(recorded > at, col(Evidence.id) > evidence_id))
    return [timed] if nulls_first else [timed, query.where(recorded.is_(None))]


def page_evidence(session: Session, filters: Filters) -> Page:
    """One page of evidence by device, officer and recording time (the corrected time,
    DV-2), in the order of its key (time, id): at most FILTERS.limit rows after the cursor
    FILTERS.after, and the cursor of the page after it. A clip delivered by several cameras
    or officers is found under each (IN-4, IN-6)."""
    after = decode_cursor(filters.after) if filters.after else None
    query = (
        select_columns(*_COLUMNS)
        .select_from(Evidence)
        .order_by(col(Evidence.recorded_at_corrected), col(Evidence.id))
    )
    query = _narrowed(session, query, filters)
    nulls_first = session.get_bind().dialect.name == "sqlite"
    rows: list[dict[str, Any]] = []
    for segment in _segments(query, after, nulls_first):
        wanted = None if filters.limit is None else filters.limit + 1 - len(rows)
        if wanted is not None:
            segment = segment.limit(wanted)
        rows.extend(map(_listed_row, session.connection().execute(segment).all()))
        if filters.limit is not None and len(rows) > filters.limit:
            break
    if filters.limit is None or len(rows) <= filters.limit:
        return Page(rows, None)
    del rows[filters.limit :]
    last = rows[-1]
    recorded = last["recorded_at_corrected"]
    key = (datetime.fromisoformat(recorded) if recorded else None, last["evidence_id"])
    return Page(rows, encode_cursor(key))


def list_evidence(session: Session, filters: Filters) -> list[dict[str, Any]]:
    """Evidence by device, officer and recording time: the rows of page_evidence."""
    return page_evidence(session, filters).rows


SHOWN_KNOWN = 20  # values named when a filter matches nothing; the rest are counted


def _listed(values: list[str], given: str) -> dict[str, Any]:
    """Known values as a note shows them: the nearest to what was typed first, at most
    SHOWN_KNOWN, and whether the value typed is one of them."""
    close = difflib.get_close_matches(given, values, n=3, cutoff=0.6)
    ordered = close + [v for v in values if v not in close]
    return {
        "given": given,
        "exists": given in values,
        "did_you_mean": [] if given in values else close,
        "values": ordered[:SHOWN_KNOWN],
        "more": max(0, len(ordered) - SHOWN_KNOWN),
    }


def known_values(
    session: Session,
    filters: Filters,
    own_badge: str | None = None,
    handled_cases: set[int] | None = None,
) -> dict[str, Any]:
    """What exists for each filter given, for a listing that matched nothing: the cameras,
    officers, cases, classes and the span of recording times. Only values the caller may see:
    with OWN_BADGE (an officer's own scope) those of the clips he recorded, and of the cases
    those he handles (HANDLED_CASES)."""
    visible = _narrowed(session, select(Evidence.id), Filters(recorded_by=own_badge))
    known: dict[str, Any] = {}
    if filters.device_id:
        devices = select(Device.device_id)  # every camera on record
        if own_badge:  # only those that recorded or delivered his clips
            recorded = select(Evidence.device_pk).where(col(Evidence.id).in_(visible))
            delivered = (
                select(DockSession.device_pk)
                .join(Sighting, col(Sighting.dock_session_id) == DockSession.id)
                .where(col(Sighting.evidence_id).in_(visible))
            )
            devices = devices.where(
                or_(col(Device.id).in_(recorded), col(Device.id).in_(delivered))
            )
        known["device"] = _listed(sorted(set(session.exec(devices))), filters.device_id)
    if filters.officer_id:
        badges = [own_badge] if own_badge else sorted(set(session.exec(select(Officer.officer_id))))
        known["officer"] = _listed(badges, filters.officer_id)
    if filters.case_number:
        query = select(Case.number).order_by(col(Case.number))
        if own_badge:
            query = query.where(col(Case.id).in_(handled_cases or set()))
        numbers = list(session.exec(query))
        entry = _listed(numbers, normalise_number(filters.case_number))
        entry["given"] = filters.case_number
        known["case"] = entry
    if filters.retention_class:
        counted = session.exec(
            select(Evidence.retention_class, func.count())
            .where(col(Evidence.id).in_(visible))
            .group_by(col(Evidence.retention_class))
        )
        known["class"] = {"given": filters.retention_class, "counts": dict(sorted(counted))}
    if filters.recorded_from or filters.recorded_to:
        first, last = session.exec(
            select(
                func.min(Evidence.recorded_at_corrected), func.max(Evidence.recorded_at_corrected)
            ).where(col(Evidence.id).in_(visible))
        ).one()
        known["recorded"] = {
            "given": {"from": iso(filters.recorded_from), "to": iso(filters.recorded_to)},
            "first": iso(first),
            "last": iso(last),
        }
    return known


def _protection_now(storage: dict[str, Any], store: WormStore, key: str) -> None:
    try:
        storage["immutable"] = store.stat(key).immutable
        storage["protection"] = store.protection(key) or "as sealed"
    except VaultError as exc:
        storage["immutable"], storage["protection"] = False, str(exc)


def show_evidence(
    session: Session, evidence_id: int, store: WormStore | None = None
) -> dict[str, Any]:
    """Everything recorded about one record; with STORE, its protection as the store holds
    it now (chattr +i and mode, or the Object Lock), not as the record remembers it."""
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(N_("no evidence {id}"), id=evidence_id)
    device = session.get(Device, evidence.device_pk) if evidence.device_pk else None
    officer = session.get(Officer, evidence.officer_pk) if evidence.officer_pk else None
    detail = _row(evidence, device, officer)
    detail |= {
        "camera_folder": evidence.camera_folder,
        "sequence": evidence.sequence,
        "docked_at": iso(evidence.docked_at),
        "storage": {
            "backend": evidence.storage_backend,
            "key": evidence.storage_key,
            "immutable": evidence.immutable_applied,
            "immutable_recorded": evidence.immutable_applied,
            "protection": None,
            "retain_until": iso(evidence.retain_until),
        },
        "verify_error": evidence.verify_error,
        "long_term_category": evidence.long_term_category,
        "retention_reason": evidence.retention_reason,
        "cases": [
            {
                "number": c.number,
                "type": c.case_type,
                "status": c.status,
                "litigation": c.litigation,
            }
            for c in linked_cases(session, evidence_id)
        ],
        "holds": [
            {
                "hold_id": h.id,
                "reason": h.reason,
                "placed_by": h.placed_by,
                "placed_at": iso(h.placed_at),
            }
            for h in active_holds(session, evidence_id)
        ],
        "media": media_json(evidence),  # what ffprobe found (IN-5)
        "derivatives": derivatives_json(session, evidence_id),  # never the original (IN-3)
        "sightings": [],
    }
    if store is not None and evidence.purged_at is None:
        _protection_now(detail["storage"], store, evidence.storage_key)
    first = session.get(DockSession, evidence.dock_session_id)
    detail["camera_reported"] = _camera_reported(first)  # DV-1: what the camera said
    sightings = session.exec(
        select(Sighting, DockSession)
        .join(DockSession, col(Sighting.dock_session_id) == DockSession.id)
        .where(Sighting.evidence_id == evidence_id)
        .order_by(col(Sighting.id))
    )
    for sighting, dock in sightings:
        detail["sightings"].append(
            {
                "dock_id": dock.id,
                "station_id": dock.station_id,
                "path": sighting.path,
                "outcome": sighting.outcome,
                "seen_at": iso(sighting.seen_at),
                "erased_at": iso(sighting.erased_at),
                "clock_offset_s": dock.clock_offset_s,
                "camera_reported": _camera_reported(dock),
            }
        )
    return detail


def _camera_reported(dock: DockSession | None) -> dict[str, str | None] | None:
    """The badge, name and unit the camera reported over USB at a docking (ZFY_INFO)."""
    if dock is None or not (dock.camera_officer_id or dock.camera_unit_id or dock.camera_unit_name):
        return None
    return {
        "officer_id": dock.camera_officer_id,
        "officer_name": dock.camera_officer_name,
        "unit_id": dock.camera_unit_id,
        "unit_name": dock.camera_unit_name,
    }


@dataclass
class VerifyReport:
    checked: int = 0
    ok: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    orphans: list[str] | None = None  # None: not looked for (--orphans)

    def to_json(self) -> dict[str, Any]:
        found = {"checked": self.checked, "ok": self.ok, "failed": self.failed}
        return found if self.orphans is None else {**found, "orphans": self.orphans}


def verify_evidence(vault: Vault, evidence_ids: list[int] | None) -> VerifyReport:
    """Re-read each object from the store and re-hash it; record each result."""
    report = VerifyReport()
    with vault.session() as session:
        query = select(Evidence).order_by(col(Evidence.id))
        if evidence_ids is not None:
            query = query.where(col(Evidence.id).in_(evidence_ids))
        rows = list(session.exec(query))
        missing = set(evidence_ids or []) - {e.id for e in rows}
        if missing:
            raise NotFound(f"no evidence {', '.join(map(str, sorted(missing)))}")
        purged = [e for e in rows if e.purged_at is not None]
        if evidence_ids is not None and purged:
            raise Conflict(f"evidence {purged[0].id} was purged on {iso(purged[0].purged_at)}")
        rows = [e for e in rows if e.purged_at is None]  # RT-5: their purge records remain
        for evidence in rows:
            assert evidence.id is not None
            result = vault.store.verify(evidence.storage_key, evidence.sha256, evidence.size)
            report.checked += 1
            if result.ok:
                report.ok += 1
            else:
                report.failed.append({"evidence_id": evidence.id, "reason": result.reason})
            records.record_verification(
                session,
                evidence.id,
                result.ok,
                result.reason,
                vault.clock.now(),
                vault.actor("verify"),
            )
    return report


def referenced_keys(session: Session) -> set[str]:
    """Every storage key a record points at: live originals, their derivatives, access
    documents, stop-record statements, and originals whose purge is claimed but not done."""
    keys: set[str] = set()
    keys.update(session.exec(select(Evidence.storage_key).where(col(Evidence.purged_at).is_(None))))
    keys.update(
        session.exec(select(Derivative.storage_key).where(col(Derivative.purged_at).is_(None)))
    )
    keys.update(session.exec(select(AccessDocument.storage_key)))
    keys.update(key for key in session.exec(select(StopRecord.statement_key)) if key is not None)
    keys.update(session.exec(select(PurgeRecord.storage_key).where(PurgeRecord.state != "deleted")))
    return keys


def find_orphans(vault: Vault) -> list[str]:
    """Objects in the store that no record points at (a crash between sealing and recording,
    a spooled copy left after its upload, bytes put there by hand). Reported, never deleted:
    only the purge job deletes, and only what a record says may go. The store is listed
    before the records are read, so a clip sealed and recorded meanwhile is not reported."""
    stored = list(vault.store.keys())
    with vault.session() as session:
        referenced = referenced_keys(session)
    return [key for key in stored if key not in referenced]
