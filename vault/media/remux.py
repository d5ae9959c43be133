"""A viewing copy without a re-encode: a clip a browser already plays becomes its own viewing
copy by a remux (the streams copied into a fresh MP4 with its index first, `+faststart`),
which costs a read and a write of the bytes instead of a decode and an encode (issue 22).

What a browser plays everywhere: H.264 in 8-bit 4:2:0 (yuv420p) at a profile the players
decode (Constrained Baseline, Baseline, Main, High), from an MP4 or MOV, with AAC sound or
none, no larger than `media.remux_max_side`. Anything else, or a caption to burn in, is
transcoded as before. A remux is then checked to play (ffprobe of the result: the same
codec, frame count and length; a decode of its first frames); one that does not is not
used, and the clip is transcoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vault.config import MediaSettings
from vault.media.probe import probe
from vault.media.runner import MediaError, run_tool
from vault.media.transcode import GLOBAL_ARGS

BROWSER_PROFILES = frozenset({"Constrained Baseline", "Baseline", "Main", "High"})
AUDIO_PROFILES = frozenset({"LC", "HE-AAC", "HE-AACv2"})
CONTAINERS = ("mov", "mp4")
LENGTH_TOLERANCE_S = 0.1
CHECK_SECONDS = 0.5  # how much of the result is decoded to show it plays


def why_transcode(media: dict[str, Any], settings: MediaSettings, caption: bool) -> str | None:
    """None when the clip can be remuxed as it is; else why it must be transcoded."""
    side = settings.remux_max_side
    width, height = media.get("width") or 0, media.get("height") or 0
    container = str(media.get("container") or "")
    profile = media.get("video_profile")
    checks = [
        (side == 0, "media.remux_max_side is 0"),
        (caption, "a caption is burned in"),
        (not any(c in container.split(",") for c in CONTAINERS), f"container {container}"),
        (media.get("video_codec") != "h264", f"video codec {media.get('video_codec')}"),
        (media.get("pix_fmt") != "yuv420p", f"pixel format {media.get('pix_fmt')}"),
        (profile not in BROWSER_PROFILES, f"H.264 profile {profile}"),
        (not width or not height, "no picture size"),
        (max(width, height) > side, f"{width}x{height} is larger than media.remux_max_side"),
        (
            media.get("audio_codec") not in (None, "aac"),
            f"audio codec {media.get('audio_codec')}",
        ),
        (
            media.get("audio_codec") == "aac"
            and media.get("audio_profile") not in (None, *AUDIO_PROFILES),
            f"AAC profile {media.get('audio_profile')}",
        ),
    ]
    return next((why for failed, why in checks if failed), None)


def remux_args(source: Path, out: Path, *, has_audio: bool, original_sha256: str) -> list[str]:
    """The first picture and the first sound stream copied as they are; creation_time kept;
    the index first (+faststart) so that playback starts before the whole file is there.
    The copy names its original's SHA-256 in its comment tag: a clip that ffmpeg itself
    made with +faststart would otherwise remux to the very same bytes, and a derivative is
    never the original's object (IN-3)."""
    maps = ["-map", "0:v:0"] + (["-map", "0:a:0"] if has_audio else [])
    note = f"evault viewing copy (remux) of sha256:{original_sha256}"
    return [
        "ffmpeg", *GLOBAL_ARGS, "-y", "-i", f"file:{source}", *maps,
        "-c", "copy", "-map_metadata", "0", "-metadata", f"comment={note}",
        "-movflags", "+faststart", "-f", "mp4", f"file:{out}",
    ]  # fmt: skip


def check_args(path: Path) -> list[str]:
    """Decode the first CHECK_SECONDS of every stream of the result; stop at the first error."""
    return [
        "ffmpeg", *GLOBAL_ARGS, "-xerror", "-i", f"file:{path}", "-map", "0",
        "-t", f"{CHECK_SECONDS}", "-f", "framecrc", "-",
    ]  # fmt: skip


def verify(out: Path, media: dict[str, Any], settings: MediaSettings) -> dict[str, Any]:
    """The remux plays: ffprobe reads the same picture, length and frame count, and its first
    frames decode without an error. Returns what was checked; raises MediaError otherwise."""
    made = probe(out, timeout_s=settings.probe_timeout_s)
    if not made.ok or made.media is None:
        raise MediaError(f"the remux does not open: {made.damage}")
    found = made.media
    for key in ("video_codec", "pix_fmt", "width", "height", "audio_codec"):
        if found.get(key) != media.get(key):
            raise MediaError(f"the remux has {key} {found.get(key)}, the clip {media.get(key)}")
    length, expected = found.get("duration_s"), media.get("duration_s")
    if length is None or (expected and abs(length - expected) > LENGTH_TOLERANCE_S):
        raise MediaError(f"the remux lasts {length} s, the clip {expected} s")
    if not has_moov_first(out):
        raise MediaError("the remux has its index after the media data (+faststart failed)")
    if media.get("frames") and found.get("frames") != media.get("frames"):
        raise MediaError(f"the remux has {found.get('frames')} frames, the clip {media['frames']}")
    result = run_tool(check_args(out), timeout_s=settings.probe_timeout_s, nice=settings.nice)
    if result.returncode != 0:
        raise MediaError(f"the remux does not decode: {result.reason('ffmpeg')}")
    lines = (result.stdout or b"").decode("ascii", "replace").splitlines()
    decoded = sum(1 for line in lines if line.startswith("0,"))
    if decoded == 0:
        raise MediaError("the remux decoded no picture")
    return {"duration_s": length, "frames": found.get("frames"), "decoded_frames": decoded}


def has_moov_first(path: Path) -> bool:
    """Whether the index (moov) comes before the media data (mdat): +faststart worked."""
    with path.open("rb") as handle:
        position = 0
        while True:
            head = handle.read(8)
            if len(head) < 8:
                return False
            size, kind = int.from_bytes(head[:4], "big"), head[4:]
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 1:
                size = int.from_bytes(handle.read(8), "big")
            elif size == 0:
                return False
            if size < 8:
                return False
            position += size
            handle.seek(position)
