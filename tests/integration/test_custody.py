"""Camera custody (issue 18 part 8): checkout with the pre-use check, return, upkeep, loss
and misuse as ledger events; low battery or space at hand-out is a finding; the 台账 prints
as a paper.

# Pingdingshan 第4条: 建立执法记录仪使用台账（使用人员、交接时间、记录内容）
# Xiangxi 第12、13、14条: 定人管理, 电量充足, 时间校准, 丢失损坏 (DV-3, DV-5, DV-6)"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.integration.test_retention_purge import camera_clock_agrees
from vault.compliance.custody import custody_findings
from vault.context import Vault
from vault.db import audit
from vault.db.models import AuditEvent
from vault.dock import custody
from vault.errors import Conflict, NotFound
from vault.ingest.pipeline import ingest_volume
from vault.timeutil import FixedClock


@pytest.fixture
def docked(vault: Vault, camera: Path, clock: FixedClock) -> Vault:
    camera_clock_agrees(camera, clock.at)
    ingest_volume(vault, camera)  # DEVICE.TXT: battery 76 %, 27 GB free, officer 010203
    return vault


def _codes(vault: Vault) -> list[tuple[str, str]]:
    with vault.session() as session:
        return [(f.rule, f.code) for f in custody_findings(session, vault.settings)]


def test_a_camera_handed_out_below_the_minimum_battery_is_a_finding(
    docked: Vault, clock: FixedClock
) -> None:
    # Xiangxi 第12条: charge enough for a working day. No reading given: the dock's is used.
    out = custody.checkout(docked, "3100001", "010203")
    assert out.check_source is not None and out.check_source.startswith("dock:")
    assert (out.battery_percent, out.free_bytes) == (76, 27_000_000_000)
    assert _codes(docked) == [("DV-3", "low_battery")]
    with pytest.raises(Conflict, match="out with 010203"):
        custody.checkout(docked, "3100001", "010203")
    clock.at += timedelta(hours=9)
    back = custody.give_back(docked, "3100001", "end of shift")
    assert back.officer_pk == out.officer_pk
    with pytest.raises(Conflict, match="not out"):
        custody.give_back(docked, "3100001")
    # The officer's own reading counts over the dock's: charged overnight.
    clock.at += timedelta(hours=12)
    custody.checkout(docked, "3100001", "010203", battery_percent=95, free_gb=3, clock_ok=False)
    assert _codes(docked) == [("DV-3", "low_battery"), ("DV-3", "low_space"), ("DV-3", "clock_off")]
    with docked.session() as session:
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    assert audit.check_chain(events) == []
    actions = [e.action for e in events if e.action.startswith("device.")]
    assert actions == ["device.checkout", "device.return", "device.checkout"]


def test_loss_damage_and_misuse_are_findings_and_need_a_note(docked: Vault) -> None:
    # Xiangxi 第14条 (loss, damage: 谁使用谁负责); Pingdingshan 第5、18条 (no private use).
    with pytest.raises(Conflict, match="note is required"):
        custody.record_upkeep(docked, "3100001", "loss", "  ")
    with pytest.raises(Conflict, match="unknown event"):
        custody.record_upkeep(docked, "3100001", "stolen", "gone")
    with pytest.raises(NotFound, match="no officer"):
        custody.record_upkeep(docked, "3100001", "misuse", "private filming", badge="999999")
    custody.record_upkeep(docked, "3100001", "maintenance", "battery replaced")
    custody.record_upkeep(docked, "3100001", "damage", "screen cracked", badge="010203")
    custody.record_upkeep(docked, "3100001", "misuse", "lent to a relative", badge="010203")
    assert _codes(docked) == [("DV-5", "damage"), ("DV-6", "misuse")]
    with pytest.raises(NotFound, match="no officer"):
        custody.checkout(docked, "3100001", "999999")


def test_a_camera_never_docked_and_unchecked_is_handed_out_as_a_finding(vault: Vault) -> None:
    from vault.dock.ledger import UnknownDevice, assign

    with pytest.raises(UnknownDevice):
        custody.checkout(vault, "3100009", "010203")
    assign(vault, "3100009", "010203", profile="zfy-ref")
    custody.checkout(vault, "3100009", "010203")
    assert _codes(vault) == [("DV-3", "no_check")]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
def test_the_ledger_prints_as_a_paper_in_chinese(docked: Vault, tmp_path: Path) -> None:
    custody.checkout(docked, "3100001", "010203", note="早班")
    custody.give_back(docked, "3100001")
    out = tmp_path / "ledger.pdf"
    custody.write_ledger_pdf(docked.settings, custody.custody_ledger(docked), out)
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "执法记录仪使用管理台账" in text and "第1页 共1页" in text
    assert "领用" in text and "归还" in text and "入库读数" in text and "早班" in text
    assert "管理人员（签名）" in text and "Asia/Shanghai" not in text


def test_custody_findings_are_in_the_report_and_on_its_page(docked: Vault, tmp_path: Path) -> None:
    from vault.compliance.printable import write_html
    from vault.compliance.report import ReportFilters, build_report

    custody.checkout(docked, "3100001", "010203")  # the dock's 76 %
    custody.give_back(docked, "3100001")
    custody.record_upkeep(docked, "3100001", "loss", "遗失于现场", badge="010203")
    report = build_report(docked, ReportFilters())
    found = {(f["rule"], f["code"]) for f in report["findings"] if f["rule"].startswith("DV-")}
    assert {("DV-3", "low_battery"), ("DV-5", "loss")} <= found
    assert build_report(docked, ReportFilters(device_id="3100002"))["findings"] == []
    page = tmp_path / "report.html"
    write_html(report, page, docked.settings.timezone)
    text = page.read_text("utf-8")
    assert "记录仪领用时电量为 76%，应不低于 80%" in text and "记录仪丢失：遗失于现场" in text
    assert "low_battery" not in text
