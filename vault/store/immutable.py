"""The Linux immutable flag (chattr +i): even root cannot change, rename or unlink the file
without first holding CAP_LINUX_IMMUTABLE to clear it."""

from __future__ import annotations

import array
import errno
import fcntl
import os

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x00000010

# Not having the capability, or a filesystem (tmpfs, FUSE, NFS) without the flag.
UNSUPPORTED = {
    errno.EPERM,
    errno.EACCES,
    errno.ENOTTY,
    errno.EOPNOTSUPP,
    errno.EINVAL,
    errno.ENOSYS,
}


def _flags(fd: int) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(fd, FS_IOC_GETFLAGS, buf, True)
    return buf[0]


def is_immutable(path: str) -> bool:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        return bool(_flags(fd) & FS_IMMUTABLE_FL)
    except OSError as exc:
        if exc.errno in UNSUPPORTED:
            return False
        raise
    finally:
        os.close(fd)


def set_immutable(path: str, on: bool) -> bool:
    """Set or clear the flag; False where the process or filesystem cannot."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        flags = _flags(fd)
        wanted = flags | FS_IMMUTABLE_FL if on else flags & ~FS_IMMUTABLE_FL
        if wanted != flags:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, array.array("i", [wanted]))
        return True
    except OSError as exc:
        if exc.errno in UNSUPPORTED:
            return False
        raise
    finally:
        os.close(fd)
