"""The local WORM store: content-addressed files on the station's own disk.

Layout under the root:
  objects/sha256/ab/cd/<sha256>   the sealed bytes, mode 0400, chattr +i where possible
  records/<name>                  sealed records (base.py), mode 0400, chattr +i likewise;
    retention/ab/<sha256>/<n>.json  the object's retain-until, a series that may only grow:
                                    the latest date of the series holds (RT-4)
    hold/ab/<sha256>/<n>.json       legal hold set or lifted: the highest n holds
    deleted/ab/<sha256>/<n>.json    the purge of the object, written as it goes
  retention/ab/<sha256>.json      format 1's editable retention file: read only where an
                                  object has no series yet, and then turned into one
  tmp/                            objects being written; leftovers are debris of a crash
Every file becomes visible only after fsync, by a link that fails rather than replace
(no overwrite, even between two writers), followed by an fsync of its directory. So the
store enforces retention by itself: nothing it reads to allow a delete can be edited in
place, only added to.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal

from vault.errors import ObjectMissing, RetentionLocked, StoreError
from vault.faults import checkpoint
from vault.store import immutable
from vault.store.base import (
    ObjectInfo,
    PlainStore,
    PutResult,
    VerifyResult,
    check_record_name,
)
from vault.store.durable import (
    fsync_dir,
    make_dirs,
    make_dirs_later,
    rename_noreplace,
    write_durably,
)
from vault.timeutil import as_utc, iso

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
READ_CHUNK = 8 * 1024 * 1024
VERIFY_CHUNK = 1024 * 1024  # the read-back's buffer: fits the CPU's caches, reused
STORE_MARK = "EVIDENCE-VAULT-STORE"
LOCAL_SERIES = ("retention", "hold", "deleted", "meta")  # the store's own records
FORMAT_2 = "meta/format-2.json"  # format 1's retention files have been turned into records
SYNC_FILE_RANGE_WRITE = 2
_libc = ctypes.CDLL(None, use_errno=True)
_sync_file_range = getattr(_libc, "sync_file_range", None)
if _sync_file_range is not None:
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]


def start_writeback(fd: int) -> None:
    """Start writing FD's dirty pages to disk without waiting (sync_file_range): the fsync
    that follows then finds them written, and the fsyncs of a group share one journal
    commit. Only a head start: durability still comes from the fsync."""
    if _sync_file_range is not None:
        _sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)


def sync_dirs(to_sync: dict[Path, None]) -> None:
    for directory in to_sync:
        fsync_dir(directory)


SYNCFS_FROM = 8  # files and directories to make durable at once from which one syncfs serves
_syncfs = getattr(_libc, "syncfs", None)


def sync_all(root: Path, fds: list[int], dirs: dict[Path, None]) -> None:
    """Make the data of FDS and the entries of DIRS durable: each fsynced, or, when there
    are many and all lie on ROOT's filesystem, one syncfs of it (every dirty page and the
    journal, one disk flush for all: a group of small files costs one flush, not one per
    file and directory). syncfs reports the filesystem's write errors (Linux 5.8 on)."""
    if _syncfs is not None and len(fds) + len(dirs) >= SYNCFS_FROM:
        device = os.stat(root).st_dev
        same = all(os.fstat(fd).st_dev == device for fd in fds) and all(
            os.stat(d).st_dev == device for d in dirs
        )
        if same:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                if _syncfs(fd) != 0:
                    error = ctypes.get_errno()
                    raise OSError(error, os.strerror(error), str(root))
            finally:
                os.close(fd)
            return
    for fd in fds:
        os.fsync(fd)
    sync_dirs(dirs)


def store_error(action: str, exc: OSError) -> StoreError:
    if exc.errno == 28:  # ENOSPC
        return StoreError(f"the store is full while {action}: free space or add a disk")
    return StoreError(f"store failure while {action}: {exc.strerror or exc}")


FALLOC_FL_KEEP_SIZE = 1
_fallocate = getattr(_libc, "fallocate", None)
if _fallocate is not None:
    _fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
RECORD_ROOM = 1024 * 1024  # kept free for the retention records of the objects being sealed


