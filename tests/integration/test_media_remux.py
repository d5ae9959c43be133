"""Media work at a fraction of real time (issue 22), on real clips made by ffmpeg and worked by
the real worker: a clip a browser already plays gets a remux as its viewing copy (the same
frames, moov first), any other clip a transcode; posters and contact sheets are found by
seeking and still show the frame at the time they name.

The remuxable clip carries its frame number in a row of seven black or white blocks at the
top, so that a poster or a contact sheet thumbnail says which frame it is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

from tests.conftest import make_settings
from vault.context import Vault
from vault.db.models import Derivative, Evidence
from vault.ingest.pipeline import ingest_volume
from vault.media import frames
from vault.media.remux import has_moov_first
from vault.media.sheets import HEADER_H, LABEL_H, PAD
from vault.media.worker import run_worker
from vault.timeutil import FixedClock

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

CLIPS = "DCIM/100ANDRO"
REMUX = "3100001_010203_20261123150000_0001.MP4"
YUV422 = "3100001_010203_20261123150002_0002.MP4"
MPEG4 = "3100001_010203_20261123150004_0003.MP4"
FPS, SECONDS, BITS = 25, 3, 7
FFMPEG = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
RAW_RGB = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
# Frame number N in binary: block b (32 px wide, 32 high, top left) is white where bit b is set.
NUMBERED = (
    f"testsrc2=size=320x240:rate={FPS},format=yuv420p,"
    "geq=lum='if(lt(Y\\,32)*lt(X\\,224)\\,16+219*mod(floor(N/pow(2\\,floor(X/32)))\\,2)"
    "\\,lum(X\\,Y))':cb='if(lt(Y\\,16)*lt(X\\,112)\\,128\\,cb(X\\,Y))'"
    ":cr='if(lt(Y\\,16)*lt(X\\,112)\\,128\\,cr(X\\,Y))'"
)


def make_clip(path: Path, video: str, codec: list[str], *, audio: bool = True) -> None:
    sound = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"] if audio else []
    maps = ["-map", "0:v"] + (["-map", "1:a", "-c:a", "aac", "-ac", "1"] if audio else [])
    command = [*FFMPEG, "-f", "lavfi", "-i", video, *sound, "-t", str(SECONDS), *maps, *codec]
    stamp = ["-metadata", "creation_time=2026-11-23T07:00:00Z"]
    subprocess.run([*command, *stamp, "-f", "mp4", str(path)], check=True)


def ffprobe(path: Path) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    return json.loads(result.stdout)


def video_of(found: dict) -> dict:
    return next(s for s in found["streams"] if s["codec_type"] == "video")


def decoded_frames(path: Path) -> list[str]:
    """One framecrc line per decoded picture (the whole clip: these clips are short)."""
    result = subprocess.run(
        [*FFMPEG, "-i", str(path), "-map", "0:v:0", "-f", "framecrc", "-"],
        capture_output=True,
        check=True,
    )
    return [line for line in result.stdout.decode().splitlines() if line.startswith("0,")]


def first_picture(path: Path) -> bytes:
    result = subprocess.run(
        [*FFMPEG, "-i", str(path), "-map", "0:v:0", "-frames:v", "1", *RAW_RGB],
        capture_output=True,
        check=True,
    )
    assert len(result.stdout) == 320 * 240 * 3
    return result.stdout


def frame_number(image: Image.Image) -> int:
    """The number in the top row of blocks (thumbnails at the clip's own size, 320x240)."""
    gray = image.convert("L")
    number = 0
    for bit in range(BITS):
        box = gray.crop((32 * bit + 8, 8, 32 * bit + 24, 24))
        mean = sum(box.tobytes()) / (16 * 16)
        number |= (mean > 128) << bit
    return number


@dataclass
class Worked:
    vault: Vault
    camera: Path
    evidence: dict[str, Evidence]
    made: dict[str, dict[str, Derivative]]

    def fetch(self, row: Derivative, to: Path) -> Path:
        with self.vault.store.open(row.storage_key) as source:
            to.write_bytes(source.read())
        return to


@pytest.fixture(scope="module")
def worked(pristine_camera: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worked]:
    base = tmp_path_factory.mktemp("remux")
    camera = base / "camera"
    shutil.copytree(pristine_camera, camera)
    clips = camera / CLIPS
    # A camera's own file: High profile with B-frames, a key frame every 10 frames, and its
    # index at the end (not faststart), AAC sound.
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-bf", "2"]
    x264 += ["-g", "10", "-keyint_min", "10", "-sc_threshold", "0", "-pix_fmt", "yuv420p"]
    make_clip(clips / REMUX, NUMBERED, x264)
    make_clip(
        clips / YUV422,
        f"testsrc2=size=320x240:rate={FPS}",
        ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv422p"],
    )
    make_clip(clips / MPEG4, f"testsrc2=size=320x240:rate={FPS}", ["-c:v", "mpeg4"], audio=False)
    home = base / "home"
    home.mkdir()
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    vault = Vault(make_settings(home, media={"backoff_s": 0}), clock=clock, user="tester")
    ingest_volume(vault, camera)
    run_worker(vault, until_idle=True)
    with vault.session() as session:
        evidence = {e.file_name: e for e in session.exec(select(Evidence))}
        by_id = {e.id: e.file_name for e in evidence.values()}
        made: dict[str, dict[str, Derivative]] = {}
        for row in session.exec(select(Derivative)):
            made.setdefault(by_id[row.evidence_id], {})[row.kind] = row
    yield Worked(vault, camera, evidence, made)


def test_a_clip_a_browser_plays_is_remuxed_with_the_same_frames(
    worked: Worked, tmp_path: Path
) -> None:
    original = worked.camera / CLIPS / REMUX
    assert not has_moov_first(original)  # the camera's file has its index at the end
    row = worked.made[REMUX]["viewing"]
    assert row.encoder == "copy" and row.params["method"] == "remux"
    assert row.sha256 != worked.evidence[REMUX].sha256  # its own object (IN-3)
    copy = worked.fetch(row, tmp_path / "viewing.mp4")
    assert has_moov_first(copy)  # plays from the start without a full download
    before, after = ffprobe(original), ffprobe(copy)
    assert float(after["format"]["duration"]) == pytest.approx(
        float(before["format"]["duration"]), abs=0.1
    )
    assert video_of(after)["nb_frames"] == video_of(before)["nb_frames"] == str(FPS * SECONDS)
    assert (video_of(after)["codec_name"], video_of(after)["pix_fmt"]) == ("h264", "yuv420p")
    assert [s["codec_name"] for s in after["streams"]] == ["h264", "aac"]
    assert decoded_frames(copy) == decoded_frames(original)  # every picture, bit for bit
    assert first_picture(copy) == first_picture(original)
    assert after["format"]["tags"]["creation_time"] == before["format"]["tags"]["creation_time"]


@pytest.mark.parametrize(("name", "why"), [(YUV422, "pixel format yuv422p"), (MPEG4, "mpeg4")])
def test_a_clip_a_browser_does_not_play_is_transcoded(
    worked: Worked, tmp_path: Path, name: str, why: str
) -> None:
    row = worked.made[name]["viewing"]
    assert row.encoder == "libx264"  # no GPU here: the NVENC trial failed and fell back
    assert row.params["method"] == "transcode" and why in row.params["why"]
    copy = ffprobe(worked.fetch(row, tmp_path / "viewing.mp4"))
    assert (video_of(copy)["codec_name"], video_of(copy)["pix_fmt"]) == ("h264", "yuv420p")
    assert float(copy["format"]["duration"]) == pytest.approx(SECONDS, abs=0.1)


def test_poster_is_the_frame_at_the_time_it_names(worked: Worked, tmp_path: Path) -> None:
    row = worked.made[REMUX]["poster"]
    assert row.params["key_frame"] is True  # a key frame every 0.4 s: one near 1.5 s
    with Image.open(worked.fetch(row, tmp_path / "poster.jpg")) as image:
        assert image.size == (320, 240)
        assert frame_number(image) == round(row.params["at_s"] * FPS)
    assert 0.75 <= row.params["at_s"] <= 1.5


def test_contact_sheet_frames_are_the_frames_at_their_times(worked: Worked, tmp_path: Path) -> None:
    """Seeking, not a decode of the whole clip: key frames where a slot holds one early
    enough, else an exact seek; each thumbnail is the frame its label names."""
    row = worked.made[REMUX]["contact_sheet"]
    settings = worked.vault.settings.media
    columns, count = settings.sheet_columns, settings.sheet_columns * settings.sheet_rows
    times = row.params["times_s"]
    assert len(times) == count and times == sorted(set(times))
    assert 1 <= row.params["key_frames"] < count  # both ways were taken
    step = float(worked.evidence[REMUX].media["duration_s"]) / count  # type: ignore[index]
    with Image.open(worked.fetch(row, tmp_path / "sheet.jpg")) as sheet:
        for index, at in enumerate(times):
            begin = step / 4 + index * step
            assert begin - 1e-3 <= at < begin + step  # inside its slot
            row_no, column = divmod(index, columns)
            x = PAD + column * (320 + PAD)
            y = HEADER_H + PAD + row_no * (240 + LABEL_H + PAD)
            thumb = sheet.crop((x, y, x + 320, y + 240))
            assert frame_number(thumb) == round(at * FPS), f"thumbnail {index} at {at} s"


def test_frames_are_found_in_a_folder_whose_name_ffmpeg_would_misread(
    worked: Worked, tmp_path: Path
) -> None:
    folder = tmp_path / "odd: name, [x]; 'q'"
    want = frames.Want(key_by=1.3, not_before=1.0, exact=1.1)
    found = frames.grab(
        worked.camera / CLIPS / REMUX,
        [want],
        folder,
        width=320,
        settings=worked.vault.settings.media,
    )
    assert [(g.at_s, g.key) for g in found] == [(1.2, True)]
    with Image.open(found[0].path) as image:
        assert frame_number(image) == 30
