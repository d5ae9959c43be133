"""Cameras built byte by byte for the hostile-input tests (issue 16, part 6): a zfy-ref
volume (DEVICE.TXT at the root, clips under DCIM/100ANDRO) whose names, folders and device
information are exactly the bytes a test gives."""

from __future__ import annotations

import os
from pathlib import Path

CLIPS = b"DCIM/100ANDRO"
DEVICE_TXT = (
    b"device_id=3100001\nmodel=ZFY-REF\nvendor=EvidenceVault Reference\nfirmware=1.0\n"
    b"officer_id=010203\nunit=U1\ndevice_time=2026-11-23 17:00:05\nbattery_percent=80\n"
    b"free_bytes=1000000\n"
)


def clip_name(number: int, time: str = "20261123150000", device: str = "3100001") -> bytes:
    return f"{device}_010203_{time}_{number % 10000:04d}.MP4".encode()


def write(root: Path, rel: bytes, data: bytes) -> bytes:
    """Write DATA at REL (bytes, '/'-separated) under ROOT; returns the path's bytes."""
    path = os.path.join(os.fsencode(root), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def build_camera(
    root: Path, files: dict[bytes, bytes], device_txt: bytes | None = DEVICE_TXT
) -> Path:
    """A camera at ROOT: DEVICE.TXT (None: no such file; still recognised by its marker
    when given) and FILES, relative paths in bytes to contents."""
    os.makedirs(os.path.join(os.fsencode(root), CLIPS), exist_ok=True)
    if device_txt is not None:
        write(root, b"DEVICE.TXT", device_txt)
    for rel, data in files.items():
        write(root, rel, data)
    return root