def reserve(fd: int, size: int) -> None:
    """Take the disk blocks for SIZE bytes of FD now (fallocate, the file's size unchanged),
    leaving RECORD_ROOM free: ENOSPC if they are not there. A filesystem that cannot
    allocate ahead (EOPNOTSUPP) is written as it comes; glibc's posix_fallocate would
    write zeros instead, one more pass over the disk."""
    stats = os.fstatvfs(fd)
    if size + RECORD_ROOM > stats.f_bavail * stats.f_frsize:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if _fallocate is None or size == 0:
        return
    if _fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size) != 0:
        error = ctypes.get_errno()
        if error not in (errno.EOPNOTSUPP, errno.ENOSYS):
            raise OSError(error, os.strerror(error))


class LocalWriter:
    def __init__(self, store: LocalWormStore, size: int | None = None) -> None:
        self._store = store
        name = uuid.uuid4().hex
        self._tmp = store.root / "tmp" / f"{name}.part"
        # Made under a name clean_debris() does not look at, locked, and only then given its
        # .part name: another ingest's clean-up can never take it between the open and the
        # lock (it did, under load: the seal then failed with ENOENT).
        fresh = store.root / "tmp" / f".{name}.new"
        self._fd: int | None = os.open(
            fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )
        # Held until the file is sealed or dropped: clean_debris() never takes a live write.
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.rename(fresh, self._tmp)
        if size is not None:
            try:
                reserve(self._fd, size)
            except OSError as exc:
                self.abort()
                raise store_error(f"taking room for an object of {size} bytes", exc) from exc

    def write(self, data: bytes | memoryview) -> None:
        assert self._fd is not None, "write after commit or abort"
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            raise store_error("writing an object", exc) from exc

    def commit(self, sha256: str, size: int, retain_until: datetime) -> PutResult:
        result = self._store.commit_writers([(self, sha256, size, retain_until)])[0]
        if isinstance(result, StoreError):
            raise result
        return result

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)


