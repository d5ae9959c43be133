"""Issue 16, part 5: filters that never lie. An option that takes one of a few values refuses
any other with "did you mean" (a usage error, exit 2); a listing whose filters match nothing
says so and names the values that exist; case numbers are one number whatever brackets they
are typed with; a grant lasts at least a day; a camera's keeper is an officer on record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from tests.access_office import CASE, Office, open_office
from tests.conftest import run_evault
from vault.access import grants
from vault.access.principals import add_principal
from vault.access.requests import file_request
from vault.cases import cases
from vault.context import Vault
from vault.db.models import Case, Officer
from vault.errors import Conflict, NotFound
from vault.ingest.pipeline import ingest_volume
from vault.service import api, ops

KEEPER = api.Caller(1000, "keeper", system=False)
BOSS = api.Caller(1001, "boss", system=False)
OTHER = api.Caller(1003, "other", system=False)  # officer 999999, no clips of his own


@pytest.fixture
def office(vault: Vault, camera: Path, tmp_path: Path) -> Office:
    return open_office(vault, camera, tmp_path / "papers")


def call(office: Office, caller: api.Caller, op: str, **params: object) -> api.Reply:
    ops.known_operations()  # registers the operations
    reply = api.run(office.vault, caller, op, params, remote=True)
    reply.cleanup()
    return reply


@pytest.fixture
def docked(home: Path, camera: Path) -> Path:
    """The sample camera ingested through the CLI, and the vault's own account mapped as
    its records keeper."""
    done = run_evault(home, "ingest", str(camera), "--json")
    assert done.returncode == 0, done.stderr
    keeper = run_evault(home, "principal", "add", "王档案", "--role", "records_keeper")
    assert keeper.returncode == 0, keeper.stderr
    return home


def test_an_unknown_class_is_a_usage_error_with_the_nearest_class(docked: Path) -> None:
    refused = run_evault(docked, "evidence", "list", "--class", "longterm")
    assert refused.returncode == 2, refused.stderr
    assert "did you mean long_term?" in refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_listing_that_matches_nothing_says_so_and_names_what_exists(docked: Path) -> None:
    table = run_evault(docked, "evidence", "list", "--device", "3100009")
    assert table.returncode == 0, table.stderr
    assert "nothing matched --device 3100009: none on record" in table.stdout
    assert "did you mean 3100001?" in table.stdout and "cameras: 3100001" in table.stdout
    valid = run_evault(docked, "evidence", "list", "--class", "long_term", "--officer", "010203")
    assert "nothing matched" in valid.stdout and "--officer 010203 (on record)" in valid.stdout
    assert "classes in use: routine (5)" in valid.stdout
    # --json: the answer on stdout stays the list it always was; what exists on stderr.
    as_json = run_evault(docked, "evidence", "list", "--device", "3100009", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
    note = json.loads(as_json.stderr)
    assert note["matched"] == 0
    assert note["known"]["device"]["values"] == ["3100001"]
    assert note["known"]["device"]["exists"] is False
    span = run_evault(docked, "evidence", "list", "--to", "2020-01-01", "--json")
    assert json.loads(span.stdout) == []
    recorded = json.loads(span.stderr)["known"]["recorded"]
    assert recorded["given"] == {"from": None, "to": "2020-01-01"}
    assert recorded["first"].startswith("2026-11-23")
    as_csv = run_evault(docked, "evidence", "list", "--device", "3100009", "--csv")
    assert (
        as_csv.returncode == 0
        and as_csv.stdout.startswith("id,")
        and "nothing" not in (as_csv.stdout)
    )  # --csv stays CSV: the header, and the note on standard error
    assert "nothing matched --device 3100009" in as_csv.stderr
    everything = run_evault(docked, "evidence", "list", "--json")
    assert len(json.loads(everything.stdout)) == 5 and everything.stderr == ""


def test_case_numbers_are_one_number_whatever_brackets_they_are_typed_with(
    docked: Path,
) -> None:
    made = run_evault(
        docked, "case", "create", "环罚[2026]12号", "--name", "某厂", "--type", "行政处罚",
        "--unit", "一大队",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "case 环罚〔2026〕12号 opened" in made.stdout  # stored as 〔〕
    for typed in ("环罚〔2026〕12号", "环罚(2026)12号", "环罚（2026）12号", "环罚【2026】12号"):
        again = run_evault(
            docked, "case", "create", typed, "--name", "另一", "--type", "行政处罚",
            "--unit", "一大队",
        )  # fmt: skip
        assert again.returncode == 1 and "already exists" in again.stderr, typed
    linked = run_evault(docked, "case", "link", "环罚［2026］12号", "1", "2")
    assert linked.returncode == 0, linked.stderr
    listed = run_evault(docked, "evidence", "list", "--case", "环罚[2026]12号", "--json")
    assert [r["evidence_id"] for r in json.loads(listed.stdout)] == [1, 2]
    shown = json.loads(run_evault(docked, "case", "show", "环罚(2026)12号", "--json").stdout)
    assert shown["number"] == "环罚〔2026〕12号"
    unknown = run_evault(docked, "evidence", "list", "--case", "环罚[2026]13号")
    assert unknown.returncode == 0
    assert "--case 环罚〔2026〕13号: none on record" in unknown.stdout  # as it was read
    assert "did you mean 环罚〔2026〕12号?" in unknown.stdout
    missing = run_evault(docked, "case", "show", "环罚[2026]13号")
    assert missing.returncode == 1 and "did you mean 环罚〔2026〕12号?" in missing.stderr


def test_a_case_stored_with_other_brackets_is_still_found(vault: Vault) -> None:
    """A case made before numbers were normalised keeps its brackets; lookups still find it,
    and a look-alike is refused."""
    with vault.session() as session:
        session.add(
            Case(
                number="环罚[2025]3号",
                name="旧案",
                case_type="行政处罚",
                unit="一大队",
                opened_at=vault.clock.now(),
                created_by="records:tester",
            )
        )
        session.commit()
    with vault.session() as session:
        assert cases.get_case(session, "环罚〔2025〕3号").number == "环罚[2025]3号"
    with pytest.raises(Conflict, match="already exists"):
        cases.create_case(vault, "环罚（2025）3号", "新案", "行政处罚", "一大队", [], [])
    with vault.session() as session, pytest.raises(NotFound, match="no case"):
        cases.get_case(session, "环罚〔2025〕4号")


def test_access_requests_with_an_unknown_status_is_a_usage_error(office: Office) -> None:
    refused = call(office, KEEPER, "access.requests", status="pendng")
    assert refused.exit_code == 2 and "did you mean pending?" in (refused.error or "")
    empty = call(office, KEEPER, "access.requests", status="denied", explain=True)
    assert empty.ok and empty.result["matched"] == 0
    assert empty.result["known"] == {"status": {"given": "denied", "counts": {}}}
    filed = file_request(office.other, f"evidence:{office.evidence[4]}", "view", "培训", None, [])
    still = call(office, KEEPER, "access.requests", status="denied", explain=True)
    assert still.result["known"]["status"]["counts"] == {"pending": 1}
    assert call(office, KEEPER, "access.requests", status="pending").result[0]["request_id"] == (
        filed.id
    )


def test_a_grant_of_zero_or_fewer_days_is_refused(office: Office) -> None:
    filed = file_request(office.other, f"evidence:{office.evidence[4]}", "view", "培训", None, [])
    assert filed.id is not None
    for days in (0, -3):
        refused = call(
            office, BOSS, "access.approve", request_id=filed.id, reason="同意", days=days
        )
        assert refused.exit_code == 2 and "--days must be at least 1" in (refused.error or "")
    with pytest.raises(Conflict, match="a grant lasts 1 to"):
        grants.approve(office.boss, filed.id, "同意", 0)  # never the 7-day default
    granted = call(office, BOSS, "access.approve", request_id=filed.id, reason="同意", days=1)
    assert granted.ok, granted.error


def test_an_officers_empty_listing_names_only_what_he_may_see(office: Office) -> None:
    """Officer 999999 recorded nothing: he is told of no camera or case of anyone else's."""
    seen = call(office, OTHER, "evidence.list", device="3100009", case="X-1", explain=True)
    assert seen.ok, seen.error
    assert seen.result["matched"] == 0
    assert seen.result["known"]["device"]["values"] == []
    assert seen.result["known"]["case"]["values"] == []
    keeper = call(office, KEEPER, "evidence.list", device="3100009", case="X-1", explain=True)
    assert keeper.result["known"]["device"]["values"] == ["3100001"]
    assert keeper.result["known"]["case"]["values"] == [CASE]


