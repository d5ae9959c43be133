"""Mounting a camera's storage: read-only, in a private directory, with the kernel's FAT and
exFAT drivers where it has them and with FUSE (fusefat, exfat-fuse) where it does not.

The block device itself is set read-only (the BLKROSET ioctl of `blockdev --setro`) before
anything mounts it, so not even a driver's "dirty" flag reaches the camera while its clips are
read. Only the erase step (IN-2) makes it writable, and only after every clip to erase was
verified in the store: the kernel's drivers by `mount -o remount,rw`; a FUSE driver by a new
read-write daemon, since a read-only one opened the device read-only and cannot be told to
write. One read-write FUSE mount from the start, refusing writes in the kernel until the
erase step, is not used: both FUSE drivers write on a read-write mount before any file is
written (fusefat clears the "clean" bit of FAT[1] in both FATs, exfat-fuse sets VolumeDirty
in the boot sector), so the camera would be changed before its clips were even read. The
device's flag and the unmount are system calls, not processes: under load each process
started costs a bay tens of milliseconds (issue 22).
"""

from __future__ import annotations

import calendar
import ctypes
import errno
import fcntl
import functools
import logging
import os
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from vault.errors import VaultError

log = logging.getLogger(__name__)

Method = Literal["kernel", "fusefat", "exfat-fuse"]
SAFE_OPTIONS = "nosuid,nodev,noexec"
BLKROSET = 0x125D  # <linux/fs.h>: _IO(0x12, 93), set the device's read-only flag
MNT_DETACH = 2  # umount2(2): lazy unmount
FUSE_TOOLS: dict[str, tuple[Method, str]] = {
    "vfat": ("fusefat", "fusefat"),
    "exfat": ("exfat-fuse", "mount.exfat-fuse"),
}


class MountError(VaultError):
    """A camera's storage could not be mounted, remounted or unmounted."""


@dataclass
class Mounted:
    devname: str
    target: Path
    fs_type: str
    method: Method
    read_only: bool = True

    def true_mtime(self, timezone: str) -> Callable[[int], int] | None:
        """How to read a file's modification time as the camera wrote it from what this
        mount shows (None: as shown); handed to ingest with the rest of the dock's context."""
        if self.method == "fusefat":
            return functools.partial(fusefat_true_mtime, timezone=timezone)
        return None


def kernel_has(fs_type: str) -> bool:
    try:
        text = Path("/proc/filesystems").read_text()
    except OSError:
        return False
    return any(line.split()[-1] == fs_type for line in text.splitlines() if line.strip())


