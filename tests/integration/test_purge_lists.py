"""Purge by approved lists (issue 18 part 3; RT-1, RT-4, RT-5): the timer draws up the list
of what may be cleared (待清除清单) and deletes nothing; a records keeper marks each item of
no value to keep (无保存价值) or keeps it with a reason; an approver who neither drew it up
nor marked it signs; `purge run` deletes exactly the signed no-value items the rules still
let go. Real store, real SQLite, the service API's policy."""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.conftest import make_settings, run_evault
from tests.integration.test_retention_purge import DOCKED, camera_clock_agrees, old_camera
from vault.access.principals import add_principal
from vault.cases import purge_lists
from vault.cases.retention import classify, place_hold
from vault.context import Vault
from vault.db.models import AuditEvent, Evidence, PurgeListItem
from vault.ingest.pipeline import ingest_volume
from vault.service import api, ops
from vault.timeutil import FixedClock, add_months

SYSTEM = api.Caller(0, "root", system=True)  # the timer's job
KEEPER = api.Caller(1000, "tester", system=False)  # 王档案, records keeper
APPROVER = api.Caller(1001, "li", system=False)  # 李审批, approver
BOTH = api.Caller(1002, "zhao", system=False)  # 赵兼任, records keeper and approver


@pytest.fixture
def station(home: Path, clock: FixedClock, camera: Path) -> tuple[Vault, list[int]]:
    settings = make_settings(home, access={"bureau_name": "某市生态环境局"})
    vault = Vault(settings, clock=clock, user="tester")
    ops.known_operations()
    add_principal(vault, "王档案", "staff", ["records_keeper"])  # mapped to "tester"
    add_principal(vault, "李审批", "staff", ["approver"], os_user="li", approver_level="head")
    add_principal(
        vault,
        "赵兼任",
        "staff",
        ["records_keeper", "approver"],
        os_user="zhao",
        approver_level="head",
    )
    clock.at = DOCKED
    camera_clock_agrees(camera, DOCKED)
    ids = sorted({c.evidence_id for c in ingest_volume(vault, camera).clips})
    clock.at = add_months(DOCKED, 13)  # the Done-when: 13 months after docking
    return vault, ids


def ok(vault: Vault, caller: api.Caller, op: str, **params: Any) -> Any:
    reply = api.run(vault, caller, op, params)
    assert reply.ok, reply.error
    return reply.result


def present(vault: Vault, ids: list[int]) -> list[int]:
    with vault.session() as session:
        rows = [session.get_one(Evidence, e) for e in ids]
    return [r.id for r in rows if r.id is not None and vault.store.exists(r.storage_key)]


def test_the_timer_only_draws_up_a_list_and_a_run_without_a_signed_one_deletes_nothing(
    station: tuple[Vault, list[int]],
) -> None:
    # Pingdingshan 第15条: 到期后，管理人员根据情况对无保存意义的进行清除处理 — a person decides;
    # Shanxi 第22条: never destroyed by the job alone.
    vault, ids = station
    assert ok(vault, SYSTEM, "purge.run")["deleted"] == []  # no list at all
    listing = ok(vault, SYSTEM, "purge.draw")
    assert [i["evidence_id"] for i in listing["items"]] == ids
    assert listing["status"] == "drawn" and listing["counts"]["unmarked"] == len(ids)
    assert ok(vault, SYSTEM, "purge.run")["deleted"] == []  # drawn, not signed
    ok(vault, KEEPER, "purge.mark", list_id=listing["list_id"], mark="no_value")
    assert ok(vault, SYSTEM, "purge.run")["deleted"] == []  # marked, not signed
    assert present(vault, ids) == ids
    assert ok(vault, SYSTEM, "purge.draw") is None  # what is on a list is not drawn again


