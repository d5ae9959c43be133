"""The rows a database would hold, made from the seal records alone (`evault store
rebuild-index`, rebuild.py): evidence with its dockings, cameras and officers, the
sightings that sealed it, derivatives and stop-record statements.

Each row comes back with its original id. Where seal records disagree about an id (two
databases in the store's history, e.g. one restored from an old dump that went on sealing
and reused ids), the row first sealed keeps the id and the others are given new ones,
listed as renumbered. Rows are told apart by what they are (a clip by its SHA-256, an
officer by badge, a camera by its device id, a docking by station and start), never by an
id alone. Of several records of one row, the newest (by its event's time) gives the row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vault.db.models.records import upload_delay_s
from vault.sealing.seals import Seal, facts_of

Dump = dict[str, Any]


def sealed_at(seal: Seal) -> datetime:
    """When the event that sealed it happened (the order of the records' truth)."""
    return datetime.fromisoformat(str(seal.body["event"]["at"]))


@dataclass
class Table:
    """The rows of one table by what they are (KEY): the newest dump of each, the seal
    record it came from, and the id each gets."""

    name: str
    dumps: dict[Hashable, Dump] = field(default_factory=dict)
    source: dict[Hashable, Seal] = field(default_factory=dict)
    ids: dict[Hashable, int] = field(default_factory=dict)
    renumbered: list[tuple[int | None, int]] = field(default_factory=list)
    _newest: dict[Hashable, datetime] = field(default_factory=dict)
    _first: dict[Hashable, datetime] = field(default_factory=dict)
    _old_ids: dict[Hashable, set[int]] = field(default_factory=lambda: defaultdict(set))
    _by_old: dict[int, int | None] = field(default_factory=dict)

    def offer(self, key: Hashable, dump: Dump, seal: Seal, at: datetime) -> None:
        if key not in self._first or at < self._first[key]:
            self._first[key] = at
        if key not in self._newest or at >= self._newest[key]:
            self._newest[key], self.dumps[key], self.source[key] = at, dump, seal
        if isinstance(dump.get("id"), int):
            self._old_ids[key].add(dump["id"])

    def number(self) -> None:
        """Give every row its id: its own where no row sealed earlier holds it."""
        taken: dict[int, Hashable] = {}
        later = []
        for key in sorted(self.dumps, key=lambda k: (self._first[k], str(k))):
            wanted = self.dumps[key].get("id")
            if isinstance(wanted, int) and wanted not in taken:
                taken[wanted], self.ids[key] = key, wanted
            else:
                later.append(key)
        next_id = max(taken, default=0) + 1
        for key in later:
            self.ids[key] = next_id
            self.renumbered.append((self.dumps[key].get("id"), next_id))
            next_id += 1
        for key, olds in self._old_ids.items():
            for old in olds:
                # An old id two rows had names neither for sure: None.
                self._by_old[old] = self.ids[key] if old not in self._by_old else None

    def by_old(self, old: Any) -> int | None:
        """The id now of the row a dump named by its old id, when that is unambiguous."""
        return self._by_old.get(old) if isinstance(old, int) else None


def dock_key(dump: Dump) -> tuple[Any, ...]:
    return (dump.get("id"), dump.get("station_id"), dump.get("started_at"))


@dataclass
class Plan:
    """What the seal records say, by table; rows still carry the dumps' own values for
    what only the store can say now (retention, holds, whether the bytes are there)."""

    seal_records: int = 0
    officers: Table = field(default_factory=lambda: Table("officer"))
    devices: Table = field(default_factory=lambda: Table("device"))
    docks: Table = field(default_factory=lambda: Table("dock_session"))
    evidence: Table = field(default_factory=lambda: Table("evidence"))
    derivatives: Table = field(default_factory=lambda: Table("derivative"))
    stops: Table = field(default_factory=lambda: Table("stop_record"))
    sightings_of: dict[str, list[Seal]] = field(default_factory=lambda: defaultdict(list))
    sealed_sha256: set[str] = field(default_factory=set)
    skipped: list[dict[str, str]] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)

    def tables(self) -> tuple[Table, ...]:
        return (
            self.officers,
            self.devices,
            self.docks,
            self.evidence,
            self.derivatives,
            self.stops,
        )


