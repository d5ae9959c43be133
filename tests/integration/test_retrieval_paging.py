"""Issue 22, part 4: `evidence list` in pages by key. A page ends at the key of its last row
(the corrected recording time, then the id) and the next starts after it, with no OFFSET:
across pages every row of a listing comes exactly once and in order, for every filter, with
many clips recorded at the same second and some with no recording time at all. The cursor
is opaque; one that is not a cursor is a one-line usage error (exit 2). The rows are built
from columns, and are the rows the records give."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.conftest import run_evault
from tests.listing_records import CLIPS, FILTERS, add_records, every_page, key
from vault.access.principals import add_principal
from vault.context import Vault
from vault.db.models import Device, Evidence, Officer
from vault.errors import UsageError
from vault.retrieval import (
    Filters,
    _row,
    decode_cursor,
    encode_cursor,
    list_evidence,
)
from vault.service import api, ops

KEEPER = api.Caller(1000, "tester", system=False)  # the vault fixture's user


@pytest.fixture
def clips(vault: Vault) -> list[int]:
    with vault.session() as session:
        return add_records(session, CLIPS)


@pytest.mark.parametrize("name", FILTERS)
def test_pages_give_every_row_once_in_order_for_each_filter(
    vault: Vault, clips: list[int], name: str
) -> None:
    filters = FILTERS[name]
    with vault.session() as session:
        nulls_first = session.get_bind().dialect.name == "sqlite"
        whole = list_evidence(session, filters)
        assert len(whole) >= 4, "a filter that selects next to nothing tests nothing"
        assert whole == sorted(whole, key=lambda row: key(row, nulls_first))
        for size in (1, 2, 3, 7, len(whole), len(whole) + 5):
            pages = every_page(session, filters, size)
            assert [row for page in pages for row in page] == whole, f"pages of {size}"
    ties = [row["recorded_at_corrected"] for row in whole]
    assert len(set(ties)) < len(ties)  # the listing has ties on its time


def test_the_listing_is_what_the_filters_select(vault: Vault, clips: list[int]) -> None:
    """The same clips the filters named before keyset paging: by recording camera or a
    docking of it, by officer or his docking, a case's linked clips, a time span."""
    by_position = dict(enumerate(clips))
    with vault.session() as session:

        def listed(filters: Filters) -> set[int]:
            return {row["evidence_id"] for row in list_evidence(session, filters)}

        def chosen(test: Any) -> set[int]:
            return {by_position[n] for n, clip in enumerate(CLIPS) if test(n, *clip)}

        assert listed(Filters()) == set(clips)
        # Camera 3100002 (index 1) recorded it, or its docking saw a copy of camera 1's.
        assert listed(FILTERS["camera"]) == chosen(
            lambda n, _m, d, _o: d == 1 or (d == 0 and n % 3 == 0)
        )
        # Officer 010001 (index 0) is named, or docked cameras 3100001 and 3100003.
        assert listed(FILTERS["officer"]) == chosen(
            lambda n, _m, d, o: o == 0 or d in (0, 2) or (n % 3 == 0 and d in (1, 2))
        )
        assert listed(FILTERS["recorded by"]) == chosen(lambda _n, _m, _d, o: o == 1)
        assert listed(FILTERS["span"]) == chosen(lambda _n, m, _d, _o: m in (30, 60, 90))
        assert listed(FILTERS["case"]) == chosen(lambda n, *_: n % 4 == 0 and n != 8)


def test_rows_are_the_records_rows(vault: Vault, clips: list[int]) -> None:
    """Built from columns, each row has the keys and values of the records' own row."""
    with vault.session() as session:
        listed = {row["evidence_id"]: row for row in list_evidence(session, Filters())}
        for evidence in session.exec(select(Evidence).order_by(col(Evidence.id))):
            device = session.get(Device, evidence.device_pk)
            officer = session.get(Officer, evidence.officer_pk)
            assert listed[evidence.id] == _row(evidence, device, officer)


def test_a_cursor_is_opaque_and_names_a_key() -> None:
    at = datetime(2026, 11, 23, 9, 30, 1, 250000, tzinfo=UTC)
    for key_ in [(at, 17), (None, 3), (at.replace(microsecond=0), 10**12)]:
        cursor = encode_cursor(key_)
        assert decode_cursor(cursor) == key_
        assert "2026-11" not in cursor and "|" not in cursor  # opaque: not a time and an id
    malformed = ["", "x", "abc!", encode_cursor((at, 1)) + "A", "MTIz", "bm9uZXw1", "fHg"]
    for cursor in malformed:
        with pytest.raises(UsageError) as refused:
            decode_cursor(cursor)
        assert "\n" not in str(refused.value) and repr(cursor) in str(refused.value)


def test_the_operation_pages_with_a_next_cursor(vault: Vault, clips: list[int]) -> None:
    add_principal(vault, "王档案", "staff", ["records_keeper"], unit="一大队")  # mapped to tester
    ops.known_operations()
    seen: list[int] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 25, "explain": True}
        if after:
            params["after"] = after
        reply = api.run(vault, KEEPER, "evidence.list", params, remote=True)
        reply.cleanup()
        assert reply.ok, reply.error
        answer = reply.result
        seen += [row["evidence_id"] for row in answer["evidence"]]
        after = answer["next"]
        if after is None:
            break
    assert sorted(seen) == sorted(clips) and len(seen) == len(clips)
    # The parameters it always had still answer the whole list.
    whole = api.run(vault, KEEPER, "evidence.list", {}, remote=True)
    assert [row["evidence_id"] for row in whole.result] == seen
    for bad in ({"after": "not-a-cursor"}, {"limit": 0}):
        refused = api.run(vault, KEEPER, "evidence.list", bad, remote=True)
        assert refused.error is not None and refused.exit_code == 2, bad


def test_the_cli_pages_with_after_and_refuses_a_malformed_cursor(
    home: Path, vault: Vault, clips: list[int]
) -> None:
    assert (
        run_evault(home, "principal", "add", "王档案", "--role", "records_keeper").returncode == 0
    )
    seen, after = [], []
    while True:
        done = run_evault(home, "evidence", "list", "--limit", "22", *after, "--json")
        assert done.returncode == 0, done.stderr
        page = json.loads(done.stdout)
        seen += [row["evidence_id"] for row in page["evidence"]]
        if page["next"] is None:
            break
        after = ["--after", page["next"]]
    assert sorted(seen) == clips
    whole = json.loads(run_evault(home, "evidence", "list", "--json").stdout)
    assert [row["evidence_id"] for row in whole] == seen  # unpaged: the list it always was
    table = run_evault(home, "evidence", "list", "--limit", "5")
    assert table.returncode == 0, table.stderr
    cursor = table.stderr.strip().rsplit(" ", 1)[-1]
    rest = json.loads(run_evault(home, "evidence", "list", "--after", cursor, "--json").stdout)
    assert [row["evidence_id"] for row in rest["evidence"]] == seen[5:]
    refused = run_evault(home, "evidence", "list", "--after", "garbage", "--json")
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "'garbage'" in refused.stderr
    assert "Traceback" not in refused.stderr