def test_a_signed_list_deletes_exactly_its_no_value_items_and_a_kept_one_stays(
    station: tuple[Vault, list[int]],
) -> None:
    # Pingdingshan 第15条 (无保存意义的 cleared), RT-5: lists, marks, outcomes outlive the bytes.
    vault, ids = station
    list_id = ok(vault, SYSTEM, "purge.draw")["list_id"]
    kept = ids[0]
    reason = "当事人可能投诉，保留备查"
    ok(
        vault,
        KEEPER,
        "purge.mark",
        list_id=list_id,
        mark="keep",
        evidence_ids=[kept],
        reason=reason,
    )
    refused = api.run(vault, APPROVER, "purge.sign", {"list_id": list_id})
    assert refused.exit_code == 1 and "unmarked" in (refused.error or "")
    ok(vault, KEEPER, "purge.mark", list_id=list_id, mark="no_value")  # the rest
    signed = ok(vault, APPROVER, "purge.sign", list_id=list_id, note="同意清除")
    assert signed["status"] == "signed" and signed["signed_by"] == "李审批"
    # The signed list is sealed in the WORM store as it was signed (a lost database loses
    # no decision): its items, marks and signer.
    sealed = json.loads(vault.store.read_record(purge_lists.signed_record_name(list_id)))
    assert sealed["list"]["signed_by"] == "李审批"
    assert {i["evidence_id"]: i["mark"] for i in sealed["list"]["items"]}[kept] == "keep"
    late = api.run(vault, KEEPER, "purge.mark", {"list_id": list_id, "mark": "keep", "reason": "x"})
    assert late.exit_code == 1 and "final" in (late.error or "")  # signed: marks are final
    report = ok(vault, SYSTEM, "purge.run")
    assert sorted(d["evidence_id"] for d in report["deleted"]) == ids[1:]
    assert present(vault, ids) == [kept]
    shown = ok(vault, KEEPER, "purge.lists", list_id=list_id)
    assert shown["status"] == "done"
    outcomes = {i["evidence_id"]: (i["mark"], i["outcome"]) for i in shown["items"]}
    assert outcomes[kept] == ("keep", "kept")
    assert {outcomes[e] for e in ids[1:]} == {("no_value", "deleted")}
    assert ok(vault, SYSTEM, "purge.run")["deleted"] == []  # nothing else, ever
    # A kept clip is appraised again only after another routine term (archival re-appraisal).
    assert ok(vault, SYSTEM, "purge.draw") is None
    with vault.session() as session:
        actions = [e.action for e in session.exec(select(AuditEvent))]
    assert actions.count("purge.list_drawn") == 1 and actions.count("purge.list_signed") == 1
    assert actions.count("purge.item_marked") == len(ids)
    assert actions.count("evidence.purged") == len(ids) - 1


def test_a_keep_with_a_category_classifies_the_clip_long_term(
    station: tuple[Vault, list[int]],
) -> None:
    # Pingdingshan 第16条 (长期保存), RT-2, RT-4: keeping for a ground of 第16条 grows retention.
    vault, ids = station
    list_id = ok(vault, SYSTEM, "purge.draw")["list_id"]
    ok(
        vault,
        KEEPER,
        "purge.mark",
        list_id=list_id,
        mark="keep",
        evidence_ids=[ids[0]],
        reason="当事人有异议",
        category="dispute",
    )
    with vault.session() as session:
        row = session.get_one(Evidence, ids[0])
    assert row.retention_class == "long_term" and row.retain_until == add_months(DOCKED, 360)


