"""The local spool for S3 outages, on a real Ceph radosgw: clips sealed while the service is
down stay on the camera, the uploader moves them to S3 and verifies them there, and only a
later docking erases the camera (IN-2, IN-3)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlmodel import select

from tests.conftest import store_derivative
from tests.integration.conftest import S3Service
from tests.integration.test_ingest_s3 import left_on, s3_vault
from vault.db.models import Derivative, Evidence
from vault.errors import RetentionLocked
from vault.ingest.pipeline import ingest_volume
from vault.store.spool import SPOOL, SpoolFull
from vault.timeutil import FixedClock
from vault.uploader import drain

pytestmark = pytest.mark.s3


def closed_port() -> str:
    """An address where nothing listens: the S3 service as seen during an outage."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_outage_spools_keeps_the_camera_and_the_uploader_finishes_the_job(
    home: Path, clock: FixedClock, s3_service: S3Service, s3_bucket: str, camera: Path
) -> None:
    before = left_on(camera)
    down = s3_vault(home, clock, s3_service, s3_bucket, endpoint_url=closed_port())
    report = ingest_volume(down, camera, erase=True)
    assert report.failed == [] and report.erased == []
    assert all(c.spooled and c.verified for c in report.clips)
    assert left_on(camera) == before  # IN-2: nothing erased until the S3 copy verifies
    with down.session() as session:
        rows = list(session.exec(select(Evidence)))
    assert {r.storage_backend for r in rows} == {"spool"}
    assert all(r.storage_key.startswith(SPOOL) for r in rows)
    with pytest.raises(RetentionLocked, match="leaves only by being uploaded"):
        down.store.delete(rows[0].storage_key, clock.now())
    assert rows[0].id is not None
    poster = store_derivative(down, rows[0].id, "poster", b"a poster made during the outage")
    assert poster.storage_key.startswith(SPOOL)
    # Issue 15: the seal records and anchors of the outage wait in the spool, and go up too.
    sealed = sorted(down.store.record_names("seal/"))
    assert len(sealed) == len(rows) and list(down.store.record_names("anchor/audit/"))
    assert sorted(down.store.spool.record_names("seal/")) == sealed  # type: ignore[attr-defined]

    up = s3_vault(home, clock, s3_service, s3_bucket)
    drained = drain(up)
    assert sorted(up.store.primary.record_names("seal/")) == sealed  # type: ignore[attr-defined]
    assert not list(up.store.spool.record_names("seal/"))  # type: ignore[attr-defined]
    assert sorted(drained.uploaded) == sorted(r.id for r in rows) and drained.left == 0
    with up.session() as session:
        rows = list(session.exec(select(Evidence)))
    assert {r.storage_backend for r in rows} == {"s3"}
    for row in rows:
        assert row.storage_version and up.store.verify(row.storage_key, row.sha256, row.size).ok
        assert up.store.stat(row.storage_key).immutable  # COMPLIANCE-locked
    assert list(up.settings.spool_path.glob("objects/sha256/*/*/*")) == []
    with up.session() as session:
        moved = session.get_one(Derivative, poster.id)
    assert not moved.storage_key.startswith(SPOOL)
    assert up.store.verify(moved.storage_key, moved.sha256, moved.size).ok

    again = ingest_volume(up, camera, erase=True)
    assert {c.status for c in again.clips} == {"already_sealed"}
    assert len(again.erased) == 6 and not any(c.spooled for c in again.clips)


def test_a_full_spool_takes_no_camera_and_touches_nothing(
    home: Path, clock: FixedClock, s3_service: S3Service, s3_bucket: str, camera: Path
) -> None:
    before = left_on(camera)
    full = s3_vault(
        home, clock, s3_service, s3_bucket, endpoint_url=closed_port(), spool_min_free_mb=10**9
    )
    with pytest.raises(SpoolFull, match="not sealing more"):
        ingest_volume(full, camera, erase=True)
    assert left_on(camera) == before
    with full.session() as session:
        assert list(session.exec(select(Evidence))) == []


def test_drain_while_the_service_is_still_down_keeps_everything_spooled(
    home: Path, clock: FixedClock, s3_service: S3Service, s3_bucket: str, camera: Path
) -> None:
    down = s3_vault(home, clock, s3_service, s3_bucket, endpoint_url=closed_port())
    ingest_volume(down, camera)
    result = drain(down)
    assert result.uploaded == [] and result.left == 5
    with down.session() as session:
        assert {r.storage_backend for r in session.exec(select(Evidence))} == {"spool"}


def test_bytes_already_in_s3_spooled_again_during_an_outage_leave_no_orphan(
    home: Path, clock: FixedClock, s3_service: S3Service, s3_bucket: str, camera: Path
) -> None:
    """Found by scripts/faults (s3_down): a clip sealed in S3, then the same bytes read again
    while S3 is down (the camera's IMP copy, or a re-dock) were written to the spool, recorded
    as a duplicate, and the spool copy was left with no record pointing at it."""
    up = s3_vault(home, clock, s3_service, s3_bucket)
    first = ingest_volume(up, camera)
    assert first.failed == [] and not any(c.spooled for c in first.clips)
    down = s3_vault(home, clock, s3_service, s3_bucket, endpoint_url=closed_port())
    again = ingest_volume(down, camera)
    assert again.failed == []
    assert {c.status for c in again.clips} <= {"already_sealed", "duplicate"}
    with down.session() as session:
        rows = list(session.exec(select(Evidence)))
    assert all(not r.storage_key.startswith(SPOOL) for r in rows)
    assert list(down.store.spool.keys()) == []  # type: ignore[attr-defined]
