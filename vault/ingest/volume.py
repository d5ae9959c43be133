"""Reading a camera volume without trusting it.

Every directory and file is opened relative to its parent's descriptor with O_NOFOLLOW,
so no symlink is followed and no name is ever joined into a path; the opened file is
then checked to be a regular file on the volume's own filesystem, resolving inside it.
Hostile entries are reported, not read.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from vault.errors import VolumeError

INFO_FILE_LIMIT = 64 * 1024
MAX_ENTRIES = 200_000


def display_name(name: str) -> str:
    """A file name for people and JSON: bytes that are not UTF-8 are shown escaped."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class VolumeFile:
    rel: str  # display form, '/'-separated, relative to the volume root
    name: str  # the name as the filesystem has it (may hold surrogate escapes)
    dir_rel: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    rel: str
    reason: str


@dataclass
class Volume:
    """An open camera volume; closing it releases the directory descriptors."""

    root: Path
    root_fd: int
    dev: int
    files: list[VolumeFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    _dir_fds: dict[str, int] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path, max_depth: int) -> Volume:
        root = Path(os.path.realpath(path))
        try:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise VolumeError(f"volume {path} does not exist") from None
        except NotADirectoryError:
            raise VolumeError(f"volume {path} is not a directory") from None
        except OSError as exc:
            raise VolumeError(f"cannot open volume {path}: {exc.strerror}") from None
        volume = cls(root, fd, os.fstat(fd).st_dev)
        volume._dir_fds[""] = fd
        try:
            volume._scan("", fd, 0, max_depth)
        except OSError as exc:
            volume.close()
            raise VolumeError(f"cannot list volume {path}: {exc.strerror}") from None
        return volume

    def _scan(self, dir_rel: str, dir_fd: int, depth: int, max_depth: int) -> None:
        with os.scandir(dir_fd) as entries:
            listing = sorted(entries, key=lambda e: e.name)
        for entry in listing:
            if len(self.files) + len(self.skipped) >= MAX_ENTRIES:
                self.skipped.append(Skipped(dir_rel or ".", "too many entries; rest not read"))
                return
            rel = f"{dir_rel}/{display_name(entry.name)}" if dir_rel else display_name(entry.name)
            if entry.is_symlink():
                self.skipped.append(Skipped(rel, "symbolic link (never followed)"))
            elif entry.is_dir(follow_symlinks=False):
                self._enter(rel, entry.name, dir_fd, depth, max_depth)
            elif entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                self.files.append(VolumeFile(rel, entry.name, dir_rel, st.st_size, st.st_mtime_ns))
            else:
                self.skipped.append(Skipped(rel, "not a regular file (device, pipe or socket)"))

    def _enter(self, rel: str, name: str, parent_fd: int, depth: int, max_depth: int) -> None:
        if depth + 1 > max_depth:
            self.skipped.append(Skipped(rel, f"folder nested deeper than {max_depth} levels"))
            return
        try:
            fd = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd
            )
        except OSError as exc:
            self.skipped.append(Skipped(rel, f"cannot open folder: {exc.strerror}"))
            return
        if os.fstat(fd).st_dev != self.dev:
            os.close(fd)
            self.skipped.append(Skipped(rel, "another filesystem is mounted here (not read)"))
            return
        self._dir_fds[rel] = fd
        self._scan(rel, fd, depth + 1, max_depth)

    def root_names(self) -> set[str]:
        return {f.name for f in self.files if not f.dir_rel}

    def open_file(self, item: VolumeFile) -> tuple[int, os.stat_result]:
        """Open for reading; raise VolumeError when the entry is not what the scan saw."""
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(item.name, flags, dir_fd=self._dir_fds[item.dir_rel])
        except OSError as exc:
            raise VolumeError(f"cannot open: {exc.strerror}") from None
        st = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(st.st_mode):
            problem = "no longer a regular file"
        elif st.st_dev != self.dev:
            problem = "not on the camera's filesystem"
        elif not self._resolves_inside(fd):
            problem = "resolves outside the volume"
        if problem:
            os.close(fd)
            raise VolumeError(problem)
        return fd, st

    def _resolves_inside(self, fd: int) -> bool:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return True  # no /proc: the descriptor walk alone already kept us inside
        return target == str(self.root) or target.startswith(str(self.root).rstrip("/") + "/")

    def read_small(self, item: VolumeFile) -> bytes:
        """A device-information file, bounded in size."""
        fd, _ = self.open_file(item)
        try:
            return os.read(fd, INFO_FILE_LIMIT)
        finally:
            os.close(fd)

    def unlink(self, item: VolumeFile, expect: os.stat_result, *, same_mount: bool = True) -> None:
        """Erase a file only if it is still the very file that was read (inode, size, time).

        After a remount (same_mount False) inode numbers are not stable on FAT, whose
        drivers make them up: size and modification time must then match to the nanosecond."""
        dir_fd = self._dir_fds[item.dir_rel]
        st = os.stat(item.name, dir_fd=dir_fd, follow_symlinks=False)
        same = (st.st_size, st.st_mtime_ns) == (expect.st_size, expect.st_mtime_ns)
        if same_mount:
            same = same and st.st_ino == expect.st_ino
        if not same or not stat.S_ISREG(st.st_mode):
            raise VolumeError("changed on the camera since it was read; not erased")
        os.unlink(item.name, dir_fd=dir_fd)
        os.fsync(dir_fd)

    def close(self) -> None:
        for fd in self._dir_fds.values():
            os.close(fd)
        self._dir_fds.clear()

    def __enter__(self) -> Volume:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