def test_a_purge_list_signed_by_its_maker_or_its_marker_is_refused(
    station: tuple[Vault, list[int]],
) -> None:
    # Pingdingshan 第15条 and RT-1: the keeper appraises, another (an approver) signs.
    vault, ids = station
    list_id = ok(vault, BOTH, "purge.draw")["list_id"]  # drawn up by hand by 赵兼任
    ok(vault, KEEPER, "purge.mark", list_id=list_id, mark="no_value")
    by_maker = api.run(vault, BOTH, "purge.sign", {"list_id": list_id})
    assert by_maker.exit_code == 3 and "never its maker" in (by_maker.error or "")
    by_keeper = api.run(vault, KEEPER, "purge.sign", {"list_id": list_id})
    assert by_keeper.exit_code == 3  # no approver role: the policy refuses
    assert ok(vault, SYSTEM, "purge.run")["deleted"] == []
    # One who marked an item does not sign either.
    ok(vault, BOTH, "purge.mark", list_id=list_id, mark="no_value", evidence_ids=[ids[0]])
    ok(vault, BOTH, "purge.mark", list_id=list_id, mark="no_value", evidence_ids=[ids[1]])
    by_marker = api.run(vault, BOTH, "purge.sign", {"list_id": list_id})
    assert by_marker.exit_code == 3
    assert present(vault, ids) == ids
    ok(vault, APPROVER, "purge.sign", list_id=list_id)
    assert sorted(d["evidence_id"] for d in ok(vault, SYSTEM, "purge.run")["deleted"]) == ids


def test_an_item_held_or_kept_longer_after_signing_is_skipped_and_recorded(
    station: tuple[Vault, list[int]],
) -> None:
    # RT-4: holds block every deletion, retention only grows; Shanxi 第22条: 不得在保存期内销毁.
    vault, ids = station
    list_id = ok(vault, SYSTEM, "purge.draw")["list_id"]
    ok(vault, KEEPER, "purge.mark", list_id=list_id, mark="no_value")
    ok(vault, APPROVER, "purge.sign", list_id=list_id)
    place_hold(vault, ids[0], "投诉正在处理")
    classify(vault, ids[1], "long_term", "obstruction", "当事人阻碍执法")
    report = ok(vault, SYSTEM, "purge.run")
    assert sorted(d["evidence_id"] for d in report["deleted"]) == ids[2:]
    assert present(vault, ids) == ids[:2]
    with vault.session() as session:
        items = {
            i.evidence_id: i
            for i in session.exec(select(PurgeListItem).where(PurgeListItem.list_id == list_id))
        }
        skipped = list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.action == "purge.item_skipped")
                .order_by(col(AuditEvent.id))
            )
        )
    assert items[ids[0]].outcome == "skipped" and "legal hold" in (
        items[ids[0]].outcome_reason or ""
    )
    assert items[ids[1]].outcome == "skipped" and "retained until" in (
        items[ids[1]].outcome_reason or ""
    )
    assert [e.subject for e in skipped] == [f"evidence:{ids[0]}", f"evidence:{ids[1]}"]


def test_the_purge_list_prints_as_a_paper_in_chinese_with_signature_lines(
    station: tuple[Vault, list[int]], tmp_path: Path
) -> None:
    # Pingdingshan 第15条, RT-5: the signed list is kept and filed as a paper (清除清单).
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils is not installed (scripts/setup installs it)")
    vault, ids = station
    list_id = ok(vault, SYSTEM, "purge.draw")["list_id"]
    ok(
        vault,
        KEEPER,
        "purge.mark",
        list_id=list_id,
        mark="keep",
        evidence_ids=[ids[0]],
        reason="保留备查",
    )
    ok(vault, KEEPER, "purge.mark", list_id=list_id, mark="no_value")
    ok(vault, APPROVER, "purge.sign", list_id=list_id, note="同意清除")
    ok(vault, SYSTEM, "purge.run")
    reply = api.run(vault, KEEPER, "purge.lists", {"list_id": list_id, "pdf": True})
    assert reply.ok, reply.error
    ((name, path),) = reply.files
    paper = tmp_path / name
    shutil.copy(path, paper)
    reply.cleanup()
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-layout", str(paper), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for words in (
        "音像资料清除清单",
        "某市生态环境局",
        "无保存价值",
        "保留：保留备查",
        "已清除",
        "日常执法记录保存期",
        "审批意见：同意清除",
        "编制人（签名）",
        "鉴定人（管理人员）（签名）",
        "审批人（签名）",
        "李审批",
        "王档案",
        "北京时间",
    ):
        assert words in text, words
    for english in ("routine", "no_value", "keep", "deleted", "done"):
        assert english not in text


