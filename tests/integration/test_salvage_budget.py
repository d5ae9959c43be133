"""Salvage within a budget (issue 16, part 7): a crafted damaged MP4 cannot keep the salvage
busy for long. Its time grows linearly with the file, it runs in a process of its own under
the media job's time limit (media.timeout_s), and SIGTERM to the worker stops it.

The crafted clips are real H.264 from ffmpeg: the key frame and one tiny P frame of a gray
clip, the P frame repeated (every copy breaks the frame numbering, so each one is a lost
frame to resynchronise on: the search for the next frame once restarted one byte later,
and each search ran to the end of the file), or followed by a long chain of access unit
delimiters (each one the start of a chain that was walked to its end again).
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from tests.conftest import evault_env, make_settings
from vault.context import Vault
from vault.db.models import Evidence, MediaJob
from vault.ingest.pipeline import ingest_volume
from vault.media import salvage
from vault.media.runner import MediaError
from vault.media.worker import run_worker
from vault.timeutil import FixedClock

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

CLIPS = "DCIM/100ANDRO"
CRAFTED_NAME = "3100001_010203_20261123150000_0001.MP4"  # first: its salvage is queued first
HEALTHY_NAME = "3100001_010203_20261123150100_0002.MP4"  # the reference
EVAULT = [sys.executable, "-c", "from vault.cli import main; main()"]
AUD = b"\x00\x00\x00\x02\x09\x10"  # a 4-byte length, then an access unit delimiter


def healthy_clip(path: Path) -> None:
    """A gray 64x64 clip with its index at the end: P frames of a dozen bytes."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "color=c=gray:size=64x64:rate=25", "-t", "4", "-c:v", "libx264",
         "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "250", str(path)],
        check=True,
    )  # fmt: skip


