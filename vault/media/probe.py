"""What a clip is: ffprobe's findings, reduced to the facts a reviewer or a court asks about.

ffmpeg-python's own `ffmpeg.probe` (0.2.0) has no time limit, so the same ffprobe call is
made through the runner. A file ffprobe cannot open is "damaged", with ffprobe's reason;
it stays sealed exactly as it came (IN-3, IN-5).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from vault.media.runner import MediaError, run_tool

PROBE_ARGS = ["-v", "error", "-show_format", "-show_streams", "-of", "json"]


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    media: dict[str, Any] | None  # the facts (None when damaged)
    damage: str | None  # why ffprobe could not read it

    @property
    def has_video(self) -> bool:
        return bool(self.media and self.media.get("video_codec"))

    @property
    def has_audio(self) -> bool:
        return bool(self.media and self.media.get("audio_codec"))


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    try:
        return kind(value) if value not in (None, "N/A", "") else None
    except (TypeError, ValueError):
        return None


def _rate(value: str | None) -> float | None:
    """'30000/1001' -> 29.97; '0/0' -> None."""
    if not value or value in ("0/0", "N/A"):
        return None
    try:
        rate = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 3) if rate > 0 else None


def summarise(data: dict[str, Any]) -> dict[str, Any]:
    """ffprobe's JSON reduced to the stored facts (`evault evidence show` prints them)."""
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    video: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "audio"), {})
    tags = {str(k): str(v) for k, v in (fmt.get("tags") or {}).items()}
    creation = tags.get("creation_time") or (video.get("tags") or {}).get("creation_time")
    duration = _number(fmt.get("duration"), float) or _number(video.get("duration"), float)
    return {
        "duration_s": round(duration, 3) if duration is not None else None,
        "container": fmt.get("format_name"),
        "container_long": fmt.get("format_long_name"),
        "bit_rate": _number(fmt.get("bit_rate"), int),
        "size": _number(fmt.get("size"), int),
        "stream_count": _number(fmt.get("nb_streams"), int) or len(streams),
        "video_codec": video.get("codec_name"),
        "video_profile": video.get("profile"),
        "pix_fmt": video.get("pix_fmt"),
        "width": _number(video.get("width"), int),
        "height": _number(video.get("height"), int),
        "fps": _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        "frames": _number(video.get("nb_frames"), int),
        "audio_codec": audio.get("codec_name"),
        "audio_profile": audio.get("profile"),
        "audio_sample_rate": _number(audio.get("sample_rate"), int),
        "audio_channels": _number(audio.get("channels"), int),
        "creation_time": creation,
        "tags": tags,
        "streams": [
            {
                "index": s.get("index"),
                "type": s.get("codec_type"),
                "codec": s.get("codec_name"),
                "tag": s.get("codec_tag_string"),
            }
            for s in streams
        ],
    }


def _damage(lines: list[str], path: Path, fallback: str) -> str:
    """ffprobe's complaints without our temporary path: 'moov atom not found; Invalid data'."""
    found: list[str] = []
    for line in lines:
        text = re.sub(r"^\[[^]]*\]\s*", "", line.replace(f"{path}: ", "")).strip()
        if text and text not in found:
            found.append(text)
    return "; ".join(found[-3:]) or fallback


def probe(path: Path, *, timeout_s: float, nice: int = 0) -> ProbeResult:
    """Read the file's headers; a crash or a hang counts as damage, never as a vault error."""
    try:
        result = run_tool(["ffprobe", *PROBE_ARGS, str(path)], timeout_s=timeout_s, nice=nice)
    except MediaError as exc:
        if "cannot run" in str(exc):
            raise
        return ProbeResult(False, None, str(exc))
    if result.returncode != 0:
        return ProbeResult(False, None, _damage(result.stderr_tail, path, result.reason("ffprobe")))
    try:
        data = json.loads(result.stdout or b"{}")
    except json.JSONDecodeError:
        return ProbeResult(False, None, "ffprobe printed no readable description")
    if not data.get("streams"):
        return ProbeResult(False, None, "no audio, video or image stream found")
    return ProbeResult(True, summarise(data), None)
