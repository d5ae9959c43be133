"""`evault verify` and `evault store rebuild-index` against a red team (issue 15): a forged
seal record beside the real one, a purge faked by hand, a cut audit tail after the newest
anchor, bytes slipped into the store, malformed records of every kind. Each is a finding
(or, in a rebuild, a skipped record), never a traceback."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.integration.test_rebuild import lose_database
from tests.verify_scene import Scene, add_derivative, build_scene
from vault.context import Vault
from vault.db.models import AuditEvent, Derivative, Evidence, Officer
from vault.recovery.findings import Report
from vault.recovery.rebuild import rebuild_index
from vault.recovery.verify import verify
from vault.sealing import anchors, seals
from vault.timeutil import FixedClock


@pytest.fixture
def scene(vault: Vault, camera: Path, tmp_path: Path) -> Scene:
    return build_scene(vault, camera, tmp_path)


def found(report: Report, kind: str) -> list[tuple[str, str]]:
    return [(f.subject, f.reason) for f in report.findings if f.kind == kind]


def seal_of(scene: Scene, sha256: str, kind: str = "evidence") -> seals.Seal:
    (seal,) = [s for s in seals.seals_of(scene.store, sha256) if s.kind == kind]
    return seal


def forge_officer(scene: Scene, evidence_id: int) -> tuple[str, dict[str, object]]:
    """A second seal record of a clip's sealing event naming another officer (newer, so
    "the newest wins" would take it), the row edited to match it."""
    row = scene.evidence(evidence_id)
    real = seal_of(scene, row.sha256)
    with scene.vault.session() as session:
        other = session.exec(select(Officer).where(Officer.officer_id == "999999")).first()
        if other is None:
            other = Officer(officer_id="999999", name="钱其他")
            session.add(other)
            session.commit()
        other_pk, other_dump = other.id, seals.row_facts(other)
    body = json.loads(json.dumps(real.body))
    body["officer"] = other_dump
    body["evidence"]["officer_pk"] = other_pk
    body["event"]["at"] = "2099-01-01T00:00:00+00:00"
    name = real.name.replace(".json", "-b.json")
    scene.store.put_record(name, seals.canonical(body))
    scene.sql("UPDATE evidence SET officer_pk = :pk WHERE id = :id", pk=other_pk, id=row.id)
    return name, real.body


def test_a_forged_seal_record_beside_the_real_one_is_found(scene: Scene) -> None:
    evidence_id = scene.office.evidence[2]
    forged, _ = forge_officer(scene, evidence_id)
    rows = found(verify(scene.vault), "rows")
    assert (
        f"seal:{forged}",
        "a seal record that its sealing event does not vouch for: forged",
    ) in (rows)
    assert any(s == f"evidence:{evidence_id}" and "officer" in r for s, r in rows), rows


def test_a_record_claiming_a_sealing_event_for_other_bytes_is_found(
    scene: Scene,
) -> None:
    """Another clip's bytes claimed for a sealing event, at their own canonical address:
    the event's "seal_facts" disowns the record."""
    evidence_id = scene.office.evidence[2]
    row = scene.evidence(evidence_id)
    real = seal_of(scene, row.sha256)
    event_id = real.body["event"]["seq"]
    with scene.vault.session() as session:
        assert "seal_facts" in session.get_one(AuditEvent, event_id).detail
    # Another clip's bytes claimed for the same event, at their own (canonical) address.
    other = scene.evidence(scene.office.evidence[3])
    body = json.loads(json.dumps(real.body))
    body["sha256"] = other.sha256
    body["evidence"]["sha256"] = other.sha256
    body["event"]["at"] = "2099-01-01T00:00:00+00:00"
    name = seals.seal_name(other.sha256, real.event_hash)
    scene.store.put_record(name, seals.canonical(body))
    rows = found(verify(scene.vault), "rows")
    assert (f"seal:{name}", "a seal record that its sealing event does not vouch for: forged") in (
        rows
    )


def test_a_rebuild_takes_the_real_record_not_the_newer_forged_one(
    scene: Scene, home: Path, clock: FixedClock
) -> None:
    evidence_id = scene.office.evidence[2]
    sha = scene.evidence(evidence_id).sha256
    forged, real = forge_officer(scene, evidence_id)
    lose_database(scene.vault, home)
    rebuilt = Vault(scene.vault.settings, clock=clock, user="tester")
    report = rebuild_index(rebuilt).to_json()
    with rebuilt.session() as session:
        row = session.exec(select(Evidence).where(Evidence.sha256 == sha)).one()
        officer = session.get_one(Officer, row.officer_pk)
    assert officer.officer_id == real["officer"]["officer_id"]  # type: ignore[index]
    assert any(s["record"] == forged for s in report["skipped"]), report["skipped"]
    # Each request lost in the rebuild is named once, not once per document.
    requests = [s["subject"] for s in report["skipped"] if s["subject"].startswith("request:")]
    assert requests and len(requests) == len(set(requests)), requests


def test_a_purge_faked_by_hand_is_found(scene: Scene) -> None:
    target = scene.evidence(scene.office.evidence[2])
    scene.path_of(target.storage_key).unlink()
    scene.sql(
        "UPDATE evidence SET purged_at = :at, status = 'purged' WHERE id = :id",
        at=scene.vault.clock.now(),
        id=target.id,
    )
    objects = found(verify(scene.vault, objects=False), "objects")
    assert any(
        s == f"evidence:{target.id}" and "the store recorded no deletion: deleted by hand?" in r
        for s, r in objects
    ), objects


