"""The S3 store's own logic against moto (fast, in-process). moto does NOT enforce
COMPLIANCE locks, so WORM behaviour is proven against Ceph radosgw in
tests/integration/test_store_contract.py; here: the put path, IN-6, debris, errors."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vault.config import StoreSettings, parse_settings
from vault.errors import ConfigError, StoreError
from vault.store import s3_put
from vault.store.s3 import S3WormStore
from vault.store.s3_bucket import (
    MAX_RETAIN_UNTIL,
    StoreUnavailable,
    check_bucket,
    clamp,
    make_client,
)

moto = pytest.importorskip("moto")
MIB = 1024 * 1024
BUCKET = "evidence"
SECRET = "moto-secret-never-printed"
LATER = datetime.now(UTC) + timedelta(days=400)


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAMOTOTESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def settings(**extra: Any) -> StoreSettings:
    return StoreSettings(backend="s3", bucket=BUCKET, part_size=5 * MIB, max_attempts=1, **extra)


def bytes_bodies(params: dict[str, Any], **_: Any) -> None:
    """moto's request parser takes only bytes; the store sends its reused bytearray parts."""
    if isinstance(params.get("Body"), bytearray):
        params["Body"] = bytes(params["Body"])


def moto_client() -> Any:
    client = make_client(settings())
    client.meta.events.register("before-parameter-build.s3", bytes_bodies)
    return client


@pytest.fixture
def store() -> Iterator[S3WormStore]:
    with moto.mock_aws():
        client = moto_client()
        client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        yield S3WormStore(settings(), "station-01", client=client)


def seal(store: S3WormStore, data: bytes) -> Any:
    writer = store.begin_put()
    for start in range(0, len(data), 4 * MIB):
        writer.write(memoryview(data)[start : start + 4 * MIB])
    return writer.commit(hashlib.sha256(data).hexdigest(), len(data), LATER)


def staging(store: S3WormStore) -> list[str]:
    uploads = store.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    staged = store.client.list_object_versions(Bucket=BUCKET, Prefix="staging/")
    return [u["Key"] for u in uploads] + [v["Key"] for v in staged.get("Versions", [])]


def test_permanent_is_held_at_the_latest_date_the_service_can_keep() -> None:
    """RT-2/RT-4: RGW wraps dates after 2106 into the past, which would unlock the object."""
    assert clamp(datetime(9999, 12, 31, tzinfo=UTC)) == MAX_RETAIN_UNTIL
    assert clamp(LATER) == LATER


def test_small_clip_is_one_locked_put_carrying_its_sha256(store: S3WormStore) -> None:
    data = os.urandom(1000)
    result = seal(store, data)
    head = store.client.head_object(Bucket=BUCKET, Key=result.key, VersionId=result.version)
    assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert head["ObjectLockMode"] == "COMPLIANCE" and result.created and result.immutable
    assert staging(store) == []


def test_large_clip_is_staged_in_parts_then_copied_under_its_hash(store: S3WormStore) -> None:
    """IN-3: streamed in parts while hashed; the key follows from the hash at the end."""
    data = os.urandom(13 * MIB)
    result = seal(store, data)
    assert result.key == store.key_for(hashlib.sha256(data).hexdigest())
    assert store.verify(result.key, hashlib.sha256(data).hexdigest(), len(data)).ok
    assert staging(store) == [] and list(store.keys()) == [result.key]


def test_clip_beyond_the_single_copy_limit_is_copied_in_ranges(
    store: S3WormStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_put, "COPY_LIMIT", 6 * MIB)
    monkeypatch.setattr(s3_put, "COPY_PART", 5 * MIB)
    data = os.urandom(13 * MIB)
    result = seal(store, data)
    assert store.verify(result.key, hashlib.sha256(data).hexdigest(), len(data)).ok


def test_same_bytes_again_abort_the_upload_and_name_the_first_version(
    store: S3WormStore,
) -> None:
    """IN-6: nothing is completed for a duplicate, and no second version appears."""
    data = os.urandom(11 * MIB)
    first, second = seal(store, data), seal(store, data)
    assert first.created and not second.created and first.version == second.version
    versions = store.client.list_object_versions(Bucket=BUCKET, Prefix=first.key)["Versions"]
    assert len(versions) == 1 and staging(store) == []