def test_an_unknown_badge_is_refused_as_a_cameras_keeper(vault: Vault, camera: Path) -> None:
    ingest_volume(vault, camera)  # camera 3100001 of officer 010203
    add_principal(vault, "王档案", "staff", ["records_keeper"], unit="一大队")  # mapped to tester
    ops.known_operations()
    keeper = api.Caller(1000, "tester", system=False)
    unknown = api.run(vault, keeper, "device.assign", {"device_id": "3100001", "keeper": "010230"})
    assert unknown.exit_code == 1
    assert "no officer with badge '010230' on record (did you mean 010203?)" in (
        unknown.error or ""
    )
    assert "evault principal add" in (unknown.error or "")
    with vault.session() as session:
        assert session.exec(select(Officer).where(Officer.officer_id == "010230")).first() is None
    known = api.run(vault, keeper, "device.assign", {"device_id": "3100001", "keeper": "010203"})
    assert known.ok, known.error


def test_an_unknown_status_of_case_list_is_a_usage_error(docked: Path) -> None:
    refused = run_evault(docked, "case", "list", "--status", "opne")
    assert refused.returncode == 2 and "did you mean open?" in refused.stderr


def test_a_request_for_a_case_typed_with_ascii_brackets_names_the_case_as_stored(
    office: Office,
) -> None:
    typed = CASE.replace("〔", "[").replace("〕", "]")
    filed = file_request(office.other, f"case:{typed}", "view", "培训", None, [])
    assert filed.scope == f"case:{CASE}"
