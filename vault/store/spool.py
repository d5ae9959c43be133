"""The local spool for S3 outages: when the S3 service cannot be reached, clips are sealed
into a local WORM store in the same single read pass, the camera keeps its copies, and an
uploader later moves each spooled object to S3, verifies it there and only then lets the
records point at S3 (and a later docking erase the camera).

Spooled objects carry keys of their own ("spool:sha256/ab/cd/<sha>") so that every record
says where its bytes are. The spool refuses the purge job: a spooled original leaves only
by being uploaded.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from vault.errors import ObjectMissing, RetentionLocked, StoreError
from vault.store.base import ObjectInfo, ObjectWriter, PutResult, VerifyResult
from vault.store.local import LOCAL_SERIES, READ_CHUNK, LocalWormStore
from vault.store.s3 import S3WormStore
from vault.store.s3_bucket import StoreUnavailable

SPOOL = "spool:"
RECHECK_S = 30.0  # how long a failed reachability check is trusted


class SpoolFull(StoreError):
    """The S3 service is down and the spool has no room: take no camera (nothing is lost)."""


class _SpoolWriter:
    """A local writer whose result names the spool."""

    def __init__(self, inner: ObjectWriter) -> None:
        self._inner = inner

    def write(self, data: bytes | memoryview) -> None:
        self._inner.write(data)

    def commit(self, sha256: str, size: int, retain_until: datetime) -> PutResult:
        put = self._inner.commit(sha256, size, retain_until)
        return PutResult(SPOOL + put.key, put.created, put.immutable, None, backend="spool")

    def abort(self) -> None:
        self._inner.abort()


class SpoolingStore:
    """S3 when it answers, the spool when it does not; reads and changes go where the key
    says the bytes are."""

    backend = "s3"

    def __init__(self, primary: S3WormStore, spool: LocalWormStore, min_free_bytes: int) -> None:
        self.primary, self.spool = primary, spool
        self.min_free_bytes = min_free_bytes
        self._down_since: float | None = None

    def reachable(self) -> bool:
        """Does the S3 service answer? A failure is believed for RECHECK_S seconds."""
        if self._down_since is not None and time.monotonic() - self._down_since < RECHECK_S:
            return False
        try:
            self.primary.client.head_bucket(Bucket=self.primary.bucket)
        except Exception as exc:
            if isinstance(self.primary.fail(exc, "checking the bucket"), StoreUnavailable):
                self._down_since = time.monotonic()
                return False
            raise self.primary.fail(exc, "checking the bucket") from None
        self._down_since = None
        return True

    def key_for(self, sha256: str) -> str:
        return self.primary.key_for(sha256)

    def begin_put(self, size: int | None = None) -> ObjectWriter:
        if self.reachable():
            return self.primary.begin_put(size)
        free = shutil.disk_usage(self.spool.root).free
        if free < self.min_free_bytes:
            raise SpoolFull(
                f"the S3 service cannot be reached and the local spool {self.spool.root} has "
                f"only {free // 2**20} MiB free: not sealing more until the uploader has "
                "drained it (`evault store drain`); the camera keeps its clips"
            )
        return _SpoolWriter(self.spool.begin_put(size))

    def provisional(self, key: str) -> bool:
        return key.startswith(SPOOL)

    def release_unrecorded(self, key: str) -> None:
        """Drop a spool copy that no record points at: bytes spooled during an outage that
        turned out to be already sealed (the same clip twice on a camera, or one docked
        before), or uploaded to S3 with every record moved there. Only spool keys; the
        evidence's own object is never touched."""
        if not key.startswith(SPOOL):
            raise ValueError(f"{key} is not in the spool")
        self.spool.release(key.removeprefix(SPOOL))

    def upload(self, key: str, sha256: str, size: int, retain_until: datetime) -> PutResult:
        """Stream a spooled object into S3 (hashing it on the way) and read it back there;
        the spooled copy stays until the caller releases it."""
        writer = self.primary.begin_put()
        digest = hashlib.sha256()
        try:
            with self.spool.open(key.removeprefix(SPOOL)) as source:
                while chunk := source.read(READ_CHUNK):
                    digest.update(chunk)
                    writer.write(chunk)
            if digest.hexdigest() != sha256:
                raise StoreError(f"the spooled copy {key} no longer matches its SHA-256")
            put = writer.commit(sha256, size, retain_until)
        except BaseException:
            writer.abort()
            raise
        check = self.primary.verify(put.key, sha256, size)
        if not check.ok:
            raise StoreError(f"the uploaded copy of {key} did not verify: {check.reason}")
        return put

    def _route(self, key: str) -> tuple[LocalWormStore | S3WormStore, str]:
        if key.startswith(SPOOL):
            return self.spool, key.removeprefix(SPOOL)
        return self.primary, key

    def exists(self, key: str) -> bool:
        store, inner = self._route(key)
        return store.exists(inner)

    def stat(self, key: str) -> ObjectInfo:
        store, inner = self._route(key)
        info = store.stat(inner)
        return ObjectInfo(key, info.size, info.retain_until, info.legal_hold, info.immutable)

    def open(self, key: str) -> BinaryIO:
        store, inner = self._route(key)
        return store.open(inner)

    def verify(
        self, key: str, expected_sha256: str, expected_size: int | None = None
    ) -> VerifyResult:
        store, inner = self._route(key)
        result = store.verify(inner, expected_sha256, expected_size)
        return VerifyResult(key, result.ok, result.sha256, result.size, result.reason)

    def extend_retention(self, key: str, retain_until: datetime) -> None:
        store, inner = self._route(key)
        store.extend_retention(inner, retain_until)

    def set_legal_hold(self, key: str, on: bool) -> None:
        store, inner = self._route(key)
        store.set_legal_hold(inner, on)

    def delete(self, key: str, now: datetime) -> None:
        if key.startswith(SPOOL):
            raise RetentionLocked(
                f"{key} is still in the local spool: it leaves only by being uploaded to S3"
            )
        self.primary.delete(key, now)

    def keys(self) -> Iterator[str]:
        yield from self.primary.keys()
        yield from (SPOOL + key for key in self.spool.keys())  # noqa: SIM118 (a store)

    def clean_debris(self) -> list[str]:
        return [*self.primary.clean_debris(), *self.spool.clean_debris()]

    # Records: sealed into S3 when it answers, else into the spool until drain_records()

    def put_record(self, name: str, body: bytes) -> bool:
        if self.reachable():
            try:
                return self.primary.put_record(name, body)
            except StoreUnavailable:
                self._down_since = time.monotonic()
        return self.spool.put_record(name, body)

    def read_record(self, name: str) -> bytes:
        try:
            return self.spool.read_record(name)
        except ObjectMissing:
            return self.primary.read_record(name)

    def record_names(self, prefix: str) -> Iterator[str]:
        """S3's and the spool's; while S3 cannot be reached, the spool's alone (so anchors
        go on during an outage: they are sealed into the spool and uploaded later)."""
        names = {n for n in self.spool.record_names(prefix) if _vault_record(n)}
        if self.reachable():
            try:
                names.update(self.primary.record_names(prefix))
            except StoreUnavailable:
                self._down_since = time.monotonic()
        yield from sorted(names)

    def drain_records(self) -> int:
        """Move the records sealed into the spool during an outage to S3 (the uploader's
        job, before it moves any object); returns how many went."""
        moved = 0
        for name in list(self.spool.record_names("")):
            if not _vault_record(name):
                continue
            self.primary.put_record(name, self.spool.read_record(name))
            self.spool.release_record(name)
            moved += 1
        return moved

    def protection(self, key: str) -> str | None:
        store, inner = self._route(key)
        return store.protection(inner)


def _vault_record(name: str) -> bool:
    """A record of the vault's, not one of the spool's own retention series."""
    return name.split("/", 1)[0] not in LOCAL_SERIES
