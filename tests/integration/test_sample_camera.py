"""Integration tests for scripts/make-sample-camera (needs ffmpeg, ffprobe, espeak-ng)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make-sample-camera"
TZ = ZoneInfo("Asia/Shanghai")
START = "2024-05-01 10:20:30"
SECONDS = 3
CLIPS = 3
DEVICE, OFFICER = "1234567", "012345"
NAME = re.compile(
    rf"^{DEVICE}_{OFFICER}_(?P<time>\d{{14}})_(?P<seq>\d{{4}})(?P<imp>IMP)?\.(?P<ext>MP4|JPG|WAV)$"
)
DEVICE_KEYS = {
    "device_id",
    "model",
    "vendor",
    "firmware",
    "officer_id",
    "unit",
    "device_time",
    "battery_percent",
    "free_bytes",
}


def make_camera(
    target: Path, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(target), *options],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def clip_start(path: Path) -> datetime:
    match = NAME.match(path.name)
    assert match, path.name
    return datetime.strptime(match["time"], "%Y%m%d%H%M%S").replace(tzinfo=TZ)


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info: dict[str, Any] = json.loads(out)
    return info


def read_device_txt(volume: Path) -> dict[str, str]:
    lines = (volume / "DEVICE.TXT").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line)


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("camera") / "volume"
    narration = [] if shutil.which("espeak-ng") else ["--no-narration"]
    result = make_camera(
        target,
        "--clips",
        str(CLIPS),
        "--seconds",
        str(SECONDS),
        "--start",
        START,
        "--device-id",
        DEVICE,
        "--officer",
        OFFICER,
        *narration,
    )
    assert result.returncode == 0, result.stderr
    return target


@pytest.fixture(scope="module")
def clips(volume: Path) -> list[Path]:
    return sorted((volume / "DCIM" / "100ANDRO").glob("*.MP4"))


def test_volume_has_the_camera_layout_and_file_names(volume: Path) -> None:
    files = {p.relative_to(volume).as_posix() for p in volume.rglob("*") if p.is_file()}
    assert {"DEVICE.TXT", "DCIM/SEGTEMP/SEG0001.TMP", "DCIM/LOGS/DEVLOG.TXT"} <= files
    normal = sorted(p.name for p in (volume / "DCIM" / "100ANDRO").iterdir())
    matches = [NAME.match(name) for name in normal]
    assert all(matches), normal
    kinds = [(m["seq"], m["ext"], m["imp"]) for m in matches if m]
    assert kinds == [
        ("0001", "MP4", None),
        ("0002", "MP4", None),
        ("0003", "MP4", None),
        ("0004", "JPG", None),
        ("0005", "WAV", None),
    ]
    important = [p.name for p in (volume / "DCIM" / "101ANDRO").iterdir()]
    assert important == [normal[0].replace("_0001.MP4", "_0001IMP.MP4")]
    assert len(files) == 3 + len(normal) + len(important)
    assert (volume / "DCIM" / "SEGTEMP" / "SEG0001.TMP").stat().st_size >= 1024
    assert (volume / "DCIM" / "LOGS" / "DEVLOG.TXT").read_text(encoding="utf-8").strip()


def test_first_clip_is_named_after_the_requested_start(clips: list[Path]) -> None:
    assert clip_start(clips[0]) == datetime.strptime(START, "%Y-%m-%d %H:%M:%S").replace(tzinfo=TZ)


def test_device_txt_describes_the_camera(volume: Path) -> None:
    info = read_device_txt(volume)
    assert set(info) == DEVICE_KEYS
    assert (info["device_id"], info["officer_id"]) == (DEVICE, OFFICER)
    assert info["battery_percent"].isdigit() and info["free_bytes"].isdigit()
    device_time = datetime.strptime(info["device_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=TZ)
    assert abs(device_time - datetime.now(TZ)) < timedelta(minutes=2)


def test_device_time_follows_the_clock_offset(tmp_path: Path) -> None:
    result = make_camera(
        tmp_path / "v",
        "--clips",
        "1",
        "--seconds",
        "1",
        "--no-narration",
        "--clock-offset",
        "-5400",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    info = read_device_txt(tmp_path / "v")
    device_time = datetime.strptime(info["device_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=TZ)
    expected = datetime.now(TZ) - timedelta(seconds=5400)
    assert abs(device_time - expected) < timedelta(minutes=2)


def test_important_copy_is_byte_identical_to_clip_0001(volume: Path, clips: list[Path]) -> None:
    (important,) = (volume / "DCIM" / "101ANDRO").iterdir()
    assert important.read_bytes() == clips[0].read_bytes()
    assert important.stat().st_mtime == clips[0].stat().st_mtime


def test_clips_have_distinct_bytes(clips: list[Path]) -> None:
    assert len({clip.read_bytes() for clip in clips}) == len(clips)


def test_clips_are_h264_and_aac_with_duration_and_creation_time(clips: list[Path]) -> None:
    for index, clip in enumerate(clips):
        info = probe(clip)
        codecs = sorted(stream["codec_name"] for stream in info["streams"])
        assert codecs == ["aac", "h264"], clip.name
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
        assert (video["width"], video["height"], video["pix_fmt"]) == (320, 240, "yuv420p")
        assert (audio["sample_rate"], audio["channels"]) == ("48000", 1)
        # A clip lasts until the next one starts; the last one until its mtime.
        if index + 1 < len(clips):
            end = clip_start(clips[index + 1])
        else:
            end = datetime.fromtimestamp(clip.stat().st_mtime, TZ)
        expected = (end - clip_start(clip)).total_seconds()
        assert expected >= SECONDS
        assert abs(float(info["format"]["duration"]) - expected) <= 0.5, clip.name
        created = info["format"]["tags"]["creation_time"].replace("Z", "+00:00")
        assert datetime.fromisoformat(created) == clip_start(clip).astimezone(UTC), clip.name


def test_clip_without_speech_lasts_the_requested_seconds(clips: list[Path]) -> None:
    assert abs(float(probe(clips[1])["format"]["duration"]) - SECONDS) <= 0.5


def test_clips_after_the_first_follow_each_other_without_gaps(clips: list[Path]) -> None:
    for earlier, later in pairwise(clips):
        assert clip_start(later) == datetime.fromtimestamp(earlier.stat().st_mtime, TZ)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_narration_lengthens_clip_0001_but_no_narration_keeps_it_short(
    clips: list[Path], tmp_path: Path
) -> None:
    assert float(probe(clips[0])["format"]["duration"]) > SECONDS + 0.5
    result = make_camera(tmp_path / "v", "--clips", "1", "--seconds", "2", "--no-narration")
    assert result.returncode == 0, result.stderr
    (only,) = (tmp_path / "v" / "DCIM" / "100ANDRO").glob("*.MP4")
    assert abs(float(probe(only)["format"]["duration"]) - 2) <= 0.5


def test_media_mtime_is_start_plus_duration(volume: Path) -> None:
    for path in sorted((volume / "DCIM").glob("10?ANDRO/*")):
        start = clip_start(path)
        duration = 0 if path.suffix == ".JPG" else round(float(probe(path)["format"]["duration"]))
        assert path.stat().st_mtime == (start + timedelta(seconds=duration)).timestamp(), path.name


def test_stdout_lists_each_created_file_with_its_size(tmp_path: Path) -> None:
    result = make_camera(tmp_path / "v", "--clips", "1", "--seconds", "1", "--no-narration")
    assert result.returncode == 0, result.stderr
    listed = dict(line.rsplit("  ", 1) for line in result.stdout.splitlines())
    files = [p for p in (tmp_path / "v").rglob("*") if p.is_file()]
    sizes = {p.relative_to(tmp_path / "v").as_posix(): str(p.stat().st_size) for p in files}
    assert listed == sizes


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious", encoding="utf-8")
    result = make_camera(tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_reports_a_missing_ffmpeg_with_exit_1(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "nothing-here")}
    result = make_camera(tmp_path / "v", env=env)
    assert result.returncode == 1
    assert "ffmpeg" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "v").exists()
