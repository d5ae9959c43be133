"""Footage with a real face for the redaction tests and scripts/bench-redact: the astronaut
photograph that ships inside scikit-image (skimage.data.astronaut(), Eileen Collins, NASA,
public domain) cut out and moved across a textured background by numpy, encoded by ffmpeg
with a steady tone as its sound; and a reference-camera volume holding such a clip.

Every frame's true face box is known (where the photo's face was pasted), so a test can
measure the face region of a redacted copy frame by frame.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

# The face in skimage's 512×512 astronaut: forehead to chin, ear to ear (x, y, w, h).
FACE = (172, 40, 100, 136)
CUTOUT = (120, 0, 340, 240)  # the head and shoulders around it (x0, y0, x1, y1)
FACE_PX = (FACE[0] - CUTOUT[0], FACE[1] - CUTOUT[1], FACE[2], FACE[3])

Frame = npt.NDArray[np.uint8]


def astronaut_cutout(scale: float) -> Frame:
    from skimage import data  # a test-only dependency (scripts/setup installs it)

    image = Image.fromarray(data.astronaut()).crop(CUTOUT)
    size = (round(image.width * scale), round(image.height * scale))
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)


def background(width: int, height: int) -> Frame:
    """Fixed texture (gradients and a checker of soft squares): a change shows anywhere."""
    y, x = np.mgrid[0:height, 0:width]
    red = 60 + 80 * x / width
    green = 70 + 60 * y / height
    blue = 90 + 40 * ((x // 24 + y // 24) % 2)
    return np.stack([red, green, blue], axis=2).astype(np.uint8)


@dataclass(frozen=True)
class Clip:
    path: Path
    width: int
    height: int
    fps: int
    frames: int
    faces: list[list[tuple[int, int, int, int]]]  # per frame: the true face boxes in it


def make_clip(
    path: Path,
    *,
    width: int = 480,
    height: int = 272,
    fps: int = 25,
    seconds: float = 4.0,
    people: int = 1,
    scale: float = 0.5,
    enter_s: float = 0.7,
    tone_hz: int = 440,
    crf: int = 18,
    preset: str = "veryfast",
) -> Clip:
    """PEOPLE faces moving across the frame from ENTER_S on (before it: no face), with a
    steady tone; H.264 + AAC in MP4, as a body camera writes it."""
    sprite = astronaut_cutout(scale)
    sh, sw = sprite.shape[:2]
    fx, fy, fw, fh = (round(v * scale) for v in FACE_PX)
    base = background(width, height)
    count = round(seconds * fps)
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(fps),
        "-i", "pipe:0",
        "-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=48000",
        "-t", f"{count / fps:.3f}", "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-g", str(fps * 2), "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    faces: list[list[tuple[int, int, int, int]]] = []
    with subprocess.Popen(command, stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        for n in range(count):
            frame = base.copy()
            t = n / fps
            boxes = []
            for person in range(people if t >= enter_s else 0):
                # Left to right (the next person right to left), bobbing a little.
                progress = (t - enter_s) / max(0.1, seconds - enter_s)
                span = width - sw
                x = round(span * (progress if person % 2 == 0 else 1 - progress))
                lane = (height - sh) * (person + 1) / (people + 1)
                y = max(0, min(height - sh, round(lane + 12 * np.sin(2 * np.pi * t))))
                frame[y : y + sh, x : x + sw] = sprite
                boxes.append((x + fx, y + fy, fw, fh))
            faces.append(boxes)
            proc.stdin.write(frame.tobytes())
        proc.stdin.close()
    if proc.returncode:
        raise RuntimeError(f"ffmpeg could not make {path}")
    return Clip(path, width, height, fps, count, faces)


def make_camera(volume: Path, clip_args: dict[str, object] | None = None) -> Clip:
    """A reference-camera volume (profile zfy-ref) with one such clip."""
    folder = volume / "DCIM" / "100ANDRO"
    folder.mkdir(parents=True)
    clip = make_clip(folder / "3100001_010203_20261123150000_0001.MP4", **(clip_args or {}))
    info = {
        "device_id": "3100001",
        "model": "ZFY-REF-1",
        "vendor": "EvidenceVault Reference",
        "firmware": "1.0.0",
        "officer_id": "010203",
        "unit": "一大队",
        "device_time": "2026-11-23 17:00:00",
        "battery_percent": "80",
        "free_bytes": "1000000000",
    }
    text = "".join(f"{key}={value}\n" for key, value in info.items())
    (volume / "DEVICE.TXT").write_text(text, encoding="utf-8")
    return clip


def decode(path: Path, width: int, height: int) -> Frame:
    """Every frame of a video as one frames × height × width × 3 array."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:v:0",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 3)


def sound(path: Path, rate: int = 16000) -> npt.NDArray[np.int16]:
    """The first audio stream, mono 16-bit PCM at RATE."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
         "-ac", "1", "-ar", str(rate), "-f", "s16le", "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.int16)