class LocalWormStore(PlainStore):
    backend = "local"

    def __init__(
        self,
        root: Path,
        immutable: Literal["auto", "require", "off"] = "auto",
        drop_cache_on_verify: bool = True,
    ) -> None:
        self.root = root
        self.immutable_mode = immutable
        self.drop_cache_on_verify = drop_cache_on_verify
        try:
            for sub in ("objects", "records", "tmp"):
                make_dirs(root / sub)
            mark = root / STORE_MARK
            if not mark.exists():
                write_durably(mark, b"evidence-vault local WORM store, format 1\n")
        except OSError as exc:
            raise store_error(f"opening the store at {root}", exc) from exc
        if not (root / "records" / FORMAT_2).exists():
            self._convert_format_1()

    def _convert_format_1(self) -> None:
        """Format 1 kept each object's retention in an editable file: turned into records
        once, when the store is first opened by this version; from then on no such file is
        ever read (one written later is what `evault verify` reports)."""
        for path in sorted((self.root / "retention").glob("*/*.json")):
            sha = path.stem
            if not SHA256_RE.match(sha):
                continue
            try:
                data = json.loads(path.read_text())
                until = data.get("retain_until")
                hold = bool(data.get("legal_hold", False))
            except (ValueError, AttributeError, OSError):
                continue
            if until and not self._series("retention", sha):
                self._append("retention", sha, {"retain_until": str(until), "from": "format 1"})
            if hold and not self._series("hold", sha):
                self._append("hold", sha, {"legal_hold": True, "from": "format 1"})
            path.unlink(missing_ok=True)
        self.put_record(FORMAT_2, b'{"format": 2, "retention": "records"}\n')

    # Keys and paths

    def key_for(self, sha256: str) -> str:
        if not SHA256_RE.match(sha256):
            raise StoreError(f"not a SHA-256 digest: {sha256!r}")
        return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path_for(self, key: str) -> Path:
        parts = key.split("/")
        if len(parts) != 4 or parts[0] != "sha256" or self.key_for(parts[3]) != key:
            raise StoreError(f"not a key of this store: {key!r}")
        return self.root / "objects" / key

    def _legacy_retention_path(self, sha256: str) -> Path:
        return self.root / "retention" / sha256[:2] / f"{sha256}.json"

    def _record_path(self, name: str) -> Path:
        return self.root / "records" / check_record_name(name)

    # Writing

    def begin_put(self, size: int | None = None) -> LocalWriter:
        try:
            return LocalWriter(self, size)
        except OSError as exc:
            raise store_error("starting an object", exc) from exc

    def commit_writers(
        self, jobs: list[tuple[LocalWriter, str, int, datetime]]
    ) -> list[PutResult | StoreError]:
        """Seal several written objects together, each as LocalWriter.commit would alone
        (fsync, read-only, its retention record, rename that never replaces, directory
        fsync), with their fsyncs grouped: every object's writeback starts at once, their
        retention records are sealed as one group, and each directory is synced once after
        all the renames. An object is visible and durable only when its entry says so;
        one that fails is aborted and its entry is the error."""
        results: list[PutResult | StoreError | None] = [None] * len(jobs)
        live: list[int] = []
        for index, (writer, sha256, _, _) in enumerate(jobs):
            try:
                assert writer._fd is not None, "commit after commit or abort"
                self.key_for(sha256)
                start_writeback(writer._fd)
                live.append(index)
            except (OSError, StoreError) as exc:
                writer.abort()
                results[index] = (
                    exc if isinstance(exc, StoreError) else store_error("sealing an object", exc)
                )
        for index in list(live):
            writer = jobs[index][0]
            assert writer._fd is not None
            try:
                checkpoint("store.written")
                os.fchmod(writer._fd, 0o400)  # sealed: readable by the vault alone
            except OSError as exc:
                writer.abort()
                results[index] = store_error("sealing an object", exc)
                live.remove(index)
        try:
            sync_all(self.root, [fd for i in live if (fd := jobs[i][0]._fd) is not None], {})
        except OSError as exc:
            for index in live:
                jobs[index][0].abort()
                results[index] = store_error("sealing an object", exc)
            live = []
        try:
            # Every object's retention is durable before any of them is visible.
            self.record_retentions([(jobs[i][1], jobs[i][3]) for i in live])
        except (OSError, StoreError) as exc:
            error = exc if isinstance(exc, StoreError) else store_error("sealing an object", exc)
            for index in live:
                jobs[index][0].abort()
                results[index] = error
            live = []
        to_sync: dict[Path, None] = {}
        linked: list[tuple[int, Path, bool]] = []
        for index in live:
            writer, sha256 = jobs[index][0], jobs[index][1]
            final = self.path_for(self.key_for(sha256))
            try:
                make_dirs_later(final.parent, to_sync)
                # Atomic, and never replaces an existing object; False: IN-6, already sealed.
                created = rename_noreplace(writer._tmp, final)
                if not created:
                    os.unlink(writer._tmp)
                checkpoint("store.linked")
                to_sync[final.parent] = None
                linked.append((index, final, created))
            except OSError as exc:
                writer.abort()
                results[index] = store_error("sealing an object", exc)
        try:
            sync_all(self.root, [], to_sync)
        except OSError as exc:
            for index, _, _ in linked:
                jobs[index][0].abort()
                results[index] = store_error("sealing an object", exc)
            linked = []
        for index, final, created in linked:
            writer = jobs[index][0]
            if writer._fd is not None:
                os.close(writer._fd)
                writer._fd = None
            try:
                results[index] = PutResult(
                    self.key_for(jobs[index][1]), created, self.protect(final)
                )
            except StoreError as exc:
                results[index] = exc
        assert all(result is not None for result in results)
        return [result for result in results if result is not None]

    def protect(self, path: Path) -> bool:
        """chattr +i where allowed; with immutable="require" a refusal is an error."""
        if self.immutable_mode == "off":
            return immutable.is_immutable(str(path))
        applied = immutable.set_immutable(str(path), True)
        if not applied and self.immutable_mode == "require":
            raise StoreError(
                f"cannot make {path} immutable (needs CAP_LINUX_IMMUTABLE and ext4/xfs/btrfs); "
                'run the vault with that capability or set store.immutable = "auto"'
            )
        return applied

    # Records (base.py): written once, never replaced, never removed

    def put_record(self, name: str, body: bytes) -> bool:
        return self.put_records([(name, body)])[0]

    def put_records(self, items: list[tuple[str, bytes]]) -> list[bool]:
        """put_record for each item, their fsyncs grouped (one per file, each directory
        once after all the renames): every record is durable when this returns."""
        created = self._create_records(
            [(name, self._record_path(name), body) for name, body in items]
        )
        for (name, body), made in zip(items, created, strict=True):
            if not made and self._record_path(name).read_bytes() != body:
                raise StoreError(f"the store already holds another record {name}")
        return created

    def _create_record(self, name: str, path: Path, body: bytes) -> bool:
        """Seal BODY under PATH; False, writing nothing, when PATH exists already."""
        return self._create_records([(name, path, body)])[0]

    def _create_records(self, items: list[tuple[str, Path, bytes]]) -> list[bool]:
        """Seal each BODY under its PATH; False, writing nothing, where PATH exists already.
        Written to temporary files first, then each fsynced, renamed without replacing,
        and each directory fsynced once: durable on return, one journal commit for all."""
        created = [False] * len(items)
        fresh: list[tuple[int, Path, int]] = []
        to_sync: dict[Path, None] = {}
        name = ""
        try:
            try:
                for index, (record_name, path, body) in enumerate(items):
                    name = record_name
                    if path.exists():
                        continue
                    tmp = self.root / "tmp" / f".{uuid.uuid4().hex}.record"
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o400)
                    fresh.append((index, tmp, fd))
                    fcntl.flock(fd, fcntl.LOCK_EX)  # clean_debris() leaves a live write alone
                    os.write(fd, body)
                    start_writeback(fd)
                sync_all(self.root, [fd for _, _, fd in fresh], {})
                for index, tmp, _ in fresh:
                    name, path, _ = items[index]
                    make_dirs_later(path.parent, to_sync)
                    created[index] = rename_noreplace(tmp, path)
                    if not created[index]:
                        os.unlink(tmp)
                    else:
                        to_sync[path.parent] = None
            finally:
                for _, _, fd in fresh:
                    os.close(fd)
            sync_all(self.root, [], to_sync)
        except OSError as exc:
            for index, tmp, _ in fresh:
                if not created[index]:
                    tmp.unlink(missing_ok=True)
            raise store_error(f"sealing the record {name}", exc) from exc
        for (_, path, _), made in zip(items, created, strict=True):
            if made:
                self.protect(path)
        return created

    def release_record(self, name: str) -> None:
        """Drop a record now sealed in another store (the spool's, after its upload)."""
        path = self._record_path(name)
        if immutable.is_immutable(str(path)):
            immutable.set_immutable(str(path), False)
        path.unlink(missing_ok=True)

    def read_record(self, name: str) -> bytes:
        try:
            return self._record_path(name).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(f"the store holds no record {name}") from None
        except OSError as exc:
            raise store_error(f"reading the record {name}", exc) from exc

    def record_names(self, prefix: str) -> Iterator[str]:
        base = self.root / "records"
        folder = base / check_record_name(prefix).strip("/") if prefix else base
        if not folder.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            for name in sorted(filenames):
                yield str((Path(dirpath) / name).relative_to(base))

    def _series(self, kind: str, sha256: str) -> list[dict[str, object]]:
        """One object's retention or hold series, oldest first: 000001.json, 000002.json ...
        up to the first number missing. A record past a gap, or one that does not parse,
        was not written by the store and counts for nothing (verify reports the store's
        state against the database's)."""
        found = []
        folder = f"{kind}/{sha256[:2]}/{sha256}/"
        for number, name in enumerate(self.record_names(folder), start=1):
            if name.rpartition("/")[2] != f"{number:06d}.json":
                break
            try:
                body = json.loads(self.read_record(name))
            except (ValueError, StoreError):
                break
            if not isinstance(body, dict):
                break
            found.append(body)
        return found

    def _append(self, kind: str, sha256: str, body: dict[str, object]) -> None:
        self._append_many(kind, [(sha256, body)])

    def _append_many(self, kind: str, items: list[tuple[str, dict[str, object]]]) -> None:
        """Add a record to the series of each (sha256, body), sealed as one group; one
        object at most once per call."""
        numbered: list[tuple[str, dict[str, object], int]] = []
        for sha256, body in items:
            folder = self.root / "records" / kind / sha256[:2] / sha256
            taken = {p.name for p in folder.glob("*.json")}
            number = 1
            while f"{number:06d}.json" in taken:  # the next number of the run _series() reads
                number += 1
            numbered.append(
                (sha256, {**body, "sha256": sha256, "at": iso(datetime.now(UTC))}, number)
            )
        for _ in range(64):  # another writer took the number: take the next one
            batch = []
            for sha256, body, number in numbered:
                encoded = json.dumps({**body, "n": number}, sort_keys=True).encode()
                name = f"{kind}/{sha256[:2]}/{sha256}/{number:06d}.json"
                batch.append((name, self._record_path(name), encoded))
            created = self._create_records(batch)
            numbered = [
                (sha256, body, number + 1)
                for (sha256, body, number), made in zip(numbered, created, strict=True)
                if not made
            ]
            if not numbered:
                return
        raise StoreError(f"cannot add to the {kind} records of {numbered[0][0]}")

    def _read_retention(self, sha256: str) -> tuple[datetime | None, bool]:
        """The latest date of the retention series (None: no series, never deletable) and
        the hold of the newest hold record."""
        dates = []
        for record in self._series("retention", sha256):
            try:
                dates.append(as_utc(datetime.fromisoformat(str(record["retain_until"]))))
            except (KeyError, ValueError, TypeError):
                continue
        holds = self._series("hold", sha256)
        return max(dates, default=None), bool(holds[-1].get("legal_hold")) if holds else False

    def record_retention(self, sha256: str, retain_until: datetime) -> None:
        """Set the retention of a new object, or extend an existing one; never shorten it."""
        self.record_retentions([(sha256, retain_until)])

    def record_retentions(self, items: list[tuple[str, datetime]]) -> None:
        """record_retention for each (sha256, retain-until), sealed as one group."""
        due: dict[str, datetime] = {}
        for sha256, retain_until in items:  # the same bytes twice: the later date holds
            if sha256 not in due or as_utc(retain_until) > as_utc(due[sha256]):
                due[sha256] = retain_until
        appends: list[tuple[str, dict[str, object]]] = []
        for sha256, retain_until in due.items():
            current, _ = self._read_retention(sha256)
            if current is None or as_utc(retain_until) > current:
                appends.append((sha256, {"retain_until": iso(as_utc(retain_until))}))
        if appends:
            self._append_many("retention", appends)

    def extend_retention(self, key: str, retain_until: datetime) -> None:
        sha = self._sha_of(key)
        current, _ = self._read_retention(sha)
        if current is not None and as_utc(retain_until) < current:
            raise RetentionLocked(
                f"retention of {key} runs until {iso(current)}; it cannot be shortened "
                f"to {iso(retain_until)} (RT-4)"
            )
        if current is None or as_utc(retain_until) > current:
            self._append("retention", sha, {"retain_until": iso(as_utc(retain_until))})

    def set_legal_hold(self, key: str, on: bool) -> None:
        sha = self._sha_of(key)
        _, hold = self._read_retention(sha)
        if hold != on:
            self._append("hold", sha, {"legal_hold": on})

    def can_protect(self) -> bool:
        """Whether this process can make the store's files immutable (chattr +i)."""
        if self.immutable_mode == "off":
            return False
        probe = self.root / "tmp" / f".{uuid.uuid4().hex}.probe"
        try:
            probe.write_bytes(b"")
            applied = immutable.set_immutable(str(probe), True)
            if applied:
                immutable.set_immutable(str(probe), False)
            return applied
        except OSError:
            return False
        finally:
            probe.unlink(missing_ok=True)

    def protection(self, key: str) -> str | None:
        path = self.path_for(key)
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            return "missing"
        problems = []
        if mode & 0o222:
            problems.append(f"writable (mode {mode & 0o777:04o})")
        if not immutable.is_immutable(str(path)):
            problems.append("not immutable")
        return ", ".join(problems) or None

    # Reading

    def _sha_of(self, key: str) -> str:
        path = self.path_for(key)
        if not path.exists():
            raise ObjectMissing(f"the store holds no object {key}")
        return path.name

    def exists(self, key: str) -> bool:
        return self.path_for(key).exists()

    def stat(self, key: str) -> ObjectInfo:
        path = self.path_for(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ObjectMissing(f"the store holds no object {key}") from None
        until, hold = self._read_retention(path.name)
        return ObjectInfo(key, size, until, hold, immutable.is_immutable(str(path)))

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path_for(key).open("rb")
        except FileNotFoundError:
            raise ObjectMissing(f"the store holds no object {key}") from None

    def verify(
        self, key: str, expected_sha256: str, expected_size: int | None = None
    ) -> VerifyResult:
        path = self.path_for(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return VerifyResult(key, False, None, None, "object missing from the store")
        except OSError as exc:
            return VerifyResult(key, False, None, None, f"cannot open object: {exc.strerror}")
        digest = hashlib.sha256()
        size = 0
        try:
            if self.drop_cache_on_verify:
                # Drop cached pages so the bytes come from the disk, not from memory.
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            # One reused buffer: a fresh 8 MiB bytes per read cost the read-back as much CPU
            # as its hash (scripts/bench-dock's CPU-s per GiB, issue 22).
            buffer = bytearray(VERIFY_CHUNK)
            view = memoryview(buffer)
            with open(fd, "rb", buffering=0, closefd=False) as stream:
                while got := stream.readinto(buffer):
                    digest.update(view[:got])
                    size += got
        except OSError as exc:
            return VerifyResult(key, False, None, None, f"read error: {exc.strerror}")
        finally:
            os.close(fd)
        actual = digest.hexdigest()
        if actual != expected_sha256:
            return VerifyResult(key, False, actual, size, "content does not match its SHA-256")
        if expected_size is not None and size != expected_size:
            return VerifyResult(key, False, actual, size, f"size {size}, expected {expected_size}")
        return VerifyResult(key, True, actual, size)

    def keys(self) -> Iterator[str]:
        for path in sorted((self.root / "objects" / "sha256").glob("*/*/*")):
            if SHA256_RE.match(path.name):
                yield self.key_for(path.name)

    def debris(self) -> list[Path]:
        """Partial writes a crash left in tmp/ (never objects: those are only moved whole)."""
        return sorted([*(self.root / "tmp").glob("*.part"), *(self.root / "tmp").glob(".*.record")])

    def clean_debris(self) -> list[str]:
        """Remove partial writes no live writer holds (a writer keeps an flock until done)."""
        removed = []
        for path in self.debris():
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(path)  # only a name goes; if it were a second link, the object stays
                removed.append(path.name)
            except OSError:
                continue  # being written now, or not ours to remove
            finally:
                os.close(fd)
        return removed

    # Deleting (only the purge job calls this, and the uploader for the spool)

    def release(self, key: str) -> None:
        """Drop an object whose bytes now live, verified, in another store: the spool's
        copy after its upload to S3 (vault.uploader). Never for evidence otherwise."""
        path = self.path_for(key)
        if immutable.is_immutable(str(path)):
            immutable.set_immutable(str(path), False)
        try:
            os.unlink(path)
            fsync_dir(path.parent)
            self._legacy_retention_path(path.name).unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise store_error(f"releasing {key}", exc) from exc

    def delete(self, key: str, now: datetime) -> None:
        sha = self._sha_of(key)
        until, hold = self._read_retention(sha)
        if hold:
            raise RetentionLocked(f"{key} is under a legal hold and cannot be deleted (RT-4)")
        if until is None or as_utc(now) < until:
            raise RetentionLocked(
                f"{key} is retained until {iso(until) or 'an unknown date'}; not deleted (RT-4)"
            )
        path = self.path_for(key)
        if immutable.is_immutable(str(path)) and not immutable.set_immutable(str(path), False):
            raise StoreError(f"{key} is immutable and this process may not clear the flag")
        # Recorded first: a deletion the store made always has its record (a purge that
        # finds the object gone and no record knows it was removed by hand).
        self._append("deleted", sha, {"deleted_at": iso(as_utc(now)), "retain_until": iso(until)})
        try:
            os.unlink(path)
            fsync_dir(path.parent)
        except OSError as exc:
            raise store_error(f"deleting {key}", exc) from exc
