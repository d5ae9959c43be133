"""The audit chain and the access register held against their anchors in the WORM store
(issue 15): what a hostile insider does with the database alone, without the signing key —
cut a tail, empty a table, rewrite an unsigned stretch with recomputed hashes — is found,
and an untouched vault reports nothing.

The tampering is done in SQL on the vault's own engine (SQLite or PostgreSQL alike), never
through a session that would anchor what it wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from tests.conftest import make_settings, run_evault
from vault.access import register, signing
from vault.access.principals import add_principal
from vault.context import Vault
from vault.db import audit
from vault.db.models import AuditEvent, RegisterEntry
from vault.errors import RegisterTampered
from vault.ingest.pipeline import ingest_volume
from vault.recovery import chains
from vault.recovery.findings import Finding
from vault.sealing import anchors
from vault.timeutil import FixedClock, iso


def open_vault(home: Path, clock: FixedClock, sign_every: int = 1, anchor_every: int = 20) -> Vault:
    """A vault with its settings also in HOME/vault.toml, for the CLI run on the same home."""
    settings = make_settings(
        home, store={"anchor_every": anchor_every}, access={"sign_every": sign_every}
    )
    (home / "vault.toml").write_text(
        f'station_id = "test-station"\n[store]\nimmutable = "off"\nanchor_every = {anchor_every}\n'
        f"[access]\nsign_every = {sign_every}\n"
    )
    return Vault(settings, clock=clock, user="keeper")


def fill_register(vault: Vault, clock: FixedClock, entries: int) -> None:
    """ENTRIES register entries through real operations: the bootstrap records keeper,
    principals added, views registered."""
    add_principal(vault, "档案员", "staff", ["records_keeper"], unit="一大队")
    for n in range(1, entries):
        clock.advance(10)
        if n % 2:
            add_principal(vault, f"p{n}", "staff", [], unit=f"单位{n}")
        else:
            with vault.session() as session:
                register.append(vault, session, "view", who="档案员", what=f"evidence:{n}")
                session.commit()


def sql(vault: Vault, *statements: str, **params: Any) -> None:
    with vault.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def head_file(vault: Vault) -> Path:
    return signing.head_path(signing.key_path(vault.settings))


def rows(vault: Vault) -> list[RegisterEntry]:
    with vault.session() as session:
        return list(session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq))))


def events(vault: Vault) -> list[AuditEvent]:
    with vault.session() as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))


def kinds(findings: list[Finding]) -> set[str]:
    return {f.kind for f in findings}


def rewrite_register_from(vault: Vault, seq: int) -> None:
    """What a forger without the key does: edit entry SEQ and recompute its hash and every
    link after it, so that the chain is consistent again."""
    prev = None
    for row in rows(vault):
        if row.seq < seq:
            prev = row.hash
            continue
        assert prev is not None
        if row.seq == seq:
            row.reason = "改过的理由"
        row.prev_hash = prev
        row.hash = register.entry_hash(prev, row)
        sql(
            vault,
            "UPDATE register_entry SET reason = :reason, prev_hash = :prev, hash = :hash "
            "WHERE seq = :seq",
            reason=row.reason,
            prev=row.prev_hash,
            hash=row.hash,
            seq=row.seq,
        )
        prev = row.hash


# -- the access register -----------------------------------------------------------------


def test_a_cut_tail_with_its_signatures_and_head_file_is_found_through_the_anchors(
    home: Path, clock: FixedClock
) -> None:
    vault = open_vault(home, clock)
    fill_register(vault, clock, 8)
    assert register.verify(vault).ok
    sql(
        vault,
        "DELETE FROM register_signature WHERE seq >= 6",
        "DELETE FROM register_entry WHERE seq >= 6",
    )
    head_file(vault).unlink()
    report = register.verify(vault)
    assert not report.ok
    reasons = [p["reason"] for p in report.problems]
    assert any(
        "the register ends at entry 5 but the store anchored entry 8" in r
        and "entries were deleted" in r
        for r in reasons
    ), reasons
    found = chains.check_register(vault)
    assert "chains" in kinds(found) and "register:8" in {f.subject for f in found}
    cli = run_evault(home, "access", "log", "--verify")
    assert cli.returncode == 4, cli.stderr
    assert "register tampered" in cli.stderr and "anchored entry 8" in cli.stderr


def test_an_emptied_register_is_found(home: Path, clock: FixedClock) -> None:
    vault = open_vault(home, clock)
    fill_register(vault, clock, 4)
    sql(vault, "DELETE FROM register_signature", "DELETE FROM register_entry")
    head_file(vault).unlink()
    report = register.verify(vault)
    assert report.entries == 0 and not report.ok
    assert any(
        "the register is empty but the store anchored entry 4" in p["reason"]
        for p in report.problems
    ), report.problems
    assert kinds(chains.check_register(vault)) == {"chains"}
    assert run_evault(home, "access", "log", "--verify").returncode == 4


def test_a_rewritten_unsigned_tail_is_found_through_the_anchor_without_the_key(
    home: Path, clock: FixedClock
) -> None:
    """sign_every = 5: entries 6..8 are not signed yet; the forger rewrites entry 6 and
    recomputes the links. The store anchored entry 7 (anchor_every = 2) as it was."""
    vault = open_vault(home, clock, sign_every=5, anchor_every=2)
    fill_register(vault, clock, 8)
    assert [a.seq for a in anchors.read_all(vault.store, "register")] == [1, 3, 5, 7]
    assert register.verify(vault).ok
    signing.key_path(vault.settings).unlink()  # what checks the register needs no key
    rewrite_register_from(vault, 6)
    report = register.verify(vault)
    assert [(p["seq"], p["reason"]) for p in report.problems] == [
        (7, f"entry 7 differs from the one the store anchored on {iso_of(vault, 7)} (rewritten)")
    ]
    assert "chains" in kinds(chains.check_register(vault))


def iso_of(vault: Vault, seq: int) -> str:
    anchor = next(a for a in anchors.read_all(vault.store, "register") if a.seq == seq)
    return str(iso(anchor.at))


def test_entries_anchored_but_not_yet_signed_are_a_warning_not_tampering(
    home: Path, clock: FixedClock
) -> None:
    """sign_every = 5: entry 5 is signed, 6 and 7 wait. Once anchor_minutes pass, the
    service's timer anchors entry 7: the store holds it, only the signature is to come."""
    vault = open_vault(home, clock, sign_every=5)
    fill_register(vault, clock, 7)
    report = register.verify(vault)
    assert report.ok and report.warnings == [] and report.signed_seq == 5
    clock.advance(vault.settings.store.anchor_minutes * 60 + 1)
    with vault.session() as session:
        assert [a.seq for a in vault.anchorer.tick(session) if a.chain == "register"] == [7]
    report = register.verify(vault)
    assert report.ok, report.problems
    assert [w["reason"].split(" (")[0] for w in report.warnings] == [
        "entries 6..7 are anchored but not yet signed"
    ]
    assert report.to_json()["warnings"] == report.warnings
    found = chains.check_register(vault)
    assert [(f.kind, f.subject) for f in found] == [("warnings", "register:6")]
    cli = run_evault(home, "access", "log", "--verify")
    assert cli.returncode == 0, cli.stderr
    assert "register intact" in cli.stdout
    assert "warning: entries 6..7 are anchored but not yet signed" in cli.stderr
    assert register.sign_now(vault) == 7  # the service signs: the warning is gone
    report = register.verify(vault)
    assert report.ok and report.warnings == []


