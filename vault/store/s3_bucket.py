"""The S3 side of the S3 store: the boto3 client, errors a records keeper can act on, and
the bucket checks behind `evault store check|init` (Object Lock, versioning, default
retention). Credentials come from boto3's own chain and never appear in a message."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from vault.config import StoreSettings
from vault.errors import StoreError
from vault.timeutil import as_utc

OBJECT_LOCK_HOWTO = (
    "Object Lock can only be turned on when a bucket is created: make a new one with "
    "`evault store init`, or `aws s3api create-bucket --bucket NAME "
    "--object-lock-enabled-for-bucket` (Ceph RGW and MinIO take the same request)"
)


# Ceph RGW (Pacific) keeps retain-until in 32-bit seconds: a later date wraps into the past
# and UNLOCKS the object (9999-12-31 became 1992). "Permanent" is held as this date instead.
MAX_RETAIN_UNTIL = datetime(2106, 1, 1, tzinfo=UTC)


def clamp(until: datetime) -> datetime:
    """The retain-until the service can hold: never later than MAX_RETAIN_UNTIL."""
    return min(as_utc(until), MAX_RETAIN_UNTIL)


@dataclass(frozen=True)
class Lock:
    """A version's Object Lock state as the service reports it."""

    mode: str | None
    until: datetime | None
    hold: bool


def lock_of(head: dict[str, Any]) -> Lock:
    until = head.get("ObjectLockRetainUntilDate")
    return Lock(
        head.get("ObjectLockMode"),
        as_utc(until) if until is not None else None,
        head.get("ObjectLockLegalHoldStatus") == "ON",
    )


class LockedBucket(Protocol):
    """What a writer and the staging cleaner (s3_put.py) need of the S3 store (s3.py), so
    that the store may use them without the two importing each other."""

    settings: StoreSettings
    bucket: str
    client: Any
    station: str
    parts: ThreadPoolExecutor  # part uploads in flight
    live: set[str]  # staging names of this process's unfinished writers
    live_lock: threading.Lock

    def fail(self, exc: BaseException, action: str) -> StoreError: ...

    def key_for(self, sha256: str) -> str: ...

    def name_of(self, key: str) -> str: ...

    def staging_prefix(self) -> str: ...

    def versions(self, name: str) -> list[str]: ...

    def head(self, name: str, version: str) -> dict[str, Any]: ...

    def ensure_lock(self, name: str, version: str, until: datetime, lock: Lock) -> Lock: ...

    def require_lock(self) -> str | None: ...

    def take_buffer(self) -> bytearray: ...

    def give_buffer(self, buffer: bytearray) -> None: ...

    def remember(self, name: str, version: str) -> None: ...

    def staging_owner_alive(self, name: str) -> bool | None: ...


class StoreUnavailable(StoreError):
    """The S3 service could not be reached or kept failing (network, gateway down, 5xx):
    nothing was sealed there, and the camera's copy must stay."""


def make_client(settings: StoreSettings) -> Any:
    """A thread-safe S3 client: path-style by default, Content-MD5 rather than the flexible
    checksums (Ceph RGW Pacific ignores those and rejects their aws-chunked trailers)."""
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": settings.addressing_style},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        connect_timeout=min(settings.timeout_s, 10.0),
        read_timeout=settings.timeout_s,
        max_pool_connections=2 * settings.upload_workers + 4,
        user_agent_extra="evidence-vault",
    )
    verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle else settings.verify_tls
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        verify=verify,
        config=config,
    )


def where(settings: StoreSettings) -> str:
    """How messages name the store: bucket and endpoint, never credentials."""
    endpoint = settings.endpoint_url or f"AWS S3 ({settings.region or 'default region'})"
    return f"bucket {settings.bucket!r} at {endpoint}"


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


def translate(exc: BaseException, action: str, settings: StoreSettings) -> StoreError:
    """One line saying what failed and what to do about it; no keys, no signatures."""
    from botocore import exceptions as bex

    place = where(settings)
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, bex.SSLError):
        return StoreError(
            f"TLS verification failed while {action} ({place}): set store.ca_bundle to the "
            "certificate authority of the endpoint"
        )
    if isinstance(exc, bex.ConnectionError | bex.HTTPClientError):
        return StoreUnavailable(
            f"the S3 service cannot be reached while {action} ({place}): "
            f"{type(exc).__name__}; check the network and the gateway, then dock again"
        )
    if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
        return StoreError(
            "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE with a shared credentials file, or give the station an instance role"
        )
    code, status = error_code(exc), http_status(exc)
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return StoreError(
            f"the S3 service rejected the credentials ({code}) while {action} ({place}): "
            "check the access key and secret the station uses"
        )
    if code in ("NoSuchBucket",):
        return StoreError(f"{place} does not exist: create it with `evault store init`")
    if code == "ObjectLockConfigurationNotFoundError":
        return StoreError(f"{place} has no Object Lock; {OBJECT_LOCK_HOWTO}")
    if code in ("AccessDenied", "403", "Forbidden"):
        return StoreError(
            f"the S3 service refused {action} ({place}, AccessDenied): check the permissions "
            "of the station's credentials on the bucket"
        )
    if code == "BadDigest":
        return StoreError(
            f"the S3 service received other bytes than were sent while {action} (BadDigest): "
            "the network or a proxy corrupts data; nothing was sealed"
        )
    if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
        return StoreUnavailable(
            f"the S3 service kept failing while {action} ({place}, {code or status}); "
            "check the gateway, then dock again"
        )
    message = getattr(exc, "response", {}).get("Error", {}).get("Message") if code else None
    detail = f"{code}: {message}" if message else code or type(exc).__name__
    return StoreError(f"S3 error while {action} ({place}): {detail}")


