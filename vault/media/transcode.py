"""ffmpeg command lines for the derivatives, built with ffmpeg-python, and the encoder choice.

ffmpeg-python 0.2.0 pitfalls handled here: video and audio streams are passed to the output
separately (filtering the input would drop the audio), `-map_metadata 0` keeps creation_time,
and the commands run through the runner (its own timeout, nice, drained pipes).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from vault.config import MediaSettings
from vault.media.runner import MediaError, ProgressCallback, run_tool

GLOBAL_ARGS = ("-nostdin", "-hide_banner", "-nostats", "-loglevel", "error")
TRIAL_TIMEOUT_S = 30.0
_encoders: dict[str, str] = {}
_encoders_lock = threading.Lock()


def nvenc_works(timeout_s: float = TRIAL_TIMEOUT_S) -> bool:
    """A real trial encode: listing h264_nvenc proves nothing without a GPU and its driver."""
    stream = ffmpeg.input("color=black:size=256x256:rate=25", f="lavfi", t=0.2)
    args = (
        ffmpeg.output(stream, "-", f="null", vcodec="h264_nvenc")
        .global_args(*GLOBAL_ARGS)
        .compile()
    )
    try:
        return run_tool(args, timeout_s=timeout_s).returncode == 0
    except MediaError:
        return False


def choose_encoder(settings: MediaSettings) -> str:
    """NVENC when asked for or ("auto") when a trial encode works; libx264 otherwise.
    The trial runs once per process."""
    if settings.encoder == "libx264":
        return "libx264"
    with _encoders_lock:
        if "nvenc" not in _encoders:
            _encoders["nvenc"] = "yes" if nvenc_works() else "no"
    if _encoders["nvenc"] == "yes":
        return "h264_nvenc"
    if settings.encoder == "h264_nvenc":
        raise MediaError(
            "media.encoder is h264_nvenc but the trial encode failed (no NVIDIA GPU or driver "
            'here?); set media.encoder = "auto" to fall back to libx264'
        )
    return "libx264"


@dataclass(frozen=True)
class Geometry:
    width: int
    height: int


def scaled(width: int | None, height: int | None, max_side: int) -> Geometry | None:
    """The viewing copy's size: longest side at most max_side, both even, aspect kept."""
    if not width or not height:
        return None
    factor = min(1.0, max_side / max(width, height))
    return Geometry(max(2, int(width * factor) // 2 * 2), max(2, int(height * factor) // 2 * 2))


def _compile(stream: Any) -> list[str]:
    args: list[str] = stream.global_args(*GLOBAL_ARGS).overwrite_output().compile()
    return args


def viewing_args(
    source: Path,
    out: Path,
    *,
    settings: MediaSettings,
    encoder: str,
    geometry: Geometry | None,
    has_audio: bool,
    caption_file: Path | None = None,
) -> list[str]:
    """H.264 yuv420p, +faststart, longest side <= viewing_max_side, AAC; creation_time kept."""
    inp = ffmpeg.input(str(source))
    video = inp.video
    if geometry is not None:
        video = video.filter("scale", geometry.width, geometry.height)
    else:
        side = settings.viewing_max_side
        video = video.filter(
            "scale",
            f"min({side},iw)",
            f"min({side},ih)",
            force_original_aspect_ratio="decrease",
            force_divisible_by=2,
        )
    if caption_file is not None:
        # One line across the bottom: as large as a 30th of the height, small enough to fit.
        width, height = (geometry.width, geometry.height) if geometry else (1280, 720)
        chars = max(1, len(caption_file.read_text(encoding="utf-8")))
        size = max(8, min(height // 30, int((width - 20) / (0.6 * chars))))
        video = video.drawtext(
            textfile=str(caption_file),
            x=10,
            y="h-th-10",
            fontsize=size,
            fontcolor="white",
            box=1,
            boxcolor="black@0.55",
            boxborderw=4,
        )
    video = video.filter("format", "yuv420p")
    quality: dict[str, Any] = (
        {"preset": "p4", "rc": "vbr", "cq": settings.crf, "b:v": 0}
        if encoder == "h264_nvenc"
        else {"preset": settings.preset, "crf": settings.crf}
    )
    streams = [video, inp.audio] if has_audio else [video]
    audio: dict[str, Any] = (
        {"acodec": "aac", "b:a": f"{settings.audio_bitrate_k}k"} if has_audio else {}
    )
    output = ffmpeg.output(
        *streams,
        str(out),
        vcodec=encoder,
        pix_fmt="yuv420p",
        movflags="+faststart",
        map_metadata=0,
        f="mp4",
        **quality,
        **audio,
    )
    return _compile(output)


def audio_args(source: Path, out: Path, fmt: str) -> list[str]:
    """16 kHz mono for speech analysis (narration checks, RC-1, RC-3)."""
    codec = "flac" if fmt == "flac" else "pcm_s16le"
    output = ffmpeg.output(
        ffmpeg.input(str(source)).audio,
        str(out),
        ac=1,
        ar=16000,
        acodec=codec,
        map_metadata=0,
        f=fmt,
    )
    return _compile(output)


def run_ffmpeg(
    args: list[str],
    settings: MediaSettings,
    *,
    out: Path,
    progress: ProgressCallback | None = None,
) -> float:
    """Run one ffmpeg command to `out`; returns seconds taken. A failure names ffmpeg's reason."""
    full = [*args[:1], "-progress", "pipe:1", *args[1:]] if progress else args
    result = run_tool(full, timeout_s=settings.timeout_s, nice=settings.nice, progress=progress)
    if result.returncode != 0:
        raise MediaError(result.reason("ffmpeg"))
    if not out.exists() and "%" not in out.name:
        raise MediaError("ffmpeg finished but wrote nothing")
    return result.seconds
