"""Evidence packages (EV-1..EV-3): checked with the real sha256sum, the statement read back
with pdftotext, disc images read back with xorriso; and the CLI end to end (AC-7, AC-8)."""

from __future__ import annotations

import getpass
import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.access_office import CASE, CASE_NAME, Office, open_office
from tests.conftest import run_evault
from vault.access import grants
from vault.access.export import STATEMENT, ExportResult, export
from vault.access.requests import file_request
from vault.cases import cases
from vault.context import Vault
from vault.db.models import Evidence, RegisterEntry
from vault.errors import AccessRefused


@pytest.fixture
def office(vault: Vault, camera: Path, tmp_path: Path) -> Office:
    return open_office(vault, camera, tmp_path / "papers")


def court_grant(office: Office) -> int:
    """A court asks for the case's footage; the bureau head approves: the court's grant."""
    court = office.outsider("某区人民法院", "court", "某区人民法院")
    request = file_request(
        office.keeper,
        f"case:{CASE}",
        "export",
        "行政诉讼举证",
        court,
        office.documents("unit_letter", "applicant_id"),
    )
    assert request.id is not None
    grant = grants.approve(office.boss, request.id, "同意")
    assert grant.id is not None
    return grant.id


def court_export(office: Office, out: Path, discs: bool = False) -> ExportResult:
    """The keeper hands the court's package over, naming the court's grant (--grant)."""
    grant_id = court_grant(office)
    return export(office.keeper, f"case:{CASE}", out, grant_id, discs=discs, place="某厂门口")


def last_entry(office: Office) -> RegisterEntry:
    with office.vault.session() as session:
        entry = session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq).desc())).first()
    assert entry is not None
    return entry


def needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (scripts/setup installs it)")


def test_package_checks_with_sha256sum_and_holds_the_originals_bit_exact(
    office: Office, camera: Path, tmp_path: Path
) -> None:
    """EV-3: verifiable by the receiver with standard tools, without the vault."""
    needs("sha256sum")
    out = tmp_path / "package"
    result = court_export(office, out)
    checked = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = [line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines()]
    assert {f["path"] for f in result.files} | {"manifest.json"} == set(listed)
    on_camera = {
        hashlib.sha256(p.read_bytes()).hexdigest(): p for p in camera.rglob("*") if p.is_file()
    }
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["evidence_id"] for e in manifest["evidence"]] == office.evidence[:2]
    for item in manifest["evidence"]:
        exported = (out / item["original"]).read_bytes()
        assert exported == on_camera[item["sha256"]].read_bytes()  # bit-exact
        assert item["device"]["device_id"] and item["officer"]["officer_id"] == "010203"
        assert item["clock_offset_s"] is not None and item["start"] and item["end"]
        events = [e["event"] for e in item["chain_of_custody"]]
        assert "evidence.sealed" in events and "case.linked" in events
        assert "access.approve" in events
    assert manifest["case"]["number"] == CASE and manifest["approver"] == "李局长"
    assert {f["path"] for f in manifest["files"]} >= {STATEMENT}
    (out / item["original"]).write_bytes(b"tampered")
    assert subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True
    ).returncode


def test_written_statement_names_officers_times_place_device_format_and_hashes(
    office: Office, tmp_path: Path
) -> None:
    """EV-1: 文字说明材料, in Chinese, read back from the PDF."""
    needs("pdftotext")
    out = tmp_path / "package"
    court_export(office, out)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(out / STATEMENT), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for field in (
        "文字说明材料",
        "采集人",
        "记录人",
        "开始时间",
        "结束时间",
        "地点：某厂门口",
        "设备厂商及型号",
        "录制格式",
        "SHA-256",
        "分管领导：",  # Xiangxi 第16条: 由分管领导和执法人员签名 (was 负责人)
        CASE_NAME,
        CASE,
        "010203",
    ):
        assert field in text, field
    with office.vault.session() as session:
        hashes = session.exec(
            select(Evidence.sha256).where(col(Evidence.id).in_(office.evidence[:2]))
        )
        for sha256 in hashes:
            assert sha256 in text.replace("\n", "")


