"""Cases, retention classes, holds and the purge job, on a real store with an injected clock
(RT-1..RT-5, IN-4)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from tests.conftest import EVAULT, evault_env, make_settings, run_evault, store_derivative
from tests.purge_lists import approve_due, purge_approved
from vault.access import register
from vault.access.principals import add_principal
from vault.cases import cases
from vault.cases.purge import purge
from vault.cases.retention import classify, place_hold, release_hold
from vault.context import Vault
from vault.db.models import AuditEvent, Derivative, Evidence, PurgeRecord
from vault.errors import Conflict, RetentionRefused, VaultError
from vault.ingest.pipeline import ingest_volume
from vault.retrieval import Filters, list_evidence, show_evidence, verify_evidence
from vault.service import api, ops
from vault.timeutil import FixedClock, add_months

DOCKED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def camera_clock_agrees(camera: Path, at: datetime) -> None:
    """Make the camera's DEVICE.TXT clock read the station's time: offset 0."""
    lines = [
        ln
        for ln in (camera / "DEVICE.TXT").read_text().splitlines()
        if not ln.startswith("device_time=")
    ]
    local = at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    (camera / "DEVICE.TXT").write_text("\n".join([*lines, f"device_time={local}"]) + "\n")


@pytest.fixture
def sealed(vault: Vault, camera: Path, clock: FixedClock) -> list[int]:
    clock.at = DOCKED
    camera_clock_agrees(camera, DOCKED)
    report = ingest_volume(vault, camera)
    return sorted({c.evidence_id for c in report.clips})


def evidence(vault: Vault, evidence_id: int) -> Evidence:
    with vault.session() as session:
        return session.get_one(Evidence, evidence_id)


def object_exists(vault: Vault, evidence_id: int) -> bool:
    return vault.store.exists(evidence(vault, evidence_id).storage_key)


def test_routine_clip_is_purged_after_twelve_months_and_not_a_day_before(
    vault: Vault, sealed: list[int], clock: FixedClock
) -> None:
    """RT-1: counted from the (later of corrected recording and) docking time."""
    until = add_months(DOCKED, 12)
    assert evidence(vault, sealed[0]).retain_until == until
    early = purge(vault, dry_run=True, as_of=until - timedelta(days=1))
    assert early.deleted == []
    clock.at = until - timedelta(days=1)
    assert purge_approved(vault).deleted == []
    clock.at = until + timedelta(seconds=1)
    done = purge_approved(vault)
    assert sorted(d["evidence_id"] for d in done.deleted) == sealed
    assert not any(object_exists(vault, e) for e in sealed)
    assert evidence(vault, sealed[0]).status == "purged"


def test_purge_records_outlive_the_bytes(
    vault: Vault, sealed: list[int], clock: FixedClock
) -> None:
    """RT-5: what was deleted, under which rule, when, by which job, with its hash."""
    clock.at = add_months(DOCKED, 13)
    report = purge_approved(vault)
    with vault.session() as session:
        records = list(session.exec(select(PurgeRecord).order_by(col(PurgeRecord.evidence_id))))
        first = session.get_one(Evidence, sealed[0])
        events = [e.action for e in session.exec(select(AuditEvent))]
    assert [r.evidence_id for r in records] == sealed
    record = records[0]
    assert (record.sha256, record.size, record.device_id, record.officer_id) == (
        first.sha256,
        first.size,
        "3100001",
        "010203",
    )
    assert record.state == "deleted" and record.deleted_at == clock.at
    assert record.job_id == report.job_id and record.rule.startswith("routine")
    assert record.retain_until == add_months(DOCKED, 12)
    assert events.count("evidence.purged") == len(sealed)
    assert verify_evidence(vault, None).checked == 0  # purged records are not "missing"
    with pytest.raises(Conflict, match="purged"):
        verify_evidence(vault, [sealed[0]])


def test_dispute_category_keeps_the_clip_long_term(
    vault: Vault, sealed: list[int], clock: FixedClock
) -> None:
    """RT-2: a disputed encounter is kept long-term; the store's retention grows too."""
    decision = classify(vault, sealed[0], "long_term", "dispute", "party disputes the notice")
    assert decision.retain_until == add_months(DOCKED, 12 * 30)
    assert vault.store.stat(evidence(vault, sealed[0]).storage_key).retain_until == (
        add_months(DOCKED, 12 * 30)
    )
    clock.at = add_months(DOCKED, 13)
    report = purge_approved(vault)
    assert sealed[0] not in {d["evidence_id"] for d in report.deleted}
    assert object_exists(vault, sealed[0])


