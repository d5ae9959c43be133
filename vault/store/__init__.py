"""WORM stores: the single source of truth for the bytes of every sealed original."""

from __future__ import annotations

from vault.config import Settings
from vault.store.base import ObjectInfo, ObjectWriter, PutResult, VerifyResult, WormStore
from vault.store.local import LocalWormStore

__all__ = [
    "LocalWormStore",
    "ObjectInfo",
    "ObjectWriter",
    "PutResult",
    "VerifyResult",
    "WormStore",
    "open_store",
]


def open_store(settings: Settings) -> WormStore:
    """The store the settings name: the station's own disk, or an S3 Object Lock bucket."""
    if settings.store.backend == "s3":
        from vault.store.s3 import S3WormStore  # boto3 loads only where it is used

        primary = S3WormStore(settings.store, settings.station_id)
        if not settings.store.spool:
            return primary
        from vault.store.spool import SpoolingStore

        spool = LocalWormStore(
            settings.spool_path, immutable=settings.store.immutable, drop_cache_on_verify=True
        )
        return SpoolingStore(primary, spool, settings.store.spool_min_free_mb * 2**20)
    return LocalWormStore(
        settings.store_path,
        immutable=settings.store.immutable,
        drop_cache_on_verify=settings.ingest.verify_readback == "disk",
    )
