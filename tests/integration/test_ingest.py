"""Ingest of a camera volume made by ffmpeg: seal, verify, record, erase (IN-2, IN-3, IN-6)."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.conftest import make_settings, run_evault
from vault.context import Vault
from vault.db import audit
from vault.db.models import AuditEvent, DockSession, Evidence, Sighting
from vault.errors import ProfileError
from vault.ingest import stream
from vault.ingest.pipeline import ingest_volume
from vault.store.base import VerifyResult

CLIPS = "DCIM/100ANDRO"
IMP = "DCIM/101ANDRO"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def statuses(report_json: dict) -> dict[str, str]:
    return {c["path"]: c["status"] for c in report_json["clips"]}


def test_first_dock_seals_every_clip_once_and_links_the_imp_copy(
    vault: Vault, camera: Path
) -> None:
    report = ingest_volume(vault, camera).to_json()
    assert report["ok"] and report["device"] == {
        "device_id": "3100001",
        "officer_id": "010203",
        "model": "ZFY-REF-1",
        "profile": "zfy-ref",
    }
    found = statuses(report)
    imp = next(p for p in found if p.startswith(IMP))
    assert found.pop(imp) == "duplicate"  # IN-6: the IMP copy is the same bytes
    assert set(found.values()) == {"sealed"} and len(found) == 5  # 3 clips, a photo, a WAV
    original = imp.replace(IMP, CLIPS).replace("IMP.MP4", ".MP4")
    by_path = {c["path"]: c for c in report["clips"]}
    assert by_path[imp]["evidence_id"] == by_path[original]["evidence_id"]
    assert by_path[original]["sha256"] == sha(camera / original)
    assert {s["path"]: s["reason"] for s in report["skipped"]} == {
        "DCIM/LOGS/DEVLOG.TXT": "device log (not evidence)",
        "DCIM/SEGTEMP/SEG0001.TMP": "pre-record temporary file (not evidence)",
        "DEVICE.TXT": "device information file (recorded with the docking)",
    }
    assert report["erased"] == [] and all(c["verified"] for c in report["clips"])
    assert len(list(vault.store.keys())) == 5


def test_evidence_rows_carry_what_the_archive_index_needs(vault: Vault, camera: Path) -> None:
    """IN-4: findable by device, officer and time; the camera's own time is kept (DV-2)."""
    ingest_volume(vault, camera)
    with vault.session() as session:
        rows = list(session.exec(select(Evidence).order_by(col(Evidence.id))))
        first = rows[0]
        assert first.file_name == "3100001_010203_20261123150000_0001.MP4"
        assert first.camera_folder == CLIPS and first.camera_time == "2026-11-23 15:00:00"
        assert first.camera_time_source == "file_name"
        assert first.recorded_at == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Asia/Shanghai
        assert first.important  # the officer marked it (IMP copy)
        assert first.status == "verified" and first.sealed_at and first.verified_at
        assert first.storage_key == vault.store.key_for(first.sha256)
        assert not any(r.important for r in rows[1:])
        assert {r.kind for r in rows} == {"video", "photo", "audio"}
        dock = session.get_one(DockSession, first.dock_session_id)
        assert dock.status == "done" and dock.battery_percent is not None
        assert dock.device_info["model"] == "ZFY-REF-1"
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    assert audit.check_chain(events) == []
    assert [e.action for e in events].count("evidence.sealed") == 5


def test_clock_offset_is_measured_and_times_corrected(vault: Vault, camera: Path, clock) -> None:
    """DV-2: the camera runs 90 s fast; both its time and the corrected time are kept."""
    clock.at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    text = (camera / "DEVICE.TXT").read_text().splitlines()
    text = [line for line in text if not line.startswith("device_time=")]
    (camera / "DEVICE.TXT").write_text("\n".join([*text, "device_time=2026-11-23 17:01:30"]))
    report = ingest_volume(vault, camera)
    assert report.offset_s == 90.0
    with vault.session() as session:
        first = session.exec(select(Evidence).order_by(col(Evidence.id))).first()
    assert first is not None and first.recorded_at is not None
    assert first.recorded_at_corrected == first.recorded_at - timedelta(seconds=90)