def test_reclassification_that_would_shorten_is_refused(vault: Vault, sealed: list[int]) -> None:
    """RT-4: retention only grows."""
    classify(vault, sealed[0], "long_term", "obstruction", "party blocked the inspection")
    with pytest.raises(RetentionRefused, match="may only grow"):
        classify(vault, sealed[0], "routine", None, "changed my mind")
    row = evidence(vault, sealed[0])
    assert row.retention_class == "long_term" and row.retain_until == add_months(DOCKED, 360)
    with pytest.raises(Conflict, match="needs --category"):
        classify(vault, sealed[1], "long_term", None, "no category")


def test_litigation_hold_on_a_case_blocks_purge_until_released(
    vault: Vault, sealed: list[int], clock: FixedClock
) -> None:
    """RT-3: while administrative litigation is pending, evidence is kept regardless."""
    cases.create_case(
        vault, "环罚〔2026〕7号", "某厂超标排放", "other", "一大队", ["010203"], ["查封"]
    )
    assert cases.link(vault, "环罚〔2026〕7号", [sealed[0]], []) == [sealed[0]]
    clock.at = DOCKED + timedelta(days=30)
    cases.close(vault, "环罚〔2026〕7号")
    assert evidence(vault, sealed[0]).retain_until == add_months(clock.at, 120)
    cases.litigation(vault, "环罚〔2026〕7号", True, "行政诉讼 (2027)某行初1号")
    clock.at = add_months(DOCKED, 12 * 11)
    report = purge_approved(vault)
    assert {"evidence_id": sealed[0], "reason": "litigation hold on case 环罚〔2026〕7号"} in (
        report.kept
    )
    assert object_exists(vault, sealed[0])
    assert vault.store.stat(evidence(vault, sealed[0]).storage_key).legal_hold
    cases.litigation(vault, "环罚〔2026〕7号", False, "judgment final")
    report = purge_approved(vault)
    assert sealed[0] in {d["evidence_id"] for d in report.deleted}


def test_open_case_keeps_evidence_and_closure_starts_the_case_clock(
    vault: Vault, sealed: list[int], clock: FixedClock
) -> None:
    cases.create_case(vault, "A-1", "检查", "行政检查", "一大队", [], [])
    cases.link(vault, "A-1", [], [1])  # everything seen at docking 1
    clock.at = add_months(DOCKED, 24)
    report = purge_approved(vault)
    assert report.deleted == [] and {k["reason"] for k in report.kept} == {"open case A-1"}
    cases.close(vault, "A-1")
    assert evidence(vault, sealed[0]).retain_until == add_months(clock.at, 120)
    assert evidence(vault, sealed[0]).retention_class == "case"


def test_unlink_is_recorded_and_refused_when_it_would_shorten(
    vault: Vault, sealed: list[int], clock: FixedClock
) -> None:
    cases.create_case(vault, "B-2", "处罚", "行政处罚", "二大队", [], [])
    cases.link(vault, "B-2", sealed[:2], [])
    cases.unlink(vault, "B-2", [sealed[1]], "linked by mistake")  # open case: no date lost
    cases.close(vault, "B-2")
    with pytest.raises(RetentionRefused):
        cases.unlink(vault, "B-2", [sealed[0]], "too late")
    with vault.session() as session:
        shown = cases.show_case(session, "B-2")
    assert [(e["evidence_id"], e["unlink_reason"]) for e in shown["evidence"]] == [
        (sealed[0], None),
        (sealed[1], "linked by mistake"),
    ]
    with pytest.raises(Conflict, match="reason is required"):
        cases.unlink(vault, "B-2", [sealed[0]], " ")


def test_legal_hold_blocks_purge_and_release_only_drops_the_hold(
    vault: Vault, sealed: list[int], clock: FixedClock
) -> None:
    hold = place_hold(vault, sealed[0], "complaint under review")
    clock.at = add_months(DOCKED, 13)
    report = purge_approved(vault)
    assert {"evidence_id": sealed[0], "reason": "legal hold (1)"} in report.kept
    with vault.session() as session:
        assert show_evidence(session, sealed[0])["holds"][0]["reason"] == "complaint under review"
    assert hold.id is not None
    release_hold(vault, hold.id, "review closed")
    assert evidence(vault, sealed[0]).retain_until == add_months(DOCKED, 12)
    assert sealed[0] in {d["evidence_id"] for d in purge_approved(vault).deleted}


