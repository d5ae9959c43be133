"""Sealed records (base.py) in the S3 bucket: small COMPLIANCE-locked objects under
PREFIX/records/<name>. Like the evidence, a record is its OLDEST version: a second put of
the same name only adds a newer version, which no reader takes. Records are locked for as
long as the service can hold (MAX_RETAIN_UNTIL): they outlive a purged object, as the
proof of what it was and when it went."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vault.errors import ObjectMissing, StoreError
from vault.store.base import check_record_name
from vault.store.s3_bucket import MAX_RETAIN_UNTIL, lock_of
from vault.store.s3_put import md5_b64


class S3Records:
    """The record half of S3WormStore (s3.py), which supplies these attributes."""

    client: Any
    bucket: str
    prefix: str

    def fail(self, exc: BaseException, action: str) -> StoreError:
        raise NotImplementedError

    def versions(self, name: str) -> list[str]:
        raise NotImplementedError

    def head(self, name: str, version: str) -> dict[str, Any]:
        raise NotImplementedError

    def winner(self, name: str) -> str:
        raise NotImplementedError

    def name_of(self, key: str) -> str:
        raise NotImplementedError

    def _record_key(self, name: str) -> str:
        return f"{self.prefix}records/{check_record_name(name)}"

    def put_record(self, name: str, body: bytes) -> bool:
        key = self._record_key(name)
        if self.versions(key):
            if self.read_record(name) != body:
                raise StoreError(f"the store already holds another record {name}")
            return False
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentMD5=md5_b64(body),
                ContentType="application/json",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=MAX_RETAIN_UNTIL,
            )
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(exc, f"sealing the record {name}") from None
        return True

    def read_record(self, name: str) -> bytes:
        key = self._record_key(name)
        found = self.versions(key)
        if not found:
            raise ObjectMissing(f"the store holds no record {name}")
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=found[0])
            data: bytes = body["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(exc, f"reading the record {name}") from None
        return data

    def record_names(self, prefix: str) -> Iterator[str]:
        base = f"{self.prefix}records/"
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + (check_record_name(prefix) if prefix else "")
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"].removeprefix(base)
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(exc, f"listing the records under {prefix}") from None

    def protection(self, key: str) -> str | None:
        name = self.name_of(key)
        try:
            lock = lock_of(self.head(name, self.winner(name)))
        except ObjectMissing:
            return "missing"
        if lock.mode != "COMPLIANCE" or lock.until is None:
            return f"not locked in COMPLIANCE mode (mode {lock.mode or 'none'})"
        return None
