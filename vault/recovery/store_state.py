"""What only the WORM store can say of a sealed object now, for `evault store
rebuild-index` (rebuild.py): where its bytes are, the retention and hold the store keeps,
and whether the purge deleted it (the store's deleted/ records)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vault.errors import ObjectMissing
from vault.recovery.inventory import deleted_records
from vault.store import WormStore
from vault.store.base import ObjectInfo
from vault.store.s3_bucket import MAX_RETAIN_UNTIL

# A retain-until this late is "permanent" (the database's None): the local store keeps
# PERMANENT (9999-12-31), S3 the latest date the service can hold.
PERMANENT_FROM = MAX_RETAIN_UNTIL


def deleted(store: WormStore, bad: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """What the store says it deleted (the purge), by SHA-256: the latest record of each;
    records that are not such records go to BAD as (name, reason)."""
    return deleted_records(store, bad)


def locate(store: WormStore, key: str, sha256: str) -> tuple[str, ObjectInfo] | None:
    """Where the object is now and what the store holds of it: under the key its record
    names, or (a spooled copy since uploaded) under the store's own key."""
    for candidate in dict.fromkeys((key, store.key_for(sha256))):
        try:
            return candidate, store.stat(candidate)
        except ObjectMissing:
            continue
    return None


def as_date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def retain_until(until: datetime | None) -> datetime | None:
    return None if until is None or until >= PERMANENT_FROM else until


def place(store: WormStore, row: dict[str, Any], purged: dict[str, dict[str, Any]]) -> str | None:
    """Point ROW at its object as the store holds it now; "purged" (PURGED: deleted()) or
    "missing" when it is gone."""
    found = locate(store, str(row["storage_key"]), str(row["sha256"]))
    if found is not None:
        key, info = found
        if key != row["storage_key"]:
            row["storage_key"], row["storage_version"] = key, None
            if "storage_backend" in row:
                row["storage_backend"] = "spool" if key.startswith("spool:") else store.backend
        row["purged_at"] = None
        if "retain_until" in row:
            row["retain_until"] = retain_until(info.retain_until)
            row["legal_hold"] = info.legal_hold
            row["immutable_applied"] = info.immutable
        return None
    gone = purged.get(str(row["sha256"]))
    if gone is not None:
        row["purged_at"] = as_date(gone.get("deleted_at"))
        if "retain_until" in row:
            row["retain_until"] = retain_until(as_date(gone.get("retain_until")))
            row["legal_hold"] = False
        return "purged"
    if "retain_until" in row:  # the store cannot say: kept indefinitely, never purged
        row["retain_until"], row["legal_hold"] = None, False
    return "missing"


def unsealed(store: WormStore, sealed: set[str]) -> list[str]:
    """Objects no seal record names: sealed before seal records existed."""
    return [
        key
        for key in store.keys()  # noqa: SIM118 (a store)
        if key.rpartition("/")[2] not in sealed
    ]