def crafted(reference: Path, size: int, kind: str = "repeat") -> bytes:
    """ftyp, an unfinished mdat (size 0: to the end of the file), the key frame, then
    `size` bytes of the repeated P frame or of delimiters."""
    data = reference.read_bytes()
    packets = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
         "packet=pos,size,flags", "-of", "csv=p=0", str(reference)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    frames = [(int(p.split(",")[1]), int(p.split(",")[0]), p.split(",")[2]) for p in packets]
    key = next((pos, size) for pos, size, flags in frames if "K" in flags)
    small = min((size, pos) for pos, size, flags in frames if "K" not in flags)
    idr = data[key[0] : key[0] + key[1]]
    unit = data[small[1] : small[1] + small[0]] if kind == "repeat" else AUD
    ftyp = data[: struct.unpack(">I", data[:4])[0]]
    return ftyp + struct.pack(">I4s", 0, b"mdat") + idr + unit * (size // len(unit))


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "reference.mp4"
    healthy_clip(path)
    return path


@pytest.fixture
def volume_of(pristine_camera: Path, reference: Path, tmp_path: Path) -> Callable[[int], Path]:
    """A camera volume with a crafted damaged clip of `size` bytes and a healthy clip."""

    def make(size: int) -> Path:
        volume = tmp_path / f"volume-{size}"
        (volume / CLIPS).mkdir(parents=True)
        shutil.copy(pristine_camera / "DEVICE.TXT", volume / "DEVICE.TXT")
        (volume / CLIPS / CRAFTED_NAME).write_bytes(crafted(reference, size))
        shutil.copy(reference, volume / CLIPS / HEALTHY_NAME)
        return volume

    return make


def salvage_job(vault: Vault) -> tuple[MediaJob, Evidence]:
    with vault.session() as session:
        evidence = session.exec(select(Evidence).where(Evidence.file_name == CRAFTED_NAME)).one()
        job = session.exec(
            select(MediaJob).where(MediaJob.kind == "salvage", MediaJob.evidence_id == evidence.id)
        ).one()
    return job, evidence


def test_salvage_past_the_time_limit_ends_failed_with_the_reason(
    volume_of: Callable[[int], Path], home: Path
) -> None:
    """media.timeout_s bounds the salvage as it bounds ffmpeg: the salvage is killed, its job
    given up with a one-line reason; the clip's probe and damage stay recorded."""
    vault = Vault(
        make_settings(home, media={"timeout_s": 0.05, "max_attempts": 1}),
        clock=FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        user="tester",
    )
    ingest_volume(vault, volume_of(20_000))
    run_worker(vault, until_idle=True)
    job, evidence = salvage_job(vault)
    assert job.state == "dead", job.last_error
    reason = job.last_error or ""
    assert "salvage ran longer than 0.05 s" in reason and "\n" not in reason
    assert evidence.media_state == "damaged" and evidence.damage
    with vault.session() as session:
        probes = session.exec(select(MediaJob).where(MediaJob.kind == "probe")).all()
    assert {p.state for p in probes} == {"done"} and len(probes) == 2


@pytest.mark.parametrize("kind", ["repeat", "delimiters"])
def test_a_crafted_2_mb_clip_salvages_or_fails_cleanly(
    reference: Path, tmp_path: Path, kind: str
) -> None:
    """Under the default time limit a crafted 2 MB clip is rebuilt (the frames it holds) or
    refused with one line; the rebuilt file plays."""
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(crafted(reference, 2_000_000, kind))
    out = tmp_path / "salvage.mp4"
    limit = make_settings(tmp_path).media.timeout_s
    try:
        result = salvage.rebuild_isolated(damaged, reference, out, timeout_s=limit)
    except MediaError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert result.video_frames >= 1
    assert result.bytes_used + result.bytes_skipped <= damaged.stat().st_size
    check = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert float(check.stdout) > 0


def test_salvage_refusal_is_one_line_from_its_own_process(reference: Path, tmp_path: Path) -> None:
    """A file with no media data: the child's reason comes back as the job's error."""
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(reference.read_bytes()[:32])
    with pytest.raises(MediaError, match=r"^no media data"):
        salvage.rebuild_isolated(damaged, reference, tmp_path / "out.mp4", timeout_s=60)


def _salvage_children(parent: int) -> list[int]:
    """Processes running `-m vault.media.salvage` whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"vault.media.salvage" in command and ppid == parent:
            found.append(int(entry.name))
    return found


def test_sigterm_stops_a_salvage_in_hand(volume_of: Callable[[int], Path], home: Path) -> None:
    """SIGTERM while a long salvage runs: the worker kills it, records the attempt as
    stopped (to be tried again) and exits; no salvage process is left behind."""
    (home / "vault.toml").write_text('station_id = "test-station"\n[store]\nimmutable = "off"\n')
    env = evault_env(home, None)
    ingest = subprocess.run(
        [*EVAULT, "ingest", str(volume_of(20_000_000)), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stderr
    vault = Vault(make_settings(home), user="tester")
    worker = subprocess.Popen(
        [*EVAULT, "media", "run", "--until-idle", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and worker.poll() is None:
            job, _ = salvage_job(vault) if _has_salvage_job(vault) else (None, None)
            if job is not None and job.state == "running" and _salvage_children(worker.pid):
                break
            time.sleep(0.2)
        assert worker.poll() is None, "the worker ended before its salvage was seen running"
        assert _salvage_children(worker.pid), "no salvage process under the worker"
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=120)  # generous: no claim on speed
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, stderr
    assert not _salvage_children(worker.pid) and not _salvage_orphans()
    job, evidence = salvage_job(vault)
    assert job.state == "failed" and job.attempts == 1
    assert "stopped" in (job.last_error or "") and "\n" not in (job.last_error or "")
    assert evidence.media_state == "damaged"


def _has_salvage_job(vault: Vault) -> bool:
    with vault.session() as session:
        return (
            session.exec(select(MediaJob.id).where(MediaJob.kind == "salvage")).first() is not None
        )


def _salvage_orphans() -> list[int]:
    """Salvage processes of this test's user that lost their parent (init adopted them)."""
    return [pid for pid in _salvage_children(1) if pid != os.getpid()]
