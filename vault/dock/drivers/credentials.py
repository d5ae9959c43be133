"""The files a library driver trusts: the camera password and the vendor's library itself.

The password is never in the profile (profiles are data that anyone may read) and never in
a message: errors name the file, not what is in it. A credentials file that its group or
others may read, that is not a regular file (a FIFO, a device: opened without blocking and
refused), that is a symbolic link, or that belongs to neither root nor the dock's own
account, is refused.

The vendor's library runs as the dock's account (root on a station): it must be named by an
absolute path (no dynamic-loader search) and be a regular file owned by root or the dock's
account that its group and others may not write.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vault.dock.drivers.base import DriverError


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def read_password(path: Path) -> str:
    """The first line of the credentials file, after checking who may read it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise DriverError(
            f"cannot read the camera credentials file {path}: {exc.strerror}"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DriverError(f"the camera credentials file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise DriverError(
                f"the camera credentials file {path} may be read by others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); make it 0600, owned by root"
            )
        if not _trusted_owner(info.st_uid):
            raise DriverError(
                f"the camera credentials file {path} belongs to uid {info.st_uid}, "
                "neither root nor the dock's account"
            )
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    lines = data.decode("utf-8", "replace").splitlines()
    password = lines[0].strip() if lines else ""
    if not password:
        raise DriverError(f"the camera credentials file {path} holds no password")
    return password


def check_library(path: Path) -> None:
    """Refuse a vendor library that someone other than root (or the dock) could have put there."""
    if not path.is_absolute():
        raise DriverError(
            f"the camera library {path} must be named by an absolute path "
            "(a bare name would be looked for on the loader's search path)"
        )
    try:
        info = os.stat(path)  # what a link leads to: that is what is loaded
    except OSError as exc:
        raise DriverError(f"cannot load the camera library {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise DriverError(f"the camera library {path} is not a regular file")
    if not _trusted_owner(info.st_uid):
        raise DriverError(
            f"the camera library {path} belongs to uid {info.st_uid}, neither root nor the "
            "dock's account; it would run as the dock"
        )
    if info.st_mode & 0o022:
        raise DriverError(
            f"the camera library {path} may be written by its group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); make it 0755 or 0644, owned by root"
        )
