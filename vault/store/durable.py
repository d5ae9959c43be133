"""File operations that survive a crash and never replace what exists: the local store's
building blocks (write to a temporary name, fsync, rename without replacing, fsync the dir)."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import uuid
from pathlib import Path

AT_FDCWD = -100
RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_later(path: Path, to_sync: dict[Path, None]) -> None:
    """mkdir -p, with each parent it changed added to TO_SYNC to fsync later: a group of
    writes syncs each directory once, after all its renames."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        to_sync[directory.parent] = None


def make_dirs(path: Path) -> None:
    """mkdir -p that fsyncs each parent it changed, so new directories survive a crash."""
    to_sync: dict[Path, None] = {}
    make_dirs_later(path, to_sync)
    for directory in to_sync:
        fsync_dir(directory)


def write_durably(path: Path, data: bytes) -> None:
    """Write to a temporary name, fsync, rename over, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def rename_noreplace(src: Path, dst: Path) -> bool:
    """Move src to dst atomically unless dst exists (then False, src untouched).

    renameat2(RENAME_NOREPLACE) leaves no moment with two names for one file; where the
    kernel or filesystem lacks it, link + unlink gives the same no-replace guarantee.
    """
    if _renameat2 is not None:
        result = _renameat2(
            AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), RENAME_NOREPLACE
        )
        if result == 0:
            return True
        error = ctypes.get_errno()
        if error == errno.EEXIST:
            return False
        if error not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(error, os.strerror(error), str(dst))
    try:
        os.link(src, dst)
    except FileExistsError:
        return False
    os.unlink(src)
    return True
