"""Issue 17: the written statement (文字说明材料) is an official paper: Chinese only (but
for file names, hashes and format names), times as 北京时间, the bureau's full name, page
numbers on every page, a seal area, and the signature block whole on one page with a line
for every officer involved. Read back with pdftotext; each page also rendered to PNG in the
test's folder for a person to look at."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.access_office import CASE, Office, open_office
from tests.conftest import make_settings
from tests.integration.test_export_delivery import court_grant
from vault.access.export import STATEMENT, export
from vault.context import Vault
from vault.timeutil import FixedClock

# Format and tool names a reader needs as they are.
ALLOWED = {"SHA-256", "SHA256SUMS", "sha256sum", "MP4", "H.264", "H.265", "AAC", "PCM"}


def pdf_pages(path: Path) -> list[str]:
    count = int(
        re.search(  # type: ignore[union-attr]
            r"Pages:\s+(\d+)",
            subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout,
        ).group(1)
    )
    return [
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-f", str(n), "-l", str(n), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in range(1, count + 1)
    ]


@pytest.fixture
def office(home: Path, clock: FixedClock, camera: Path, tmp_path: Path) -> Office:
    settings = make_settings(home, access={"bureau_name": "某市生态环境局"})
    return open_office(Vault(settings, clock=clock, user="tester"), camera, tmp_path / "papers")


def test_the_written_statement_is_an_official_paper_in_chinese(
    office: Office, tmp_path: Path
) -> None:
    if not (shutil.which("pdftotext") and shutil.which("pdfinfo")):
        pytest.skip("poppler-utils is not installed (scripts/setup installs it)")
    out = tmp_path / "package"
    grant = court_grant(office)
    export(office.keeper, f"case:{CASE}", out, grant, place="某厂门口")
    pages = pdf_pages(out / STATEMENT)
    text = "\n".join(pages)
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", str(out / STATEMENT), str(tmp_path / "page")]
        )
    assert "Asia/Shanghai" not in text and "北京时间" in text
    assert "执法机关：某市生态环境局" in text
    for number, page in enumerate(pages, start=1):
        assert f"第{number}页 共{len(pages)}页" in page
    # File names, hashes and the camera's own make and model stay as they are.
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    proper = [p.name for p in (out / "originals").rglob("*") if p.is_file()]
    for item in manifest["evidence"]:
        device = item.get("device") or {}
        proper += [str(device.get(k)) for k in ("vendor", "model", "device_id")]
    # A SHA-256 is taken out whole first: one that begins with digits would otherwise leave
    # a "word" of its letters onwards (it failed so, on a hash starting 0f0c5f66...).
    unhashed = re.sub(r"[0-9a-f]{64}", " ", text)
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_.-]{2,}", unhashed))
    allowed = ALLOWED | {w for w in words if any(w in name for name in proper)}
    assert words <= allowed, sorted(words - allowed)
    # The signature block and the seal's place on one page; a line per officer involved.
    signing = [page for page in pages if "签名" in page]
    assert len(signing) == 1 and "盖章处" in signing[0]
    assert "赵办案（执法证号 010203）" in signing[0]  # the officer's name, from the records
    assert signing[0].count("签名") >= 4
