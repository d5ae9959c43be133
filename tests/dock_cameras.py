"""Cameras for the dock tests: real FAT32 and exFAT images on loop devices, and the udev
events a docked camera produces (tests/fixtures/udev/), pointed at those loop devices."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from vault.dock.events import UdevEvent, load_recorded

UDEV = Path(__file__).resolve().parent / "fixtures" / "udev"
CAMERA_TZ = "Asia/Shanghai"
TOOLS = ("losetup", "mkfs.vfat", "mkfs.exfat", "mcopy", "fusefat", "mount.exfat-fuse")


def require_dock_tools() -> None:
    """Root, loop devices and the FAT/exFAT tools; with CI=true their absence fails."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    problem = None
    if os.geteuid() != 0:
        problem = "needs root (loop devices and mounts)"
    elif missing:
        problem = f"needs {', '.join(missing)} (scripts/setup installs them)"
    elif not Path("/dev/fuse").exists():
        problem = "needs /dev/fuse"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)


def build_image(src: Path, image: Path, fs: str, label: str, size_mb: int = 64) -> Path:
    """A FAT32 or exFAT filesystem image holding a copy of src, with its mtimes as the camera
    wrote them (FAT keeps local time: the camera's zone)."""
    subprocess.run(["truncate", "-s", f"{size_mb}M", str(image)], check=True)
    env = {**os.environ, "TZ": CAMERA_TZ}
    if fs == "vfat":
        subprocess.run(
            ["mkfs.vfat", "-F", "32", "-n", label, str(image)], check=True, capture_output=True
        )
        entries = [str(p) for p in sorted(src.iterdir())]
        subprocess.run(
            ["mcopy", "-s", "-m", "-i", str(image), *entries, "::/"],
            check=True,
            env=env,
            capture_output=True,
        )
    elif fs == "exfat":
        subprocess.run(["mkfs.exfat", "-L", label, str(image)], check=True, capture_output=True)
        loop = Loop(image)  # exfat-fuse mounts block devices only
        try:
            with tempfile.TemporaryDirectory() as mnt:
                subprocess.run(
                    ["mount.exfat-fuse", loop.devname, mnt],
                    check=True,
                    env=env,
                    capture_output=True,
                )
                try:
                    subprocess.run(
                        ["cp", "-r", "--preserve=timestamps", f"{src}/.", mnt], check=True
                    )
                finally:
                    subprocess.run(["umount", mnt], check=True)
        finally:
            loop.detach()
    else:
        raise ValueError(fs)
    return image


def image_files(image: Path, fs: str) -> dict[str, str]:
    """Every file on an image (not attached to a mounted loop device): path -> sha256."""
    out: dict[str, str] = {}
    loop = Loop(image)
    with tempfile.TemporaryDirectory() as mnt:
        tool = ["fusefat", "-o", "ro"] if fs == "vfat" else ["mount.exfat-fuse", "-o", "ro"]
        try:
            subprocess.run([*tool, loop.devname, mnt], check=True, capture_output=True)
        except BaseException:
            loop.detach()
            raise
        try:
            for path in sorted(Path(mnt).rglob("*")):
                if not path.is_file():
                    continue
                if path.stat().st_size == 0 and path.parent == Path(mnt):
                    continue  # fusefat shows the volume label as an empty root file
                out[str(path.relative_to(mnt))] = hashlib.sha256(path.read_bytes()).hexdigest()
        finally:
            subprocess.run(["umount", mnt], check=True)
            loop.detach()
    return out


class Loop:
    """A loop device standing in for the camera's USB storage."""

    def __init__(self, image: Path) -> None:
        done = subprocess.run(
            ["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True
        )
        self.devname = done.stdout.strip()
        # A loop device keeps its read-only flag across reuse: start writable, as a camera is.
        subprocess.run(["blockdev", "--setrw", self.devname], check=True)

    def detach(self) -> None:
        # Writable again before it goes back to the pool: other tests reuse loop devices.
        subprocess.run(["blockdev", "--setrw", self.devname], check=False, capture_output=True)
        subprocess.run(["losetup", "-d", self.devname], check=False, capture_output=True)


def camera_event(
    devname: str,
    fs: str,
    label: str,
    *,
    port: str = "1.2",
    name: str = "gadget-camera-disk.json",
    action: str | None = None,
) -> UdevEvent:
    """The recorded event of the reference camera, for this loop device and USB port."""
    (event,) = load_recorded(UDEV / name)
    props = dict(event.properties)
    props.update(DEVNAME=devname, ID_FS_TYPE=fs, ID_FS_LABEL=label, ID_FS_LABEL_ENC=label)
    for key in ("ID_PATH", "DEVPATH"):
        props[key] = (
            props[key].replace("usb-0:1.2:", f"usb-0:{port}:").replace("1-1.2", f"1-{port}")
        )
    return UdevEvent.from_properties(action or event.action, props)


def fuse_pid(mountpoint: Path) -> int | None:
    """The FUSE daemon serving mountpoint (fusefat / exfat-fuse), found by its arguments."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(mountpoint).encode() in args and any(b"fuse" in a for a in args[:1]):
            return int(proc.name)
    return None


def pull_out(mountpoint: Path) -> None:
    """The camera leaves the bus: its FUSE daemon dies and every read fails from now on."""
    pid = fuse_pid(mountpoint)
    assert pid is not None, f"no FUSE daemon serves {mountpoint}"
    os.kill(pid, signal.SIGKILL)