def _skip(found: Plan, seal: Seal, reason: str) -> None:
    found.skipped.append(
        {"record": seal.name, "subject": str(seal.body.get("subject", seal.kind)), "reason": reason}
    )


def named(seals: Iterable[Seal]) -> tuple[list[Seal], list[dict[str, str]]]:
    """The records named as the vault names them (seals.seal_name), and the others listed:
    the vault never writes those, so a rebuild takes none of them."""
    kept, skipped = [], []
    for seal in seals:
        if seal.canonical:
            kept.append(seal)
            continue
        skipped.append(
            {
                "record": seal.name,
                "subject": str(seal.body.get("subject", seal.kind)),
                "reason": "not named as the vault names its seal records "
                f"({seal.expected_name}): forged or misplaced; not taken",
            }
        )
    return kept, skipped


def agreeing(seals: Iterable[Seal], found: Plan) -> list[Seal]:
    """Of several records of one sealing (its event) that disagree, only the first by name
    (the others are listed, for a person to tell which is forged: the sealing event that
    would vouch for one was lost with the database); never the newest by its own say."""
    taken: dict[tuple[Any, ...], Seal] = {}
    kept = []
    for seal in sorted(seals, key=lambda s: s.name):
        first = taken.setdefault(seal.identity, seal)
        if first is not seal and facts_of(first.body) != facts_of(seal.body):
            found.conflicts.append({"record": seal.name, "conflicts_with": first.name})
            _skip(
                found,
                seal,
                f"names the same sealing event as {first.name} with other facts: one of them "
                "is forged; not taken (the other was)",
            )
            continue
        kept.append(seal)
    return kept


def plan(seals: Iterable[Seal]) -> Plan:
    """Read every seal record once and sort its rows into their tables."""
    found = Plan()
    requests: set[str] = set()
    for seal in agreeing(seals, found):
        found.seal_records += 1
        found.sealed_sha256.add(seal.sha256)
        at = sealed_at(seal)
        body = seal.body
        if seal.kind == "evidence":
            found.evidence.offer(seal.sha256, body["evidence"], seal, at)
            found.sightings_of[seal.sha256].append(seal)
            for role in ("officer", "keeper"):
                if body.get(role):
                    found.officers.offer(body[role]["officer_id"], body[role], seal, at)
            if body.get("device"):
                found.devices.offer(body["device"]["device_id"], body["device"], seal, at)
            if body.get("dock"):
                found.docks.offer(dock_key(body["dock"]), body["dock"], seal, at)
        elif seal.kind == "derivative":
            key = (body["original"]["sha256"], body["derivative"]["kind"])
            found.derivatives.offer(key, body["derivative"], seal, at)
        elif seal.kind == "document" and str(body.get("subject", "")).startswith("stop:"):
            row = body["row"]
            found.stops.offer((row.get("id"), row.get("filed_at")), row, seal, at)
        elif str(body.get("subject")) not in requests:  # once per request, not per paper
            requests.add(str(body.get("subject")))
            _skip(
                found,
                seal,
                "a document presented with an access request: its request and requester are "
                "not in the store (the document stays sealed there)",
            )
    for table in found.tables():
        table.number()
    return found


def officer_id(found: Plan, dump: Dump | None) -> int | None:
    return found.officers.ids[dump["officer_id"]] if dump else None


def device_id(found: Plan, seal: Seal) -> int | None:
    dump = seal.body.get("device")
    return found.devices.ids[dump["device_id"]] if dump else None


def _officer_named(found: Plan, seal: Seal, old: Any) -> int | None:
    """The officer a dump of SEAL names by its old id: one dumped beside it, else by id."""
    for role in ("officer", "keeper"):
        dump = seal.body.get(role)
        if dump and dump.get("id") == old:
            return officer_id(found, dump)
    return found.officers.by_old(old)


def officer_rows(found: Plan) -> list[Dump]:
    return [{**dump, "id": found.officers.ids[key]} for key, dump in found.officers.dumps.items()]