def test_cli_purge_runs_nothing_until_a_list_is_marked_and_signed(
    home: Path, tmp_path: Path
) -> None:
    # The Done-when, by the commands a station runs (Pingdingshan 第15条); the commands run
    # on the real clock, so the clips were docked more than two years ago.
    (home / "vault.toml").write_text(
        f'home = "{home}"\nstation_id = "t"\n[store]\nimmutable = "off"\n'
    )
    past = datetime.now(UTC) - timedelta(days=800)
    old = Vault(make_settings(home), clock=FixedClock(past))
    ids = sorted(
        {c.evidence_id for c in ingest_volume(old, old_camera(tmp_path / "cam", past, 3)).clips}
    )
    vault = Vault(make_settings(home), user=getpass.getuser())  # as the CLI's keeper
    ops.known_operations()
    keeper = run_evault(home, "principal", "add", "孙档案", "--role", "records_keeper")
    assert keeper.returncode == 0, keeper.stderr  # the first: mapped to the CLI's OS user
    add_principal(vault, "李审批", "staff", ["approver"], os_user="li", approver_level="head")
    run = run_evault(home, "purge", "run", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["deleted"] == []  # no list yet
    drawn = run_evault(home, "purge", "list", "draw", "--json")
    assert drawn.returncode == 0, drawn.stderr
    list_id = str(json.loads(drawn.stdout)["list_id"])
    run = run_evault(home, "purge", "run", "--json")
    assert json.loads(run.stdout)["deleted"] == []  # drawn, not signed
    shown = run_evault(home, "purge", "list", "show", "--json")
    assert [row["list_id"] for row in json.loads(shown.stdout)["lists"]] == [int(list_id)]
    bad = run_evault(home, "purge", "list", "mark", list_id)
    assert bad.returncode == 2 and "--no-value or --keep" in bad.stderr
    marked = run_evault(home, "purge", "list", "mark", list_id, "--no-value")
    assert marked.returncode == 0, marked.stderr
    own = run_evault(home, "purge", "list", "sign", list_id)
    assert own.returncode == 3  # a records keeper does not sign
    ok(vault, APPROVER, "purge.sign", list_id=int(list_id))
    run = run_evault(home, "purge", "run", "--json")
    assert run.returncode == 0, run.stderr
    assert sorted(d["evidence_id"] for d in json.loads(run.stdout)["deleted"]) == ids
    out = tmp_path / "清除清单.pdf"
    printed = run_evault(home, "purge", "list", "show", list_id, "--pdf", str(out))
    assert printed.returncode == 0, printed.stderr
    assert out.read_bytes().startswith(b"%PDF")


def test_a_deputy_may_not_sign_a_purge_list(station: tuple[Vault, list[int]]) -> None:
    # AC-0 with Pingdingshan 第15条: clearing records is approved by the bureau's head
    # (局机关主要负责人); a deputy in charge (分管领导) is refused, naming the level.
    vault, _ids = station
    add_principal(
        vault, "张副局长", "staff", ["approver"], os_user="zhang", approver_level="deputy"
    )
    list_id = ok(vault, SYSTEM, "purge.draw")["list_id"]
    ok(vault, KEEPER, "purge.mark", list_id=list_id, mark="no_value")
    deputy = api.Caller(1003, "zhang", system=False)
    refused = api.run(vault, deputy, "purge.sign", {"list_id": list_id})
    assert refused.exit_code == 3 and "需要局机关主要负责人审批" in (refused.error or "")
    assert ok(vault, SYSTEM, "purge.run")["deleted"] == []
