"""The S3 Object Lock store: sealed originals as COMPLIANCE-locked object versions.

Layout in the bucket (under the configured prefix):
  sha256/ab/cd/<sha256>            the sealed bytes, one locked version (more only after a
                                   race between stations, or an overwrite attempt)
  staging/<station>/<pid>/<uuid>   a clip being uploaded; its key is not known until its
                                   SHA-256 is, at the end of the stream (see s3_put.py)
  records/<name>                   sealed records (base.py, s3_records.py)
The evidence is always the OLDEST version of a key: an overwrite only adds a newer version
and a delete without a version only adds a delete marker, so every read names the version.
The service itself refuses deletes before retain-until, shortening and downgrades (IN-3,
RT-4); this store also refuses them before asking, so the vault never tries.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from vault.config import StoreSettings
from vault.errors import ObjectMissing, RetentionLocked, StoreError
from vault.store.base import ObjectInfo, PlainStore, VerifyResult
from vault.store.s3_bucket import (
    OBJECT_LOCK_HOWTO,
    Lock,
    StoreUnavailable,
    clamp,
    error_code,
    lock_of,
    make_client,
    translate,
    where,
)
from vault.store.s3_put import S3Writer
from vault.store.s3_records import S3Records
from vault.timeutil import as_utc, iso

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
READ_CHUNK = 4 * 1024 * 1024


class _BodyReader(io.RawIOBase):
    """A GET response body as a raw file, so open() can hand out a real BinaryIO."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class S3WormStore(S3Records, PlainStore):
    backend = "s3"

    def __init__(self, settings: StoreSettings, station_id: str, client: Any = None) -> None:
        assert settings.bucket is not None, "validated by StoreSettings"
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self.client = client if client is not None else make_client(settings)
        self.station = re.sub(r"[^A-Za-z0-9._-]", "_", station_id)[:64] or "station"
        self.parts = ThreadPoolExecutor(settings.upload_workers, thread_name_prefix="s3-part")
        self.live: set[str] = set()  # staging keys of this process's unfinished writers
        self.live_lock = threading.Lock()
        self._winners: dict[str, str] = {}  # name -> version holding the evidence
        self._buffers: list[bytearray] = []  # part buffers for reuse (upload_workers + 1)
        self._default_lock: tuple[bool, str | None] | None = None

    def fail(self, exc: BaseException, action: str) -> StoreError:
        return translate(exc, action, self.settings)

    # Keys and names

    def key_for(self, sha256: str) -> str:
        if not SHA256_RE.match(sha256):
            raise StoreError(f"not a SHA-256 digest: {sha256!r}")
        return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def name_of(self, key: str) -> str:
        """The object name in the bucket for a store key (which never holds the prefix)."""
        parts = key.split("/")
        if len(parts) != 4 or parts[0] != "sha256" or self.key_for(parts[3]) != key:
            raise StoreError(f"not a key of this store: {key!r}")
        return self.prefix + key

    def staging_prefix(self) -> str:
        return f"{self.prefix}staging/"

    # Versions

    def versions(self, name: str) -> list[str]:
        """Version ids of `name` (not delete markers), oldest first."""
        found: list[str] = []
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=name
            )
            for page in pages:
                found.extend(v["VersionId"] for v in page.get("Versions", []) if v["Key"] == name)
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(exc, f"listing the versions of {name}") from None
        found.reverse()  # the service lists newest first
        return found

    def winner(self, name: str) -> str:
        """The version holding the evidence: the oldest (IN-6: the first to be sealed)."""
        cached = self._winners.get(name)
        if cached is not None:
            return cached
        found = self.versions(name)
        if not found:
            raise ObjectMissing(f"the store holds no object {name.removeprefix(self.prefix)}")
        self._winners[name] = found[0]
        return found[0]

    def head(self, name: str, version: str) -> dict[str, Any]:
        try:
            head: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=name, VersionId=version
            )
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NoSuchVersion"):
                self._winners.pop(name, None)
                raise ObjectMissing(f"the store holds no version {version} of {name}") from None
            raise self.fail(exc, f"reading the lock of {name}") from None
        except BotoCoreError as exc:
            raise self.fail(exc, f"reading the lock of {name}") from None
        return head

    def ensure_lock(self, name: str, version: str, until: datetime, lock: Lock) -> Lock:
        """COMPLIANCE until at least `until`; only ever extends (RT-4). Needed after a
        server-side copy: Ceph RGW copies the source's lock and ignores the request's."""
        until = clamp(until)
        if lock.mode == "COMPLIANCE" and lock.until is not None and lock.until >= until:
            return lock
        if lock.until is not None and lock.until > until:
            until = lock.until  # a GOVERNANCE lock that runs longer: keep its date
        try:
            self.client.put_object_retention(
                Bucket=self.bucket,
                Key=name,
                VersionId=version,
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until},
            )
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(exc, f"locking {name} until {iso(until)}") from None
        return Lock("COMPLIANCE", until, lock.hold)

    def default_lock(self) -> tuple[bool, str | None]:
        """(Object Lock on, default retention mode or None) of the bucket, asked once."""
        if self._default_lock is None:
            try:
                config = self.client.get_object_lock_configuration(Bucket=self.bucket)
            except (BotoCoreError, ClientError) as exc:
                if error_code(exc) != "ObjectLockConfigurationNotFoundError":
                    raise self.fail(exc, "reading the bucket's Object Lock settings") from None
                config = {"ObjectLockConfiguration": {"ObjectLockEnabled": "Disabled"}}
            if "ObjectLockEnabled" not in config.get("ObjectLockConfiguration", {}):
                # A connection dropped after the status line parses as an empty 200 answer:
                # an outage, not a bucket without Object Lock (nor remembered as one).
                raise StoreUnavailable(
                    f"the answer of the S3 service was cut short while reading the bucket's "
                    f"Object Lock settings ({where(self.settings)}); check the network and "
                    "the gateway, then dock again"
                )
            lock = config["ObjectLockConfiguration"]
            rule = lock.get("Rule", {}).get("DefaultRetention", {})
            self._default_lock = (lock.get("ObjectLockEnabled") == "Enabled", rule.get("Mode"))
        return self._default_lock

    def require_lock(self) -> str | None:
        """Refuse to seal into a bucket without Object Lock; return its default mode."""
        lock_on, default_mode = self.default_lock()
        if not lock_on:
            raise StoreError(f"{where(self.settings)} has no Object Lock; {OBJECT_LOCK_HOWTO}")
        return default_mode

    # Writing

    def begin_put(self, size: int | None = None) -> S3Writer:
        return S3Writer(self)  # the bucket has no room to run out of: SIZE is not needed

    def take_buffer(self) -> bytearray:
        with self.live_lock:
            if self._buffers:
                return self._buffers.pop()
        return bytearray(self.settings.part_size)

    def give_buffer(self, buffer: bytearray) -> None:
        """Keep a whole part buffer for the next part: no page faults, no allocation."""
        with self.live_lock:
            if (
                len(buffer) == self.settings.part_size
                and len(self._buffers) <= self.settings.upload_workers
            ):
                self._buffers.append(buffer)

    def remember(self, name: str, version: str) -> None:
        self._winners[name] = version

    # Reading

    def exists(self, key: str) -> bool:
        return bool(self.versions(self.name_of(key)))

    def stat(self, key: str) -> ObjectInfo:
        name = self.name_of(key)
        head = self.head(name, self.winner(name))
        lock = lock_of(head)
        return ObjectInfo(
            key, int(head["ContentLength"]), lock.until, lock.hold, lock.mode == "COMPLIANCE"
        )

    def open(self, key: str) -> BinaryIO:
        name = self.name_of(key)
        try:
            body = self.client.get_object(
                Bucket=self.bucket, Key=name, VersionId=self.winner(name)
            )["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(exc, f"reading {key}") from None
        return io.BufferedReader(_BodyReader(body), buffer_size=READ_CHUNK)

    def verify(
        self, key: str, expected_sha256: str, expected_size: int | None = None
    ) -> VerifyResult:
        """Read the evidence version back from the service and re-hash it (IN-2)."""
        name = self.name_of(key)
        digest, size = hashlib.sha256(), 0
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=name, VersionId=self.winner(name)
            )
            body, buffer = response["Body"], bytearray(READ_CHUNK)
            view = memoryview(buffer)
            while count := body.readinto(buffer):  # no allocation per chunk
                digest.update(view[:count])
                size += count
        except ObjectMissing:
            return VerifyResult(key, False, None, None, "object missing from the store")
        except (BotoCoreError, ClientError, OSError, StoreError) as exc:
            if error_code(exc) in ("NoSuchKey", "NoSuchVersion", "404"):
                self._winners.pop(name, None)
                return VerifyResult(key, False, None, None, "object missing from the store")
            return VerifyResult(key, False, None, None, str(self.fail(exc, f"reading {key}")))
        actual = digest.hexdigest()
        if actual != expected_sha256:
            return VerifyResult(key, False, actual, size, "content does not match its SHA-256")
        if expected_size is not None and size != expected_size:
            return VerifyResult(key, False, actual, size, f"size {size}, expected {expected_size}")
        if response.get("ObjectLockMode") != "COMPLIANCE":  # IN-2: erase only a locked copy
            return VerifyResult(key, False, actual, size, "the sealed copy is not locked (S3)")
        return VerifyResult(key, True, actual, size)

    def keys(self) -> Iterator[str]:
        seen: set[str] = set()
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}sha256/"
            )
            for page in pages:
                for version in page.get("Versions", []):
                    key = version["Key"].removeprefix(self.prefix)
                    sha = key.rpartition("/")[2]
                    if key not in seen and SHA256_RE.match(sha) and self.key_for(sha) == key:
                        seen.add(key)
                        yield key
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(exc, "listing the sealed objects") from None

    # Retention (RT-4) and holds

    def extend_retention(self, key: str, retain_until: datetime) -> None:
        """Every version of the key is kept at least until retain_until; never shortened."""
        name = self.name_of(key)
        winner = self.winner(name)
        current = lock_of(self.head(name, winner))
        wanted = clamp(retain_until)
        if current.until is not None and wanted < current.until:
            raise RetentionLocked(
                f"retention of {key} runs until {iso(current.until)}; it cannot be shortened "
                f"to {iso(retain_until)} (RT-4)"
            )
        for version in self.versions(name):
            lock = current if version == winner else lock_of(self.head(name, version))
            self.ensure_lock(name, version, wanted, lock)

    def set_legal_hold(self, key: str, on: bool) -> None:
        name = self.name_of(key)
        versions = self.versions(name)
        if not versions:
            raise ObjectMissing(f"the store holds no object {key}")
        for version in versions:
            try:
                self.client.put_object_legal_hold(
                    Bucket=self.bucket,
                    Key=name,
                    VersionId=version,
                    LegalHold={"Status": "ON" if on else "OFF"},
                )
            except (BotoCoreError, ClientError) as exc:
                raise self.fail(exc, f"setting the legal hold of {key}") from None

    # Deleting (only the purge job calls this)

    def delete(self, key: str, now: datetime) -> None:
        """Remove every version of an object whose retention has run out and which no hold
        covers; the evidence version goes last, so an interrupted purge can be repeated."""
        name = self.name_of(key)
        versions = self.versions(name)
        if not versions:
            raise ObjectMissing(f"the store holds no object {key}")
        winner, until = versions[0], None
        for version in versions:
            lock = lock_of(self.head(name, version))
            until = lock.until if version == winner else until
            if lock.hold:
                raise RetentionLocked(f"{key} is under a legal hold and cannot be deleted (RT-4)")
            unknown = version == winner and lock.until is None
            if unknown or (lock.until is not None and as_utc(now) < lock.until):
                raise RetentionLocked(
                    f"{key} is retained until {iso(lock.until) or 'an unknown date'}; "
                    "not deleted (RT-4)"
                )
        sha = key.rpartition("/")[2]
        stamp = as_utc(now).strftime("%Y%m%dT%H%M%S%fZ")
        body = {"sha256": sha, "deleted_at": iso(as_utc(now)), "retain_until": iso(until)}
        # Recorded before the versions go, as the local store does (see cases/purge.py).
        self.put_record(f"deleted/{sha[:2]}/{sha}/{stamp}.json", json.dumps(body).encode())
        for version in [*versions[1:], *self._delete_markers(name), winner]:
            self._delete_version(name, version)
        self._winners.pop(name, None)

    def _delete_markers(self, name: str) -> list[str]:
        try:
            page = self.client.list_object_versions(Bucket=self.bucket, Prefix=name)
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(exc, f"listing the versions of {name}") from None
        return [m["VersionId"] for m in page.get("DeleteMarkers", []) if m["Key"] == name]

    def _delete_version(self, name: str, version: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=name, VersionId=version)
        except ClientError as exc:
            if error_code(exc) == "AccessDenied":
                raise RetentionLocked(
                    f"the S3 service still holds {name.removeprefix(self.prefix)} "
                    "(its clock or its lock says it is retained); not deleted (RT-4)"
                ) from None
            raise self.fail(exc, f"deleting {name}") from None
        except BotoCoreError as exc:
            raise self.fail(exc, f"deleting {name}") from None

    # Debris

    def clean_debris(self) -> list[str]:
        """Drop uploads a crashed writer left in staging/ (never a live one). Best effort:
        an unreachable service leaves them for the next run."""
        from vault.store.s3_put import clean_staging

        try:
            return clean_staging(self)
        except StoreError:
            return []

    def staging_owner_alive(self, name: str) -> bool | None:
        """Whether the writer of a staging object may still be running: True/False for this
        station's writers (by process id), None for another station's (age decides)."""
        rest = name.removeprefix(self.staging_prefix()).split("/")
        if len(rest) != 3 or rest[0] != self.station:
            return None
        with self.live_lock:
            if name in self.live:
                return True
        if not rest[1].isdigit() or int(rest[1]) == os.getpid():
            return False  # ours, and no live writer of this process holds it
        try:
            os.kill(int(rest[1]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
