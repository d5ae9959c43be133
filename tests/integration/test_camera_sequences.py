"""OV-4 (issue 18 part 9): a camera numbers its clips; a number that never arrives is a
deletion on the camera, named with the camera, the officer and the clips either side.

# Pingdingshan 第十二条 / REQUIREMENTS OV-4: 不得删除、修改原始音像记录; a gap in the numbering
is how a deletion before docking shows."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import make_settings, run_evault
from vault.compliance.sequences import Clip, gaps_in, log_findings, missing_sequences
from vault.context import Vault
from vault.ingest.pipeline import ingest_volume
from vault.timeutil import FixedClock

CLIPS = Path("DCIM") / "100ANDRO"


def _clip(number: int, minute: int, width: int = 4) -> Clip:
    at = datetime(2026, 11, 23, 9, minute, tzinfo=UTC)
    return Clip(number, f"c{number}", number, width, at, None)


def test_only_numbers_skipped_between_two_delivered_clips_are_missing() -> None:
    clips = [_clip(1, 0), _clip(2, 1), _clip(5, 2), _clip(6, 3)]
    assert [(b.number, a.number) for b, a in gaps_in(clips)] == [(2, 5)]
    # The counter starting again (a wrap from 9999, a reset) is no gap.
    wrapped = [_clip(9998, 0), _clip(9999, 1), _clip(1, 2), _clip(2, 3)]
    assert gaps_in(wrapped) == []
    # Equal numbers (the same clip seen twice) are no gap either.
    assert gaps_in([_clip(3, 0), _clip(3, 1), _clip(4, 2)]) == []


def test_a_clip_missing_between_two_dockings_is_found_and_its_arrival_retires_it(
    vault: Vault, camera: Path, clock: FixedClock, tmp_path: Path
) -> None:
    third = next((camera / CLIPS).glob("*_0003.MP4"))
    kept = tmp_path / third.name
    shutil.move(third, kept)
    clock.at = datetime(2026, 11, 23, 10, tzinfo=UTC)
    ingest_volume(vault, camera)
    with vault.session() as session:
        (gap,) = missing_sequences(session)
    found = gap.to_json()
    assert found["device_id"] == "3100001" and found["officer_id"] == "010203"
    assert found["missing"] == ["0003"] and found["missing_count"] == 1
    assert found["clip_before"]["file"].endswith("_0002.MP4")  # type: ignore[index]
    assert found["clip_after"]["file"].endswith("_0004.JPG")  # type: ignore[index]

    # Docked again later with the clip back on it (it had only been moved): no finding.
    shutil.move(kept, camera / CLIPS / third.name)
    clock.at += timedelta(hours=2)
    ingest_volume(vault, camera)
    with vault.session() as session:
        assert missing_sequences(session) == []


def test_a_long_run_of_missing_numbers_is_named_by_its_ends(vault: Vault, camera: Path) -> None:
    last = next((camera / CLIPS).glob("*_0005.WAV"))
    last.rename(last.with_name(last.name.replace("_0005.", "_0090.")))
    ingest_volume(vault, camera)
    with vault.session() as session:
        (gap,) = missing_sequences(session)
    assert gap.count == 85 and gap.numbers() == ["0005", "0089"]


def test_the_compliance_report_lists_the_missing_number_in_json_and_on_paper(
    home: Path, camera: Path, tmp_path: Path
) -> None:
    """The report as an auditor reads it: OV-4 in --json with the camera, the officer and
    the clips either side; on the printed page as a sentence in Chinese."""
    next((camera / CLIPS).glob("*_0003.MP4")).unlink()
    make_settings(home)
    docked = run_evault(home, "ingest", str(camera), "--json")
    assert docked.returncode == 0, docked.stderr
    page = tmp_path / "report.html"
    done = run_evault(home, "report", "compliance", "--json", "--html", str(page))
    assert done.returncode == 0, done.stderr
    found = {f["code"]: f for f in json.loads(done.stdout)["findings"] if f["rule"] == "OV-4"}
    assert set(found) == {"missing_sequence", "log_names_missing"}  # the number; the log
    assert found["log_names_missing"]["file"].endswith("_0003.MP4")
    found = found["missing_sequence"]
    assert found["subject"] == "device:3100001"
    assert found["missing"] == ["0003"] and found["officer_id"] == "010203"
    assert found["clip_before"]["file"].endswith("_0002.MP4")
    assert found["clip_after"]["file"].endswith("_0004.JPG")
    text = page.read_text("utf-8")
    assert "编号 0003 的文件未导入" in text and "可能已在记录仪上被删除" in text
    assert "记录仪自身日志（DCIM/LOGS/DEVLOG.TXT）记载了" in text
    assert "missing_sequence" not in text


def test_the_cameras_log_is_sealed_with_the_docking_and_read_for_deletions(
    vault: Vault, camera: Path
) -> None:
    """OV-4: the camera's own log is a custody record of the docking (sealed, not evidence,
    never erased); a file it names that never arrived, and a deletion it records, are
    findings."""
    log = camera / "DCIM" / "LOGS" / "DEVLOG.TXT"
    third = next((camera / CLIPS).glob("*_0003.MP4"))
    third.unlink()
    with log.open("a", encoding="utf-8") as handle:
        handle.write("2026-11-23 15:01:00 [DEL] delete 3100001_010203_20261123145900_0000.MP4\n")
    report = ingest_volume(vault, camera, erase=True)
    (sealed,) = report.custody_logs
    assert sealed["path"] == "DCIM/LOGS/DEVLOG.TXT"
    assert vault.store.read_record(sealed["record"]) == log.read_bytes()
    assert log.exists()  # a custody record is never erased from the camera
    assert all(not c.path.startswith("DCIM/LOGS") for c in report.clips)  # nor evidence
    with vault.session() as session:
        said = {(f.code, f.file_name) for f in log_findings(session)}
    assert said == {
        ("log_names_missing", third.name),
        ("log_records_deletion", "3100001_010203_20261123145900_0000.MP4"),
    }