def test_second_run_seals_nothing_new(vault: Vault, camera: Path) -> None:
    ingest_volume(vault, camera)
    keys_before = list(vault.store.keys())
    again = ingest_volume(vault, camera).to_json()
    assert set(statuses(again).values()) == {"already_sealed"}
    assert list(vault.store.keys()) == keys_before
    with vault.session() as session:
        assert len(list(session.exec(select(Evidence)))) == 5
        assert len(list(session.exec(select(Sighting)))) == 12  # 6 files, twice


def test_erase_removes_only_verified_clips(vault: Vault, camera: Path) -> None:
    """IN-2: after sealing and verification the camera is cleared; logs and temporaries stay."""
    (camera / CLIPS / "README.TXT").write_text("camera notes")  # unclassified: sealed, kept
    report = ingest_volume(vault, camera, erase=True).to_json()
    assert statuses(report)[f"{CLIPS}/README.TXT"] == "unclassified"
    assert len(report["erased"]) == 6
    left = sorted(str(p.relative_to(camera)) for p in camera.rglob("*") if p.is_file())
    assert left == [
        f"{CLIPS}/README.TXT",
        "DCIM/LOGS/DEVLOG.TXT",
        "DCIM/SEGTEMP/SEG0001.TMP",
        "DEVICE.TXT",
    ]
    with vault.session() as session:
        erased = session.exec(select(Sighting).where(col(Sighting.erased_at).is_not(None)))
        assert len(list(erased)) == 6


