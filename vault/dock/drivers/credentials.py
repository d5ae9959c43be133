"""The camera password of a library driver, from the root-only file its profile names.

The password is never in the profile (profiles are data that anyone may read) and never in
a message: errors name the file, not what is in it. A file that its group or others may
read, or that belongs to neither root nor the dock's own account, is refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vault.dock.drivers.base import DriverError


def read_password(path: Path) -> str:
    """The first line of the credentials file, after checking who may read it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
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
        if info.st_uid not in (0, os.geteuid()):
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
