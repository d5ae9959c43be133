"""The access register (AC-7): append-only, hash-chained, its head signed with a key kept
outside the database; any edit made directly in SQL is found and the first bad entry named."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.conftest import make_settings
from vault.access import register, signing
from vault.access.principals import add_principal
from vault.context import Vault
from vault.db.models import RegisterEntry
from vault.timeutil import FixedClock


@pytest.fixture
def keeper(home: Path, clock: FixedClock) -> Vault:
    """A vault with five register entries: the bootstrap and four principals added."""
    vault = Vault(make_settings(home), clock=clock, user="keeper")
    add_principal(vault, "档案员", "staff", ["records_keeper"], unit="一大队")
    for n, kind in enumerate(["staff", "court", "lawyer", "party"]):
        clock.advance(60)
        add_principal(vault, f"p{n}", kind, [], unit=f"单位{n}")
    return vault


def sql(home: Path, *statements: str) -> None:
    with sqlite3.connect(home / "vault.db") as db:
        for statement in statements:
            db.execute(statement)


def first_bad(vault: Vault) -> tuple[int | None, str]:
    report = register.verify(vault)
    assert not report.ok
    first = report.problems[0]
    return first["seq"], first["reason"]


def test_intact_register_verifies_and_every_entry_is_signed(keeper: Vault) -> None:
    report = register.verify(keeper)
    assert report.ok, report.problems
    assert (report.entries, report.signed_seq) == (5, 5)
    assert report.key_id is not None


def test_signing_key_is_created_owner_only_beside_its_public_key(keeper: Vault, home: Path) -> None:
    key = home / "register-signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert signing.public_path(key).exists() and signing.head_path(key).exists()
    assert signing.read_head(key) is not None and signing.read_head(key).seq == 5  # type: ignore[union-attr]


def test_sql_update_of_an_entry_is_detected(keeper: Vault, home: Path) -> None:
    sql(home, "UPDATE register_entry SET reason = '改过' WHERE seq = 3")
    assert first_bad(keeper) == (3, "content does not match its hash (edited)")


def test_sql_delete_of_an_entry_is_detected(keeper: Vault, home: Path) -> None:
    sql(home, "DELETE FROM register_entry WHERE seq = 2")
    seq, reason = first_bad(keeper)
    assert seq == 2 and "missing: deleted" in reason
    assert any("expected entry 2" in p["reason"] for p in register.verify(keeper).problems)


def test_sql_delete_of_the_tail_and_its_signatures_is_detected(keeper: Vault, home: Path) -> None:
    """The .head file outside the database still names the last entry."""
    sql(
        home,
        "DELETE FROM register_entry WHERE seq >= 4",
        "DELETE FROM register_signature WHERE seq >= 4",
    )
    seq, reason = first_bad(keeper)
    assert seq == 5 and "missing: deleted" in reason


def test_sql_insert_of_a_forged_entry_with_a_correct_hash_is_detected(
    keeper: Vault, home: Path
) -> None:
    """Whoever edits the database can recompute hashes, but cannot sign."""
    with keeper.session() as session:
        last = session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq).desc())).first()
    assert last is not None
    forged = RegisterEntry(
        seq=6,
        at=last.at,
        station_id=last.station_id,
        os_user="keeper",
        event="view",
        who="forger",
        prev_hash=last.hash,
        hash="",
    )
    forged.hash = register.entry_hash(last.hash, forged)
    sql(
        home,
        "INSERT INTO register_entry (seq, at, station_id, os_user, event, who, documents, "
        f"detail, prev_hash, hash) VALUES (6, '{last.at:%Y-%m-%d %H:%M:%S.%f}', "
        f"'{last.station_id}', 'keeper', 'view', 'forger', '[]', '{{}}', "
        f"'{last.hash}', '{forged.hash}')",
    )
    report = register.verify(keeper)
    assert [(p["seq"], "covered by no signature" in p["reason"]) for p in report.problems] == [
        (6, True)
    ]  # the chain itself is consistent: only the signature is missing


def test_sql_insert_in_the_middle_is_detected(keeper: Vault, home: Path) -> None:
    sql(
        home,
        "UPDATE register_entry SET seq = seq + 100 WHERE seq >= 3",
        "UPDATE register_entry SET seq = seq - 99 WHERE seq >= 100",
        "INSERT INTO register_entry (seq, at, station_id, os_user, event, documents, detail, "
        "prev_hash, hash) VALUES (3, '2026-11-23 09:00:00.000000', 's', 'x', 'view', '[]', "
        "'{}', 'p', 'h')",
    )
    assert first_bad(keeper)[0] == 3


def test_sql_swap_of_two_entries_is_detected(keeper: Vault, home: Path) -> None:
    sql(
        home,
        "UPDATE register_entry SET seq = -1 WHERE seq = 2",
        "UPDATE register_entry SET seq = 2 WHERE seq = 3",
        "UPDATE register_entry SET seq = 3 WHERE seq = -1",
    )
    assert first_bad(keeper)[0] == 2


def test_sql_swap_of_row_ids_is_detected(keeper: Vault, home: Path) -> None:
    sql(
        home,
        "UPDATE register_entry SET id = -1 WHERE seq = 2",
        "UPDATE register_entry SET id = 2 WHERE seq = 3",
        "UPDATE register_entry SET id = 3 WHERE seq = 2",
    )
    seq, reason = first_bad(keeper)
    assert seq == 3 and "out of order" in reason


def test_a_signature_made_with_another_key_is_detected(keeper: Vault, home: Path) -> None:
    key = home / "register-signing.key"
    for path in (key, signing.public_path(key), signing.head_path(key)):
        path.rename(path.with_name(path.name + ".old"))
    add_principal(keeper, "p9", "staff", [])  # signed with a fresh key
    signing.public_path(key).with_name(key.name + ".pub.old").replace(signing.public_path(key))
    seq, reason = first_bad(keeper)
    assert seq == 6 and "does not verify" in reason


def test_entries_without_the_key_are_flagged_until_the_service_signs(
    keeper: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ordinary user's CLI may not read the key; `evault access sign` catches up."""
    with monkeypatch.context() as patched:
        patched.setattr(signing, "load_private_key", lambda path, create: None)
        add_principal(keeper, "p8", "staff", [])
    seq, reason = first_bad(keeper)
    assert seq == 6 and "covered by no signature" in reason
    assert register.sign_now(keeper) == 6
    assert register.verify(keeper).ok


