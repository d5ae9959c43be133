"""Media work on real clips made by ffmpeg: probe, viewing copies, posters, contact sheets,
audio extracts and salvage of a clip whose index was never written (IN-3, IN-5).

One vault is ingested and worked through once per module; the tests read what it made.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import col, select

from tests.conftest import make_settings
from vault.context import Vault
from vault.db.models import Derivative, Evidence, MediaJob
from vault.ingest.pipeline import ingest_volume
from vault.media import jobs
from vault.media.derivatives import purge_derivatives
from vault.media.salvage import rebuild
from vault.media.sheets import HEADER_H, LABEL_H, PAD
from vault.media.worker import run_worker
from vault.retrieval import show_evidence
from vault.timeutil import FixedClock

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

CLIPS = "DCIM/100ANDRO"
CUT_NAME = "3100001_010203_20261123150100_0007.MP4"
GARBAGE_NAME = "3100001_010203_20261123150200_0008.MP4"
EVAULT = [sys.executable, "-c", "from vault.cli import main; main()"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ffprobe(path: Path) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    return json.loads(result.stdout)


def cut_clip(path: Path, work: Path) -> None:
    """A 3 s clip whose moov sits at the end (no faststart), cut off before it: what a camera
    leaves when its battery dies mid-recording."""
    full = work / "full.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "1",
            str(full),
        ],
        check=True,
    )
    data = full.read_bytes()
    moov = data.rfind(b"moov") - 4
    assert moov > len(data) // 2, "the test clip must keep its index at the end"
    path.write_bytes(data[: int(moov * 0.8)])


@dataclass
class Worked:
    vault: Vault
    camera: Path
    report: dict
    by_name: dict[str, Evidence]
    derivatives: dict[int, dict[str, Derivative]]

    def evidence(self, name: str) -> Evidence:
        return self.by_name[name]

    def of_kind(self, kind: str, index: int = 0) -> Evidence:
        return sorted(
            (e for e in self.by_name.values() if e.kind == kind), key=lambda e: e.id or 0
        )[index]

    def fetch(self, row: Derivative, to: Path) -> Path:
        with self.vault.store.open(row.storage_key) as source:
            to.write_bytes(source.read())
        assert sha(to) == row.sha256
        return to


@pytest.fixture(scope="module")
def worked(pristine_camera: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worked]:
    base = tmp_path_factory.mktemp("media")
    camera = base / "camera"
    shutil.copytree(pristine_camera, camera)
    cut_clip(camera / CLIPS / CUT_NAME, base)
    (camera / CLIPS / GARBAGE_NAME).write_bytes(os.urandom(64 * 1024))
    home = base / "home"
    home.mkdir()
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    vault = Vault(make_settings(home, media={"backoff_s": 0}), clock=clock, user="tester")
    report = ingest_volume(vault, camera).to_json()
    with vault.session() as session:
        queued = session.exec(select(MediaJob)).all()
        assert {j.kind for j in queued} == {"probe"} and {j.state for j in queued} == {"queued"}
    worker = run_worker(vault, until_idle=True).to_json()
    assert worker["counts"].get("done", 0) > 10
    with vault.session() as session:
        rows = session.exec(select(Evidence)).all()
        by_name = {e.file_name: e for e in rows}
        made: dict[int, dict[str, Derivative]] = {}
        for row in session.exec(select(Derivative)):
            made.setdefault(row.evidence_id, {})[row.kind] = row
    yield Worked(vault, camera, report, by_name, made)


def first_clip(worked: Worked) -> Evidence:
    return worked.evidence("3100001_010203_20261123150000_0001.MP4")


def test_sealing_only_queues_the_probe(vault: Vault, camera: Path) -> None:
    """Ingest never waits for media work: it leaves one queued probe per new media file."""
    ingest_volume(vault, camera)
    with vault.session() as session:
        probes = session.exec(select(MediaJob)).all()
        evidence = session.exec(select(Evidence)).all()
    assert len(probes) == 5 and {p.kind for p in probes} == {"probe"}
    assert {e.media_state for e in evidence} == {"pending"}


def test_probe_records_what_the_clip_is(worked: Worked) -> None:
    media = first_clip(worked).media
    assert media is not None and first_clip(worked).media_state == "ok"
    assert media["duration_s"] == pytest.approx(2.0, abs=0.05)
    assert (media["video_codec"], media["width"], media["height"]) == ("h264", 320, 240)
    assert media["fps"] == 25.0 and media["audio_codec"] == "aac"
    assert media["audio_sample_rate"] == 48000 and media["stream_count"] == 2
    assert media["creation_time"].startswith("2026-11-23T07:00:00")
    assert "mov" in media["container"]
    photo = worked.of_kind("photo")
    assert photo.media_state == "ok" and photo.media and photo.media["width"] == 320


def test_viewing_copy_plays_and_keeps_duration_and_time(worked: Worked, tmp_path: Path) -> None:
    """IN-3: a separate file with its own SHA-256; H.264 yuv420p, AAC, faststart."""
    clip = first_clip(worked)
    row = worked.derivatives[clip.id or 0]["viewing"]
    assert row.sha256 != clip.sha256 and row.media_type == "video/mp4"
    assert row.encoder == "copy" and row.params["method"] == "remux"  # H.264 yuv420p, AAC
    path = worked.fetch(row, tmp_path / "viewing.mp4")
    found = ffprobe(path)
    video = next(s for s in found["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert any(s["codec_name"] == "aac" for s in found["streams"])
    assert abs(float(found["format"]["duration"]) - 2.0) <= 0.2
    assert found["format"]["tags"]["creation_time"].startswith("2026-11-23T07:00:00")
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart


def test_contact_sheet_is_a_grid_of_timed_frames(worked: Worked, tmp_path: Path) -> None:
    settings = worked.vault.settings.media
    row = worked.derivatives[first_clip(worked).id or 0]["contact_sheet"]
    count = settings.sheet_columns * settings.sheet_rows
    assert row.params["frames"] == count and len(row.params["times_s"]) == count
    assert row.params["times_s"] == sorted(row.params["times_s"])
    assert row.params["times_s"][0] > 0 and row.params["times_s"][-1] < 2.0
    with Image.open(worked.fetch(row, tmp_path / "sheet.jpg")) as image:
        thumb_w, thumb_h = settings.sheet_thumb_width, settings.sheet_thumb_width * 240 // 320
        assert image.size == (
            settings.sheet_columns * thumb_w + (settings.sheet_columns + 1) * PAD,
            HEADER_H + settings.sheet_rows * (thumb_h + LABEL_H) + (settings.sheet_rows + 1) * PAD,
        )


def test_poster_and_speech_audio_are_made(worked: Worked, tmp_path: Path) -> None:
    made = worked.derivatives[first_clip(worked).id or 0]
    with Image.open(worked.fetch(made["poster"], tmp_path / "poster.jpg")) as image:
        assert image.format == "JPEG" and image.size == (320, 240)
    audio = ffprobe(worked.fetch(made["audio"], tmp_path / "speech.flac"))["streams"][0]
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("flac", "16000", 1)
    photo = worked.of_kind("photo")
    assert set(worked.derivatives[photo.id or 0]) == {"poster"}
    wav = worked.of_kind("audio")
    assert set(worked.derivatives[wav.id or 0]) == {"audio"}


def test_show_lists_probe_results_and_derivatives(worked: Worked) -> None:
    with worked.vault.session() as session:
        shown = show_evidence(session, first_clip(worked).id or 0)
    assert shown["status"] == "verified"
    assert {
        "duration_s",
        "video_codec",
        "width",
        "height",
        "fps",
        "audio_codec",
        "creation_time",
    } <= set(shown["media"])
    kinds = {d["kind"] for d in shown["derivatives"]}
    assert kinds == {"viewing", "poster", "contact_sheet", "audio"}
    assert all(len(d["sha256"]) == 64 and d["size"] > 0 for d in shown["derivatives"])


def test_cut_clip_is_sealed_as_it_came_marked_damaged_and_salvaged(
    worked: Worked, tmp_path: Path
) -> None:
    """IN-5: sealed bit-exact, marked damaged with ffprobe's reason, a salvage copy made from
    its raw mdat with a healthy clip of the same camera as reference, and viewed from that."""
    cut = worked.evidence(CUT_NAME)
    assert cut.sha256 == sha(worked.camera / CLIPS / CUT_NAME)
    assert worked.vault.store.verify(cut.storage_key, cut.sha256, cut.size).ok
    assert cut.media_state == "damaged" and "moov atom not found" in (cut.damage or "")
    made = worked.derivatives[cut.id or 0]
    salvage = made["salvage"]
    assert salvage.recovered_s is not None and 1.0 < salvage.recovered_s <= 3.0
    assert salvage.params["audio_frames"] > 0
    found = ffprobe(worked.fetch(salvage, tmp_path / "salvage.mp4"))
    assert {s["codec_name"] for s in found["streams"]} == {"h264", "aac"}
    decode = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(tmp_path / "salvage.mp4"), "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert decode.returncode == 0
    viewing = ffprobe(worked.fetch(made["viewing"], tmp_path / "viewing.mp4"))
    assert float(viewing["format"]["duration"]) == pytest.approx(salvage.recovered_s, abs=0.2)
    assert {"poster", "contact_sheet"} <= set(made)


def test_garbage_file_is_damaged_and_never_stops_the_worker(worked: Worked) -> None:
    garbage = worked.evidence(GARBAGE_NAME)
    assert garbage.media_state == "damaged" and garbage.damage
    with worked.vault.session() as session:
        rows = jobs.list_jobs(session, evidence_id=garbage.id)
        assert {r["kind"]: r["state"] for r in rows} == {"probe": "done", "salvage": "skipped"}
        left = session.exec(select(MediaJob).where(col(MediaJob.state) != "done")).all()
    assert {(j.evidence_id, j.kind) for j in left} == {(garbage.id, "salvage")}


def test_purge_deletes_derivatives_with_their_original(worked: Worked) -> None:
    """What the purge job calls once an original is deleted: derivatives go too (RT-5)."""
    clip = worked.of_kind("video", 2)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    with worked.vault.session() as session:
        done = purge_derivatives(worked.vault, session, clip.id or 0, later)
        session.commit()
        again = purge_derivatives(worked.vault, session, clip.id or 0, later)
        rows = session.exec(select(Derivative).where(Derivative.evidence_id == clip.id)).all()
    assert {d["kind"] for d in done} == {"viewing", "poster", "contact_sheet", "audio"}
    assert again == [] and all(r.purged_at is not None for r in rows)
    assert not any(worked.vault.store.exists(r.storage_key) for r in rows)
    assert worked.vault.store.exists(clip.storage_key)  # the original is the purge's own step


def evault_env(home: Path, kill_at: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EVAULT_KILL_AT", "EVAULT_CONFIG")}
    env["EVAULT_HOME"] = str(home)
    if kill_at:
        env["EVAULT_KILL_AT"] = kill_at
    return env


def test_job_killed_mid_work_is_retried_and_completes(camera: Path, home: Path) -> None:
    """A worker SIGKILLed with a job in hand: the next worker takes the job back (its
    claimant's process is gone), retries it, and nothing of the original changes (IN-3)."""
    (home / "vault.toml").write_text('station_id = "test-station"\n[store]\nimmutable = "off"\n')
    run = [*EVAULT, "media", "run", "--until-idle", "--json"]
    ingest = subprocess.run(
        [*EVAULT, "ingest", str(camera), "--json"],
        env=evault_env(home, None),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ingest.returncode == 0, ingest.stderr
    killed = subprocess.run(
        run, env=evault_env(home, "media.worked:3"), capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == -9
    vault = Vault(make_settings(home), user="tester")
    with vault.session() as session:
        running = session.exec(select(MediaJob).where(MediaJob.state == "running")).all()
        assert len(running) == 1 and running[0].attempts == 1
        taken = running[0].id
    finished = subprocess.run(
        run, env=evault_env(home, None), capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    with vault.session() as session:
        job = session.get_one(MediaJob, taken)
        states = {j.state for j in session.exec(select(MediaJob))}
        evidence = session.exec(select(Evidence)).all()
    assert job.state == "done" and job.attempts == 2 and "stopped" in (job.last_error or "")
    assert states == {"done"}
    assert all(vault.store.verify(e.storage_key, e.sha256, e.size).ok for e in evidence)


def test_salvage_resumes_after_a_frame_it_cannot_read(tmp_path: Path) -> None:
    """IN-5: one frame whose bytes are destroyed costs that frame, not the rest of the clip."""
    cut = tmp_path / "cut.mp4"
    cut_clip(cut, tmp_path)
    full = tmp_path / "full.mp4"
    packets = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pos,size",
         "-of", "csv=p=0", str(full)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    positions = [(int(p.split(",")[1]), int(p.split(",")[0])) for p in packets]
    inside = [(pos, size) for pos, size in positions if pos + size <= cut.stat().st_size]
    broken_at = inside[len(inside) // 2][0]
    data = bytearray(cut.read_bytes())
    data[broken_at : broken_at + 4] = b"\xff\xff\xff\xff"  # its length prefix destroyed
    cut.write_bytes(bytes(data))
    reference = tmp_path / "reference.mp4"
    full.rename(reference)
    result = rebuild(cut, reference, tmp_path / "salvage.mp4")
    assert len(inside) - 1 <= result.video_frames <= len(inside)
    assert result.audio_frames > 0 and result.seconds > 2.0


def test_salvage_waits_for_a_reference_clip_from_the_same_camera(
    vault: Vault, camera: Path, tmp_path: Path, clock: FixedClock
) -> None:
    """IN-5: a cut clip docked alone cannot be rebuilt yet; its job says why and retries,
    and succeeds once a healthy clip of that camera is sealed."""
    alone = tmp_path / "alone"
    (alone / CLIPS).mkdir(parents=True)
    shutil.copy(camera / "DEVICE.TXT", alone / "DEVICE.TXT")
    cut_clip(alone / CLIPS / CUT_NAME, tmp_path)
    ingest_volume(vault, alone)
    run_worker(vault, until_idle=True)
    with vault.session() as session:
        salvage = session.exec(select(MediaJob).where(MediaJob.kind == "salvage")).one()
    assert salvage.state == "failed" and "healthy H.264 clip" in (salvage.last_error or "")
    ingest_volume(vault, camera)
    clock.advance(vault.settings.media.backoff_s + 1)
    run_worker(vault, until_idle=True)
    with vault.session() as session:
        salvage = session.get_one(MediaJob, salvage.id)
        made = session.exec(select(Derivative).where(Derivative.kind == "salvage")).one()
    assert salvage.state == "done" and salvage.attempts == 2
    assert made.recovered_s and made.recovered_s > 1.0


def test_ffmpeg_past_its_time_limit_fails_only_its_job(camera: Path, home: Path) -> None:
    """A file that keeps ffmpeg busy past media.timeout_s: the run is killed, the job is
    recorded as failed with the reason, the worker goes on with the next job (IN-3)."""
    vault = Vault(
        make_settings(home, media={"timeout_s": 0.05, "max_attempts": 1}),
        clock=FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        user="tester",
    )
    ingest_volume(vault, camera)
    report = run_worker(vault, until_idle=True).to_json()
    with vault.session() as session:
        rows = jobs.list_jobs(session)
    viewing = [r for r in rows if r["kind"] == "viewing"]
    assert viewing and all(r["state"] == "dead" for r in viewing)
    assert all("ran longer than 0.05 s" in (r["last_error"] or "") for r in viewing)
    assert {r["state"] for r in rows if r["kind"] == "probe"} == {"done"}
    assert len(report["jobs"]) == len(rows)
