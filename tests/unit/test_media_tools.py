"""ffmpeg handling: time limits, crashes reported, NVENC detection falling back, and the pure
pieces (probe summary, sizes, frame times, H.264 bit reading, presentation order)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from vault.config import MediaSettings
from vault.media import frames, remux, transcode
from vault.media.h264 import Bits
from vault.media.probe import summarise
from vault.media.runner import MediaError, MediaTimeout, ToolResult, run_tool
from vault.media.tables import Sample, composition_offsets

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


@needs_ffmpeg
def test_ffmpeg_that_never_ends_is_killed_at_its_time_limit() -> None:
    """A hostile file that makes ffmpeg hang is contained: killed, reported, no hang here."""
    endless = ["ffmpeg", "-nostdin", "-f", "lavfi", "-i", "anullsrc", "-f", "null", "-"]
    started = time.monotonic()
    with pytest.raises(MediaTimeout, match="ran longer than 1 s"):
        run_tool(endless, timeout_s=1, nice=10)
    assert time.monotonic() - started < 10


def test_a_crash_is_reported_by_signal_name() -> None:
    assert ToolResult(-11, b"", [], 0.1).reason("ffmpeg") == "ffmpeg crashed (SIGSEGV)"
    failed = ToolResult(1, b"", ["", "moov atom not found", ""], 0.1)
    assert failed.reason("ffprobe") == "ffprobe failed (exit 1): moov atom not found"


def test_missing_tool_is_an_actionable_error() -> None:
    with pytest.raises(MediaError, match="is ffmpeg installed"):
        run_tool(["/nonexistent/ffmpeg"], timeout_s=5)


@needs_ffmpeg
@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU is present here")
def test_without_a_gpu_the_nvenc_trial_fails_and_libx264_is_used() -> None:
    assert transcode.nvenc_works() is False
    assert transcode.choose_encoder(MediaSettings(encoder="auto")) == "libx264"
    with pytest.raises(MediaError, match='encoder = "auto"'):
        transcode.choose_encoder(MediaSettings(encoder="h264_nvenc"))


def test_viewing_size_keeps_aspect_and_even_sides() -> None:
    assert transcode.scaled(1920, 1080, 1280) == transcode.Geometry(1280, 720)
    assert transcode.scaled(1080, 1920, 1280) == transcode.Geometry(720, 1280)
    assert transcode.scaled(320, 240, 1280) == transcode.Geometry(320, 240)
    assert transcode.scaled(2305, 1297, 1280) == transcode.Geometry(1280, 720)


def test_viewing_command_keeps_audio_and_creation_time() -> None:
    """ffmpeg-python pitfalls: audio mapped separately from the filtered video; metadata kept."""
    args = transcode.viewing_args(
        Path("in.mp4"),
        Path("out.mp4"),
        settings=MediaSettings(),
        encoder="libx264",
        geometry=transcode.Geometry(1280, 720),
        has_audio=True,
    )
    assert "0:a" in args and args[args.index("-map_metadata") + 1] == "0"
    assert args[args.index("-movflags") + 1] == "+faststart"
    assert args[args.index("-pix_fmt") + 1] == "yuv420p"


def test_caption_is_burned_in_from_a_text_file(tmp_path: Path) -> None:
    caption = tmp_path / "caption.txt"
    caption.write_text("device 3100001  officer 010203  camera 2026-11-23 15:00:00")
    args = transcode.viewing_args(
        Path("in.mp4"),
        tmp_path / "out.mp4",
        settings=MediaSettings(caption=True),
        encoder="libx264",
        geometry=transcode.Geometry(1280, 720),
        has_audio=False,
        caption_file=caption,
    )
    graph = args[args.index("-filter_complex") + 1]
    assert "drawtext" in graph and "textfile=" in graph and "0:a" not in args


def test_only_a_clip_a_browser_plays_as_it_is_is_remuxed() -> None:
    """Issue 22: H.264 yuv420p at a browser's profile in MP4/MOV, AAC or no sound, small
    enough; anything else is transcoded, saying why."""
    clip = {
        "container": "mov,mp4,m4a,3gp,3g2,mj2",
        "video_codec": "h264",
        "video_profile": "High",
        "pix_fmt": "yuv420p",
        "width": 1920,
        "height": 1080,
        "audio_codec": "aac",
        "audio_profile": "LC",
    }
    settings = MediaSettings()
    assert remux.why_transcode(clip, settings, caption=False) is None
    assert remux.why_transcode(clip | {"audio_codec": None}, settings, caption=False) is None
    refused = {
        "video_codec": "hevc",
        "pix_fmt": "yuv422p",
        "video_profile": "High 4:2:2",
        "container": "avi",
        "audio_codec": "pcm_s16le",
        "width": 3840,
    }
    for key, value in refused.items():
        assert remux.why_transcode(clip | {key: value}, settings, caption=False)
    assert remux.why_transcode(clip, settings, caption=True) == "a caption is burned in"
    assert remux.why_transcode(clip, MediaSettings(remux_max_side=0), caption=False)


def test_frame_grab_paths_are_escaped_for_the_filter_graph() -> None:
    assert frames.filter_value("/a b/x:y,z'q") == "/a b/x\\\\:y\\,z\\\\\\'q"


def test_probe_summary_reads_ffprobe_json() -> None:
    data = {
        "format": {
            "duration": "4.000",
            "format_name": "mov,mp4",
            "bit_rate": "352092",
            "nb_streams": 2,
            "tags": {"creation_time": "2026-11-23T07:00:00Z"},
        },
        "streams": [
            {
                "index": 0,
                "codec_type": "video",
                "codec_name": "h264",
                "width": 1920,
                "height": 1080,
                "avg_frame_rate": "30000/1001",
            },
            {"index": 1, "codec_type": "audio", "codec_name": "aac", "sample_rate": "48000"},
        ],
    }
    media = summarise(data)
    assert media["fps"] == 29.97 and media["width"] == 1920 and media["audio_codec"] == "aac"
    assert media["duration_s"] == 4.0 and media["creation_time"] == "2026-11-23T07:00:00Z"


def test_exp_golomb_codes_and_emulation_prevention() -> None:
    bits = Bits(bytes([0b10100110, 0b01000000]))  # ue: 0, 1, 2, 3
    assert [bits.ue(), bits.ue(), bits.ue(), bits.ue()] == [0, 1, 2, 3]
    assert Bits(b"\x00\x00\x03\x01").data == b"\x00\x00\x01"


def test_b_frames_get_composition_offsets_from_picture_order() -> None:
    """Decoding order I P B B (POC 0 6 2 4) is shown as I B B P."""
    samples = [
        Sample(0, 1, True, 0),
        Sample(1, 1, False, 6),
        Sample(2, 1, False, 2),
        Sample(3, 1, False, 4),
    ]
    offsets, shift = composition_offsets(samples)
    assert shift == 1
    shown = sorted(range(4), key=lambda i: i + offsets[i] - shift)
    assert shown == [0, 2, 3, 1]
