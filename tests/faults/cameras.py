"""Random cameras for the fault rounds: a reference-camera volume (DEVICE.TXT, clips under
DCIM/100ANDRO, an IMP copy, logs) with random clip sets, as a FAT32 or exFAT image on a
loop device, and the udev event that docks it (tests/dock_cameras.py does the real work)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.dock_cameras import CAMERA_TZ, Loop, build_image, camera_event, image_files

KIB, MIB = 1024, 1024 * 1024
CLIP_FOLDERS = ("DCIM/100ANDRO/", "DCIM/101ANDRO/")


@dataclass
class Camera:
    """One camera of a round: its volume as built, the image and the loop device."""

    label: str
    fs: str
    port: str
    image: Path
    files: dict[str, str]  # every file on the volume as docked: path -> sha256
    sizes: dict[str, int]
    loop: Loop | None = None
    detached: list[Loop] = field(default_factory=list)

    @property
    def clips(self) -> set[str]:
        return {p for p in self.files if p.startswith(CLIP_FOLDERS)}

    @property
    def bay(self) -> str:
        return camera_event("/dev/null", self.fs, self.label, port=self.port).bay

    @property
    def clip_bytes(self) -> int:
        return sum(self.sizes[p] for p in self.clips)

    def attach(self) -> str:
        if self.loop is None:
            self.loop = Loop(self.image)
        return self.loop.devname

    def detach(self) -> None:
        if self.loop is not None:
            self.loop.detach()
            self.loop = None

    def now_on_camera(self) -> dict[str, str]:
        """What the camera holds now (read through a loop device of its own, read-only)."""
        return image_files(self.image, self.fs)


def _clip_size(rng: random.Random, big: bool) -> int:
    if big:  # more than one S3 part (5 MiB): a multipart upload to cut in the middle
        return rng.randint(5 * MIB + 1, 8 * MIB)
    return rng.choice([rng.randint(16 * KIB, 512 * KIB), rng.randint(512 * KIB, 3 * MIB)])


def write_volume(rng: random.Random, root: Path, device_id: str, officer: str) -> None:
    """A zfy-ref volume with 2 to 6 random clips (some over one S3 part), maybe a photo and
    an IMP copy, plus files that are not evidence (DEVICE.TXT, the log, a SEGTEMP file)."""
    clips = root / "DCIM" / "100ANDRO"
    clips.mkdir(parents=True)
    start = datetime(2026, 11, 23, 8, 0, 0) + timedelta(minutes=rng.randint(0, 600))
    count = rng.randint(2, 6)
    names = []
    for seq in range(1, count + 1):
        at = start + timedelta(minutes=7 * seq)
        ext = "JPG" if seq == count and rng.random() < 0.3 else "MP4"
        name = f"{device_id}_{officer}_{at:%Y%m%d%H%M%S}_{seq:04d}.{ext}"
        size = 300 * KIB if ext == "JPG" else _clip_size(rng, rng.random() < 0.35)
        (clips / name).write_bytes(rng.randbytes(size))
        names.append(name)
    if rng.random() < 0.5:  # the officer marked a clip important: the camera copies it
        chosen = rng.choice(names)
        important = root / "DCIM" / "101ANDRO"
        important.mkdir()
        stem, _, ext = chosen.rpartition(".")
        (important / f"{stem}IMP.{ext}").write_bytes((clips / chosen).read_bytes())
    (root / "DCIM" / "LOGS").mkdir()
    (root / "DCIM" / "LOGS" / "DEVLOG.TXT").write_text(f"{start:%F %T} [PWR] on\n")
    if rng.random() < 0.5:
        (root / "DCIM" / "SEGTEMP").mkdir()
        (root / "DCIM" / "SEGTEMP" / "SEG0001.TMP").write_bytes(rng.randbytes(40 * KIB))
    now = datetime.now(ZoneInfo(CAMERA_TZ))
    info = {
        "device_id": device_id,
        "model": "ZFY-REF-1",
        "vendor": "EvidenceVault Reference",
        "firmware": "1.4.2",
        "officer_id": officer,
        "unit": "环境监察支队一大队",
        "device_time": f"{now:%Y-%m-%d %H:%M:%S}",
        "battery_percent": str(rng.randint(5, 100)),
        "free_bytes": "27000000000",
    }
    (root / "DEVICE.TXT").write_text("".join(f"{k}={v}\n" for k, v in info.items()))


def make_camera(rng: random.Random, folder: Path, index: int) -> Camera:
    """Camera number index of a round (its own USB port), built and attached."""
    device_id = f"{rng.randint(3_000_000, 3_999_999)}"
    officer = f"{rng.randint(10_000, 999_999):06d}"
    source = folder / f"src{index}"
    write_volume(rng, source, device_id, officer)
    files, sizes = {}, {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = path.relative_to(source).as_posix()
        data = path.read_bytes()
        files[rel], sizes[rel] = hashlib.sha256(data).hexdigest(), len(data)
    fs = rng.choice(["vfat", "exfat"])
    label = f"ZFY{device_id}"[:11]
    size_mb = max(64, sum(sizes.values()) * 13 // 10 // MIB + 16)
    image = build_image(source, folder / f"cam{index}.img", fs, label, size_mb)
    camera = Camera(label, fs, f"1.{index + 1}", image, files, sizes)
    camera.attach()
    return camera


def write_events(cameras: list[Camera], path: Path) -> Path:
    """The udev 'add' events of the cameras, as `evault dock --replay` reads them."""
    events = []
    for camera in cameras:
        devname = camera.attach()
        event = camera_event(devname, camera.fs, camera.label, port=camera.port)
        events.append({"action": "add", "properties": dict(event.properties)})
    path.write_text(json.dumps(events))
    return path
