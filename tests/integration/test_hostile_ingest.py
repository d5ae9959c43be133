"""No input blocks a camera (issue 16, parts 6 and 8): dates Python cannot hold, numbers the
database cannot hold, identifiers longer than their column, names that display alike, text
that looks like Rich markup; and a clip rewritten in place is never erased."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from sqlmodel import select

from tests.conftest import run_evault
from tests.hostile_volumes import CLIPS, DEVICE_TXT, build_camera, clip_name
from vault.context import Vault
from vault.db.models import Device, DockSession, Evidence, Officer, Sighting
from vault.ingest import stream
from vault.ingest.pipeline import ingest_volume

CLIP_DIR = CLIPS.decode()


def clip(number: int, **name: str) -> tuple[bytes, bytes]:
    return CLIPS + b"/" + clip_name(number, **name), b"clip %d " % number * 50


def by_path(report: dict) -> dict[str, dict]:
    return {c["path"]: c for c in report["clips"]}


def test_dates_no_calendar_has_are_kept_as_written_and_flagged(
    vault: Vault, tmp_path: Path
) -> None:
    """Year 0000, month 13, year 0001 and 9999 (whose UTC or retention is past Python's
    datetime) in names and in DEVICE.TXT: every clip sealed, the time kept as written."""
    times = ["00000101000000", "20261323000000", "00010101000000", "99991231235959"]
    files = dict(clip(n, time=t) for n, t in enumerate(times))
    files.update([clip(9)])  # a good one
    device = DEVICE_TXT.replace(b"2026-11-23 17:00:05", b"9999-12-31 23:59:59")
    camera = build_camera(tmp_path / "cam", files, device)
    report = ingest_volume(vault, camera).to_json()
    assert report["ok"] and len(report["clips"]) == 5
    assert {c["status"] for c in report["clips"]} == {"sealed"}
    assert any("device_time is out of range" in p and "9999-12-31" in p for p in report["problems"])
    assert any("4 clips carry a time that is no usable date" in p for p in report["problems"])
    with vault.session() as session:
        rows = {e.file_name: e for e in session.exec(select(Evidence))}
        dock = session.exec(select(DockSession)).one()
    assert dock.device_time_raw == "9999-12-31 23:59:59" and dock.device_time is None
    for number, written in enumerate(times):
        row = rows[clip_name(number, time=written).decode()]
        assert (row.camera_time, row.camera_time_source) == (written, "name_invalid")
        assert row.recorded_at is None and row.retain_until is not None
    good = rows[clip_name(9).decode()]
    assert good.camera_time_source == "file_name" and good.recorded_at is not None


def test_numbers_and_identifiers_no_column_holds_are_refused_with_a_reason(
    home: Path, tmp_path: Path
) -> None:
    """The real CLI: a battery of 10^22 %, free bytes past 64 bits, a device id of 300
    characters, a model with a NUL and markup, bytes that are not UTF-8: all sealed, exit
    0, one line each, no traceback (PostgreSQL refused them all; SQLite the numbers)."""
    device = (
        b"device_id=" + b"D" * 300 + b"\nmodel=Z\x00[/]\nvendor=[bold]V[/bold]\nfirmware=\xff\xfe\n"
        b"officer_id=" + b"9" * 40 + b"\nunit=" + "队".encode() * 200 + b"\n"
        b"device_time=2026-11-23 17:00:05\nbattery_percent=99999999999999999999999\n"
        b"free_bytes=-1\n"
    )
    camera = build_camera(tmp_path / "cam", dict([clip(1), clip(2)]), device)
    done = run_evault(home, "ingest", str(camera), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert {c["status"] for c in report["clips"]} == {"sealed"}
    problems = "\n".join(report["problems"])
    assert "device_id in DEVICE.TXT is longer than the records hold (300 characters" in problems
    assert "officer_id in DEVICE.TXT is longer than the records hold" in problems
    assert "unit in DEVICE.TXT is longer than the records hold" in problems
    assert "model in DEVICE.TXT holds control characters" in problems
    assert "battery_percent is out of range" in problems
    assert "free_bytes is out of range" in problems
    # The names' own device and officer are used instead.
    assert report["device"]["device_id"] == "3100001"
    assert report["device"]["officer_id"] == "010203"
    shown = run_evault(home, "ingest", str(camera))  # the table, again: already sealed
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr


def test_names_that_display_alike_are_sealed_apart_and_shown_literally(
    home: Path, tmp_path: Path
) -> None:
    """NFC and NFD, a trailing space, a control character, a byte that is not UTF-8 and its
    escaped look-alike, Rich markup: every file sealed as its own, each with a display form
    of its own, printed as it is (a '[/]' in a name crashed the table)."""
    names = [
        "caf\u00e9.MP4".encode(),
        "cafe\u0301.MP4".encode(),
        b"note.MP4",
        b"note.MP4 ",
        b"note\x1b[31m.MP4",
        b"x\xff.MP4",
        b"x\\xff.MP4",
        b"[bold]red.MP4",
        b"[link=http:evil.example]click.MP4",
        b"[",
    ]
    files = {CLIPS + b"/" + n: b"bytes of %d" % i for i, n in enumerate(names)}
    files.update([clip(1)])
    # A name cannot hold '/', but a path can: markup across folders, outside the clip folders.
    files[CLIPS + b"/[bold]red[/].MP4"] = b"nested"
    camera = build_camera(tmp_path / "cam", files)
    done = run_evault(home, "ingest", str(camera), "--json")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    paths = [c["path"] for c in report["clips"]]
    assert len(paths) == len(set(paths)) == len(names) + 1, report["skipped"]
    assert f"{CLIP_DIR}/cafe\\u0301.MP4" in paths and f"{CLIP_DIR}/note.MP4\\x20" in paths
    assert f"{CLIP_DIR}/x\\xff.MP4" in paths and f"{CLIP_DIR}/x\\\\xff.MP4" in paths
    again = run_evault(home, "ingest", str(camera))
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert "[bold]red.MP4" in again.stdout and f"{CLIP_DIR}/[bold]red[/].MP4" in again.stdout
    assert "[link=http:evil.example]click.MP4" in again.stdout
    assert "\x1b" not in again.stdout and "note\\x1b[31m.MP4" in again.stdout
    listed = run_evault(home, "evidence", "list", "--csv")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert "[bold]red.MP4" in listed.stdout


def test_a_name_longer_than_the_records_hold_fails_alone(vault: Vault, tmp_path: Path) -> None:
    """255 bytes that are not UTF-8 display as 1020 characters, past the file_name column:
    that file is reported failed (exit 1 for the CLI), every other clip is sealed."""
    long = CLIPS + b"/" + b"\xff" * 250 + b".MP4"
    camera = build_camera(tmp_path / "cam", dict([clip(1), (long, b"long"), clip(2)]))
    report = ingest_volume(vault, camera)
    assert not report.ok
    (failed,) = report.failed
    assert "file name is longer than the records hold" in failed[1]
    assert len(report.clips) == 2 and {c.status for c in report.clips} == {"sealed"}


def test_a_camera_with_a_thousand_folders_is_sealed_whole(vault: Vault, tmp_path: Path) -> None:
    """One descriptor per folder refused such a camera whole (EMFILE: the clip folder, read
    after a thousand others, could not be opened); now every clip of it is sealed, with the
    descriptors bounded by the depth of the tree."""
    import resource

    files = {b"DCIM/%04d/LOG.TXT" % n: b"log %d" % n for n in range(1000)}
    files.update(clip(n) for n in range(20))
    camera = build_camera(tmp_path / "cam", files)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(512, hard), hard))
    try:
        report = ingest_volume(vault, camera)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert report.ok, report.failed[:3]
    assert len(report.clips) == 20 and {c.status for c in report.clips} == {"sealed"}
    reasons = {reason for _, reason in report.skipped}
    assert reasons == {
        "not in a clip folder of this camera",
        "device information file (recorded with the docking)",
    }


def _rewrite_in_place(path: bytes) -> None:
    """Other bytes of the same size, the modification time set back: only ctime tells."""
    before = os.stat(path)
    with open(path, "r+b") as handle:
        data = handle.read()
        handle.seek(0)
        handle.write(bytes(255 - b for b in data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


def test_a_clip_rewritten_in_place_during_the_read_is_not_erased(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IN-2, part 8: the sealed bytes are not those left on the camera, so the camera's
    copy stays (it was erased: inode, size and mtime were all the same)."""
    camera = build_camera(tmp_path / "cam", dict([clip(1), clip(2)]))
    target = os.path.join(os.fsencode(camera), clip(1)[0])
    original = stream.Streamer.copy
    done: list[bool] = []

    def copy_and_rewrite(self, fd, writer, on_bytes=None):  # type: ignore[no-untyped-def]
        result = original(self, fd, writer, on_bytes)
        if not done and os.readlink(f"/proc/self/fd/{fd}").encode() == target:
            _rewrite_in_place(target)  # after the last read, before the check
            done.append(True)
        return result

    monkeypatch.setattr(stream.Streamer, "copy", copy_and_rewrite)
    report = ingest_volume(vault, camera, erase=True)
    assert done and os.path.exists(target)
    assert report.erased == [f"{CLIP_DIR}/{clip_name(2).decode()}"]
    assert any("changed while it was being read" in reason for _, reason in report.failed)


def test_a_clip_rewritten_in_place_after_the_read_is_not_erased(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rewritten between the read and the erase (while the copy was being verified)."""
    camera = build_camera(tmp_path / "cam", dict([clip(1), clip(2)]))
    target = os.path.join(os.fsencode(camera), clip(1)[0])
    sealed = hashlib.sha256(clip(1)[1]).hexdigest()
    original = vault.store.verify

    def verify_then_rewrite(key, expected, size=None):  # type: ignore[no-untyped-def]
        if expected == sealed:
            _rewrite_in_place(target)
        return original(key, expected, size)

    monkeypatch.setattr(vault.store, "verify", verify_then_rewrite)
    report = ingest_volume(vault, camera, erase=True)
    assert report.erased == [f"{CLIP_DIR}/{clip_name(2).decode()}"]
    assert os.path.exists(target)
    assert any("changed on the camera since it was read" in p for p in report.problems)
    with vault.session() as session:
        erased = [s.path for s in session.exec(select(Sighting)) if s.erased_at is not None]
        assert erased == report.erased
        assert session.exec(select(Device)).one().device_id == "3100001"
        assert session.exec(select(Officer)).one().officer_id == "010203"