def test_store_refuses_an_early_delete_even_if_the_database_is_edited_by_hand(
    vault: Vault, sealed: list[int], home: Path
) -> None:
    """RT-4: the store keeps its own retention; a forged date in the records deletes nothing."""
    with sqlite3.connect(home / "vault.db") as db:
        # Forge every date the rules read, so that the records alone would allow deletion.
        forged = "'2020-01-01 00:00:00.000000'"
        db.execute(
            f"UPDATE evidence SET retain_until = {forged}, docked_at = {forged}, "
            f"recorded_at_corrected = {forged}"
        )
    report = purge_approved(vault)
    assert report.deleted == []
    assert all(k["reason"].startswith("store:") for k in report.kept if k["evidence_id"] in sealed)
    assert all(object_exists(vault, e) for e in sealed)
    with vault.session() as session:
        assert list(session.exec(select(PurgeRecord))) == []


def test_list_filters_by_case_and_class_and_show_has_retention(
    vault: Vault, sealed: list[int]
) -> None:
    """IN-4: findable by case."""
    cases.create_case(vault, "C-3", "许可", "行政许可", "三大队", [], [])
    cases.link(vault, "C-3", [sealed[2]], [])
    classify(vault, sealed[1], "long_term", "major_case", "重大案件")
    with vault.session() as session:
        by_case = list_evidence(session, Filters(case_number="C-3"))
        long_term = list_evidence(session, Filters(retention_class="long_term"))
        shown = show_evidence(session, sealed[2])
    assert [r["evidence_id"] for r in by_case] == [sealed[2]]
    assert [r["evidence_id"] for r in long_term] == [sealed[1]]
    assert shown["retention_class"] == "case"
    assert shown["cases"] == [
        {"number": "C-3", "type": "行政许可", "status": "open", "litigation": False}
    ]
    assert shown["hold"] is True  # the open case blocks deletion


def test_as_of_is_only_for_dry_runs(vault: Vault) -> None:
    with pytest.raises(VaultError, match="only allowed with --dry-run"):
        purge(vault, dry_run=False, as_of=DOCKED)


def evault(home: Path, *args: str, kill_at: str | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*EVAULT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=evault_env(home, kill_at),
    )


def old_camera(root: Path, recorded: datetime, clips: int) -> Path:
    """A reference-camera volume whose clips were recorded at a given time (random bytes)."""
    folder = root / "DCIM" / "100ANDRO"
    folder.mkdir(parents=True)
    for n in range(clips):
        local = (recorded + timedelta(minutes=n)).astimezone(ZoneInfo("Asia/Shanghai"))
        name = f"3100001_010203_{local:%Y%m%d%H%M%S}_{n + 1:04d}.MP4"
        (folder / name).write_bytes(os.urandom(4096 + n))
    (root / "DEVICE.TXT").write_text("device_id=3100001\nofficer_id=010203\n")
    return root


@pytest.fixture
def expired(home: Path, tmp_path: Path) -> tuple[Vault, list[int]]:
    """Evidence recorded and docked two years ago: the real clock of a subprocess finds it due."""
    (home / "vault.toml").write_text(
        f'home = "{home}"\nstation_id = "t"\n[store]\nimmutable = "off"\n'
    )
    past = datetime.now(UTC) - timedelta(days=800)
    vault = Vault(make_settings(home), clock=FixedClock(past))
    report = ingest_volume(vault, old_camera(tmp_path / "old", past, 6))
    return vault, sorted({c.evidence_id for c in report.clips})


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["purge.claimed:2", "purge.deleted:1", "purge.deleted:3"])
def test_purge_killed_midway_is_completed_by_the_next_run(
    expired: tuple[Vault, list[int]], home: Path, kill_at: str
) -> None:
    """Nothing deleted twice, nothing left half-done (RT-5)."""
    vault, ids = expired
    assert approve_due(Vault(vault.settings)) is not None  # RT-1: a signed list, as of now
    killed = evault(home, "purge", "run", "--json", kill_at=kill_at)
    out, err = killed.communicate(timeout=120)
    assert killed.returncode == -9, (out, err)
    again = evault(home, "purge", "run", "--json")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    with vault.session() as session:
        records = list(session.exec(select(PurgeRecord)))
        purged = list(session.exec(select(Evidence).where(col(Evidence.purged_at).is_not(None))))
        events = [e.action for e in session.exec(select(AuditEvent))]
    assert sorted(r.evidence_id for r in records) == ids
    assert {r.state for r in records} == {"deleted"} and len(purged) == len(ids)
    assert events.count("evidence.purged") == len(ids)
    assert list(vault.store.keys()) == []
    assert json.loads(out)["deleted"]  # the second run finished what the first began


