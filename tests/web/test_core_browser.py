"""The web console in a real browser (issue 19): Debian's chromium, headless, driven by
Playwright, against `evault serve --web` on a free port, on a vault made with the CLI.
Each test saves a screenshot of its main page ($EVAULT_TEST_SCREENSHOTS, else the module's
temporary folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import (
    BOSS,
    HANDLER,
    KEEPER,
    OTHER,
    PASSWORD,
    WEB,
    Station,
    _papers,
    browser_log_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def shot(page: Any, station: Station, name: str) -> Path:
    path = station.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_login_page_is_chinese_and_an_approver_logs_in(page: Any, station: Station) -> None:
    page.goto(f"{station.url}/approvals")
    assert page.url.startswith(f"{station.url}/login?next=")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    for words in ("执法音像资料管理系统", "姓名", "密码"):
        assert page.get_by_text(words).first.is_visible()
    shot(page, station, "login")
    page.get_by_label("姓名").fill(BOSS)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{station.url}/approvals")
    assert page.get_by_role("heading", name="待审批").is_visible()
    nav = page.get_by_role("navigation", name="主导航")
    for label in ("待审批", "证据检索", "案件", "合规待办", "查阅登记簿", "对接站", "报告"):
        assert nav.get_by_role("link", name=label).is_visible()
    assert page.get_by_role("button", name="退出").is_visible()


def test_wrong_passwords_lock_the_account(page: Any, station: Station) -> None:
    for _ in range(WEB["max_failures"]):
        browser_log_in(page, station, OTHER, "not the password")
    assert page.get_by_role("alert").filter(has_text="已锁定").is_visible()
    browser_log_in(page, station, OTHER)  # the right password: still locked
    assert page.get_by_role("alert").filter(has_text="已锁定").is_visible()
    shot(page, station, "login-locked")
    log = json.loads(station.ok("access", "log", "--json"))
    assert log  # the register is untouched by logins; they are audit events
    page.goto(f"{station.url}/approvals")
    assert "/login" in page.url


def test_a_request_filed_with_the_cli_is_approved_in_the_browser_then_exported(
    page: Any, station: Station, tmp_path: Path
) -> None:
    papers = _papers(tmp_path / "papers")
    station.ok("principal", "add", "某区人民法院", "--type", "court", "--unit", "某区人民法院")
    filed = json.loads(
        station.ok(
            "access", "request", "--scope", "evidence:1", "--action", "export",
            "--reason", "行政诉讼举证", "--requester", "某区人民法院",
            "--document", f"unit_letter={papers['unit_letter']}",
            "--document", f"applicant_id={papers['applicant_id']}", "--json",
        )
    )  # fmt: skip
    request_id = filed["request_id"]
    browser_log_in(page, station, BOSS)
    page.wait_for_url(f"{station.url}/approvals")
    page.goto(f"{station.url}/approvals")
    row = page.get_by_role("row").filter(has_text="某区人民法院")
    assert row.get_by_text("行政诉讼举证").is_visible()
    assert row.get_by_text(KEEPER).is_visible()  # filed by the records keeper
    shot(page, station, "approvals")
    row.get_by_role("link", name=str(request_id)).click()
    page.wait_for_url(f"{station.url}/approvals/{request_id}")
    assert page.get_by_role("heading", name="提交的材料").is_visible()
    letter = page.locator(f'iframe[src="/approvals/{request_id}/documents/unit_letter"]')
    assert letter.is_visible()
    photo = page.locator(f'img[src="/approvals/{request_id}/documents/applicant_id"]')
    photo.wait_for()
    assert page.evaluate("(img) => img.naturalWidth", photo.element_handle()) == 480
    shot(page, station, "approval")
    # A POST from the page's cookies without the form's token is refused.
    forged = page.request.post(
        f"{station.url}/approvals/{request_id}/approve", form={"days": "3", "reason": "x"}
    )
    assert forged.status == 403
    approve = page.locator("form.approve")
    approve.get_by_label("有效天数").fill("3")
    approve.get_by_label("原因").fill("同意，依法提供")
    approve.get_by_role("button", name="批准").click()
    page.wait_for_url(f"{station.url}/approvals?done=approved&id={request_id}")
    assert page.get_by_role("status").filter(has_text=f"申请 {request_id} 已批准").is_visible()
    grants = json.loads(station.ok("access", "grants", "--json"))
    grant = next(g for g in grants if g["request_id"] == request_id)
    assert grant["granted_by"] == BOSS and grant["action"] == "export"
    out = tmp_path / "package"
    station.ok(
        "evidence", "export", "1", "--grant", str(grant["grant_id"]), "--out", str(out),
        "--place", "某厂门口",
    )  # fmt: skip
    assert (out / "SHA256SUMS").is_file()
    entries = json.loads(station.ok("access", "log", "--json"))
    approved = [e for e in entries if e["event"] == "approve" and e["request_id"] == request_id]
    assert approved and approved[0]["approver"] == BOSS


def test_an_officer_is_refused_the_register_and_the_refusal_is_registered(
    page: Any, station: Station
) -> None:
    browser_log_in(page, station, HANDLER)
    page.wait_for_url(f"{station.url}/approvals")
    assert page.get_by_text("赵办案（010203）").is_visible()  # 姓名（执法证号）
    page.goto(f"{station.url}/register")
    assert page.get_by_role("heading", name="拒绝").is_visible()
    assert page.get_by_text("已记入查阅登记簿").is_visible()
    shot(page, station, "register-refused")
    entries = json.loads(station.ok("access", "log", "--json"))
    refused = [e for e in entries if e["event"] == "refused" and e["who"] == HANDLER]
    assert refused and refused[-1]["detail"]["attempt"] == "access.log"
    # The bureau head reads it: the refusal is on the page, the chain intact.
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(f"{station.url}/login")
    browser_log_in(page, station, BOSS)
    page.wait_for_url(f"{station.url}/approvals")
    page.goto(f"{station.url}/register")
    assert page.get_by_role("heading", name="查阅登记簿").is_visible()
    assert page.get_by_role("status").filter(has_text="登记簿完整").is_visible()
    assert (
        page.get_by_role("row").filter(has_text=HANDLER).filter(has_text="拒绝").first.is_visible()
    )
    with page.expect_download() as download:
        page.get_by_role("link", name="下载电子表格").click()
    assert download.value.suggested_filename == "register.csv"
    shot(page, station, "register")
