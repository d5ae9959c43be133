"""`evault verify` against random forgeries (issue 15): one real vault is built per module
(the sample camera sealed, derivatives, a case, a hold, requests with documents, an
approved export, a revoked grant, both chains anchored), and each example works on a copy
of its home (the SQLite file and the store) with one random change made in raw SQL, as an
insider with the database file would: an edit of a fact, a row deleted, a row inserted, or
two rows' ids swapped, in the evidence, derivative, audit, register, signature and grant
tables. Every change that alters a fact is flagged; the untouched copy raises nothing.

What "alters a fact" means here: a column that is a fact of the sealing (a row's seal
record holds it), of a chain (its hash covers it), of a grant (the register approved it),
or the retention the store holds too. Mutable columns (status, media, markings, purged_at
...) are not edited. Not facts either, and so only checked not to break verify: a
signature row deleted or swapped (the entries are still covered by
the newest signature and the head file; a signature is a proof, not a fact), and a grant's
evidence list narrowed (it could only export less). An entry appended at a chain's tail
with a correctly recomputed hash is a new entry rather than an altered one, and is not
generated: only the signing key can tell it (the register's next signature).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TEST_DATABASE, make_settings
from tests.verify_scene import build_scene
from vault.context import Vault
from vault.recovery.findings import Report
from vault.recovery.verify import verify
from vault.timeutil import FixedClock

pytestmark = pytest.mark.skipif(
    TEST_DATABASE != "sqlite", reason="copies the SQLite file of one vault per example"
)

START = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
TABLES = (
    "evidence",
    "derivative",
    "audit_event",
    "register_entry",
    "register_signature",
    "access_grant",
)
HEX = {"sha256", "hash", "prev_hash", "head_hash", "signature"}
TIMES = {
    "recorded_at",
    "recorded_at_corrected",
    "docked_at",
    "sealed_at",
    "retain_until",
    "created_at",
    "at",
    "signed_at",
    "granted_at",
    "expires_at",
    "revoked_at",
}
JSON_COLUMNS = {"detail", "documents", "params", "evidence_ids"}
# The columns of each table that are facts (see the module's doc).
FACTS: dict[str, tuple[str, ...]] = {
    "evidence": (
        "sha256",
        "size",
        "kind",
        "file_name",
        "camera_folder",
        "sequence",
        "camera_time",
        "camera_time_source",
        "recorded_at",
        "recorded_at_corrected",
        "docked_at",
        "sealed_at",
        "dock_session_id",
        "device_pk",
        "officer_pk",
        "storage_key",
        "retain_until",
        "legal_hold",
    ),
    "derivative": (
        "evidence_id",
        "kind",
        "sha256",
        "size",
        "storage_key",
        "media_type",
        "encoder",
        "params",
        "recovered_s",
        "created_at",
    ),
    "audit_event": (
        "at",
        "station_id",
        "actor",
        "action",
        "subject",
        "detail",
        "prev_hash",
        "hash",
    ),
    "register_entry": (
        "seq",
        "at",
        "station_id",
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
        "prev_hash",
        "hash",
    ),
    "register_signature": ("seq", "head_hash", "signed_at", "signature", "key_id"),
    "access_grant": (
        "request_id",
        "grantee_id",
        "scope",
        "action",
        "granted_by_id",
        "granted_at",
        "expires_at",
        "revoked_at",
        "revoke_reason",
        "revoked_by_id",
        "evidence_ids",
    ),
}
# Deleting a row of these tables alters a fact; swapping two rows' ids, likewise.
DELETE_ALTERS = set(TABLES) - {"register_signature"}
SWAP_ALTERS = set(TABLES) - {"register_signature"}


@dataclass
class Template:
    home: Path
    rows: dict[str, list[dict[str, Any]]]  # table: its rows as sqlite3 gives them
    ids: dict[str, list[int]]  # ids of other tables an edit may point at

    def copy(self, into: Path) -> Path:
        home = into / "home"
        shutil.copytree(self.home, home, symlinks=True)
        return home


def open_vault(home: Path) -> Vault:
    return Vault(make_settings(home), clock=FixedClock(START + timedelta(hours=4)), user="tester")


def problems(report: Report) -> list[tuple[str, str, str]]:
    return [(f.kind, f.subject, f.reason) for f in report.findings if f.kind != "warnings"]


def _rows(db: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[int]]]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        rows = {
            t: [dict(r) for r in connection.execute(f"SELECT * FROM {t} ORDER BY id")]
            for t in TABLES
        }
        ids = {
            t: [r[0] for r in connection.execute(f"SELECT id FROM {t} ORDER BY id")]
            for t in ("device", "officer", "dock_session", "principal", "access_request")
        }
    return rows, ids


@pytest.fixture(scope="module")
def template(pristine_camera: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    root = tmp_path_factory.mktemp("verify-template")
    camera = root / "camera"
    shutil.copytree(pristine_camera, camera, symlinks=True)
    home = root / "home"
    home.mkdir()
    vault = Vault(make_settings(home), clock=FixedClock(START), user="tester")
    build_scene(vault, camera, root)
    assert isinstance(vault.clock, FixedClock)
    vault.clock.advance(3600)
    assert problems(verify(vault)) == []
    with vault.session() as session:
        vault.anchorer.anchor_now(session)  # both heads anchored: a cut tail shows
    vault.engine.dispose()
    with sqlite3.connect(home / "vault.db") as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows, ids = _rows(home / "vault.db")
    assert len(rows["derivative"]) >= 2 and len(rows["access_grant"]) >= 2
    assert all(rows[t] for t in TABLES)
    yield Template(home, rows, ids)


# The changes: each is SQL on the copy's database, and whether it alters a fact.


@dataclass(frozen=True)
class Change:
    what: str
    statements: tuple[tuple[str, tuple[Any, ...]], ...]
    alters_fact: bool

    def apply(self, db: Path) -> None:
        with sqlite3.connect(db) as connection:  # foreign keys off: as an intruder edits
            for sql, params in self.statements:
                assert connection.execute(sql, params).rowcount == 1, (self.what, sql, params)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _text_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def new_value(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    template: Template,
    table: str,
    column: str,
    row: dict[str, Any],
) -> tuple[Any, bool]:
    """A new value for ROW's COLUMN, different from the old; and whether it alters a fact."""
    old = row[column]
    if column in HEX:
        size = len(old) if old else 64
        value = draw(st.text("0123456789abcdef", min_size=size, max_size=size))
        return (value if value != old else ("f" if old[0] != "f" else "e") + old[1:]), True
    if column in TIMES:
        moment = _time(old)
        if moment is None:
            return _text_time(START + timedelta(days=draw(st.integers(1, 900)))), True
        if column in ("granted_at", "revoked_at"):
            # The register's entry is written a moment after the row: an hour is the same.
            shift = timedelta(hours=draw(st.integers(2, 5000)) * draw(st.sampled_from((-1, 1))))
        elif column == "retain_until":
            shift = timedelta(days=draw(st.integers(1, 3000)) * draw(st.sampled_from((-1, 1))))
        else:
            shift = timedelta(seconds=draw(st.integers(1, 10**8)) * draw(st.sampled_from((-1, 1))))
        return _text_time(moment + shift), True
    if column == "evidence_ids":
        listed = _json(old) or []
        if draw(st.booleans()) and len(listed) > 1:
            return json.dumps(listed[:-1]), False  # narrowed: only less could leave
        others = [
            i for i in [r["id"] for r in template.rows["evidence"]] + [999] if i not in listed
        ]
        return json.dumps([*listed, draw(st.sampled_from(others))]), True
    if column in JSON_COLUMNS:
        value = _json(old)
        forged = draw(st.text(min_size=1, max_size=8))
        if isinstance(value, list):
            return json.dumps([*value, forged], ensure_ascii=False), True
        return json.dumps({**(value or {}), "forged": forged}, ensure_ascii=False), True
    if column == "legal_hold":
        return (0 if old else 1), True
    if column in ("device_pk", "officer_pk", "dock_session_id", "evidence_id"):
        pool = {
            "device_pk": template.ids["device"],
            "officer_pk": template.ids["officer"],
            "dock_session_id": template.ids["dock_session"],
            "evidence_id": [
                r["id"]
                for r in template.rows["evidence"]
                if r["id"] not in {d["evidence_id"] for d in template.rows["derivative"]}
            ],
        }[column]
        choices = [i for i in [*pool, 999, None] if i != old]
        if column in ("dock_session_id", "evidence_id"):
            choices = [i for i in choices if i is not None]
        return draw(st.sampled_from(choices)), True
    if column in ("grantee_id", "granted_by_id", "revoked_by_id"):
        return draw(st.sampled_from([i for i in template.ids["principal"] if i != old])), True
    if column in ("request_id", "grant_id", "seq"):
        taken = {r[column] for r in template.rows[table]}
        return draw(st.sampled_from([i for i in range(1, 1200) if i not in taken][-5:])), True
    if column == "storage_key" and draw(st.booleans()):
        keys = {r["storage_key"] for r in template.rows["evidence"] + template.rows["derivative"]}
        return draw(st.sampled_from(sorted(keys - {old}))), True
    if isinstance(old, bool | int) and not isinstance(old, bool):
        return old + draw(st.sampled_from((-3, -2, -1, 1, 2, 3, 1000))), True
    if isinstance(old, float):
        return old + draw(st.floats(0.5, 100.0)), True
    suffix = draw(st.text(min_size=1, max_size=6))
    return (suffix if old is None else f"{old}{suffix}"), True


