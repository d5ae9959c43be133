"""The console's pages (issue 19) through the web contract's interface (create_app,
set_password, POST /login), on real footage sealed into a real store: Chinese labels, whole
identifiers, what policy lets each role see, refusals registered, playback registered and
streamed with ranges, forms that post to the operations with their CSRF token."""

from __future__ import annotations

import html
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from tests.web.pages_helpers import (
    CASE,
    Station,
    client_for,
    csrf_of,
    make_station,
    register_entries,
)
from vault.compliance.stops import add_stop
from vault.db.models import Device, Evidence, StopRecord
from vault.dock.status import StatusServer
from vault.timeutil import FixedClock
from vault.web import media
from vault.web.pages import evidence as evidence_pages

REPORT = "from=2026-11-23&to=2026-11-23&unit=环境监察支队一大队"
pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


@pytest.fixture(scope="module")
def station(pristine_camera: Path, tmp_path_factory: pytest.TempPathFactory) -> Station:
    root = tmp_path_factory.mktemp("pages")
    camera = root / "camera"
    shutil.copytree(pristine_camera, camera, symlinks=True)
    clock = FixedClock(datetime(2026, 11, 23, 9, 30, 0, tzinfo=UTC))
    return make_station(root, camera, clock)


def _cells(html: str) -> list[str]:
    """The text of every cell and value that must never be cut (class "id")."""
    return [re.sub(r"<[^>]+>", "", m) for m in re.findall(r'class="id[^"]*">(.*?)</', html)]


def test_each_page_shows_its_chinese_labels_and_whole_identifiers(station: Station) -> None:
    keeper = client_for(station, "王档案")
    first = station.videos[0]
    pages = {
        "/evidence": ["证据检索", "案件编号", "执法证号", "记录仪", "录制时间", "检索"],
        f"/evidence/{first}": ["证据详情", "基本信息", "保管链", "派生文件", "保存期限与保全"],
        "/cases": ["案件", "案件编号", "承办人"],
        f"/cases/{CASE}": ["应录必录覆盖情况", "现场查验", "调查取证", "未录制", "关联证据"],
        "/todo": ["合规待办"],
        "/dock": ["对接站"],
        f"/reports?{REPORT}": ["合规报告", "打印版报告"],
    }
    for path, labels in pages.items():
        page = keeper.get(path)
        assert page.status_code == 200, (path, page.text)
        assert '<html lang="zh-CN">' in page.text
        for label in labels:
            assert label in page.text, (path, label)
    detail = keeper.get(f"/evidence/{first}").text
    facts = keeper.get(f"/evidence/{first}").text
    shown = keeper.get("/evidence").text
    # Identifiers (file names, hashes, badges, camera ids, case numbers) whole, in cells that
    # never wrap (.id: white-space: nowrap in the pages' style sheet).
    sha = re.search(r'class="id hash">([0-9a-f]{64})<', detail)
    assert sha, "the SHA-256 is shown whole"
    assert station.badge in _cells(shown) and station.badge in _cells(facts)
    assert CASE in _cells(keeper.get("/cases").text)
    css = keeper.get("/static/pages.css").text
    assert re.search(r"\.id \{[^}]*white-space: nowrap", css)
    # The case page: the stated stage with footage names it, the other says none recorded.
    case = keeper.get(f"/cases/{CASE}").text
    row = re.search(r"<td>现场查验</td>.*?</tr>", case, re.S)
    assert row and f'href="/evidence/{first}"' in row.group(0)
    assert re.search(r"<td>调查取证</td>.*?未录制", case, re.S)


