"""The bureau's must-record list (音像记录事项清单, RC-5, issue 18 part 4): the documents'
lists ship as presets and validate; a case states its 事项 and 环节, checked against the
list; a 环节 without linked footage, and a case closed more than 30 days without its
footage linked, are findings; a list's longer storage time lengthens retention.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import TEST_CONFIG, make_settings, run_evault
from vault import i18n
from vault.cases import cases, record_list
from vault.compliance.report import ReportFilters, build_report
from vault.compliance.sentences import Sections
from vault.context import Vault
from vault.db.models import Evidence
from vault.errors import ConfigError, UsageError
from vault.ingest.pipeline import ingest_volume
from vault.timeutil import FixedClock, add_months

NUMBER = "环罚〔2026〕50号"


def _vault(home: Path, clock: FixedClock, preset: str) -> Vault:
    settings = make_settings(home, compliance={"record_list": preset})
    return Vault(settings, clock=clock, user="tester")


def _videos(vault: Vault, camera: Path) -> list[int]:
    report = ingest_volume(vault, camera)
    with vault.session() as session:
        ids = sorted({c.evidence_id for c in report.clips})
        return [i for i in ids if session.get_one(Evidence, i).kind == "video"]


def _rc5(vault: Vault, code: str) -> list[dict[str, object]]:
    findings = build_report(vault, ReportFilters())["findings"]
    return [f for f in findings if f["rule"] == "RC-5" and f.get("code") == code]


def test_the_shipped_presets_load_and_validate() -> None:
    # Pingdingshan 附件1; Gansu-Eco 第9、13条; Shanxi 第12、13条; Xiangxi 第5、10条;
    # Gansu-Radio 第14条: each document's list is a preset, every row citing its article.
    assert record_list.presets() == [
        "gansu-eco",
        "gansu-radio",
        "pingdingshan",
        "shanxi",
        "xiangxi",
    ]
    for name in record_list.presets():
        listed = record_list.load(name)
        assert listed.name == name and listed.item
        assert all(row.article for row in listed.item)
    # Pingdingshan 附件1, row by row: 事项, 环节, start, end and storage time.
    rows = record_list.load("pingdingshan").item
    assert [(r.matter, r.stage) for r in rows] == [
        ("调查取证", "调查笔录"),
        ("听证", "调查取证"),
        ("查封、扣押", "现场笔录"),
    ]
    assert (rows[0].starts, rows[0].ends) == ("进入检查现场时", "离开检查现场时")
    assert {r.storage for r in rows} == {"与文字材料存储时间一致"}
    assert {r.retention for r in rows} == {"case_file"}
    # Gansu-Eco 第9条 (三)(四)(五): 审查决定, 送达执行, 结案归档 are stages of the default.
    assert record_list.DEFAULT == "gansu-eco"
    default = record_list.load(None)
    assert {"审查决定", "送达执行", "结案归档"} <= set(default.matters())
    # Shanxi 第13条: recorded as circumstances require, not required.
    assert not record_list.load("shanxi").find("听证", "举行听证").required


def test_a_bureau_list_file_is_validated(tmp_path: Path) -> None:
    # Gansu-Eco 第13条: the bureau compiles its own list; a wrong one is refused in one line.
    good = tmp_path / "bureau.toml"
    good.write_text(
        'name = "某局"\ntitle = "某局音像记录事项清单"\nsource = "某局文件 附件"\n'
        '[[item]]\nmatter = "检查"\nstage = "现场检查"\nretention = 24\narticle = "第1项"\n'
    )
    assert record_list.load(str(good)).find("检查", "现场检查").retention == 24
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "x"\ntitle = "x"\nsource = "x"\n[[item]]\nmatter = "检查"\nstage = "y"\n'
    )
    with pytest.raises(ConfigError, match="article"):
        record_list.load(str(bad))
    with pytest.raises(ConfigError, match="unknown must-record list 'pingdinshan'"):
        record_list.load("pingdinshan")


def test_an_unknown_matter_is_refused_with_did_you_mean(home: Path) -> None:
    # Pingdingshan 第6条 and 附件1: a case states a 事项 of the bureau's list, or is refused.
    # TEST_CONFIG ends in its [compliance] table: the key joins it.
    assert TEST_CONFIG.rstrip().rpartition("[")[2].startswith("compliance]")
    (home / "vault.toml").write_text(TEST_CONFIG + 'record_list = "pingdingshan"\n')
    keeper = run_evault(home, "principal", "add", "王档案", "--role", "records_keeper")
    assert keeper.returncode == 0, keeper.stderr  # the first principal: this OS user
    args = (
        "case",
        "create",
        NUMBER,
        "--name",
        "某厂查封",
        "--type",
        "行政强制",
        "--unit",
        "一大队",
    )
    refused = run_evault(home, *args, "--matter", "查封扣押")
    assert refused.returncode == 2, refused.stderr
    assert "did you mean 查封、扣押?" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    wrong_stage = run_evault(home, *args, "--matter", "查封、扣押", "--stage", "现场记录")
    assert wrong_stage.returncode == 2 and "did you mean 现场笔录?" in wrong_stage.stderr
    made = run_evault(home, *args, "--matter", "查封、扣押")
    assert made.returncode == 0, made.stderr
    shown = json.loads(run_evault(home, "case", "show", NUMBER, "--json").stdout)
    assert [(s["matter"], s["stage"]) for s in shown["stages"]] == [("查封、扣押", "现场笔录")]
    assert shown["record_list"] == "pingdingshan"
    printed = run_evault(home, "case", "show", NUMBER)
    assert printed.returncode == 0 and "现场笔录" in printed.stdout


def test_a_stage_without_footage_is_a_finding_naming_it(
    home: Path, clock: FixedClock, camera: Path
) -> None:
    # Gansu-Eco 第9条（一）: 现场查验 and 调查取证 are recorded; footage of one leaves the other.
    vault = _vault(home, clock, "gansu-eco")
    video = _videos(vault, camera)[0]
    cases.create_case(
        vault, NUMBER, "某厂检查", "行政检查", "一大队", [], [],
        matters=["调查取证"], stages=["现场查验", "调查取证"],
    )  # fmt: skip
    with pytest.raises(UsageError, match="did you mean 现场查验"):
        cases.link(vault, NUMBER, [video], [], stage="现场检验")
    cases.link(vault, NUMBER, [video], [])  # two stated: a link naming none records neither
    assert [f["stage"] for f in _rc5(vault, "stage_not_recorded")] == ["现场查验", "调查取证"]
    cases.unlink(vault, NUMBER, [video], "环节未注明")
    cases.link(vault, NUMBER, [video], [], stage="现场查验")
    (finding,) = _rc5(vault, "stage_not_recorded")
    assert finding["stage"] == "调查取证" and finding["subject"] == f"case:{NUMBER}"
    report = build_report(vault, ReportFilters())
    with i18n.speaking("zh_CN"):
        said = Sections(report).sentence(finding)
    assert "调查取证环节应当音像记录" in said and "现场查验" not in said
    with vault.session() as session:
        shown = cases.show_case(session, NUMBER)
    assert [row["stage"] for row in shown["evidence"]] == [None, "现场查验"]


def test_a_case_closed_31_days_without_footage_is_a_finding_29_days_not_yet(
    home: Path, clock: FixedClock
) -> None:
    # Gansu-Eco 第41条: the file is formed within 30 days of the action's end; Pingdingshan
    # 附件1: 查封、扣押 现场笔录 is recorded.
    vault = _vault(home, clock, "pingdingshan")
    cases.create_case(
        vault, NUMBER, "某厂查封", "行政强制", "一大队", [], [], matters=["查封、扣押"]
    )
    closed = clock.at
    cases.close(vault, NUMBER)
    clock.at = closed + timedelta(days=29)
    assert _rc5(vault, "closed_without_footage") == []
    assert [f["stage"] for f in _rc5(vault, "stage_not_recorded")] == ["现场笔录"]
    clock.at = closed + timedelta(days=31)
    (finding,) = _rc5(vault, "closed_without_footage")
    assert finding["days"] == 31 and finding["stages"] == ["现场笔录"]
    report = build_report(vault, ReportFilters())
    with i18n.speaking("zh_CN"):
        said = Sections(report).sentence(finding)
    assert said == "某厂查封已结案31日，超过30日，音像记录仍未关联（现场笔录）。"


def test_a_longer_storage_time_in_the_list_lengthens_retention(
    home: Path, clock: FixedClock, camera: Path
) -> None:
    # Xiangxi 第10条: footage of these scenes is archived and kept long-term (RT-2's years),
    # longer than 第16条's 12 months; Pingdingshan 附件1 "与文字材料存储时间一致" adds nothing
    # beyond the case file (RT-3).
    vault = _vault(home, clock, "xiangxi")
    video = _videos(vault, camera)[0]
    with vault.session() as session:
        before = session.get_one(Evidence, video).retain_until
    assert before is not None
    cases.create_case(
        vault, NUMBER, "群体性事件处置", "行政检查", "一大队", [], [],
        matters=["突发性、群体性事（案）件"],
    )  # fmt: skip
    cases.link(vault, NUMBER, [video], [])  # the case states one 环节: that one
    with vault.session() as session:
        after = session.get_one(Evidence, video).retain_until
    assert after is not None
    years = vault.settings.retention.long_term_years
    assert isinstance(years, int)
    assert after == add_months(before, 12 * years - vault.settings.retention.routine_months)