def editable_rows(template: Template, table: str, column: str) -> list[dict[str, Any]]:
    """The rows whose COLUMN an edit may change: a grant's reason or revoker only where
    it was revoked (a reason with no revocation is no revocation)."""
    if table == "access_grant" and column in ("revoke_reason", "revoked_by_id"):
        return [r for r in template.rows[table] if r["revoked_at"] is not None]
    return template.rows[table]


@st.composite
def edits(draw: Callable[[st.SearchStrategy[Any]], Any], template: Template) -> Change:
    table = draw(st.sampled_from(TABLES))
    column = draw(st.sampled_from(FACTS[table]))
    return edit(draw, template, table, column)


def edit(
    draw: Callable[[st.SearchStrategy[Any]], Any], template: Template, table: str, column: str
) -> Change:
    row = draw(st.sampled_from(editable_rows(template, table, column)))
    value, alters = new_value(draw, template, table, column, row)
    return Change(
        f"edit {table}:{row['id']}.{column} {row[column]!r} -> {value!r}",
        ((f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, row["id"])),),
        alters,
    )


@st.composite
def deletions(draw: Callable[[st.SearchStrategy[Any]], Any], template: Template) -> Change:
    table = draw(st.sampled_from(TABLES))
    row = draw(st.sampled_from(template.rows[table]))
    return Change(
        f"delete {table}:{row['id']}",
        ((f"DELETE FROM {table} WHERE id = ?", (row["id"],)),),
        table in DELETE_ALTERS,
    )