@pytest.mark.slow
def test_two_purge_jobs_at_once_never_conflict(
    expired: tuple[Vault, list[int]], home: Path
) -> None:
    vault, ids = expired
    assert approve_due(Vault(vault.settings)) is not None  # RT-1: a signed list, as of now
    jobs = [evault(home, "purge", "run", "--json") for _ in range(2)]
    outputs = [job.communicate(timeout=120) for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], [err for _, err in outputs]
    deleted = [d["evidence_id"] for out, _ in outputs for d in json.loads(out)["deleted"]]
    assert sorted(deleted) == ids  # each exactly once, between the two jobs
    with vault.session() as session:
        assert len(list(session.exec(select(PurgeRecord)))) == len(ids)


def test_cli_cases_classification_and_purge_dry_run(
    expired: tuple[Vault, list[int]], home: Path
) -> None:
    _, ids = expired
    keeper = run_evault(home, "principal", "add", "王档案", "--role", "records_keeper")
    assert keeper.returncode == 0, keeper.stderr  # root, mapped as the records keeper
    created = run_evault(
        home,
        "case",
        "create",
        "环罚〔2026〕9号",
        "--name",
        "扬尘",
        "--type",
        "行政处罚",
        "--unit",
        "一大队",
        "--handler",
        "010203",
        "--activity",
        "扣押",
    )
    assert created.returncode == 0, created.stderr
    assert run_evault(home, "case", "link", "环罚〔2026〕9号", str(ids[0])).returncode == 0
    classified = run_evault(
        home,
        "evidence",
        "classify",
        str(ids[1]),
        "--class",
        "long_term",
        "--category",
        "mass_incident",
        "--reason",
        "群体性事件",
    )
    assert classified.returncode == 0, classified.stderr
    refused = run_evault(
        home, "evidence", "classify", str(ids[1]), "--class", "routine", "--reason", "x"
    )
    assert refused.returncode == 1 and "may only grow" in refused.stderr
    shown = json.loads(run_evault(home, "case", "show", "环罚〔2026〕9号", "--json").stdout)
    assert shown["handlers"] == ["010203"] and shown["activities"] == ["扣押"]
    assert [e["evidence_id"] for e in shown["evidence"]] == [ids[0]]
    listed = json.loads(
        run_evault(home, "evidence", "list", "--case", "环罚〔2026〕9号", "--json").stdout
    )
    assert [r["evidence_id"] for r in listed] == [ids[0]] and listed[0]["hold"]
    plan = run_evault(home, "purge", "plan", "--json")
    assert plan.returncode == 0, plan.stderr
    report = json.loads(plan.stdout)
    assert set(report) == {"as_of", "job_id", "would_delete", "kept"}
    assert sorted(d["evidence_id"] for d in report["would_delete"]) == ids[2:]
    assert set(report["would_delete"][0]) == {"evidence_id", "sha256", "rule", "retain_until"}
    assert report["kept"] == [{"evidence_id": ids[0], "reason": "open case 环罚〔2026〕9号"}]
    refused_as_of = run_evault(home, "purge", "run", "--as-of", "2030-01-01")
    assert refused_as_of.returncode == 2 and "--as-of" in refused_as_of.stderr  # runs as of now
    assert run_evault(home, "case", "list", "--json").returncode == 0