def test_entry_json_has_the_register_columns(keeper: Vault) -> None:
    with keeper.session() as session:
        rows = [register.entry_json(e) for e in register.entries(session)]
    assert rows[0]["what"] == "bootstrap records keeper" and rows[0]["who"] == "档案员"
    assert rows[1]["at"] == "2026-11-23T09:01:00Z"


def test_a_lost_key_is_not_silently_replaced(keeper: Vault, home: Path) -> None:
    """The .pub stays the trusted key: entries made after the loss show as unsigned."""
    (home / "register-signing.key").unlink()
    add_principal(keeper, "p7", "staff", [])
    assert not (home / "register-signing.key").exists()
    seq, reason = first_bad(keeper)
    assert seq == 6 and "covered by no signature" in reason


# The hash body of entries already written must never change: these digests were computed
# by the register as it stood before its fields were declared once (issue 14).
GOLDEN = "8207d078909face8c8a22d837bcdcc3bd7af201da37bf807d1247317ed50a4a2"
GOLDEN_MINIMAL = "a51f2c6a71543d1563ced193e09e22bb4c85b5f95a7ae7505513e19b6e5ba9d9"
KEEPER_HASHES = [  # the keeper fixture's five entries, as that register wrote them
    "f72d8ea55d850bedc82d76604281bc350d83f09a22aa5cfd5f85eb24be3f622b",
    "e30d73e777bea3c485642d3a2ad2fb9b8f5a83142f62599d4d200bb9d0753119",
    "2450f3b666b8bfa3694301100d3f058f283f3025064051c127a4520328d60105",
    "033be15109adbb4a16030c886db1608ba9ff93e029c84ea8909649386a5530c0",
    "626fc4b96bbf509e42c1c6d0ad457907e8f134f26696d8bf9eae0081f31b3f5d",
]


def test_the_hash_of_a_fixed_entry_is_unchanged() -> None:
    entry = RegisterEntry(
        seq=42,
        at=datetime(2026, 11, 23, 9, 30, 15, 250000, tzinfo=UTC),
        station_id="站-01",
        os_user="keeper",
        event="export",
        who="张三律师",
        unit="城东律师事务所",
        documents=["EV-2026-000123", "EV-2026-000124"],
        what="export:case 2026-刑-17",
        reason='庭审准备 "引号"',
        approver="李四",
        handled_by="档案员",
        request_id=7,
        grant_id=9,
        detail={"说明": "导出两段视频", "copies": 2, "nested": {"ok": True, "list": [1, "二"]}},
        prev_hash="ab" * 32,
        hash="",
    )
    assert register.entry_hash("ab" * 32, entry) == GOLDEN
    minimal = RegisterEntry(
        seq=1,
        at=datetime(2026, 11, 23, 9, 0),  # naive, as SQLite hands it back: read as UTC
        station_id="s",
        os_user="u",
        event="view",
        prev_hash=register.GENESIS,
        hash="",
    )
    assert register.entry_hash(register.GENESIS, minimal) == GOLDEN_MINIMAL


def test_hash_body_and_json_view_come_from_one_declaration() -> None:
    entry = RegisterEntry(
        seq=1,
        at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        station_id="s",
        os_user="u",
        event="view",
        prev_hash="p" * 64,
        hash="h" * 64,
    )
    body = register.hash_body("q" * 64, entry)
    assert sorted(body) == sorted(
        [
            "seq",
            "prev",
            "at",
            "station",
            "os_user",
            "event",
            "who",
            "unit",
            "documents",
            "what",
            "reason",
            "approver",
            "handled_by",
            "request_id",
            "grant_id",
            "detail",
        ]
    )
    assert body["prev"] == "q" * 64 and body["station"] == "s"
    assert list(register.entry_json(entry)) == [
        "seq",
        "at",
        "event",
        "who",
        "unit",
        "documents",
        "what",
        "reason",
        "approver",
        "handled_by",
        "os_user",
        "station_id",
        "request_id",
        "grant_id",
        "detail",
        "hash",
    ]


def test_a_register_written_as_before_still_verifies(keeper: Vault) -> None:
    """The keeper's entries hash as the earlier register wrote them, and the chain holds."""
    with keeper.session() as session:
        assert [e.hash for e in register.entries(session)] == KEEPER_HASHES
    assert register.verify(keeper).ok