def test_retention_is_never_shortened_by_the_vault(store: S3WormStore) -> None:
    key = seal(store, b"evidence").key
    with pytest.raises(StoreError, match="cannot be shortened"):
        store.extend_retention(key, LATER - timedelta(days=1))
    store.extend_retention(key, datetime(9999, 12, 31, tzinfo=UTC))
    assert store.stat(key).retain_until == MAX_RETAIN_UNTIL


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_debris_of_dead_writers_is_removed_but_live_and_foreign_uploads_stay(
    store: S3WormStore,
) -> None:
    client = store.client
    client.create_multipart_upload(Bucket=BUCKET, Key=f"staging/station-01/{dead_pid()}/crashed")
    client.put_object(Bucket=BUCKET, Key=f"staging/station-01/{dead_pid()}/completed", Body=b"x")
    foreign = "staging/station-02/1/elsewhere"  # another station's: only age makes it debris
    client.put_object(Bucket=BUCKET, Key=foreign, Body=b"y")
    live = store.begin_put()
    live.write(os.urandom(6 * MIB))
    removed = store.clean_debris()
    assert len(removed) == 2 and all("station-01" in name for name in removed)
    left = staging(store)
    assert foreign in left and len(left) == 2  # the foreign one and the live one
    live.abort()
    assert staging(store) == [foreign]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint_fails_the_clip_clearly_without_credentials() -> None:
    """IN-2: a clear 'cannot be reached' (the pipeline keeps the camera's copy), and neither
    the secret nor the access key appears in any message."""
    config = settings(endpoint_url=f"http://127.0.0.1:{free_port()}", timeout_s=2)
    store = S3WormStore(config, "station-01")
    writer = store.begin_put()
    writer.write(b"clip")
    with pytest.raises(StoreUnavailable, match="cannot be reached") as caught:
        writer.commit(hashlib.sha256(b"clip").hexdigest(), 4, LATER)
    result = store.verify(store.key_for("0" * 64), "0" * 64)
    assert not result.ok and result.reason and "cannot be reached" in result.reason
    for text in (str(caught.value), result.reason):
        assert SECRET not in text and "AKIAMOTOTESTING" not in text
    assert store.clean_debris() == []  # best effort: the next run tries again


def test_bucket_without_object_lock_is_refused_with_how_to_make_one() -> None:
    with moto.mock_aws():
        client = moto_client()
        client.create_bucket(Bucket=BUCKET)
        report = check_bucket(client, settings())
        assert not report.ok and "no Object Lock" in report.problems[0]
        assert "evault store init" in report.problems[0]
        writer = S3WormStore(settings(), "station-01", client=client).begin_put()
        writer.write(b"clip")
        with pytest.raises(StoreError, match="no Object Lock"):
            writer.commit(hashlib.sha256(b"clip").hexdigest(), 4, LATER)


def test_s3_settings_need_a_bucket_and_refuse_credentials_in_the_url() -> None:
    with pytest.raises(ConfigError, match=r"needs store\.bucket"):
        parse_settings({"store": {"backend": "s3"}})
    with pytest.raises(ConfigError, match="must not contain credentials") as caught:
        parse_settings(
            {"store": {"backend": "s3", "bucket": "b", "endpoint_url": "https://k:s3cr3t@rgw"}}
        )
    assert "s3cr3t" not in str(caught.value)
    assert parse_settings({"store": {"prefix": "/vault/st-01/"}}).store.prefix == "vault/st-01/"


def test_copy_left_unlocked_by_a_crash_is_not_verified_until_the_next_put_locks_it(
    store: S3WormStore,
) -> None:
    """IN-2: a crash between the server-side copy and the lock leaves an unlocked object;
    it never counts as verified (the camera keeps the clip), and the next dock locks it."""
    data = os.urandom(2000)
    sha = hashlib.sha256(data).hexdigest()
    store.client.put_object(Bucket=BUCKET, Key=store.key_for(sha), Body=data)
    result = store.verify(store.key_for(sha), sha, len(data))
    assert not result.ok and result.reason == "the sealed copy is not locked (S3)"
    again = seal(store, data)
    assert not again.created and again.immutable
    assert store.verify(again.key, sha, len(data)).ok