UNIQUE = {
    "evidence": ("sha256",),
    "derivative": ("kind",),
    "audit_event": ("prev_hash", "hash"),
    "register_entry": ("seq", "prev_hash", "hash"),
    "register_signature": ("signature",),
    "access_grant": ("request_id",),
}


@st.composite
def insertions(draw: Callable[[st.SearchStrategy[Any]], Any], template: Template) -> Change:
    """A copy of a row under a new id, with what must be unique (or forged) made new."""
    table = draw(st.sampled_from(TABLES))
    row = dict(draw(st.sampled_from(template.rows[table])))
    row["id"] = max(r["id"] for r in template.rows[table]) + 1
    for column in UNIQUE[table]:
        row[column], _ = new_value(draw, template, table, column, row)
    columns = list(row)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    return Change(
        f"insert {table}:{row['id']} {row}", ((sql, tuple(row[c] for c in columns)),), True
    )


@st.composite
def swaps(draw: Callable[[st.SearchStrategy[Any]], Any], template: Template) -> Change:
    table = draw(st.sampled_from(TABLES))
    first, second = draw(
        st.lists(
            st.sampled_from([r["id"] for r in template.rows[table]]),
            min_size=2,
            max_size=2,
            unique=True,
        )
    )
    update = f"UPDATE {table} SET id = ? WHERE id = ?"
    return Change(
        f"swap {table}:{first} and {table}:{second}",
        ((update, (-1, first)), (update, (first, second)), (update, (second, -1))),
        table in SWAP_ALTERS,
    )


def changes(template: Template) -> st.SearchStrategy[Change]:
    return st.one_of(edits(template), deletions(template), insertions(template), swaps(template))


def verify_copy(template: Template, change: Change | None) -> Report:
    with tempfile.TemporaryDirectory(dir=template.home.parent) as scratch:
        home = template.copy(Path(scratch))
        if change is not None:
            change.apply(home / "vault.db")
        vault = open_vault(home)
        try:
            return verify(vault)
        finally:
            vault.engine.dispose()


def test_an_untouched_copy_verifies_clean(template: Template) -> None:
    report = verify_copy(template, None)
    assert problems(report) == [] and report.exit_code in (0, 10)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_change_that_alters_a_fact_is_flagged(
    template: Template, data: st.DataObject
) -> None:
    change = data.draw(changes(template))
    report = verify_copy(template, change)  # never raises, whatever was changed
    if change.alters_fact:
        assert problems(report), f"not flagged: {change.what}"


@pytest.mark.parametrize(
    ("table", "column"),
    [pytest.param(t, c, id=f"{t}.{c}") for t in TABLES for c in FACTS[t]],
)
@settings(
    max_examples=1,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_each_fact_column_edited_is_flagged(
    template: Template, table: str, column: str, data: st.DataObject
) -> None:
    """Every fact column once, with the smallest change Hypothesis makes first (a second,
    a character, the first row): the random test above may not draw them all."""
    change = edit(data.draw, template, table, column)
    report = verify_copy(template, change)
    if change.alters_fact:
        assert problems(report), f"not flagged: {change.what}"
