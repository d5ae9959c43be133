"""The compliance report's printable page as a supervisor reads it (issue 17): real footage
docked, scanned and reported (the station of test_compliance.py), every kind of finding on
it, each told as a Chinese sentence from its codes and numbers: no English word, no raw
code, subjects as people say them, officers as 姓名（执法证号）. Filters that match nothing
never print an all-clear; the English catalogue renders the page in English."""

from __future__ import annotations

import html
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_CONFIG, database_url_for, run_evault
from tests.integration.test_compliance import (  # noqa: F401  (station: the fixture)
    Station,
    _gap_before,
    _staff,
    station,
)
from vault.cases import cases
from vault.compliance import clock, stops
from vault.compliance.printable import render
from vault.compliance.reasons import add_late_reason
from vault.compliance.review import record_review

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("espeak-ng") is None,
    reason="needs ffmpeg and espeak-ng",
)

TZ = "Asia/Shanghai"
CASE = "环罚〔2026〕41号"
# Words a Chinese page may hold: the station's id and names of things (files, formats).
ALLOWED = {"test", "station", "MP4"}


def _text(page: str) -> str:
    """What a reader sees: no <style>, no tags, entities decoded."""
    page = re.sub(r"(?s)<style>.*?</style>", "", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _english_words(text: str, names: list[str]) -> list[str]:
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    return [w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in ALLOWED]


def _every_kind(built: Station) -> dict[str, Any]:
    """The report with a finding of every kind: RC-1, RC-3, RC-4, RC-5, IN-1 (with and
    without a reason), DV-2 (docking and clip), OV-3 (spot check) from the records; DV-1,
    OV-3 (verify) and copied_between_cameras added as the report writes them."""
    names = built.names["good"]
    gap = _gap_before(built.report(device_id="3100001"), names[5])
    statement = built.home.parent / "witness.pdf"
    statement.write_bytes(b"%PDF-1.4 witness statement, signed")
    stops.add_stop(
        built.vault,
        device_id="3100001",
        officer_id="010203",
        stop_from=datetime.fromisoformat(gap["from"]) - timedelta(seconds=30),
        stop_to=datetime.fromisoformat(gap["to"]) + timedelta(seconds=30),
        reason="witness_request",
        basis="证人要求不录像",
        statement=statement,
    )
    cases.create_case(built.vault, CASE, "某厂查封", "行政强制", "一大队", [], ["查封"])
    _staff(built, "王档案", ["records_keeper"], built.vault.user)  # the reviewer
    report = built.report()
    record_review(built.vault, report["sessions"][0]["session_id"], "finding", "画面中断未说明")
    add_late_reason(built.vault, built.evidence_id(built.names["eve"][0]), "国庆假期值班")
    report = built.report()
    first = report["sessions"][0]
    report["officers"] = {"010203": "张执法"}
    report["camera_badges"].append(
        {
            "dock_id": 99,
            "device_id": "3100009",
            "camera_badge": "010299",
            "camera_name": "周某",
            "files_officers": ["010203"],
            "keeper": "010204",
            "agrees": False,
        }
    )
    evidence = first["evidence_ids"][0]
    report["findings"] += [
        {"rule": "DV-1", "subject": "dock:99", "detail": "camera 3100009 reports badge 010299"},
        {"rule": "DV-1", "subject": "dock:99", "detail": "its keeper is 010204"},
        {
            "rule": "OV-3",
            "subject": f"evidence:{evidence}",
            "detail": "altered records (objects), found by evault verify on 2026-11-23: gone",
        },
        {  # as vault.compliance.copies.report_findings records one
            "rule": "IN-6",
            "subject": f"evidence:{evidence}",
            "detail": "the same bytes arrived from camera 3100001 and camera 3100002",
            "code": "copied_between_cameras",
            "device_ids": ["3100001", "3100002"],
            "file_name": first["clips"][0],
        },
    ]
    return report


@pytest.fixture(scope="module")
def every_kind(station: Station) -> dict[str, Any]:  # noqa: F811
    return _every_kind(station)


def _file_names(built: Station) -> list[str]:
    return [name for names in built.names.values() for name in names]


def test_every_finding_reads_as_a_chinese_sentence(
    station: Station,  # noqa: F811
    every_kind: dict[str, Any],
) -> None:
    rules = {f["rule"] for f in every_kind["findings"]}
    assert rules >= {"RC-1", "RC-3", "RC-4", "RC-5", "IN-1", "IN-6", "DV-1", "DV-2", "OV-3"}
    page = render(every_kind, TZ)
    text = _text(page)
    assert _english_words(text, _file_names(station)) == []
    for code in [*clock.DESCRIPTIONS, "copied_between_cameras", "session:", "gap:", "dock:"]:
        assert code not in text
    rows = re.findall(r"(?s)<tr><td>[A-Z]{2}-\d</td>.*?</tr>", page)
    assert len(rows) == len(every_kind["findings"])  # one row per finding
    assert "详见报告数据" not in text  # each told from its own numbers, none left over
    gap = next(f for f in every_kind["findings"] if f["rule"] == "RC-3")
    session = next(s for s in every_kind["sessions"] if any(
        g["gap_id"] == int(gap["subject"].removeprefix("gap:")) for g in s["gaps"]
    ))  # fmt: skip
    for said in (
        f"会话 {session['session_id']} 中断 {gap['subject'].removeprefix('gap:')}",
        "恢复录制时未作语音说明，也未书面说明原因",
        "开场未作语音说明",
        "尚待负责人审核",
        CASE,
        "某厂查封属于应当全程记录的执法活动（查封），未关联任何音像记录",
        "上传期限为24小时",
        "说明的原因：国庆假期值班",
        "未说明原因",
        "记录仪 3100002 对接时时钟慢 2820 秒：设备时钟偏差超过允许误差",
        "文件内记录的时间与文件名中的时间不符",
        "记录仪 3100009 登记的使用人为周某（执法证号 010299），"
        "但其文件记录的执法人员为张执法（执法证号 010203）",
        "但设备台账登记的保管人为执法证号 010204",
        "抽查（王档案）发现问题：画面中断未说明",
        "档案核验发现：已封存文件缺失或与其校验值不符",
        "同一文件出现在两台记录仪：3100001、3100002",
        "张执法（执法证号 010203）",
        "所列时间均为北京时间",
        "二、发现的问题",
    ):
        assert said in text, said


def test_filters_that_match_nothing_never_print_an_all_clear(
    station: Station,  # noqa: F811
) -> None:
    nothing = station.report(officer_id="999999")
    assert nothing["findings"] == [] and nothing.get("matched", 0) == 0
    text = _text(render(nothing, TZ))
    assert "未找到符合筛选条件的记录" in text and "未发现问题" not in text
    assert "无超时上传" not in text and "均在允许误差内" not in text
    if "known" in nothing:  # the values that exist, and the filter naming none of them
        assert "现有执法人员：执法证号 010203、执法证号 010204" in text
        assert "没有任何记录属于所指定的执法人员：999999" in text
    # A report without the count (older data) is judged by its rows: still no all-clear.
    bare = {k: v for k, v in nothing.items() if k not in ("matched", "known", "unknown")}
    text = _text(render(bare, TZ))
    assert "未找到符合筛选条件的记录" in text and "未发现问题" not in text
    # An all-clear only where the filters matched records and nothing was found.
    clear = {**station.report(device_id="3100001"), "findings": []}
    assert clear.get("matched", 1) > 0
    assert "未发现问题" in _text(render(clear, TZ))


def test_the_english_catalogue_renders_the_page_in_english(
    every_kind: dict[str, Any],
) -> None:
    text = _text(render(every_kind, TZ, language="en"))
    for said in (
        "Report on the use of body-worn cameras",
        "Findings (",
        "The same file came from two cameras: 3100001, 3100002.",
        "All times are Asia/Shanghai.",
    ):
        assert said in text, said
    assert not re.search(r"会话 \d|证据 \d|执法证号|发现的问题|所列时间", text)  # data stays


def test_the_cli_writes_the_page_in_the_configured_language(
    station: Station,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = database_url_for(station.home)
    config = 'language = "en"\n' + TEST_CONFIG + (f'[database]\nurl = "{url}"\n' if url else "")
    (station.home / "vault.toml").write_text(config, encoding="utf-8")
    page = tmp_path / "report.html"
    try:
        done = run_evault(station.home, "report", "compliance", "--html", str(page))
    finally:
        (station.home / "vault.toml").unlink()
    assert done.returncode == 0, done.stderr
    text = _text(page.read_text("utf-8"))
    assert "Report on the use of body-worn cameras" in text and "合规情况报告" not in text
