"""Reading a camera volume without trusting it.

Every directory and file is opened relative to its parent's descriptor with O_NOFOLLOW,
so no symlink is followed and no name is ever joined into a path; the opened file is
then checked to be a regular file on the volume's own filesystem, resolving inside it.
Hostile entries are reported, not read.

Descriptors stay bounded whatever the tree: the scan holds open only the folders of the
path it is in (at most `max_depth`), and a file is later opened through its folder reopened
from the root one name at a time (O_NOFOLLOW, each folder checked to be the very folder the
scan saw: same device and inode); one folder is kept open at a time.

Names are kept exactly: the name as the filesystem has it (`VolumeFile.name`, bytes as
surrogate escapes), and a display form (`display_name`) that is unique for every name and
turns back into its bytes (`name_bytes`), so two names that look alike on a screen (NFC and
NFD, a trailing space, a control character, bytes that are not UTF-8) never display alike.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from vault.errors import VolumeError

INFO_FILE_LIMIT = 64 * 1024
MAX_ENTRIES = 200_000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# Filesystems whose ctime is the kernel's own change time: set on every write, rename and
# utime, and settable by nobody. FAT keeps no change time (Linux shows its creation time or
# its modification time, at 10 ms to 2 s), and a FUSE daemon says what it likes: there, and
# on a filesystem we cannot name, a clip is read again before it is erased (Volume.unlink).
CTIME_FILESYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "f2fs", "jfs", "nilfs2"}
)


def _escape_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _hidden(char: str, combining: bool) -> bool:
    """A character a screen does not show as itself: controls, format characters (bidi
    overrides, zero widths), separators other than the plain space, unassigned or private
    code points, and, in a name that is not NFC, the combining marks that make it so."""
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return True
    if category == "Zs" and char != " ":
        return True
    return combining and category in ("Mn", "Mc", "Me")


def display_name(name: str) -> str:
    """One name for people, JSON and the records: unique for every name (name_bytes turns
    it back): a backslash is doubled; a byte that is not UTF-8 is \\xHH (80-ff), an
    invisible or control character \\xHH (00-7f), \\uHHHH or \\UHHHHHHHH; so is a space
    at either end, and a combining mark in a name that is not in NFC."""
    text = os.fsencode(name).decode("utf-8", "surrogateescape")
    combining = unicodedata.normalize("NFC", text) != text
    out = []
    lead = len(text) - len(text.lstrip(" "))
    trail = len(text.rstrip(" "))
    for index, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif _hidden(char, combining) or (char == " " and (index < lead or index >= trail)):
            out.append(_escape_char(char))
        else:
            out.append(char)
    return "".join(out)


_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def name_bytes(shown: str) -> bytes:
    """The exact bytes of the name display_name showed as SHOWN."""
    out = bytearray()
    position = 0
    for found in _ESCAPE.finditer(shown):
        out += shown[position : found.start()].encode("utf-8", "surrogateescape")
        escape = found.group(1)
        if escape == "\\":
            out += b"\\"
        elif escape[0] == "x" and int(escape[1:], 16) >= 0x80:
            out.append(int(escape[1:], 16))
        else:
            out += chr(int(escape[1:], 16)).encode("utf-8", "surrogatepass")
        position = found.end()
    out += shown[position:].encode("utf-8", "surrogateescape")
    return bytes(out)


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


@dataclass(frozen=True)
class _Folder:
    names: tuple[str, ...]  # raw names from the root
    dev: int
    ino: int


def _fs_type(dev: int) -> str | None:
    """The filesystem type of the mount whose device is DEV, from /proc/self/mountinfo."""
    wanted = f"{os.major(dev)}:{os.minor(dev)}"
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[2] == wanted and " - " in line:
            found = line.split(" - ", 1)[1].split()[0]  # the last such mount is on top
    return found


@dataclass
class Volume:
    """An open camera volume; closing it releases its descriptors."""

    root: Path
    root_fd: int
    dev: int
    files: list[VolumeFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    read_only: bool = False  # mounted read-only when opened (nothing here could write it)
    fs_type: str | None = None  # "ext4", "vfat", "fuseblk", ...; None: not known
    _folders: dict[str, _Folder] = field(default_factory=dict)
    _open_dir: tuple[str, int] | None = None  # the one folder kept open: (dir_rel, fd)

    @classmethod
    def open(cls, path: Path, max_depth: int) -> Volume:
        root = Path(os.path.realpath(path))
        try:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise VolumeError(f"volume {display_name(str(path))} does not exist") from None
        except NotADirectoryError:
            raise VolumeError(f"volume {display_name(str(path))} is not a directory") from None
        except OSError as exc:
            shown = display_name(str(path))
            raise VolumeError(f"cannot open volume {shown}: {exc.strerror}") from None
        st = os.fstat(fd)
        volume = cls(root, fd, st.st_dev)
        volume.read_only = bool(os.fstatvfs(fd).f_flag & os.ST_RDONLY)
        volume.fs_type = _fs_type(st.st_dev)
        volume._folders[""] = _Folder((), st.st_dev, st.st_ino)
        try:
            volume._scan("", (), fd, 0, max_depth)
        except OSError as exc:
            volume.close()
            raise VolumeError(
                f"cannot list volume {display_name(str(path))}: {exc.strerror}"
            ) from None
        return volume

    @property
    def shown_root(self) -> str:
        return display_name(str(self.root))

    @property
    def ctime_trusted(self) -> bool:
        """Does a file's ctime tell that it was written (or its times set) since?"""
        return self.fs_type in CTIME_FILESYSTEMS

    def _scan(
        self, dir_rel: str, names: tuple[str, ...], dir_fd: int, depth: int, max_depth: int
    ) -> None:
        with os.scandir(dir_fd) as entries:
            listing = sorted(entries, key=lambda e: e.name)
        for entry in listing:
            if len(self.files) + len(self.skipped) >= MAX_ENTRIES:
                self.skipped.append(Skipped(dir_rel or ".", "too many entries; rest not read"))
                return
            shown = display_name(entry.name)
            rel = f"{dir_rel}/{shown}" if dir_rel else shown
            try:
                if entry.is_symlink():
                    self.skipped.append(Skipped(rel, "symbolic link (never followed)"))
                elif entry.is_dir(follow_symlinks=False):
                    self._enter(rel, (*names, entry.name), dir_fd, depth, max_depth)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    self.files.append(
                        VolumeFile(rel, entry.name, dir_rel, st.st_size, st.st_mtime_ns)
                    )
                else:
                    self.skipped.append(Skipped(rel, "not a regular file (device, pipe or socket)"))
            except OSError as exc:  # gone, or unreadable, between the listing and the look
                self.skipped.append(Skipped(rel, f"cannot look at it: {exc.strerror}"))

    def _enter(
        self, rel: str, names: tuple[str, ...], parent_fd: int, depth: int, max_depth: int
    ) -> None:
        if depth + 1 > max_depth:
            self.skipped.append(Skipped(rel, f"folder nested deeper than {max_depth} levels"))
            return
        try:
            fd = os.open(names[-1], _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            self.skipped.append(Skipped(rel, f"cannot open folder: {exc.strerror}"))
            return
        try:
            st = os.fstat(fd)
            if st.st_dev != self.dev:
                self.skipped.append(Skipped(rel, "another filesystem is mounted here (not read)"))
                return
            self._folders[rel] = _Folder(names, st.st_dev, st.st_ino)
            self._scan(rel, names, fd, depth + 1, max_depth)
        finally:
            os.close(fd)  # only the folders of the path being scanned are open

    def _dir_fd(self, dir_rel: str) -> int:
        """The folder's descriptor, reopened from the root name by name: no symlink is
        followed and each folder must still be the one the scan saw."""
        if dir_rel == "":
            return self.root_fd
        if self._open_dir is not None:
            if self._open_dir[0] == dir_rel:
                return self._open_dir[1]
            os.close(self._open_dir[1])
            self._open_dir = None
        folder = self._folders.get(dir_rel)
        if folder is None:
            raise VolumeError(f"folder {dir_rel} was not scanned")
        fd = self.root_fd
        try:
            for name in folder.names:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                if fd != self.root_fd:
                    os.close(fd)
                fd = child
        except OSError as exc:
            if fd != self.root_fd:
                os.close(fd)
            raise VolumeError(f"cannot open its folder: {exc.strerror}") from None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (folder.dev, folder.ino):
            os.close(fd)
            raise VolumeError("its folder was replaced since the volume was scanned")
        self._open_dir = (dir_rel, fd)
        return fd

    def root_names(self) -> set[str]:
        return {f.name for f in self.files if not f.dir_rel}

    def open_file(self, item: VolumeFile) -> tuple[int, os.stat_result]:
        """Open for reading; raise VolumeError when the entry is not what the scan saw."""
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(item.name, flags, dir_fd=self._dir_fd(item.dir_rel))
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

    def needs_rehash(self, *, same_mount: bool, read_only_when_read: bool) -> bool:
        """Must a clip be read again before it is erased? When the volume could be written
        while it was read and its ctime cannot tell (FAT, FUSE, a filesystem not known, or
        inode and ctime not comparable across a remount)."""
        if read_only_when_read:
            return False  # nothing on this station could change it while it was read
        return not (same_mount and self.ctime_trusted)

    def unlink(
        self,
        item: VolumeFile,
        expect: os.stat_result,
        *,
        same_mount: bool = True,
        read_only_when_read: bool | None = None,
        sha256: str | None = None,
        chunk_size: int = 1 << 20,
    ) -> None:
        """Erase a file only if it is still the very file that was read: inode, size,
        modification and change time; where the filesystem cannot tell (needs_rehash), its
        bytes are read again and must have SHA256.

        After a remount (same_mount False) inode numbers are not stable on FAT, whose
        drivers make them up: size and modification time must then match to the nanosecond."""
        if read_only_when_read is None:
            read_only_when_read = self.read_only
        dir_fd = self._dir_fd(item.dir_rel)
        st = os.stat(item.name, dir_fd=dir_fd, follow_symlinks=False)
        same = (st.st_size, st.st_mtime_ns) == (expect.st_size, expect.st_mtime_ns)
        if same_mount:
            same = same and st.st_ino == expect.st_ino
            if self.ctime_trusted:
                same = same and st.st_ctime_ns == expect.st_ctime_ns
        if not same or not stat.S_ISREG(st.st_mode):
            raise VolumeError("changed on the camera since it was read; not erased")
        if self.needs_rehash(same_mount=same_mount, read_only_when_read=read_only_when_read):
            if sha256 is None:
                raise VolumeError("cannot tell whether it changed since it was read; not erased")
            if self._hash(item, st, chunk_size) != sha256:
                raise VolumeError("its bytes differ from the sealed copy; not erased")
        os.unlink(item.name, dir_fd=dir_fd)
        os.fsync(dir_fd)

    def _hash(self, item: VolumeFile, expect: os.stat_result, chunk_size: int) -> str:
        fd, st = self.open_file(item)
        try:
            if (st.st_ino, st.st_size) != (expect.st_ino, expect.st_size):
                raise VolumeError("changed on the camera since it was read; not erased")
            digest = hashlib.sha256()
            while block := os.read(fd, chunk_size):
                digest.update(block)
            return digest.hexdigest()
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._open_dir is not None:
            os.close(self._open_dir[1])
            self._open_dir = None
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1

    def __enter__(self) -> Volume:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
