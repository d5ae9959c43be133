"""A redaction plan rendered into a new file: ffmpeg decodes the source to raw frames,
Python hides each region of the plan in each frame (a strong blur, or a solid fill), and
ffmpeg encodes the result with the viewing copies' settings (libx264, or NVENC when it
works), the sound re-encoded with the plan's mute ranges silenced. The source is only read
(IN-3): a private copy, re-hashed when it was fetched.
"""

from __future__ import annotations

import contextlib
import fcntl
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from vault.config import MediaSettings
from vault.media import redact_pipe, transcode
from vault.media.redact_pipe import Frame
from vault.media.redact_plan import Plan, Region, mute_expression, regions_at
from vault.media.runner import MediaError, MediaTimeout

PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size: a frame is megabytes, not 64 KiB


@dataclass(frozen=True)
class Rendered:
    path: Path
    encoder: str
    frames: int
    hidden_frames: int  # frames in which at least one region was hidden
    seconds: float


def hide(frame: Frame, region: Region, style: str) -> None:
    """Hide one region of the frame in place: `fill` paints it black; `blur` shrinks it to
    about eight blocks across its short side and back, so no feature survives."""
    x0, y0, x1, y1 = region
    roi = frame[y0:y1, x0:x1]
    if style == "fill":
        roi[:] = 0
        return
    w, h = x1 - x0, y1 - y0
    block = max(8, min(w, h) // 8)
    small = cv2.resize(roi, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA)
    roi[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def encode_args(
    source: Path, out: Path, plan: Plan, settings: MediaSettings, encoder: str
) -> list[str]:
    """Raw frames on standard input, the sound (and metadata) from the source."""
    quality = (
        ["-preset", "p4", "-rc", "vbr", "-cq", str(settings.crf), "-b:v", "0"]
        if encoder == "h264_nvenc"
        else ["-preset", settings.preset, "-crf", str(settings.crf)]
    )
    args = [
        "ffmpeg",
        *redact_pipe.GLOBAL,
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{plan['width']}x{plan['height']}",
        "-framerate",
        str(plan["frame_rate"]),
        "-i",
        "pipe:0",
        "-i",
        str(source),
        "-map",
        "0:v:0",
    ]
    if plan["has_audio"]:
        args += ["-map", "1:a:0"]
        if expression := mute_expression(plan):
            args += ["-af", f"volume=enable='{expression}':volume=0"]
        args += ["-c:a", "aac", "-b:a", f"{settings.audio_bitrate_k}k"]
    return [
        *args,
        "-c:v",
        encoder,
        *quality,
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        "-map_metadata",
        "1",
        "-f",
        "mp4",
        str(out),
    ]


def _widen(pipe: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _encode(
    source: Path, out: Path, plan: Plan, settings: MediaSettings, encoder: str
) -> tuple[int, int]:
    width, height = int(plan["width"]), int(plan["height"])
    fps = float(plan["fps"])
    decode = redact_pipe.decode_args(source, str(plan["frame_rate"]))
    limits: dict[str, Any] = {"nice": settings.nice, "timeout_s": settings.timeout_s}
    count = hidden = 0
    with (
        redact_pipe.tool(decode, stdin=False, **limits) as decoder,
        redact_pipe.tool(
            encode_args(source, out, plan, settings, encoder), stdin=True, **limits
        ) as sink,
    ):
        _widen(decoder.proc.stdout)
        _widen(sink.proc.stdin)
        assert sink.proc.stdin is not None
        # Decoding runs ahead in a thread of its own: reading a frame, hiding its regions
        # and writing it out then overlap instead of waiting on each other.
        ahead: queue.Queue[Frame | BaseException | None] = queue.Queue(maxsize=8)
        stop = threading.Event()

        def hand_over(item: Frame | BaseException | None) -> None:
            while not stop.is_set():
                with contextlib.suppress(queue.Full):
                    ahead.put(item, timeout=0.5)
                    return

        def read() -> None:
            try:
                for frame in redact_pipe.frames(decoder, width, height):
                    hand_over(frame)
                    if stop.is_set():
                        return
                hand_over(None)
            except BaseException as exc:  # handed to the main thread, which raises it
                hand_over(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            count, hidden = _pass(ahead, sink, plan, fps)
        finally:
            stop.set()
            reader.join(timeout=10)
        decoder.finish()
        sink.finish()
    if count == 0:
        raise MediaError("ffmpeg decoded no frames from the source: nothing to redact")
    return count, hidden


def _pass(
    ahead: queue.Queue[Frame | BaseException | None],
    sink: redact_pipe.Tool,
    plan: Plan,
    fps: float,
) -> tuple[int, int]:
    """Hide the regions of each frame the reader hands over and write it to the encoder."""
    assert sink.proc.stdin is not None
    count = hidden = 0
    while (item := ahead.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        regions = regions_at(plan, count / fps)
        for region in regions:
            hide(item, region, plan["style"])
        hidden += bool(regions)
        try:
            sink.proc.stdin.write(item.data)
        except BrokenPipeError:
            sink.proc.wait(timeout=10)
            raise MediaError(sink.reason()) from None
        count += 1
        if count % 50 == 0:
            sink.check_time()
    return count, hidden


def render(source: Path, plan: Plan, out: Path, settings: MediaSettings) -> Rendered:
    """Render PLAN over SOURCE into OUT (an MP4); NVENC when a trial encode works, the CPU
    when the GPU refuses this one."""
    started = time.monotonic()
    encoder = transcode.choose_encoder(settings)
    try:
        count, hidden = _encode(source, out, plan, settings, encoder)
    except MediaTimeout:
        raise
    except MediaError:
        if encoder != "h264_nvenc" or settings.encoder == "h264_nvenc":
            raise
        encoder = "libx264"
        count, hidden = _encode(source, out, plan, settings, encoder)
    return Rendered(out, encoder, count, hidden, time.monotonic() - started)