def mounted_under(root: Path) -> list[Path]:
    """Mount points inside root, deepest first (from /proc/self/mountinfo)."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    prefix = str(root).rstrip("/") + "/"
    for line in lines:
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def is_mounted(target: Path) -> bool:
    """From the mount table: a FUSE mount whose daemon died cannot even be stat()ed."""
    return bool(mount_options(target))


def mount_options(target: Path) -> set[str]:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return set()
    for line in lines:
        fields = line.split()
        if fields[4] == str(target):
            return set(fields[5].split(","))
    return set()


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, env=env, check=False
        )
    except FileNotFoundError:
        raise MountError(
            f"{what}: {argv[0]} is not installed (scripts/setup installs it)"
        ) from None
    except subprocess.TimeoutExpired:
        raise MountError(f"{what}: {argv[0]} did not finish within 60 s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        reason = detail[-1] if detail else f"exit status {done.returncode}"
        if "permission denied" in reason.lower() or "must be superuser" in reason.lower():
            reason += " (the dock needs CAP_SYS_ADMIN: run it as the evault-dock service)"
        raise MountError(f"{what}: {reason}")


def set_read_only(devname: str, read_only: bool) -> bool:
    """The device's read-only flag (BLKROSET, as `blockdev --setro/--setrw`); False where the
    device refuses (then the mount alone guards)."""
    try:
        fd = os.open(devname, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        log.warning("%s: cannot open it to set its read-only flag: %s", devname, exc.strerror)
        return False
    try:
        fcntl.ioctl(fd, BLKROSET, struct.pack("i", int(read_only)))
    except OSError as exc:
        log.warning("%s: read-only flag not set: %s", devname, exc.strerror)
        return False
    finally:
        os.close(fd)
    return True


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def umount(target: Path, lazy: bool = False) -> None:
    """umount2(2) of target (MNT_DETACH where lazy); MountError with the reason if refused."""
    if _libc().umount2(os.fsencode(target), MNT_DETACH if lazy else 0) == 0:
        return
    code = ctypes.get_errno()
    reason = os.strerror(code)
    if code == errno.EPERM:
        reason += " (the dock needs CAP_SYS_ADMIN: run it as the evault-dock service)"
    raise MountError(f"unmounting {target}: {reason}")


class Mounter:
    """Mounts cameras under root (0700), one directory per bay."""

    def __init__(
        self,
        root: Path,
        how: Literal["auto", "kernel", "fuse"] = "auto",
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.root = root
        self.how = how
        self.timezone = timezone

    def _method(self, fs_type: str) -> Method:
        if fs_type not in FUSE_TOOLS:
            raise MountError(f"filesystem {fs_type!r} is not one a camera uses (FAT32, exFAT)")
        if self.how == "kernel" or (self.how == "auto" and kernel_has(fs_type)):
            return "kernel"
        method, tool = FUSE_TOOLS[fs_type]
        if shutil.which(tool) is None:
            raise MountError(
                f"the kernel has no {fs_type} driver and {tool} is not installed "
                "(scripts/setup installs it)"
            )
        return method

    def _offset_minutes(self) -> int:
        offset = datetime.now(ZoneInfo(self.timezone)).utcoffset()
        return int(offset.total_seconds() // 60) if offset else 0

    def _argv(
        self, devname: str, fs_type: str, target: Path, method: Method, ro: bool
    ) -> list[str]:
        mode = "ro" if ro else "rw"
        if method == "kernel":
            # FAT keeps local times without a zone: tell the kernel the cameras' zone.
            extra = f",time_offset={self._offset_minutes()}" if fs_type == "vfat" else ""
            options = f"{mode},{SAFE_OPTIONS},noatime,uid=0,gid=0,umask=077,iocharset=utf8"
            return ["mount", "-t", fs_type, "-o", options + extra, devname, str(target)]
        if method == "fusefat":
            return [
                "fusefat",
                "-o",
                f"{'ro' if ro else 'rw+'},{SAFE_OPTIONS}",
                devname,
                str(target),
            ]
        return ["mount.exfat-fuse", "-o", f"{mode},{SAFE_OPTIONS}", devname, str(target)]

    def mount(self, devname: str, fs_type: str, name: str) -> Mounted:
        """Mount read-only at root/name; the device is set read-only first."""
        method = self._method(fs_type)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        target = self.root / name
        if is_mounted(target):
            raise MountError(f"{target} is still mounted (an earlier dock of this bay)")
        target.mkdir(exist_ok=True, mode=0o700)
        set_read_only(devname, True)
        self._mount(devname, fs_type, target, method, ro=True)
        return Mounted(devname, target, fs_type, method, read_only=True)

    def _mount(self, devname: str, fs_type: str, target: Path, method: Method, ro: bool) -> None:
        # FUSE drivers turn FAT's zoneless local times into instants in their own zone.
        env = {**os.environ, "TZ": self.timezone}
        _run(self._argv(devname, fs_type, target, method, ro), f"mounting {devname}", env)
        for _ in range(50):  # FUSE daemons may return before the mount is visible
            if is_mounted(target):
                return
            time.sleep(0.1)
        raise MountError(f"mounting {devname}: {target} did not become a mount point")

    def remount_rw(self, mounted: Mounted) -> Mounted:
        """Make the camera writable for the erase step (IN-2)."""
        set_read_only(mounted.devname, False)
        if mounted.method == "kernel":
            _run(["mount", "-o", "remount,rw", str(mounted.target)], "remounting read-write")
        else:  # FUSE drivers cannot remount: unmount and mount again, writable
            self._unmount(mounted.target)
            self._mount(mounted.devname, mounted.fs_type, mounted.target, mounted.method, ro=False)
        if "rw" not in mount_options(mounted.target):
            raise MountError(f"{mounted.target} is still read-only after remounting")
        mounted.read_only = False
        return mounted

    def _unmount(self, target: Path) -> None:
        try:
            umount(target)
        except MountError as exc:
            log.warning("%s; detaching it lazily", exc)
            umount(target, lazy=True)

    def unmount(self, mounted: Mounted) -> None:
        if is_mounted(mounted.target):
            self._unmount(mounted.target)
        if mounted.read_only and Path(mounted.devname).exists():
            set_read_only(mounted.devname, False)  # leave the device as it was found
        try:
            mounted.target.rmdir()
        except OSError as exc:
            log.warning("mount point %s not removed: %s", mounted.target, exc.strerror)

    def clean_stale(self) -> list[str]:
        """Unmount what a killed daemon left mounted under root; returns what was done."""
        done = []
        for point in mounted_under(self.root):
            try:
                self._unmount(point)
                done.append(f"unmounted {point}, left by an earlier run")
            except MountError as exc:
                done.append(str(exc))
        if self.root.is_dir():
            for entry in self.root.iterdir():
                if entry.is_dir() and not is_mounted(entry):
                    try:
                        entry.rmdir()
                    except OSError:
                        done.append(f"{entry} is not empty; left for a person to look at")
        return done


def fusefat_true_mtime(shown_ns: int, timezone: str) -> int:
    """fusefat shows FAT modification times one month late: it hands FAT's 1-based month to
    mktime() as the 0-based tm_mon (seen with Debian's fusefat 0.1a). Undo that. The
    correction is exact except for the 29th-31st of a month followed by a shorter month,
    where mktime's overflow folded two dates into one; the earlier reading is taken."""
    zone = ZoneInfo(timezone)
    shown = datetime.fromtimestamp(shown_ns / 1e9, zone)
    year, month = (shown.year, shown.month - 1) if shown.month > 1 else (shown.year - 1, 12)
    day = min(shown.day, calendar.monthrange(year, month)[1])
    true = shown.replace(year=year, month=month, day=day, tzinfo=None).replace(tzinfo=zone)
    return int(true.timestamp()) * 1_000_000_000 + shown_ns % 1_000_000_000
