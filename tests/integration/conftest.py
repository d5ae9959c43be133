"""A real S3 Object Lock service for the integration tests: Ceph radosgw on 127.0.0.1.

EVAULT_TEST_S3_ENDPOINT (with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) names one that is
already running; otherwise scripts/start-test-s3 installs Ceph and starts a throwaway
cluster once per session, and scripts/stop-test-s3 removes it at the end. If that is not
possible the S3 tests fail (CI=true) or skip, saying why. Each test gets a fresh bucket:
a bucket's locked objects outlive the test, the cluster does not.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT

START = ROOT / "scripts" / "start-test-s3"
STOP = ROOT / "scripts" / "stop-test-s3"
MIB = 1024 * 1024


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "s3: needs an S3 Object Lock service (Ceph radosgw)")


@dataclass(frozen=True)
class S3Service:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self) -> Any:
        """A plain boto3 client with the vault's own credentials (what an intruder on the
        station would hold)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 2},
            ),
        )

    def store_settings(self, bucket: str, **extra: object) -> dict[str, object]:
        """[store] settings for a vault on this service (small parts: tests use small clips)."""
        return {
            "backend": "s3",
            "endpoint_url": self.endpoint,
            "region": self.region,
            "bucket": bucket,
            "part_size": 5 * MIB,
            "max_attempts": 2,
            "timeout_s": 20,
            **extra,
        }


def _parse_exports(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if line.startswith("export ") and sep:
            found[name] = value
    return found


@pytest.fixture(scope="session")
def s3_service_or_reason() -> Iterator[S3Service | str]:
    if endpoint := os.environ.get("EVAULT_TEST_S3_ENDPOINT"):
        access, secret = (
            os.environ.get("AWS_ACCESS_KEY_ID"),
            os.environ.get("AWS_SECRET_ACCESS_KEY"),
        )
        if not (access and secret):
            yield "EVAULT_TEST_S3_ENDPOINT is set, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not"
            return
        yield S3Service(endpoint, access, secret, os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        return
    try:
        started = subprocess.run(
            [str(START)], capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        yield f"scripts/start-test-s3 could not run: {exc}"
        return
    env = _parse_exports(started.stdout)
    if started.returncode != 0 or "EVAULT_TEST_S3_ENDPOINT" not in env:
        tail = "\n".join(started.stderr.strip().splitlines()[-12:])
        yield f"scripts/start-test-s3 failed (exit {started.returncode}):\n{tail}"
        return
    try:
        yield S3Service(
            env["EVAULT_TEST_S3_ENDPOINT"],
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
    finally:
        subprocess.run([str(STOP), env["EVAULT_TEST_S3_DIR"]], capture_output=True, check=False)


@pytest.fixture
def s3_service(s3_service_or_reason: S3Service | str, monkeypatch: pytest.MonkeyPatch) -> S3Service:
    """The service, with its keys in the environment for boto3's credential chain."""
    if isinstance(s3_service_or_reason, str):
        reason = f"no S3 Object Lock service for the S3 tests: {s3_service_or_reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    service = s3_service_or_reason
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", service.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", service.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", service.region)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return service


@pytest.fixture
def s3_bucket(s3_service: S3Service) -> str:
    """A fresh bucket with Object Lock (and so versioning) on."""
    name = f"evt-{uuid.uuid4().hex[:16]}"
    s3_service.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name
