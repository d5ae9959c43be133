"""`evault store rebuild-index` (issue 15): a vault with two dockings, media work, a case, a
hold, an access request with its documents, an export and a stop record loses its
database; rebuilt from the WORM store alone, `evault evidence list --json` gives back every
clip with the same SHA-256, camera, officer, retain-until and hold, and `evault verify`
holds the new database to the store. On the local store and on Ceph radosgw; on SQLite and
PostgreSQL by the suite's two passes (EVAULT_TEST_DATABASE)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from tests.access_office import CASE, open_office
from tests.conftest import TEST_DATABASE, database_url_for, make_settings, run_evault
from tests.integration.test_export import court_grant
from tests.integration.test_retention_purge import DOCKED, camera_clock_agrees
from tests.purge_lists import purge_approved
from vault.access.export import export
from vault.cases.retention import place_hold
from vault.compliance.stops import add_stop
from vault.context import Vault
from vault.db.engine import make_engine
from vault.db.models import AuditEvent, Derivative, Evidence, Hold, StopRecord
from vault.errors import Conflict
from vault.ingest.pipeline import ingest_volume
from vault.media.worker import run_worker
from vault.recovery.rebuild import rebuild_index
from vault.recovery.seal_rows import evidence_rows, officer_rows, plan
from vault.sealing.anchors import read_all
from vault.sealing.seals import Seal
from vault.timeutil import FixedClock, add_months

PHOTO = "DCIM/100ANDRO/3100001_010203_20261123150018_0004.JPG"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store_section(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "local":
        return {}
    service = request.getfixturevalue("s3_service")
    return dict(service.store_settings(request.getfixturevalue("s3_bucket")))


def open_vault(home: Path, clock: FixedClock, store: dict[str, Any]) -> Vault:
    """The vault in-process, and the same settings in HOME/vault.toml for the CLI."""
    lines = [f"home = {json.dumps(str(home))}", 'station_id = "test-station"', "[store]"]
    lines += ['immutable = "off"', *(f"{k} = {json.dumps(v)}" for k, v in store.items())]
    if url := database_url_for(home):
        lines += ["[database]", f"url = {json.dumps(url)}"]
    (home / "vault.toml").write_text("\n".join(lines) + "\n")
    return Vault(make_settings(home, store=store), clock=clock, user="tester")


def new_photo(camera: Path, seq: int) -> None:
    """Another clip on the camera (a JPEG with a few more bytes: other bytes, still a photo)."""
    source = camera / PHOTO
    target = source.with_name(source.name.replace("_0004.", f"_{seq:04d}."))
    target.write_bytes(source.read_bytes() + bytes([seq]))


def lose_database(vault: Vault, home: Path) -> None:
    """The database is gone: SQLite's file deleted, PostgreSQL's schema dropped (the next
    opening migrates an empty one)."""
    vault.engine.dispose()
    if TEST_DATABASE == "sqlite":
        for path in home.glob("vault.db*"):
            path.unlink()
        return
    url = database_url_for(home)
    assert url is not None
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def cli(home: Path, *args: str, codes: tuple[int, ...] = (0,)) -> Any:
    done = run_evault(home, *args)
    assert done.returncode in codes, done.stdout + done.stderr
    return json.loads(done.stdout)


def evidence_facts(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        r["sha256"]: (
            r["evidence_id"],
            r["device_id"],
            r["officer_id"],
            r["retain_until"],
            r["hold"],
            r["size"],
            r["kind"],
            r["file_name"],
            r["recorded_at_corrected"],
            r["sealed_at"],
        )
        for r in rows
    }


def derivatives(vault: Vault) -> set[tuple[int, str, str]]:
    with vault.session() as session:
        rows = session.exec(select(Derivative).where(col(Derivative.purged_at).is_(None)))
        return {(d.evidence_id, d.kind, d.sha256) for d in rows}


def stops(vault: Vault) -> list[tuple[Any, ...]]:
    with vault.session() as session:
        rows = session.exec(select(StopRecord).order_by(col(StopRecord.id)))
        return [(s.id, s.device_pk, s.officer_pk, s.statement_sha256, s.filed_at) for s in rows]


def test_a_lost_database_is_rebuilt_from_the_store_with_every_clips_facts(
    home: Path, clock: FixedClock, camera: Path, tmp_path: Path, store_section: dict[str, Any]
) -> None:
    vault = open_vault(home, clock, store_section)
    office = open_office(vault, camera, tmp_path / "papers")  # docking 1, a case of two clips
    new_photo(camera, 6)
    clock.advance(3600)
    ingest_volume(vault, camera)  # docking 2: the same clips again, and one new photo
    run_worker(vault, until_idle=True)  # probes, viewing copies, posters, contact sheets
    place_hold(vault, office.evidence[2], "复议期间保全证据")
    export(office.keeper, f"case:{CASE}", tmp_path / "package", court_grant(office))
    statement = tmp_path / "statement.pdf"
    statement.write_bytes(b"%PDF-1.4 signed statement of the witness")
    add_stop(
        office.keeper,
        device_id="3100001",
        officer_id="010203",
        stop_from=DOCKED,
        stop_to=DOCKED + timedelta(minutes=20),
        reason="witness_request",
        basis="证人要求停止录像",
        statement=statement,
    )
    before = cli(home, "evidence", "list", "--json")
    made, stopped = derivatives(vault), stops(vault)
    assert len(before) >= 5 and made and stopped
    # The case and the hold make some retention differ from the routine one.
    assert len({r["retain_until"] for r in before}) > 1
    held = [r["hold"] for r in before].count(True)
    assert 0 < held < len(before)

    lose_database(vault, home)
    assert cli(home, "evidence", "list", "--json") == []
    report = cli(home, "store", "rebuild-index", "--json")

    assert report["rows"]["evidence"] == len(before)
    assert report["rows"]["dock_session"] == 2 and report["rows"]["hold"] == held
    assert report["missing_objects"] == [] and report["unsealed_objects"] == []
    assert {s["subject"] for s in report["skipped"]} == {"request:1"}  # its two documents
    after = cli(home, "evidence", "list", "--json")
    assert evidence_facts(after) == evidence_facts(before)
    assert {r["status"] for r in after} == {"sealed"}
    rebuilt = Vault(vault.settings, clock=clock, user="tester")
    assert derivatives(rebuilt) == made
    assert stops(rebuilt) == stopped

    checked = cli(home, "verify", "--json", codes=(0, 10))
    classes = checked["classes"]
    for kind in ("chains", "objects", "rows", "retention"):
        assert classes[kind]["found"] == [], kind
    # Documents presented with the (lost) access request stay sealed in the store but come
    # back without rows: their request and requester are not in it. A warning says so.
    warned = [f["reason"] for f in classes["warnings"]["found"]]
    assert any("document (request:" in w and "rebuilt" in w for w in warned)

    refused = run_evault(home, "store", "rebuild-index")
    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1 and "empty" in refused.stderr
    # New rows after the rebuilt ones take new ids (PostgreSQL's sequences were moved on).
    new_photo(camera, 7)
    cli(home, "ingest", str(camera), "--json")
    assert len(cli(home, "evidence", "list", "--json")) == len(before) + 1


def test_purged_clips_come_back_purged_and_unsealed_objects_are_named(
    vault: Vault, camera: Path, clock: FixedClock, home: Path
) -> None:
    clock.at = DOCKED
    camera_clock_agrees(camera, DOCKED)
    ids = sorted({c.evidence_id for c in ingest_volume(vault, camera).clips})
    place_hold(vault, ids[0], "保全")
    clock.at = add_months(DOCKED, 13)
    purged = purge_approved(vault).deleted
    assert len(purged) == len(ids) - 1
    writer = vault.store.begin_put()  # bytes sealed before seal records existed
    writer.write(b"an old clip")
    old = writer.commit(hashlib.sha256(b"an old clip").hexdigest(), 11, clock.at)
    with vault.session() as session:
        kept = session.get_one(Evidence, ids[0])
    audit_anchor = read_all(vault.store, "audit")[-1]

    lose_database(vault, home)
    rebuilt = Vault(vault.settings, clock=clock, user="tester")
    report = rebuild_index(rebuilt).to_json()

    assert report["purged"] == len(purged) and report["unsealed_objects"] == [old.key]
    assert report["rows"]["register_entry"] == 0  # the register was never written
    with rebuilt.session() as session:
        rows = {e.id: e for e in session.exec(select(Evidence))}
        first = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).first()
        holds = list(session.exec(select(Hold)))
    assert sorted(rows) == ids
    assert {rows[d["evidence_id"]].purged_at for d in purged} == {clock.at}
    assert {rows[d["evidence_id"]].status for d in purged} == {"purged"}
    assert rows[ids[0]].purged_at is None and rows[ids[0]].legal_hold
    assert rows[ids[0]].retain_until == kept.retain_until
    assert [h.evidence_id for h in holds] == [ids[0]]
    # The audit chain goes on from its newest anchor.
    assert first is not None and first.action == "index.rebuilt"
    assert first.prev_hash == audit_anchor.hash and first.id == audit_anchor.seq + 1
    assert read_all(rebuilt.store, "audit")[-1].seq == first.id


def test_a_database_that_holds_records_is_refused(vault: Vault, camera: Path) -> None:
    ingest_volume(vault, camera)
    with pytest.raises(Conflict, match=r"point database\.url at a new, empty database"):
        rebuild_index(vault)


def _seal(sha: str, evidence_id: int, badge: str, officer_pk: int, at: str) -> Seal:
    dock = {"id": 1, "station_id": "s", "started_at": at, "device_pk": None, "officer_pk": None}
    body = {
        "type": "evidence",
        "sha256": sha,
        "event": {"chain": "audit", "seq": 1, "hash": sha, "action": "evidence.sealed", "at": at},
        "evidence": {"id": evidence_id, "sha256": sha, "officer_pk": officer_pk, "kind": "video"},
        "officer": {"id": officer_pk, "officer_id": badge},
        "dock": dock,
        "path": f"{sha[:4]}.MP4",
    }
    return Seal(f"seal/{sha[:2]}/{sha}/x.json", body)


def test_ids_two_databases_both_used_are_told_apart_by_what_the_rows_are() -> None:
    """A database restored from an old dump went on sealing and reused ids: the row sealed
    first keeps its id, the other gets a new one, and every link follows what it is."""
    first = _seal("a" * 64, 5, "010203", 1, "2026-11-01T08:00:00+00:00")
    reused = _seal("b" * 64, 5, "999999", 1, "2026-11-20T08:00:00+00:00")
    found = plan([reused, first])
    rows = {r["sha256"]: r for r in evidence_rows(found)}
    officers = {r["officer_id"]: r["id"] for r in officer_rows(found)}
    assert rows["a" * 64]["id"] == 5 and rows["b" * 64]["id"] == 6
    assert officers == {"010203": 1, "999999": 2}
    assert rows["b" * 64]["officer_pk"] == 2 and rows["a" * 64]["officer_pk"] == 1
    assert {r["dock_session_id"] for r in rows.values()} == {1, 2}
    assert {(t.name, old, new) for t in found.tables() for old, new in t.renumbered} == {
        ("evidence", 5, 6),
        ("officer", 1, 2),
        ("dock_session", 1, 2),
    }