def test_access_sign_refuses_a_register_that_does_not_hold_against_its_anchors(
    home: Path, clock: FixedClock
) -> None:
    vault = open_vault(home, clock, sign_every=5, anchor_every=2)
    fill_register(vault, clock, 8)
    rewrite_register_from(vault, 6)
    with pytest.raises(RegisterTampered, match="not signing a register that does not hold"):
        register.sign_now(vault)
    cli = run_evault(home, "access", "sign")
    assert cli.returncode == 4
    assert cli.stderr.strip().splitlines() == [
        f"error: not signing a register that does not hold: entry 7: entry 7 differs from the "
        f"one the store anchored on {iso_of(vault, 7)} (rewritten) (`evault access log "
        "--verify` lists every problem)"
    ]
    # Nothing was signed over the forgery: the newest signature is still entry 5's.
    assert register.verify(vault).signed_seq == 5
    sql(vault, "DELETE FROM register_entry WHERE seq >= 6")  # a cut tail: refused too
    with pytest.raises(RegisterTampered, match="ends at entry 5"):
        register.sign_now(vault)


def test_a_register_rebuilt_from_an_anchor_holds_and_a_cut_front_does_not(
    home: Path, clock: FixedClock
) -> None:
    """The rule `evault store rebuild-index` keeps: the first entry follows the newest
    anchored head (prev_hash its hash, seq one more). Lost entries are a warning."""
    vault = open_vault(home, clock)
    fill_register(vault, clock, 4)
    newest = anchors.read_all(vault.store, "register")[-1]
    assert newest.seq == 4
    sql(vault, "DELETE FROM register_signature", "DELETE FROM register_entry")
    first = RegisterEntry(
        seq=5,
        at=clock.now(),
        station_id="test-station",
        os_user="keeper",
        event="rebuilt",
        what="the database, rebuilt from the WORM store",
        prev_hash=newest.hash,
        hash="",
    )
    first.hash = register.entry_hash(newest.hash, first)
    with vault.session() as session:
        session.add(first)
        session.commit()
    with vault.session() as session:
        register.append(vault, session, "view", who="档案员", what="evidence:1")
        session.commit()
    report = register.verify(vault)
    assert report.ok, report.problems
    assert [w["seq"] for w in report.warnings] == [5]
    assert "entries 1..4 are not in the database" in report.warnings[0]["reason"]
    assert kinds(chains.check_register(vault)) == {"warnings"}
    # The same start without the rebuild record is a front cut off: tampering.
    sql(vault, "DELETE FROM register_entry WHERE seq > 5")
    sql(vault, "UPDATE register_entry SET event = 'view' WHERE seq = 5")
    report = register.verify(vault)
    assert any(
        "without a rebuild record: entries were deleted" in p["reason"] for p in report.problems
    )


