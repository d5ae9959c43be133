"""The WormStore contract every backend keeps: the station's own disk (local.py), an S3
Object Lock bucket (s3.py), and S3 with a local spool for outages (spool.py).

Objects are addressed by the SHA-256 of their bytes. A store refuses by itself to
overwrite an object, to delete one before its retain-until or under a legal hold,
and to shorten a retention (IN-3, RT-4): callers cannot talk it out of that.

Beside the objects a store keeps sealed records: small JSON documents under names like
"seal/ab/<sha256>/<event>.json" or "anchor/audit/<seq>.json", written once and never
replaced or removed (vault.sealing says what they hold). They are the copy of the facts
about each object that a forged or lost database cannot take away (issue 15).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from vault.errors import StoreError

RECORD_NAME_RE = re.compile(r"^[a-z]+(/[A-Za-z0-9._-]{1,128}){0,6}$")


def check_record_name(name: str) -> str:
    """A record name, or a folder of them ("seal/ab/"): plain segments, no way out."""
    bare = name.removesuffix("/")
    if not RECORD_NAME_RE.match(bare) or {".", ".."} & set(bare.split("/")):
        raise StoreError(f"not a record name: {name!r}")
    return name


@dataclass(frozen=True)
class PutResult:
    key: str
    created: bool  # False: the same bytes were already sealed (IN-6)
    immutable: bool  # whether the platform's immutability (chattr +i, Object Lock) is on
    version: str | None = None  # the object version that holds the bytes (S3 VersionId)
    backend: str | None = None  # where the bytes went, when not the store's own backend


@dataclass(frozen=True)
class VerifyResult:
    key: str
    ok: bool
    sha256: str | None  # what the stored bytes hash to; None when they could not be read
    size: int | None
    reason: str | None = None


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    retain_until: datetime | None  # None: never deletable (the record of it is missing)
    legal_hold: bool
    immutable: bool


class ObjectWriter(Protocol):
    """One object being streamed in. Nothing is visible under a key until commit()."""

    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self, sha256: str, size: int, retain_until: datetime) -> PutResult:
        """Make the bytes durable and visible under the key of sha256 (computed by the caller)."""
        ...

    def abort(self) -> None:
        """Throw the partial object away; safe to call after a failed write or twice."""
        ...


class WormStore(Protocol):
    backend: str

    def key_for(self, sha256: str) -> str: ...

    def begin_put(self, size: int | None = None) -> ObjectWriter:
        """Start an object; SIZE, when known, is the bytes to come: a store that can takes
        the room for them now, so an object that cannot fit fails before it writes a byte
        (and never fills the disk under another object's seal)."""
        ...

    def exists(self, key: str) -> bool: ...

    def stat(self, key: str) -> ObjectInfo: ...

    def open(self, key: str) -> BinaryIO: ...

    def verify(
        self, key: str, expected_sha256: str, expected_size: int | None = None
    ) -> VerifyResult:
        """Re-read the stored bytes and re-hash them."""
        ...

    def extend_retention(self, key: str, retain_until: datetime) -> None:
        """Move retain-until later; an earlier date is refused (RT-4)."""
        ...

    def set_legal_hold(self, key: str, on: bool) -> None: ...

    def delete(self, key: str, now: datetime) -> None:
        """Remove an object whose retention has run out and which no hold covers."""
        ...

    def keys(self) -> Iterator[str]: ...

    def put_record(self, name: str, body: bytes) -> bool:
        """Seal a record under NAME, never replacing one: True when written, False when NAME
        already holds these very bytes; StoreError when it holds other bytes."""
        ...

    def read_record(self, name: str) -> bytes:
        """The record's bytes as first sealed (ObjectMissing when there is none)."""
        ...

    def record_names(self, prefix: str) -> Iterator[str]:
        """The names of the records under PREFIX (a folder such as "seal/" or
        "anchor/audit/"), in name order."""
        ...

    def protection(self, key: str) -> str | None:
        """How the object is protected now, read from the platform rather than from any
        record: None when it is as sealed, else what is wrong ("not immutable", ...)."""
        ...

    def clean_debris(self) -> list[str]:
        """Drop partial writes a crash left behind (never a sealed object, never a live write)."""
        ...

    def provisional(self, key: str) -> bool:
        """Whether KEY holds bytes only until they move to the store proper (the spool's
        copies during an S3 outage): the camera keeps such a clip. False for a plain store."""
        ...

    def release_unrecorded(self, key: str) -> None:
        """Drop a provisional copy that no record points at: bytes put aside during an
        outage that turned out to be sealed already. A plain store keeps nothing
        provisional, so it has nothing to drop."""
        ...


class PlainStore:
    """The provisional part of the contract for a store whose every object stays where it
    was put (all but the spool): nothing is provisional, nothing to drop."""

    def provisional(self, key: str) -> bool:
        return False

    def release_unrecorded(self, key: str) -> None:
        return None