@dataclass
class BucketReport:
    """What `evault store check` found; ok only when the bucket can hold evidence."""

    bucket: str
    endpoint: str
    versioning: str | None = None
    object_lock: bool = False
    default_retention: str | None = None  # e.g. "COMPLIANCE 365 days"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "bucket": self.bucket,
            "endpoint": self.endpoint,
            "versioning": self.versioning,
            "object_lock": self.object_lock,
            "default_retention": self.default_retention,
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
        }


def default_retention_days(lock_config: dict[str, Any]) -> tuple[str, int] | None:
    """(mode, days) of a bucket's default retention, years counted as 365 days."""
    rule = lock_config.get("Rule", {}).get("DefaultRetention")
    if not rule:
        return None
    days = int(rule.get("Days") or 0) + 365 * int(rule.get("Years") or 0)
    return str(rule.get("Mode", "")), days


def check_bucket(client: Any, settings: StoreSettings) -> BucketReport:
    """Versioning on, Object Lock on, the default retention as configured (if it is)."""
    from botocore.exceptions import BotoCoreError, ClientError

    assert settings.bucket is not None
    report = BucketReport(settings.bucket, settings.endpoint_url or "AWS S3")
    bucket = settings.bucket
    try:
        versioning = client.get_bucket_versioning(Bucket=bucket).get("Status")
        report.versioning = versioning or "never enabled"
        try:
            lock = client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "ObjectLockConfigurationNotFoundError":
                raise
            lock = {}
    except (BotoCoreError, ClientError) as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            report.problems.append(
                f"{where(settings)} does not exist: create it with `evault store init`, "
                "which turns Object Lock on"
            )
            return report
        raise translate(exc, "checking the bucket", settings) from None
    report.object_lock = lock.get("ObjectLockEnabled") == "Enabled"
    if not report.object_lock:
        report.problems.append(f"{where(settings)} has no Object Lock; {OBJECT_LOCK_HOWTO}")
    if report.versioning != "Enabled":
        report.problems.append(f"versioning is {report.versioning}, it must be Enabled")
    default = default_retention_days(lock)
    if default:
        report.default_retention = f"{default[0]} {default[1]} days"
    wanted = settings.default_retention_days
    if wanted is not None and default != ("COMPLIANCE", wanted):
        report.problems.append(
            f"default retention is {report.default_retention or 'not set'}; store."
            f"default_retention_days asks for COMPLIANCE {wanted} days (`evault store init` "
            "sets it)"
        )
    if default and wanted is None:
        report.notes.append(
            "the bucket has a default retention: uploads in progress (staging/) are retained "
            "that long too where the service ignores the vault's shorter staging lock"
        )
    return report


def init_bucket(client: Any, settings: StoreSettings) -> tuple[bool, BucketReport]:
    """Create the bucket with Object Lock (and the configured default retention); then check.
    Returns (created, report). An existing bucket is only checked, never changed, except
    that a configured default retention is applied to it."""
    from botocore.exceptions import BotoCoreError, ClientError

    assert settings.bucket is not None
    created = False
    args: dict[str, Any] = {"Bucket": settings.bucket, "ObjectLockEnabledForBucket": True}
    if settings.region and settings.region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
    try:
        # us-east-1 (and RGW) answer 200 to re-creating one's own bucket: look first.
        client.head_bucket(Bucket=settings.bucket)
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise translate(exc, "looking for the bucket", settings) from None
        created = True
    except BotoCoreError as exc:
        raise translate(exc, "looking for the bucket", settings) from None
    try:
        if created:
            client.create_bucket(**args)
    except ClientError as exc:
        if error_code(exc) == "BucketAlreadyExists":
            raise StoreError(
                f"the bucket name {settings.bucket!r} is taken by another account; choose another"
            ) from None
        if error_code(exc) != "BucketAlreadyOwnedByYou":
            raise translate(exc, "creating the bucket", settings) from None
        created = False  # made by someone else with these credentials a moment ago
    except BotoCoreError as exc:
        raise translate(exc, "creating the bucket", settings) from None
    try:
        if settings.default_retention_days is not None:
            rule = {
                "DefaultRetention": {"Mode": "COMPLIANCE", "Days": settings.default_retention_days}
            }
            client.put_object_lock_configuration(
                Bucket=settings.bucket,
                ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule},
            )
        if created:  # crash debris of uploads is dropped by the service after a week
            client.put_bucket_lifecycle_configuration(
                Bucket=settings.bucket,
                LifecycleConfiguration={
                    "Rules": [
                        {
                            "ID": "evidence-vault-abort-stale-uploads",
                            "Status": "Enabled",
                            "Filter": {"Prefix": f"{settings.prefix}staging/"},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                        }
                    ]
                },
            )
    except (BotoCoreError, ClientError) as exc:
        raise translate(exc, "configuring the bucket", settings) from None
    return created, check_bucket(client, settings)