# -- the audit chain ---------------------------------------------------------------------


@pytest.fixture
def sealed(home: Path, clock: FixedClock, camera: Path) -> Vault:
    """A vault after a real ingest, its audit chain anchored every 3 events, and its head
    anchored by the timer once the chain went quiet."""
    vault = open_vault(home, clock, anchor_every=3)
    ingest_volume(vault, camera)
    fill_register(vault, clock, 3)
    clock.advance(vault.settings.store.anchor_minutes * 60 + 1)
    with vault.session() as session:
        vault.anchorer.tick(session)
    held = anchors.read_all(vault.store, "audit")
    assert held[-1].seq == events(vault)[-1].id and len(held) >= 3
    return vault


def test_an_untouched_vault_after_many_operations_reports_nothing(sealed: Vault) -> None:
    assert chains.check_audit(sealed) == []
    assert chains.check_register(sealed) == []
    report = register.verify(sealed)
    assert report.ok and report.warnings == []


def test_deleted_last_audit_events_are_found(sealed: Vault) -> None:
    last = events(sealed)[-1].id
    assert last is not None
    sql(sealed, "DELETE FROM audit_event WHERE id > :keep", keep=last - 2)
    found = chains.check_audit(sealed)
    assert [(f.kind, f.subject) for f in found] == [("chains", f"audit:{last}")]
    assert found[0].reason.startswith(
        f"the audit chain ends at event {last - 2} but the store anchored event {last} on "
    )
    assert found[0].reason.endswith(": events were deleted")


def test_an_emptied_audit_chain_is_found(sealed: Vault) -> None:
    last = events(sealed)[-1].id
    sql(sealed, "DELETE FROM audit_event")
    found = chains.check_audit(sealed)
    assert kinds(found) == {"chains"}
    assert found[0].reason.startswith(
        f"the audit chain is empty but the store anchored event {last}"
    )


def test_an_edited_audit_event_is_found(sealed: Vault) -> None:
    target = events(sealed)[1].id
    sql(sealed, "UPDATE audit_event SET actor = 'forger' WHERE id = :id", id=target)
    found = chains.check_audit(sealed)
    assert (f"audit:{target}", f"event {target} content does not match its hash") in {
        (f.subject, f.reason) for f in found
    }


def test_an_audit_stretch_rewritten_with_recomputed_hashes_is_found_by_its_anchor(
    sealed: Vault,
) -> None:
    chain = events(sealed)
    held = {a.seq for a in anchors.read_all(sealed.store, "audit")}
    start = len(chain) - 2  # rewrite from the third last event on: the head is anchored
    prev = chain[start - 1].hash
    for event in chain[start:]:
        if event is chain[start]:
            event.actor = "forger"
        event.prev_hash = prev
        event.hash = audit.event_hash(prev, event)
        sql(
            sealed,
            "UPDATE audit_event SET actor = :actor, prev_hash = :prev, hash = :hash WHERE id = :id",
            actor=event.actor,
            prev=event.prev_hash,
            hash=event.hash,
            id=event.id,
        )
        prev = event.hash
    assert audit.check_chain(events(sealed)) == []  # the links hold: only the anchor knows
    found = chains.check_audit(sealed)
    rewritten = [e.id for e in chain[start:] if e.id in held]
    assert rewritten and [f.subject for f in found] == [f"audit:{n}" for n in rewritten]
    assert all("(rewritten)" in f.reason and f.kind == "chains" for f in found)


def test_an_audit_chain_rebuilt_from_an_anchor_is_a_warning_and_a_cut_front_is_not(
    sealed: Vault,
) -> None:
    newest = anchors.read_all(sealed.store, "audit")[-1]
    sql(sealed, "DELETE FROM audit_event")
    rebuilt = AuditEvent(
        id=newest.seq + 1,
        at=sealed.clock.now(),
        station_id="test-station",
        actor="rebuild:keeper",
        action=chains.REBUILT,
        detail={},
        prev_hash=newest.hash,
        hash="",
    )
    rebuilt.hash = audit.event_hash(newest.hash, rebuilt)
    with sealed.session() as session:
        session.add(rebuilt)
        session.commit()
    found = chains.check_audit(sealed)
    assert [(f.kind, f.subject) for f in found] == [("warnings", f"audit:{newest.seq + 1}")]
    assert f"events 1..{newest.seq} are not in the database" in found[0].reason
    # The same start without the rebuild record is a front cut off: tampering.
    sql(sealed, "UPDATE audit_event SET action = 'test'")
    found = chains.check_audit(sealed)
    assert "chains" in kinds(found)
    assert any("without a rebuild record: events were deleted" in f.reason for f in found)