def test_search_filters_and_pages(station: Station, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper = client_for(station, "王档案")

    def ids(path: str) -> list[int]:
        page = keeper.get(path)
        assert page.status_code == 200, page.text
        return [int(i) for i in re.findall(r'<td class="id"><a href="/evidence/(\d+)">', page.text)]

    every = ids("/evidence")
    assert every and set(every) == set(station.evidence)
    assert ids(f"/evidence?officer={station.badge}") == every
    assert ids("/evidence?officer=999999") == []
    assert "没有符合条件的证据" in keeper.get("/evidence?officer=999999").text
    assert ids(f"/evidence?case={CASE}") == station.videos[:1]
    assert ids("/evidence?case_name=某厂") == station.videos[:1]
    assert ids("/evidence?officer_name=张警") == every
    assert ids("/evidence?officer_name=李警官") == []
    assert ids("/evidence?unit=环境监察支队一大队") == every  # the officer's unit
    assert ids("/evidence?unit=二大队") == []
    with station.vault.session() as session:
        rows = session.exec(select(Evidence)).all()
        facts = {e.id: (e.status, e.retention_class) for e in rows}
        times = [e.recorded_at_corrected for e in rows if e.recorded_at_corrected]
    for status in ("sealed", "verified", "failed"):
        for kept in ("routine", "case"):
            wanted = [i for i in every if facts[i] == (status, kept)]
            assert ids(f"/evidence?status={status}&class={kept}") == wanted
    assert {facts[i][1] for i in every} == {"routine", "case"}  # the case's clip is "case"
    zone = ZoneInfo(station.vault.settings.timezone)
    first_day = min(times).astimezone(zone).date()
    last_day = max(times).astimezone(zone).date()
    assert len(times) == len(every)
    assert ids(f"/evidence?from={first_day}&to={last_day}") == every
    assert ids(f"/evidence?from={last_day + timedelta(days=1)}") == []
    monkeypatch.setattr(evidence_pages, "PAGE_SIZE", 2)
    # Pages by key (issue 22): each page's "next" link starts after its last row; following
    # them gives every clip once, in order, and the last page has no "next".
    seen: list[int] = []
    path: str | None = "/evidence"
    pages = 0
    while path is not None:
        page = keeper.get(path).text
        assert 'rel="prev"' not in page
        assert ('rel="first"' in page) == (pages > 0)
        found = ids(path)
        assert len(found) <= 2
        seen += found
        pages += 1
        link = re.search(r'<a href="([^"]+)" rel="next"', page)
        path = html.unescape(link.group(1)) if link else None
    assert seen == every and pages == (len(every) + 1) // 2
    assert keeper.get("/evidence?status=lost").status_code == 400  # one clear line


def test_an_officer_sees_only_what_policy_allows_and_refusals_are_registered(
    station: Station,
) -> None:
    zhang, li = client_for(station, "张警官"), client_for(station, "李警官")
    first = station.videos[0]
    mine = zhang.get("/evidence").text
    assert f'href="/evidence/{first}"' in mine
    assert 'href="/evidence/' not in li.get("/evidence").text  # none of his own
    assert 'href="/evidence/' not in li.get("/evidence?officer_name=张警").text
    assert li.get(f"/evidence?officer={station.badge}").status_code == 403
    assert CASE in zhang.get("/cases").text and CASE not in li.get("/cases").text
    before = len(register_entries(station.vault))
    refused = li.get(f"/evidence/{first}")
    assert refused.status_code == 403 and "拒绝访问" in refused.text
    assert li.get(f"/cases/{CASE}").status_code == 403
    assert li.get("/dock").status_code == 403  # the bays are the records keeper's
    entries = register_entries(station.vault)[before:]
    refusals = [(e.event, e.who, e.what) for e in entries]
    assert ("refused", "李警官", "evidence.show") in refusals
    assert ("refused", "李警官", "case.show") in refusals
    assert ("refused", "李警官", "dock.status") in refusals


def test_playback_is_registered_streamed_with_ranges_and_removed(station: Station) -> None:
    zhang, li = client_for(station, "张警官"), client_for(station, "李警官")
    first = station.videos[0]
    detail = zhang.get(f"/evidence/{first}").text
    assert "/play" in detail and "<video" not in detail  # playing is a choice: it is registered
    before = len(register_entries(station.vault))
    page = zhang.get(f"/evidence/{first}/play")
    assert page.status_code == 200, page.text
    views = [e for e in register_entries(station.vault)[before:] if e.event == "view"]
    assert [(v.who, v.what) for v in views] == [("张警官", f"view evidence:{first}")]
    assert views[0].detail["file"] == "viewing"
    html = page.text
    src = re.search(r'<video id="video" src="(/media/[^"]+)"', html)
    assert src, html
    assert 'controlsList="nodownload' in html and " download" not in html
    assert re.search(r'class="watermark".*?张警官（' + station.badge + "）", html, re.S)
    whole = zhang.get(src.group(1))
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4" and whole.content[4:8] == b"ftyp"
    part = zhang.get(src.group(1), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert li.get(src.group(1)).status_code == 404  # another principal's playback
    # Streaming registers nothing more: one playback, one view.
    assert not [e for e in register_entries(station.vault)[before + 1 :] if e.event == "view"]
    (playing,) = [p for p in media.active() if p["evidence_id"] == first]
    path = Path(playing["path"])
    assert path.is_file()
    token = src.group(1).split("/")[2]
    assert zhang.post(f"/media/{token}/end").status_code == 403  # no CSRF token
    ended = zhang.post(f"/media/{token}/end", data={"csrf": csrf_of(html)})
    assert ended.status_code == 204
    assert not path.exists() and zhang.get(src.group(1)).status_code == 404


def test_a_copy_to_keep_needs_a_copy_grant_and_its_refusal_is_registered(
    station: Station,
) -> None:
    zhang = client_for(station, "张警官")
    first = station.videos[0]
    html = zhang.get(f"/evidence/{first}").text
    before = len(register_entries(station.vault))
    refused = zhang.post(f"/evidence/{first}/copy", data={"csrf": csrf_of(html)})
    assert refused.status_code == 403, refused.text
    entries = register_entries(station.vault)[before:]
    assert "张警官" in refused.text and "复制证据 1 的有效授权" in refused.text
    (entry,) = [e for e in entries if e.handled_by == "张警官"]
    assert (entry.event, entry.what) == ("refused", f"view evidence:{first}")


def test_a_poster_is_fetched_once_per_session(station: Station) -> None:
    zhang = client_for(station, "张警官")
    first = station.videos[0]
    before = len(register_entries(station.vault))
    for _ in range(3):
        poster = zhang.get(f"/evidence/{first}/poster.jpg")
        assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"
    posters = [e for e in register_entries(station.vault)[before:] if "poster" in (e.what or "")]
    assert len(posters) == 1 and posters[0].event == "view"


def test_todo_forms_post_to_their_operations(station: Station) -> None:
    vault = station.vault
    with vault.session() as session:
        device = session.exec(select(Device)).first()
        assert device is not None
    start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    stop = add_stop(
        vault,
        device_id=device.device_id,
        officer_id=station.badge,
        stop_from=start,
        stop_to=start + timedelta(minutes=20),
        reason="privacy",
        basis="《音像记录规定》第十条",
        statement=None,
    )
    boss = client_for(station, "李局长")
    todo = boss.get("/todo").text
    assert "待批准的停录记录" in todo and f'name="stop_id" value="{stop.id}"' in todo
    without = boss.post("/todo/stop-approve", data={"stop_id": str(stop.id)})
    assert without.status_code == 403
    done = boss.post(
        "/todo/stop-approve",
        data={"stop_id": str(stop.id), "csrf": csrf_of(todo)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/todo?done=stop-approve"
    with vault.session() as session:
        approved = session.get(StopRecord, stop.id)
        assert approved is not None and approved.status == "approved"
        assert approved.approved_by == "李局长"
    # An officer may not approve: refused by the policy, registered, shown as one line.
    zhang = client_for(station, "张警官")
    page = zhang.get("/todo").text
    answer = zhang.post("/todo/stop-approve", data={"stop_id": str(stop.id), "csrf": csrf_of(page)})
    assert answer.status_code == 403 and "拒绝访问" in answer.text


def test_an_officer_explains_his_late_clip_from_his_todo(station: Station) -> None:
    """IN-1: the officer's own late clips, each with its form; a reason given takes the clip
    off his list, as `compliance.late-reason` records it."""
    zhang = client_for(station, "张警官")
    page = zhang.get("/todo").text
    section = re.search(r'<section class="todo" id="late_without_reason">.*?</section>', page, re.S)
    assert section and "未说明原因的逾期上传" in section.group(0)
    late = [int(i) for i in re.findall(r'name="evidence_id" value="(\d+)"', section.group(0))]
    assert late and set(late) <= set(station.evidence)
    names = re.findall(r'<td class="id">([^<]+\.(?:MP4|JPG|WAV))</td>', section.group(0))
    assert len(names) == len(late)  # each file name whole
    done = zhang.post(
        "/todo/late-reason",
        data={"evidence_id": str(late[0]), "note": "执勤至深夜，次日上传", "csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    after = zhang.get("/todo").text
    assert (
        f'name="evidence_id" value="{late[0]}"' not in after
        and "已完成" in zhang.get(done.headers["location"]).text
    )


def test_dock_bays_are_polled_as_json(station: Station) -> None:
    bays: list[dict[str, Any]] = [
        {
            "bay": "usb-1-2",
            "state": "copying",
            "device_id": "3100001",
            "profile": "zfy",
            "bytes_done": 500_000_000,
            "bytes_total": 2_000_000_000,
            "files_done": 3,
            "files_total": 12,
            "rate_bps": 40_000_000,
            "eta_s": 37.5,
            "reason": None,
            "current": "20261123150000_0001.MP4",
            "removed_at": None,
        }
    ]
    state = {
        "station_id": "站-1",
        "pid": 4242,
        "started_at": "2026-11-23T09:00:00Z",
        "summary": "1 bay copying",
        "stopping": False,
        "bays": bays,
    }
    keeper = client_for(station, "王档案")
    off = keeper.get("/dock/status.json").json()
    assert off["ok"] is False and "not running" in off["error"]
    server = StatusServer(station.vault.settings.home / "dock.sock", lambda: state)
    server.start()
    try:
        answer = keeper.get("/dock/status.json")
        assert answer.json() == {"ok": True, "state": state}
        page = keeper.get("/dock").text
        assert "3100001" in _cells(page) and "usb-1-2" in _cells(page)
        assert 'data-poll="/dock/status.json"' in page and "/static/pages.js" in page
    finally:
        server.close()
    refused = client_for(station, "张警官").get("/dock/status.json")
    assert refused.status_code == 403


def test_reports_page_and_its_printable_copy(station: Station) -> None:
    auditor = client_for(station, "孙审计")
    query = REPORT
    page = auditor.get(f"/reports?{query}")
    assert page.status_code == 200 and "按执法人员和记录仪" in page.text
    assert station.badge in _cells(page.text)
    printable = auditor.get(f"/reports/report.html?{query}")
    assert printable.status_code == 200 and "<html" in printable.text.lower()


def test_a_spot_check_is_reviewed_from_the_todo(station: Station) -> None:
    """OV-2: a draw's sessions wait on the records keeper's to-do, each with its review form;
    the review recorded there (`review.record`) takes the session off."""
    from vault.compliance.review import draw_sample
    from vault.compliance.scan import scan

    scan(station.vault)  # the sessions of the footage docked
    draw = draw_sample(station.vault, 1, seed="web-todo")
    (session_id,) = draw.session_ids
    keeper = client_for(station, "王档案")
    page = keeper.get("/todo").text
    section = re.search(
        r'<section class="todo" id="spot_checks_to_review">.*?</section>', page, re.S
    )
    assert section and "待审查的抽查录像" in section.group(0)
    assert f'name="session_id" value="{session_id}"' in section.group(0)
    done = keeper.post(
        "/todo/review-record",
        data={
            "session_id": str(session_id),
            "result": "ok",
            "note": "回放核查",
            "csrf": csrf_of(page),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    after = keeper.get("/todo").text
    again = re.search(
        r'<section class="todo" id="spot_checks_to_review">.*?</section>', after, re.S
    )
    assert again and f'value="{session_id}"' not in again.group(0)


def test_a_long_todo_section_shows_its_first_rows_and_says_how_many(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A section longer than the page shows (todo.SHOWN) gives its whole count and says
    where the rest are; its first rows are the oldest, as `evault todo` lists them."""
    from vault.web.pages import todo as todo_pages

    zhang = client_for(station, "张警官")
    whole = re.search(
        r'<section class="todo" id="late_without_reason">.*?</section>',
        zhang.get("/todo").text,
        re.S,
    )
    assert whole is not None
    late = re.findall(r'name="evidence_id" value="(\d+)"', whole.group(0))
    assert len(late) >= 2  # the station's footage docked late
    monkeypatch.setattr(todo_pages, "SHOWN", 1)
    page = zhang.get("/todo").text
    section = re.search(r'<section class="todo" id="late_without_reason">.*?</section>', page, re.S)
    assert section is not None
    assert re.findall(r'name="evidence_id" value="(\d+)"', section.group(0)) == late[:1]
    assert f'<span class="count">{len(late)}</span>' in section.group(0)
    assert f"仅显示最早的 1 条，共 {len(late)} 条" in section.group(0)