def test_export_without_a_grant_writes_nothing_and_is_registered(
    office: Office, tmp_path: Path
) -> None:
    """AC-8: nothing leaves the vault without an approved request."""
    out = tmp_path / "package"
    with pytest.raises(AccessRefused, match="--scope case:NUMBER --action export"):
        export(office.keeper, f"case:{CASE}", out)
    assert not out.exists() and not list(tmp_path.glob(".package*"))
    entry = last_entry(office)
    assert entry.event == "refused" and entry.what == f"export case:{CASE}"


def test_a_records_keeper_hands_an_outsiders_package_over_only_under_the_named_grant(
    office: Office, tmp_path: Path
) -> None:
    """Never a grant picked silently: without --grant only the caller's own are used."""
    grant_id = court_grant(office)
    out = tmp_path / "package"
    with pytest.raises(AccessRefused, match="王档案 holds no valid grant to export"):
        export(office.keeper, f"case:{CASE}", out)
    assert not out.exists() and not list(tmp_path.glob(".package*"))
    entry = last_entry(office)
    assert (entry.event, entry.what, entry.handled_by) == (
        "refused",
        f"export case:{CASE}",
        "王档案",
    )
    assert entry.detail["attempt"] == "export"
    result = export(office.keeper, f"case:{CASE}", out, grant_id)
    assert result.grant_id == grant_id and (out / "SHA256SUMS").exists()
    assert (last_entry(office).event, last_entry(office).who) == ("export", "某区人民法院")


def test_a_case_grant_does_not_cover_a_clip_linked_after_its_approval(
    office: Office, tmp_path: Path
) -> None:
    """A case-scoped grant covers the evidence linked when it was approved, never more."""
    grant_id = court_grant(office)
    cases.link(office.vault, CASE, [office.evidence[2]], [])
    out = tmp_path / "package"
    with pytest.raises(AccessRefused, match="linked later needs a new request"):
        export(office.keeper, f"case:{CASE}", out, grant_id)
    assert not out.exists() and not list(tmp_path.glob(".package*"))
    entry = last_entry(office)
    assert (entry.event, entry.what) == ("refused", f"export case:{CASE}")
    assert f"grant {grant_id}" in str(entry.detail["refusal"])
    with pytest.raises(AccessRefused, match="linked later"):  # the new clip alone: neither
        export(office.keeper, f"evidence:{office.evidence[2]}", out, grant_id)
    assert last_entry(office).event == "refused"
    earlier = export(office.keeper, f"evidence:{office.evidence[0]}", out, grant_id)
    assert earlier.grant_id == grant_id  # what was linked at approval still is covered


def test_a_clip_unlinked_from_the_case_leaves_the_case_grant(
    office: Office, tmp_path: Path
) -> None:
    """A clip unlinked as the wrong case is no longer covered by that case's grants."""
    grant_id = court_grant(office)
    unlinked = office.evidence[0]
    cases.unlink(office.vault, CASE, [unlinked], "wrong case")
    with pytest.raises(AccessRefused, match="does not cover this"):
        export(office.keeper, f"evidence:{unlinked}", tmp_path / "package", grant_id)
    assert last_entry(office).event == "refused"


