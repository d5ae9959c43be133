"""Camera volumes for the compliance tests: real MP4 clips (ffmpeg) whose sound is Mandarin
speech (espeak-ng -v cmn), loud noise with mains hum and no speech, or near silence; file
names, MP4 creation_time and mtimes stamped by a camera clock that may be wrong.

Each kind of sound is encoded once per test session; every clip is a stream copy of it with
its own creation_time, so clips are distinct files (distinct SHA-256) made in milliseconds.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
TZ = ZoneInfo("Asia/Shanghai")
SPEECH = "现在开始执法记录，我们是环境监察支队执法人员，正在进行现场检查。"
SECONDS = 4  # every clip lasts this long (ffprobe reports a few ms more: AAC priming)


@dataclass(frozen=True)
class ClipSpec:
    start: datetime  # the TRUE start (aware); the camera stamps start + its clock offset
    sound: str  # speech | noise | quiet
    creation_skew_s: float = 0.0  # a creation_time that disagrees with the file name


@dataclass
class CameraSpec:
    device_id: str
    officer_id: str
    clips: list[ClipSpec]
    docked_at: datetime  # true time of docking (the station clock)
    clock_offset_s: float = 0.0  # camera minus true time
    camera_now: datetime | None = None  # what the camera's clock says at docking, if set
    unit: str = "环境监察支队一大队"
    names: list[str] = field(default_factory=list)


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True)


def base_clips(folder: Path) -> dict[str, Path]:
    """One encoded clip per kind of sound (made once, in folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {name: folder / f"{name}.mp4" for name in ("speech", "noise", "quiet")}
    if all(p.exists() for p in made.values()):
        return made
    wav = folder / "speech.wav"
    _run(["espeak-ng", "-v", "cmn", "-s", "220", "-w", str(wav), SPEECH])
    sounds = {
        "speech": ["-i", str(wav), "-af", "apad"],
        # Loud: brown noise (wind, traffic rumble) plus 50 Hz mains hum and its harmonic.
        "noise": [
            "-f", "lavfi", "-i",
            "anoisesrc=color=brown:amplitude=0.9:seed=7,volume=2.0[n];"
            "sine=frequency=50:sample_rate=48000[h];sine=frequency=150:sample_rate=48000[h2];"
            "[n][h][h2]amix=inputs=3:normalize=0",
        ],
        "quiet": ["-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.003:seed=3"],
    }  # fmt: skip
    for name, audio in sounds.items():
        _run(
            [
                *FFMPEG,
                *["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15"],
                *audio,
                *["-map", "0:v", "-map", "1:a", "-t", str(SECONDS)],
                *["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
                *["-c:a", "aac", "-ar", "48000", "-ac", "1", str(made[name])],
            ]
        )
    return made


def camera_name(spec: CameraSpec, clip: ClipSpec, seq: int) -> tuple[str, datetime]:
    stamped = clip.start + timedelta(seconds=spec.clock_offset_s)
    local = stamped.astimezone(TZ)
    return f"{spec.device_id}_{spec.officer_id}_{local:%Y%m%d%H%M%S}_{seq:04d}.MP4", stamped


def make_camera(root: Path, spec: CameraSpec, bases: dict[str, Path]) -> Path:
    """A zfy-ref volume: DEVICE.TXT (with the camera's clock at docking) and DCIM clips."""
    clips_dir = root / "DCIM" / "100ANDRO"
    clips_dir.mkdir(parents=True)
    for seq, clip in enumerate(spec.clips, start=1):
        name, stamped = camera_name(spec, clip, seq)
        created = (stamped + timedelta(seconds=clip.creation_skew_s)).astimezone(UTC)
        out = clips_dir / name
        _run(
            [
                *FFMPEG, "-i", str(bases[clip.sound]), "-c", "copy", "-map", "0",
                "-metadata", f"creation_time={created:%Y-%m-%dT%H:%M:%SZ}",
                "-metadata", f"comment={spec.device_id} clip {seq}",
                "-movflags", "+faststart", str(out),
            ]
        )  # fmt: skip
        end = (stamped + timedelta(seconds=SECONDS)).timestamp()
        os.utime(out, (end, end))  # the camera closes the file at the end of the recording
        spec.names.append(name)
    camera_now = spec.camera_now or spec.docked_at + timedelta(seconds=spec.clock_offset_s)
    info = {
        "device_id": spec.device_id,
        "model": "ZFY-REF-1",
        "vendor": "EvidenceVault Reference",
        "firmware": "1.4.2",
        "officer_id": spec.officer_id,
        "unit": spec.unit,
        "device_time": f"{camera_now.astimezone(TZ):%Y-%m-%d %H:%M:%S}",
        "battery_percent": "80",
        "free_bytes": "1000000000",
    }
    (root / "DEVICE.TXT").write_text("".join(f"{k}={v}\n" for k, v in info.items()), "utf-8")
    return root


def local(text: str) -> datetime:
    """'2026-11-23 09:00:00' in Asia/Shanghai, aware."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=TZ)