def test_a_cut_audit_tail_after_the_newest_anchor_is_found_and_not_anchored(
    scene: Scene, tmp_path: Path
) -> None:
    # Both heads anchored now, so the sealing below falls after the newest anchor however
    # many events the scene's set-up wrote (every store.anchor_every events anchor too).
    with scene.vault.session() as session:
        scene.vault.anchorer.anchor_now(session)
    derivative = add_derivative(scene.vault, scene.office.evidence[1], tmp_path)
    sealing = seal_of(scene, derivative.sha256, "derivative").body["event"]["seq"]
    newest = anchors.newest(scene.store, "audit")
    assert newest is not None and newest.seq < sealing, "the sealing must be after the anchor"
    scene.sql("DELETE FROM audit_event WHERE id >= :id", id=sealing)
    report = verify(scene.vault)
    chains = found(report, "chains")
    assert any(
        s == f"audit:{sealing}" and f"lost event {sealing}" in r and r.endswith(": cut")
        for s, r in chains
    ), chains
    assert report.exit_code == 4
    # verify never anchors the head it found cut, then or as it records its result.
    assert anchors.newest(scene.store, "audit") == newest


def test_a_sealing_rolled_back_beside_one_in_the_chain_is_no_cut(scene: Scene) -> None:
    """Two stations racing: the loser's record names an event that was never committed;
    the winner's record of the same object is in the chain."""
    row = scene.evidence(scene.office.evidence[2])
    real = seal_of(scene, row.sha256)
    with scene.vault.session() as session:
        head = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
        assert head is not None and head.id is not None
    body = json.loads(json.dumps(real.body))
    lost_hash = hashlib.sha256(b"rolled back").hexdigest()
    body["event"] = {**body["event"], "seq": head.id + 5, "hash": lost_hash}
    scene.store.put_record(seals.seal_name(row.sha256, lost_hash), seals.canonical(body))
    report = verify(scene.vault)
    assert found(report, "chains") == [] and found(report, "rows") == []


def test_an_object_no_record_points_at_is_found(scene: Scene) -> None:
    data = b"bytes slipped into the store"
    writer = scene.store.begin_put()
    writer.write(data)
    put = writer.commit(hashlib.sha256(data).hexdigest(), len(data), scene.vault.clock.now())
    objects = found(verify(scene.vault, objects=False), "objects")
    assert (put.key, "an object in the store that no record points at") in objects


def test_malformed_records_are_findings_and_skipped_by_a_rebuild(
    scene: Scene, home: Path, clock: FixedClock
) -> None:
    store = scene.store
    sha = scene.evidence(scene.office.evidence[2]).sha256
    real = seal_of(scene, sha)
    folder = f"seal/{sha[:2]}/{sha}"

    def without(key: str) -> bytes:
        return seals.canonical({k: v for k, v in real.body.items() if k != key})

    bad_at = json.loads(json.dumps(real.body))
    bad_at["event"]["at"] = "yesterday"
    records = {
        f"{folder}/a1.json": b"not json {",
        f"{folder}/a2.json": b"{}",
        f"{folder}/a3.json": b"[1, 2]",
        f"{folder}/a4.json": without("event"),
        f"{folder}/a5.json": without("sha256"),
        f"{folder}/a6.json": without("type"),
        f"{folder}/a7.json": without("evidence"),
        f"{folder}/a8.json": seals.canonical(bad_at),
        "seal/junk.json": b'{"junk": true}',
        f"deleted/{sha[:2]}/{sha}/000009.json": b"{}",
        "anchor/audit/000000000001-0000000000000000.json": b'{"chain": "audit"}',
        "anchor/audit/000000000002-0000000000000000.json": json.dumps(
            {"chain": "audit", "seq": "x", "hash": "0" * 64, "at": "2026-01-01T00:00:00+00:00"}
        ).encode(),
        "anchor/register/000000000003-0000000000000000.json": b"",
    }
    naive = anchors.Anchor("audit", 999999, "e" * 64, clock.now(), "s")
    naive_body = {**naive.to_json(), "at": "2099-01-01T00:00:00"}
    records[naive.name] = json.dumps(naive_body).encode()
    for name, body in records.items():
        store.put_record(name, body)
    records_root = store.root / "records"
    outside = home / "elsewhere.json"
    outside.write_bytes(seals.canonical(real.body))
    link = f"{folder}/a9.json"
    os.symlink(outside, records_root / link)
    huge = f"{folder}/b0.json"
    (records_root / huge).write_bytes(b" " * (2 << 20) + b"{}")
    names = [*records, link, huge]

    left: list[tuple[str, str]] = []
    assert anchors.newest(store, "audit", left) is not None and left[0][0] == naive.name
    assert all(a.at.tzinfo is not None for a in anchors.read_all(store, "audit"))
    with scene.vault.session() as session:
        scene.vault.anchorer.tick(session)  # a naive anchor breaks no comparison

    report = verify(scene.vault)
    subjects = {f.subject: f.kind for f in report.findings}
    for name in names:
        assert subjects.get(f"record:{name}") in ("rows", "chains"), (name, subjects)

    lose_database(scene.vault, home)
    rebuilt = Vault(scene.vault.settings, clock=clock, user="tester")
    result = rebuild_index(rebuilt).to_json()
    skipped = {s["record"] for s in result["skipped"]}
    assert set(names) <= skipped, set(names) - skipped
    assert result["anchors"]["audit"]["seq"] != naive.seq  # never continued from a bad one
    with rebuilt.session() as session:
        assert session.exec(select(Evidence).where(Evidence.sha256 == sha)).one()
        assert session.exec(select(Derivative)).first() is not None
