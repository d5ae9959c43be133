"""Putting one clip into S3 inside the ingest read pass, and cleaning up after crashes.

The key is derived from the SHA-256, known only when the last byte has been read. So:
  1. While the camera is read, the bytes go as a multipart upload (Content-MD5 on every
     part, several parts in flight) to staging/<station>/<pid>/<uuid>; no local copy.
  2. At commit, if the key already holds a version, the upload is aborted and that version
     is returned (IN-6: same bytes, no second copy). Nothing was ever completed.
  3. Otherwise the upload is completed and copied server-side to sha256/ab/cd/<sha256>
     with the SHA-256 in its metadata, then locked COMPLIANCE until retain-until with
     PutObjectRetention (one path for every service: Ceph RGW ignores lock headers on a
     copy, moto wants a Content-MD5 with them); the staging version is deleted. On Ceph
     RGW the copy shares the data. A crash between copy and lock leaves the object
     unlocked but unrecorded; the camera keeps the clip, and the next put of the same
     bytes (step 2) locks it.
  4. Two stations sealing the same bytes at once may both copy: the OLDEST version is the
     evidence; each writer's version carries a token, so exactly one reports created.
A clip no larger than one part skips staging: it is PUT with its lock in one request.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import threading
import uuid
from concurrent.futures import Future, wait
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vault.errors import StoreError
from vault.faults import checkpoint
from vault.store.base import PutResult
from vault.store.s3_bucket import LockedBucket, clamp, error_code, lock_of

COPY_LIMIT = 5 * 1024**3  # the largest single CopyObject S3 allows
COPY_PART = 1024**3  # pieces of a multipart copy beyond that
STAGING_LOCK = timedelta(days=1)  # a GOVERNANCE lock that overrides a bucket default
STALE_AFTER = timedelta(days=1)  # another station's upload older than this is debris
WRITER_META = "vault-writer"  # which writer made a version (for the race of step 4)
SHA_META = "sha256"


def md5_b64(data: bytes | bytearray) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 (Content-MD5)


class S3Writer:
    def __init__(self, store: LockedBucket) -> None:
        self._store = store
        self._token = uuid.uuid4().hex
        self._staging = f"{store.staging_prefix()}{store.station}/{os.getpid()}/{self._token}"
        self._part_size = store.settings.part_size
        self._buf: bytearray | None = None  # the part being filled
        self._fill = 0
        self._size = 0
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(store.settings.upload_workers)
        self._staged_version: str | None = None
        self._done = False

    # Streaming

    def write(self, data: bytes | memoryview) -> None:
        """Copy into the current part (once: parts are reused buffers); send it when full."""
        assert not self._done, "write after commit or abort"
        self._raise_failed_part()
        view = memoryview(data).cast("B")
        self._size += len(view)
        while view:
            if self._buf is None:
                self._buf, self._fill = self._store.take_buffer(), 0
            count = min(len(view), self._part_size - self._fill)
            self._buf[self._fill : self._fill + count] = view[:count]
            self._fill += count
            view = view[count:]
            if self._fill == self._part_size:
                self._send_part()

    def _raise_failed_part(self) -> None:
        for part in self._parts:
            error = part.exception() if part.done() else None
            if isinstance(error, BotoCoreError | ClientError):
                raise self._store.fail(error, "uploading a clip")
            if error is not None:
                raise error

    def _take_filled(self) -> bytearray:
        """The bytes written since the last part, as a buffer of exactly that length."""
        body, self._buf = self._buf or bytearray(), None
        del body[self._fill :]  # in place: only a short last part shrinks
        return body

    def _send_part(self) -> None:
        store = self._store
        if self._upload_id is None:
            self._upload_id = self._create_upload()
        number = len(self._parts) + 1
        body = self._take_filled()
        self._slots.acquire()  # at most upload_workers parts in memory and in flight
        try:
            part = store.parts.submit(self._upload_part, number, body)
        except BaseException:
            self._slots.release()
            raise

        def finished(_: Future[dict[str, Any]]) -> None:
            self._slots.release()
            store.give_buffer(body)

        part.add_done_callback(finished)
        self._parts.append(part)

    def _create_upload(self) -> str:
        store = self._store
        args: dict[str, Any] = {}
        if store.require_lock():  # override a bucket default, so the staging copy can be removed
            args = {
                "ObjectLockMode": "GOVERNANCE",
                "ObjectLockRetainUntilDate": datetime.now(UTC) + STAGING_LOCK,
            }
        with store.live_lock:
            store.live.add(self._staging)
        try:
            created = store.client.create_multipart_upload(
                Bucket=store.bucket, Key=self._staging, **args
            )
        except (BotoCoreError, ClientError) as exc:
            raise store.fail(exc, "starting an upload") from None
        return str(created["UploadId"])

    def _upload_part(self, number: int, body: bytearray) -> dict[str, Any]:
        store = self._store
        response = store.client.upload_part(
            Bucket=store.bucket,
            Key=self._staging,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
            ContentMD5=md5_b64(body),  # the service refuses a part that arrives altered
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    # Sealing

    def commit(self, sha256: str, size: int, retain_until: datetime) -> PutResult:
        assert not self._done, "commit after commit or abort"
        store = self._store
        key = store.key_for(sha256)
        name = store.name_of(key)
        try:
            self._raise_failed_part()
            if size != self._size:
                raise StoreError(f"{size} bytes announced for {key}, {self._size} written")
            existing = store.versions(name)
            if existing:  # IN-6: sealed before; this upload is never completed
                self.abort()
                return self._result(key, name, existing, retain_until, copied=False)
            checkpoint("store.written")
            if self._upload_id is None:
                self._put_whole(name, sha256, retain_until)
            else:
                self._complete_and_copy(name, sha256, size, retain_until)
            checkpoint("store.linked")
            result = self._result(key, name, store.versions(name), retain_until, copied=True)
        except BaseException:
            self.abort()
            raise
        self.abort()  # drops the staging version and the live mark
        return result

    def _metadata(self, sha256: str) -> dict[str, str]:
        return {SHA_META: sha256, WRITER_META: self._token}

    def _put_whole(self, name: str, sha256: str, retain_until: datetime) -> None:
        store = self._store
        store.require_lock()
        body = self._take_filled()
        try:
            store.client.put_object(
                Bucket=store.bucket,
                Key=name,
                Body=body,
                ContentMD5=md5_b64(body),
                Metadata=self._metadata(sha256),
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=clamp(retain_until),
            )
        except (BotoCoreError, ClientError) as exc:
            raise store.fail(exc, "sealing a clip") from None

    def _complete_and_copy(self, name: str, sha256: str, size: int, until: datetime) -> None:
        store = self._store
        if self._fill:
            self._send_part()
        wait(self._parts)
        self._raise_failed_part()
        parts = [p.result() for p in self._parts]
        try:
            done = store.client.complete_multipart_upload(
                Bucket=store.bucket,
                Key=self._staging,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},
            )
            self._upload_id = None
            self._staged_version = done.get("VersionId")
            source = {"Bucket": store.bucket, "Key": self._staging}
            if self._staged_version:
                source["VersionId"] = self._staged_version
            if size <= COPY_LIMIT:  # the lock follows in _result(): see step 3 above
                store.client.copy_object(
                    Bucket=store.bucket,
                    Key=name,
                    CopySource=source,
                    MetadataDirective="REPLACE",
                    Metadata=self._metadata(sha256),
                )
            else:
                self._copy_in_parts(name, source, size, sha256, until)
        except (BotoCoreError, ClientError) as exc:
            raise store.fail(exc, "sealing a clip") from None

    def _copy_in_parts(
        self, name: str, source: dict[str, str], size: int, sha256: str, until: datetime
    ) -> None:
        client, bucket = self._store.client, self._store.bucket
        upload = client.create_multipart_upload(
            Bucket=bucket, Key=name, Metadata=self._metadata(sha256)
        )["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, size, COPY_PART), start=1):
                end = min(start + COPY_PART, size) - 1
                copied = client.upload_part_copy(
                    Bucket=bucket,
                    Key=name,
                    UploadId=upload,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={start}-{end}",
                )
                parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
            client.complete_multipart_upload(
                Bucket=bucket, Key=name, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            client.abort_multipart_upload(Bucket=bucket, Key=name, UploadId=upload)
            raise

    def _result(
        self, key: str, name: str, versions: list[str], retain_until: datetime, copied: bool
    ) -> PutResult:
        """The evidence is the oldest version: lock it (again) and say whether it is ours."""
        store = self._store
        winner = versions[0]
        head = store.head(name, winner)
        lock = store.ensure_lock(name, winner, retain_until, lock_of(head))
        ours = head.get("Metadata", {}).get(WRITER_META) == self._token
        if copied and not ours:  # lost a race: our copy is redundant
            for version in versions[1:]:
                self._drop_own_copy(name, version)
        store.remember(name, winner)
        immutable = lock.mode == "COMPLIANCE"
        return PutResult(key, created=ours, immutable=immutable, version=winner)

    def _drop_own_copy(self, name: str, version: str) -> None:
        """Remove our redundant version where the service allows (it is unlocked on RGW);
        where it is locked it stays, a second copy of the same bytes, until it expires."""
        store = self._store
        head = store.head(name, version)
        if head.get("Metadata", {}).get(WRITER_META) != self._token or lock_of(head).mode:
            return
        with contextlib.suppress(BotoCoreError, ClientError):  # a redundant copy may stay
            store.client.delete_object(Bucket=store.bucket, Key=name, VersionId=version)

    # Dropping

    def abort(self) -> None:
        """Throw the upload away; errors leave debris that clean_debris() removes later."""
        store = self._store
        for part in self._parts:
            part.cancel()
        wait(self._parts)
        self._parts = []
        self._buf = None
        self._done = True
        try:
            if self._upload_id is not None:
                store.client.abort_multipart_upload(
                    Bucket=store.bucket, Key=self._staging, UploadId=self._upload_id
                )
                self._upload_id = None
            if self._staged_version is not None:
                remove_staged(store, self._staging, self._staged_version)
                self._staged_version = None
        except (BotoCoreError, ClientError):
            pass
        finally:
            with store.live_lock:
                store.live.discard(self._staging)


def remove_staged(store: LockedBucket, name: str, version: str) -> None:
    """Delete a completed staging version; one locked by a bucket default needs the bypass
    of its GOVERNANCE lock, and one under COMPLIANCE stays until it expires."""
    try:
        store.client.delete_object(Bucket=store.bucket, Key=name, VersionId=version)
    except ClientError as exc:
        if error_code(exc) != "AccessDenied":
            raise
        store.client.delete_object(
            Bucket=store.bucket, Key=name, VersionId=version, BypassGovernanceRetention=True
        )


def clean_staging(store: LockedBucket) -> list[str]:
    """Abort the uploads and delete the staging versions that no live writer holds: this
    station's whose process is gone, and any station's older than STALE_AFTER."""
    client, bucket, prefix = store.client, store.bucket, store.staging_prefix()
    stale = datetime.now(UTC) - STALE_AFTER
    removed: list[str] = []

    def is_debris(name: str, started: datetime) -> bool:
        alive = store.staging_owner_alive(name)
        return alive is False or (alive is None and started < stale)

    try:
        for page in client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            for upload in page.get("Uploads", []):
                if is_debris(upload["Key"], upload["Initiated"]):
                    client.abort_multipart_upload(
                        Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    removed.append(upload["Key"].removeprefix(prefix))
        for page in client.get_paginator("list_object_versions").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if is_debris(entry["Key"], entry["LastModified"]):
                    try:
                        remove_staged(store, entry["Key"], entry["VersionId"])
                    except ClientError:
                        continue  # locked by a bucket default retention: later
                    removed.append(entry["Key"].removeprefix(prefix))
    except (BotoCoreError, ClientError) as exc:
        raise store.fail(exc, "cleaning up interrupted uploads") from None
    return sorted(set(removed))
