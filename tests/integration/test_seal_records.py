"""Issue 15: sealing an object also seals its facts into the same WORM store, and the
chains' heads are anchored there, so that a forged or lost database loses nothing."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.conftest import make_settings, run_evault
from tests.integration.test_retention_purge import DOCKED, camera_clock_agrees
from tests.purge_lists import purge_approved
from vault.context import Vault
from vault.db import audit
from vault.db.models import AuditEvent, Device, DockSession, Evidence, Officer
from vault.ingest.pipeline import ingest_volume
from vault.sealing import anchors, seals
from vault.store import immutable
from vault.store.local import LocalWormStore
from vault.timeutil import FixedClock, add_months


def test_every_sealed_clip_has_a_seal_record_of_its_facts(vault: Vault, camera: Path) -> None:
    report = ingest_volume(vault, camera)
    assert report.clips and not report.failed
    with vault.session() as session:
        rows = list(session.exec(select(Evidence)))
        for row in rows:
            (seal,) = seals.seals_of(vault.store, row.sha256)
            body = seal.body
            assert body["type"] == "evidence" and body["sha256"] == row.sha256
            facts = body["evidence"]
            for name in ("id", "size", "file_name", "storage_key", "dock_session_id", "kind"):
                assert facts[name] == getattr(row, name), name
            assert facts["sealed_at"] == row.sealed_at.isoformat()
            dock = session.get_one(DockSession, row.dock_session_id)
            assert body["dock"]["id"] == dock.id and body["station"] == dock.station_id
            if row.device_pk:
                assert (
                    body["device"]["device_id"] == session.get_one(Device, row.device_pk).device_id
                )
            if row.officer_pk:
                officer = session.get_one(Officer, row.officer_pk)
                assert body["officer"]["officer_id"] == officer.officer_id
            # The record names the very audit event that sealed the clip, which is in the chain.
            event = session.get_one(AuditEvent, body["event"]["seq"])
            assert event.hash == body["event"]["hash"] and event.action == "evidence.sealed"
            assert body["path"].endswith(row.file_name)
    names = list(vault.store.record_names("seal/"))
    assert len(names) == len(rows)
    # A second docking of the same clips seals nothing new, and writes no new seal record.
    ingest_volume(vault, camera)
    assert list(vault.store.record_names("seal/")) == names


def test_a_seal_record_cannot_be_replaced(vault: Vault, camera: Path) -> None:
    ingest_volume(vault, camera)
    name = next(iter(vault.store.record_names("seal/")))
    original = vault.store.read_record(name)
    with pytest.raises(Exception, match="another record"):
        vault.store.put_record(name, original.replace(b'"size":', b'"size":1'))
    assert vault.store.read_record(name) == original


def test_chain_heads_are_anchored_as_they_grow_and_never_ahead_of_a_commit(
    home: Path, clock: FixedClock, camera: Path
) -> None:
    vault = Vault(make_settings(home, store={"anchor_every": 3}), clock=clock, user="tester")
    ingest_volume(vault, camera)
    found = anchors.read_all(vault.store, "audit")
    assert found, "an ingest's events are anchored"
    with vault.session() as session:
        events = {e.id: e.hash for e in session.exec(select(AuditEvent))}
        head = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert head is not None
    for anchor in found:
        assert events[anchor.seq] == anchor.hash  # every anchor names a committed event
    assert all(b.seq > a.seq for a, b in itertools.pairwise(found))
    assert head.id is not None and head.id - found[-1].seq < 3

    # A rolled-back event is never anchored, even when it would be due.
    with vault.session() as session:
        for _ in range(5):
            audit.append(session, vault.actor("test"), at=clock.now(), action="test.rolled")
        session.flush()
        session.rollback()
    assert anchors.read_all(vault.store, "audit") == found

    # A quiet chain: the next tick after anchor_minutes anchors the head.
    quiet = Vault(make_settings(home, store={"anchor_every": 1000}), clock=clock, user="tester")
    with quiet.session() as session:
        audit.append(session, quiet.actor("test"), at=clock.now(), action="test.quiet")
        session.commit()
    with quiet.session() as session:
        assert quiet.anchorer.tick(session) == []  # not yet due
    clock.advance(6 * 60)
    with quiet.session() as session:
        (written,) = quiet.anchorer.tick(session)
        newest = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert newest is not None and (written.seq, written.hash) == (newest.id, newest.hash)


def test_store_check_reads_the_protection_on_disk_not_the_records_memory(
    home: Path, camera: Path
) -> None:
    """Issue 15: a sealed file whose +i was stripped and whose mode was opened is found by
    `evault store check` (it said ok, and `evidence show` still said immutable)."""
    assert run_evault(home, "ingest", str(camera), "--json").returncode == 0
    clean = run_evault(home, "store", "check", "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    report = json.loads(clean.stdout)
    assert report["ok"] and report["problems"] == []
    store = LocalWormStore(home / "store")
    key = next(iter(store.keys()))
    path = store.path_for(key)
    immutable.set_immutable(str(path), False)
    path.chmod(0o644)
    broken = run_evault(home, "store", "check")
    assert broken.returncode == 1
    assert key in broken.stdout and "writable (mode 0644)" in broken.stdout
    listed = json.loads(run_evault(home, "evidence", "list", "--json").stdout)
    (row,) = [r for r in listed if r["sha256"] == key.rpartition("/")[2]]
    shown = json.loads(
        run_evault(home, "evidence", "show", str(row["evidence_id"]), "--json").stdout
    )
    assert "immutable_recorded" in shown["storage"]
    assert not shown["storage"]["immutable"]
    assert "writable (mode 0644)" in shown["storage"]["protection"]


def test_a_purge_that_finds_an_object_removed_by_hand_does_not_record_it_purged(
    vault: Vault, camera: Path, clock: FixedClock
) -> None:
    """Red team, issue 15: an object deleted by hand, then a purge claim forged or resumed,
    was recorded as an ordinary purge. The store records each deletion before it makes it,
    so a purge that finds the object gone without that record keeps the row live."""
    clock.at = DOCKED
    camera_clock_agrees(camera, DOCKED)
    ids = sorted({c.evidence_id for c in ingest_volume(vault, camera).clips})
    with vault.session() as session:
        victim = session.get_one(Evidence, ids[0])
    store = vault.store
    assert isinstance(store, LocalWormStore)
    path = store.path_for(victim.storage_key)
    immutable.set_immutable(str(path), False)
    path.unlink()
    clock.at = add_months(DOCKED, 13)
    report = purge_approved(vault)
    assert sorted(d["evidence_id"] for d in report.deleted) == ids[1:]
    assert {"evidence_id": ids[0], "reason": "object missing, not purged"} in report.kept
    with vault.session() as session:
        assert session.get_one(Evidence, ids[0]).purged_at is None
        missing = session.exec(
            select(AuditEvent).where(AuditEvent.action == "purge.object_missing")
        )
        assert [e.subject for e in missing] == [f"evidence:{ids[0]}"]
    for other in ids[1:]:  # a real deletion leaves its record in the store
        with vault.session() as session:
            sha = session.get_one(Evidence, other).sha256
        assert list(store.record_names(f"deleted/{sha[:2]}/{sha}/"))