def test_unverified_clip_is_never_erased(
    vault: Vault, camera: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IN-2: a sealed copy that does not read back correctly keeps the camera's copy."""

    def failing_verify(key: str, expected: str, size: int | None = None) -> VerifyResult:
        return VerifyResult(key, False, "0" * 64, size, "content does not match its SHA-256")

    monkeypatch.setattr(vault.store, "verify", failing_verify)
    before = sorted(p.name for p in camera.rglob("*.MP4"))
    report = ingest_volume(vault, camera, erase=True)
    assert not report.ok and report.erased == []
    assert sorted(p.name for p in camera.rglob("*.MP4")) == before
    with vault.session() as session:
        assert {e.status for e in session.exec(select(Evidence))} == {"failed"}


def test_hostile_entries_are_reported_and_nothing_outside_is_read(
    vault: Vault, camera: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.MP4"
    secret.write_bytes(b"station secret")
    (camera / CLIPS / "3100001_010203_20261123160000_0009.MP4").symlink_to(secret)
    (camera / "DCIM/101ANDRO/up").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(camera / CLIPS / "3100001_010203_20261123160000_0010.MP4")
    (camera / CLIPS / "3100001_010203_20261123160000_0011.MP4").write_bytes(b"")
    report = ingest_volume(vault, camera, erase=True).to_json()
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert reasons[f"{CLIPS}/3100001_010203_20261123160000_0009.MP4"].startswith("symbolic link")
    assert reasons["DCIM/101ANDRO/up"].startswith("symbolic link")
    assert reasons[f"{CLIPS}/3100001_010203_20261123160000_0010.MP4"].startswith("not a regular")
    assert reasons[f"{CLIPS}/3100001_010203_20261123160000_0011.MP4"].startswith("empty file")
    assert hashlib.sha256(b"station secret").hexdigest() not in {
        c["sha256"] for c in report["clips"]
    }
    assert secret.read_bytes() == b"station secret"
    assert (camera / CLIPS / "3100001_010203_20261123160000_0009.MP4").is_symlink()


def test_camera_unplugged_mid_read_loses_nothing_and_next_dock_completes(
    vault: Vault, camera: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read error (EIO, as from a pulled USB cable) fails that clip only; no debris remains."""
    real_readv = os.readv
    calls = {"n": 0}

    def flaky_readv(fd: int, buffers: list[bytearray]) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_readv(fd, buffers)

    monkeypatch.setattr(stream.os, "readv", flaky_readv)
    first = ingest_volume(vault, camera, erase=True)
    assert len(first.failed) == 1 and "read failed on the camera" in first.failed[0][1]
    failed_path = first.failed[0][0]
    assert (camera / failed_path).exists() and not first.ok
    assert vault.store.debris() == []  # type: ignore[attr-defined]
    monkeypatch.setattr(stream.os, "readv", real_readv)
    second = ingest_volume(vault, camera, erase=True)
    assert second.ok and failed_path in second.erased
    with vault.session() as session:
        docks = list(session.exec(select(DockSession).order_by(col(DockSession.id))))
    assert [d.status for d in docks] == ["incomplete", "done"]


def test_full_store_fails_the_clip_keeps_the_camera_copy_and_records_nothing(
    home: Path, camera: Path, tiny_fs: Path, clock
) -> None:
    """A full disk is a clear error; the clip stays on the camera even with --erase (IN-2)."""
    vault = Vault(make_settings(home, store={"path": str(tiny_fs / "store")}), clock=clock)
    big = camera / CLIPS / "3100001_010203_20261123170000_0042.MP4"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    report = ingest_volume(vault, camera, erase=True)
    assert (
        report.failed == [(str(big.relative_to(camera)), report.failed[0][1])]
        and "store is full" in report.failed[0][1]
    )
    assert big.exists() and not report.ok
    assert len(report.erased) == 6  # the clips that did fit were sealed, verified and erased
    assert vault.store.debris() == []  # type: ignore[attr-defined]
    with vault.session() as session:
        assert big.name not in {e.file_name for e in session.exec(select(Evidence))}


def test_ambarella_camera_takes_device_id_from_label_and_time_from_mtime(
    vault: Vault, tmp_path: Path
) -> None:
    volume = tmp_path / "amba"
    (volume / "DCIM/MOVIE").mkdir(parents=True)
    clip = volume / "DCIM/MOVIE/MOV0001.MP4"
    clip.write_bytes(os.urandom(1000))
    stamp = datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC).timestamp()
    os.utime(clip, (stamp, stamp))
    dated = volume / "2026_1122_100000_002.MP4"
    dated.write_bytes(os.urandom(1000))
    report = ingest_volume(vault, volume, label="AB12345")
    assert report.profile == "ambarella-generic" and report.device_id == "AB12345"
    with vault.session() as session:
        rows = {e.file_name: e for e in session.exec(select(Evidence))}
    assert rows["MOV0001.MP4"].camera_time_source == "mtime"
    assert rows["MOV0001.MP4"].camera_time == "2026-11-22 09:02:03"
    assert rows["2026_1122_100000_002.MP4"].camera_time_source == "file_name"


def test_unknown_camera_is_refused_and_left_untouched(vault: Vault, tmp_path: Path) -> None:
    volume = tmp_path / "mystery"
    (volume / "DCIM").mkdir(parents=True)
    (volume / "DCIM/a.MP4").write_bytes(b"x")
    with pytest.raises(ProfileError, match="unknown camera"):
        ingest_volume(vault, volume, erase=True)
    assert (volume / "DCIM/a.MP4").read_bytes() == b"x"


def test_cli_ingest_list_show_and_verify(home: Path, camera: Path) -> None:
    done = run_evault(home, "ingest", str(camera), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) >= {"dock_id", "device", "clock", "clips", "skipped", "erased"}
    assert set(report["clock"]) == {"device_time", "station_time", "offset_s"}
    listed = json.loads(
        run_evault(home, "evidence", "list", "--officer", "010203", "--json").stdout
    )
    assert len(listed) == 5
    assert set(listed[0]) >= {
        "evidence_id",
        "sha256",
        "size",
        "device_id",
        "officer_id",
        "recorded_at",
        "file_name",
        "status",
    }
    # Local times (Asia/Shanghai); the clips were recorded from 15:00 local.
    window = run_evault(
        home, "evidence", "list", "--from", "2026-11-23T14:00", "--to", "2026-11-23T16:00", "--json"
    )
    assert len(json.loads(window.stdout)) == 5
    before = run_evault(home, "evidence", "list", "--to", "2026-11-23T14:59", "--json")
    assert json.loads(before.stdout) == []
    assert (
        json.loads(run_evault(home, "evidence", "list", "--device", "9999999", "--json").stdout)
        == []
    )
    shown = json.loads(run_evault(home, "evidence", "show", "1", "--json").stdout)
    assert [s["outcome"] for s in shown["sightings"]] == ["sealed", "duplicate"]
    # Issue 17: `evault evidence list > f` holds every clip's whole file name and camera id.
    piped = run_evault(home, "evidence", "list")
    assert piped.returncode == 0, piped.stderr
    assert "…" not in piped.stdout and "━" not in piped.stdout
    for row in listed:
        line = next(line for line in piped.stdout.splitlines() if row["file_name"] in line)
        assert row["device_id"] in line
    as_csv = run_evault(home, "evidence", "list", "--csv")
    assert as_csv.returncode == 0, as_csv.stderr
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert sorted(r["file"] for r in parsed) == sorted(r["file_name"] for r in listed)
    shown_text = run_evault(home, "evidence", "show", "1")
    assert shown_text.returncode == 0, shown_text.stderr
    for literal in ("None", "True", "False", "{"):
        assert literal not in shown_text.stdout, shown_text.stdout
    verified = run_evault(home, "evidence", "verify", "--all", "--json")
    assert verified.returncode == 0
    assert json.loads(verified.stdout) == {"checked": 5, "ok": 5, "failed": []}


def test_cli_verify_reports_a_flipped_byte_and_a_missing_object(home: Path, camera: Path) -> None:
    """OV-3: an altered or lost record is detected, and the command exits non-zero."""
    report = json.loads(run_evault(home, "ingest", str(camera), "--json").stdout)
    objects = home / "store" / "objects"
    first, second = report["clips"][0], report["clips"][1]
    path = objects / "sha256" / first["sha256"][:2] / first["sha256"][2:4] / first["sha256"]
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    (objects / "sha256" / second["sha256"][:2] / second["sha256"][2:4] / second["sha256"]).unlink()
    result = run_evault(home, "evidence", "verify", "--all", "--json")
    assert result.returncode == 1
    failed = json.loads(result.stdout)["failed"]
    assert failed == [
        {"evidence_id": first["evidence_id"], "reason": "content does not match its SHA-256"},
        {"evidence_id": second["evidence_id"], "reason": "object missing from the store"},
    ]
    single = run_evault(home, "evidence", "verify", str(first["evidence_id"]))
    assert single.returncode == 1 and "does not match" in single.stdout


def test_cli_errors_are_one_line_without_traceback(home: Path, tmp_path: Path) -> None:
    missing = run_evault(home, "ingest", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "does not exist" in missing.stderr
    (home / "vault.toml").write_text("[store]\nbogus = 1\n")
    bad = run_evault(home, "evidence", "list")
    assert bad.returncode == 2 and "store.bogus: unknown key" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_settings_fixture_keeps_embedded_defaults(home: Path) -> None:
    settings = make_settings(home)
    assert settings.database_url.startswith("sqlite:///") and settings.store.backend == "local"


def test_list_filters_on_corrected_recording_time(vault: Vault, camera: Path) -> None:
    """IN-4: a time window selects by the corrected time, boundaries included/excluded."""
    from vault.retrieval import Filters, list_evidence

    ingest_volume(vault, camera)
    start = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # clip 0001, 15:00 Asia/Shanghai
    with vault.session() as session:
        offset = timedelta(seconds=session.exec(select(DockSession)).one().clock_offset_s or 0)
        first = start - offset
        rows = list_evidence(session, Filters(recorded_from=first))
        later = list_evidence(session, Filters(recorded_from=first + timedelta(seconds=1)))
        none = list_evidence(session, Filters(recorded_to=first))
    assert len(rows) == 5 and len(later) == 4 and none == []