def test_disc_images_are_two_labelled_copies(office: Office, tmp_path: Path) -> None:
    """EV-2: two copies, each labelled with unit, maker, date, case name and number."""
    needs("xorriso")
    out = tmp_path / "package"
    result = court_export(office, out, discs=True)
    assert [p.name for p in result.images] == ["copy-1.iso", "copy-2.iso"]
    for copy, image in enumerate(result.images, start=1):
        label = (out / "iso" / f"label-copy-{copy}.txt").read_text()
        for part in (f"第{copy}份（共2份）", "一大队", "王档案", "2026-11-23", CASE_NAME, CASE):
            assert part in label
        listing = subprocess.run(
            ["xorriso", "-indev", str(image), "-find", "/", "-type", "f"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "'/SHA256SUMS'" in listing and "'/LABEL.TXT'" in listing
        assert f"'/{STATEMENT}'" in listing and "iso/" not in listing
        info = subprocess.run(
            ["xorriso", "-indev", str(image), "-pvd_info"], capture_output=True, text=True
        ).stdout
        assert f"_C{copy}" in info


def test_cli_request_approve_export_and_a_register_that_shows_tampering(
    vault: Vault, camera: Path, home: Path, tmp_path: Path
) -> None:
    """The whole path at the command line, as the OS user running the tests."""
    needs("sha256sum")
    from vault.ingest.pipeline import ingest_volume

    evidence_id = ingest_volume(vault, camera).clips[0].evidence_id
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(b"%PDF-1.4 letter")

    def ok(*args: str) -> str:
        done = run_evault(home, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    ok("principal", "add", "王档案", "--role", "records_keeper", "--role", "approver",
       "--approver-level", "head")  # AC-0 (issue 18)  # fmt: skip
    ok("principal", "add", "某检察院", "--type", "检察院", "--unit", "某检察院")
    ok("principal", "add", "钱其他", "--user", "nobody")
    stranger = run_evault(home, "principal", "add", "孙某", "--user", "no-such-user-evault")
    assert stranger.returncode == 1
    assert stranger.stderr.strip().splitlines() == [
        "error: no OS user 'no-such-user-evault' on this machine: create the account first, "
        "then map it"
    ]
    refused = run_evault(home, "evidence", "export", str(evidence_id), "--out", str(tmp_path / "x"))
    assert refused.returncode == 3 and "no valid grant" in refused.stderr
    missing = run_evault(
        home, "access", "request", "--scope", f"evidence:{evidence_id}", "--action", "export",
        "--reason", "审查", "--requester", "某检察院", "--document", f"unit_letter={letter}",
    )  # fmt: skip
    assert missing.returncode == 3 and "applicant_id (身份证件)" in missing.stderr
    ok(
        "access", "request", "--scope", f"evidence:{evidence_id}", "--action", "export",
        "--reason", "审查", "--requester", "某检察院", "--document", f"unit_letter={letter}",
        "--document", f"applicant_id={letter}",
    )  # fmt: skip
    ok("access", "approve", "1", "--reason", "同意", "--days", "3")
    out = tmp_path / "pkg"
    # EV-1: a clip with no case needs its place (issue 18 part 7).
    ok("evidence", "export", str(evidence_id), "--out", str(out), "--grant", "1", "--place", "某厂")
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out).returncode == 0
    with sqlite3.connect(home / "vault.db") as db:
        names = db.execute("SELECT kind, file_name FROM access_document ORDER BY kind").fetchall()
    assert names == [("applicant_id", "letter.pdf"), ("unit_letter", "letter.pdf")]
    log = json.loads(ok("access", "log", "--json"))
    assert [e["event"] for e in log][-5:] == ["refused", "refused", "request", "approve", "export"]
    assert log[-1]["who"] == "某检察院" and log[-1]["handled_by"] == "王档案"
    assert log[-1]["os_user"] == getpass.getuser()
    assert "register intact" in ok("access", "log", "--verify")
    ok("access", "log", "--csv", str(tmp_path / "register.csv"), "--pdf", str(tmp_path / "r.pdf"))
    csv_text = (tmp_path / "register.csv").read_text(encoding="utf-8-sig")
    assert csv_text.startswith("序号,日期,查阅人,单位,证件材料,查阅内容,事由,批准人,经办人")
    assert "身份证件、介绍信" in csv_text
    if shutil.which("pdftotext"):
        printed = subprocess.run(
            ["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True
        ).stdout
        assert "查阅登记簿" in printed and "某检察院" in printed
    with sqlite3.connect(home / "vault.db") as db:
        db.execute("UPDATE register_entry SET reason = '无' WHERE event = 'export'")
    tampered = run_evault(home, "access", "log", "--verify")
    assert tampered.returncode == 4
    assert "register tampered: entry" in tampered.stderr and "edited" in tampered.stderr