def device_rows(found: Plan) -> list[Dump]:
    rows = []
    for key, dump in found.devices.dumps.items():
        seal = found.devices.source[key]
        keeper = _officer_named(found, seal, dump.get("keeper_officer_id"))
        rows.append({**dump, "id": found.devices.ids[key], "keeper_officer_id": keeper})
    return rows


def dock_rows(found: Plan) -> list[Dump]:
    rows = []
    for key, dump in found.docks.dumps.items():
        seal = found.docks.source[key]
        device = seal.body.get("device")
        same_device = device is not None and device.get("id") == dump.get("device_pk")
        rows.append(
            {
                **dump,
                "id": found.docks.ids[key],
                "device_pk": device_id(found, seal)
                if same_device
                else found.devices.by_old(dump.get("device_pk")),
                "officer_pk": _officer_named(found, seal, dump.get("officer_pk")),
            }
        )
    return rows


def evidence_rows(found: Plan) -> list[Dump]:
    """Each clip's row as sealed, its links to the rows rebuilt beside it."""
    rows = []
    for sha256, dump in found.evidence.dumps.items():
        seal = found.evidence.source[sha256]
        rows.append(
            {
                **dump,
                "id": found.evidence.ids[sha256],
                "device_pk": device_id(found, seal),
                "officer_pk": officer_id(found, seal.body.get("officer")),
                "dock_session_id": found.docks.ids[dock_key(seal.body["dock"])],
                # Worked out from the times, as at the seal: a seal made before the column
                # existed does not hold it.
                "upload_delay_s": _delay(dump),
            }
        )
    return rows


def _delay(dump: Dump) -> int | None:
    recorded, sealed = dump.get("recorded_at_corrected"), dump.get("sealed_at")
    if not isinstance(recorded, str) or not isinstance(sealed, str):
        return None
    return upload_delay_s(datetime.fromisoformat(recorded), datetime.fromisoformat(sealed))


def sighting_rows(found: Plan) -> list[Dump]:
    """One sighting per sealing: the file's path on the camera at the docking that sealed
    it (later dockings that saw the same bytes left no seal record)."""
    rows: dict[tuple[int, str], Dump] = {}
    for sha256, seals in found.sightings_of.items():
        evidence = found.evidence.dumps[sha256]
        for seal in seals:
            dock = found.docks.ids[dock_key(seal.body["dock"])]
            path = str(seal.body.get("path") or evidence["file_name"])
            rows.setdefault(
                (dock, path),
                {
                    "evidence_id": found.evidence.ids[sha256],
                    "dock_session_id": dock,
                    "path": path,
                    "size": evidence["size"],
                    "mtime": None,
                    "important": bool(evidence.get("important")),
                    "outcome": "unclassified" if evidence["kind"] == "unclassified" else "sealed",
                    "seen_at": seal.body["event"]["at"],
                    "erased_at": None,
                },
            )
    return list(rows.values())


def derivative_rows(found: Plan) -> list[Dump]:
    rows = []
    for key, dump in found.derivatives.dumps.items():
        original = str(found.derivatives.source[key].body["original"]["sha256"])
        evidence = found.evidence.ids.get(original)
        if evidence is None:
            found.skipped.append(
                {
                    "record": found.derivatives.source[key].name,
                    "subject": f"derivative of {original}",
                    "reason": "its original has no seal record",
                }
            )
            continue
        rows.append({**dump, "id": found.derivatives.ids[key], "evidence_id": evidence})
    return rows


def stop_rows(found: Plan) -> list[Dump]:
    rows = []
    for key, dump in found.stops.dumps.items():
        device = found.devices.by_old(dump.get("device_pk"))
        officer = found.officers.by_old(dump.get("officer_pk"))
        if device is None or officer is None:
            found.skipped.append(
                {
                    "record": found.stops.source[key].name,
                    "subject": str(found.stops.source[key].body.get("subject")),
                    "reason": "its camera or officer is in no seal record of a clip",
                }
            )
            continue
        rows.append(
            {**dump, "id": found.stops.ids[key], "device_pk": device, "officer_pk": officer}
        )
    return rows