def test_a_records_keeper_may_not_name_himself_a_case_handler(
    expired: tuple[Vault, list[int]], home: Path
) -> None:
    """AC-2: a case's handler is named by a records keeper, never by the handler."""
    vault, _ = expired
    added = run_evault(
        home,
        "principal",
        "add",
        "李兼职",
        "--role",
        "records_keeper",
        "--role",
        "officer",
        "--officer",
        "010203",
    )
    assert added.returncode == 0, added.stderr
    args = ("case", "create", "环罚〔2026〕7号", "--name", "噪声", "--type", "行政处罚")
    refused = run_evault(home, *args, "--unit", "一大队", "--handler", "010203")
    assert refused.returncode == 3, refused.stderr
    assert "010203" in refused.stderr
    with vault.session() as session:
        (entry,) = [e for e in register.entries(session) if e.event == "refused"]
    assert entry.what == "case.create" and entry.who == "李兼职"
    listed = run_evault(home, "case", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []  # nothing was filed
    other = run_evault(home, *args, "--unit", "一大队", "--handler", "020304")
    assert other.returncode == 0, other.stderr  # another officer's case: his to name


def test_an_officer_sees_only_the_cases_he_handles(vault: Vault) -> None:
    """case.list / case.show in scope `own`: the cases whose handler the officer is."""
    ops.known_operations()  # registers the operations
    add_principal(vault, "王档案", "staff", ["records_keeper"])  # mapped to "tester"
    add_principal(vault, "张警官", "staff", ["officer"], officer="010203", os_user="zhang")
    cases.create_case(vault, "C-1", "扬尘", "行政处罚", "一大队", ["010203"], [])
    cases.create_case(vault, "C-2", "噪声", "行政处罚", "一大队", ["020304"], [])
    officer = api.Caller(1001, "zhang", system=False)

    listed = api.run(vault, officer, "case.list", {})
    assert listed.ok and [row["number"] for row in listed.result] == ["C-1"]
    assert api.run(vault, officer, "case.show", {"number": "C-1"}).ok
    refused = api.run(vault, officer, "case.show", {"number": "C-2"})
    assert refused.exit_code == 3 and "not a handler" in (refused.error or "")
    keeper = api.Caller(1000, "tester", system=False)
    everything = api.run(vault, keeper, "case.list", {})
    assert [row["number"] for row in everything.result] == ["C-1", "C-2"]
    with vault.session() as session:
        refusals = [e for e in register.entries(session) if e.event == "refused"]
    assert [(e.what, e.who) for e in refusals] == [("case.show", "张警官")]


def test_derivatives_go_with_their_original_but_shared_bytes_stay(
    vault: Vault, sealed: list[int], clock: FixedClock
) -> None:
    """IN-3/RT-5: derivatives are purged with the original; an object still used stays."""
    own = store_derivative(vault, sealed[0], "poster", b"poster of clip 1")
    shared = store_derivative(vault, sealed[0], "contact_sheet", b"same black frame")
    other = store_derivative(vault, sealed[1], "poster", b"same black frame")
    classify(vault, sealed[1], "long_term", "dispute", "kept")
    clock.at = add_months(DOCKED, 13)
    purge_approved(vault)
    assert not vault.store.exists(own.storage_key)
    assert vault.store.exists(shared.storage_key) and shared.storage_key == other.storage_key
    with vault.session() as session:
        rows = {(d.evidence_id, d.kind): d.purged_at for d in session.exec(select(Derivative))}
    assert rows[(sealed[0], "poster")] == rows[(sealed[0], "contact_sheet")] == clock.at
    assert rows[(sealed[1], "poster")] is None


def test_a_shared_derivative_object_stays_held_while_any_of_its_originals_is(
    vault: Vault, sealed: list[int]
) -> None:
    """RT-4: releasing one original's hold does not free bytes another original holds."""
    first = store_derivative(vault, sealed[0], "poster", b"identical black frame")
    store_derivative(vault, sealed[1], "poster", b"identical black frame")
    hold = place_hold(vault, sealed[0], "complaint")
    assert vault.store.stat(first.storage_key).legal_hold
    classify(vault, sealed[1], "long_term", "dispute", "reapplies the second original")
    assert vault.store.stat(first.storage_key).legal_hold
    assert hold.id is not None
    release_hold(vault, hold.id, "closed")
    assert not vault.store.stat(first.storage_key).legal_hold


def test_a_second_docking_does_not_move_retention_and_the_clips_can_still_be_linked(
    vault: Vault, camera: Path, clock: FixedClock
) -> None:
    """RT-1, RT-4: the first docking counts; re-docking the same clips later (ingest, then
    ingest --erase) leaves the store's retention and the record's the same date, so linking,
    holding and classifying them still only lengthen it."""
    clock.at = DOCKED
    camera_clock_agrees(camera, DOCKED)
    first = ingest_volume(vault, camera)
    ids = sorted({c.evidence_id for c in first.clips if c.evidence_id is not None})
    clock.at = DOCKED + timedelta(days=3)
    again = ingest_volume(vault, camera)
    assert {c.status for c in again.clips} <= {"already_sealed", "duplicate"}
    for evidence_id in ids:
        row = evidence(vault, evidence_id)
        assert row.retain_until == add_months(DOCKED, 12)
        assert vault.store.stat(row.storage_key).retain_until == row.retain_until
    cases.create_case(vault, "环罚〔2026〕7号", "再次入库", "行政处罚", "一大队", [], [])
    cases.link(vault, "环罚〔2026〕7号", ids, [])
    place_hold(vault, ids[0], "complaint under review")
    classify(vault, ids[1], "long_term", "dispute", "party disputes")
