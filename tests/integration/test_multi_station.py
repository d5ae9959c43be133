"""Several stations on one database (issue 9): the same bytes from two stations give one
evidence row, two media workers never take one job, the audit chain and the access register
stay one unbroken chain, and two purge jobs delete each original exactly once.

Each test runs on whichever database the pass uses (SQLite, or PostgreSQL with
EVAULT_TEST_DATABASE=postgresql), with real concurrent sessions in threads: on SQLite they
take turns at BEGIN IMMEDIATE, on PostgreSQL they truly interleave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from tests.conftest import TEST_DATABASE, database_url_for, make_settings
from tests.integration.test_retention_purge import old_camera
from tests.purge_lists import approve_due
from vault.access import register, signing
from vault.cases import retention
from vault.cases.purge import purge
from vault.context import Vault
from vault.db import audit
from vault.db.models import AuditEvent, DockSession, Evidence, MediaJob, PurgeRecord, Sighting
from vault.ingest import records
from vault.ingest.pipeline import ingest_volume
from vault.media import jobs
from vault.timeutil import FixedClock

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def shared(tmp_path: Path) -> dict[str, object]:
    """What every station's settings share: one database, one store, one register key."""
    url = database_url_for(tmp_path / "db") or f"sqlite:///{tmp_path / 'shared.db'}"
    assert url.startswith(TEST_DATABASE)  # the PostgreSQL pass really uses PostgreSQL
    return {
        "database": {"url": url},
        "store": {"path": str(tmp_path / "store")},
        "access": {"signing_key": str(tmp_path / "register-signing.key")},
    }


def station(tmp_path: Path, shared: dict[str, object], name: str, clock: FixedClock) -> Vault:
    home = tmp_path / name
    home.mkdir(exist_ok=True)
    settings = make_settings(home, **shared)  # type: ignore[arg-type]
    settings = settings.model_copy(update={"station_id": name})
    return Vault(settings, clock=clock, user="tester")


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment in threads; re-raise the first failure."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(run, c) for c in calls]]


def dock_row(session: Session, station_id: str) -> DockSession:
    dock = DockSession(station_id=station_id, profile="zfy-ref", volume="/v", started_at=NOW)
    session.add(dock)
    session.commit()
    return dock


def clip(sha: str) -> records.SealedClip:
    return records.SealedClip(
        sha256=sha,
        size=4096,
        kind="video",
        path="DCIM/100ANDRO/3100001_010203_20261123150000_0001.MP4",
        file_name="3100001_010203_20261123150000_0001.MP4",
        folder="DCIM/100ANDRO",
        important=False,
        sequence="0001",
        camera_time=None,
        camera_time_source="none",
        recorded_at=NOW,
        recorded_at_corrected=NOW,
        mtime=None,
        officer_pk=None,
        storage_backend="local",
        storage_key=f"sha256/{sha[:2]}/{sha[2:4]}/{sha}",
        storage_version=None,
        immutable=False,
        retain_until=NOW + timedelta(days=400),
    )


def test_same_bytes_from_two_stations_at_once_give_one_evidence_row(
    tmp_path: Path, shared: dict[str, object], clock: FixedClock
) -> None:
    """IN-6: station B looks for the hash while A's row is not yet committed and inserts its
    own; the unique sha256 refuses B's row (on PostgreSQL once A commits; on SQLite B waits
    at BEGIN IMMEDIATE and finds A's row) and B links to A's row instead of failing."""
    a, b = (station(tmp_path, shared, n, clock) for n in ("station-a", "station-b"))
    sha = "ab" * 32
    with a.session() as sa, b.session() as sb:
        dock_a, dock_b = dock_row(sa, "station-a"), dock_row(sb, "station-b")
        # A has inserted, flushed and appended its audit event, but not committed yet.
        mine, outcome_a = records.record_sealed(
            sa, dock_a, clip(sha), NOW, a.actor("ingest"), False, a.store
        )
        assert outcome_a == "sealed"
        with ThreadPoolExecutor(1) as pool:
            theirs = pool.submit(
                records.commit_sealed, sb, dock_b, clip(sha), NOW, b.actor("ingest"), False, b.store
            )
            # B is now blocked (row lock or write lock) behind A: it cannot have finished.
            with pytest.raises(TimeoutError):
                theirs.result(timeout=1.0)
            sa.commit()
            evidence_b, outcome_b = theirs.result(timeout=60)
    assert outcome_b == "already_sealed" and evidence_b.id == mine.id
    with a.session() as session:
        assert session.exec(select(func.count()).select_from(Evidence)).one() == 1
        sightings = session.exec(select(Sighting)).all()
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    assert sorted(s.outcome for s in sightings) == ["already_sealed", "sealed"]
    assert [e.action for e in events] == ["evidence.sealed"]  # B's failed insert left nothing
    assert audit.check_chain(events) == []


def test_two_stations_ingesting_copies_of_one_camera_at_once_agree(
    tmp_path: Path, shared: dict[str, object]
) -> None:
    """The camera's clips read at two stations at the same moment (a docking copied, or the
    same card in two readers): one evidence row per clip, two sightings, every clip sealed
    by exactly one of them and "already_sealed" at the other, all verified."""
    past = datetime.now(UTC) - timedelta(days=3)
    volume = old_camera(tmp_path / "cam-a", past, 8)
    copy = old_camera(tmp_path / "cam-b", past, 0)
    for path in (volume / "DCIM" / "100ANDRO").iterdir():
        (copy / "DCIM" / "100ANDRO" / path.name).write_bytes(path.read_bytes())
    clock = FixedClock(past)
    a, b = (station(tmp_path, shared, n, clock) for n in ("station-a", "station-b"))
    report_a, report_b = together(lambda: ingest_volume(a, volume), lambda: ingest_volume(b, copy))
    assert not report_a.failed and not report_b.failed
    by_path = {c.path: c for c in report_a.clips}
    for theirs in report_b.clips:
        mine = by_path[theirs.path]
        assert mine.evidence_id == theirs.evidence_id and mine.sha256 == theirs.sha256
        assert sorted([mine.status, theirs.status]) == ["already_sealed", "sealed"]
    with a.session() as session:
        rows = session.exec(select(Evidence)).all()
        assert len(rows) == 8 and {r.status for r in rows} == {"verified"}
        assert session.exec(select(func.count()).select_from(Sighting)).one() == 16
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    assert audit.check_chain(events) == []
    assert sum(e.action == "evidence.sealed" for e in events) == 8
    assert {e.station_id for e in events} == {"station-a", "station-b"}


def queue_jobs(vault: Vault, count: int) -> set[int]:
    with vault.session() as session:
        dock = dock_row(session, vault.settings.station_id)
        assert dock.id is not None
        for n in range(count):
            sealed = clip(f"{n:064x}")
            session.add(
                Evidence(
                    sha256=sealed.sha256,
                    size=sealed.size,
                    kind="video",
                    dock_session_id=dock.id,
                    file_name=f"f{n}.MP4",
                    camera_folder="DCIM",
                    docked_at=NOW,
                    sealed_at=NOW,
                    storage_backend="local",
                    storage_key=sealed.storage_key,
                )
            )
        session.commit()
        ids = [e for e in session.exec(select(Evidence.id)).all() if e is not None]
        queued = {jobs.enqueue(session, evidence_id, "probe", NOW).id or 0 for evidence_id in ids}
        session.commit()
    return queued


def test_concurrent_media_workers_never_take_one_job(
    tmp_path: Path, shared: dict[str, object], clock: FixedClock
) -> None:
    """Four workers on two stations drain one queue at once: every job taken exactly once."""
    vaults = [station(tmp_path, shared, f"station-{n}", clock) for n in range(2)]
    queued = queue_jobs(vaults[0], 60)

    def worker(vault: Vault, name: str) -> list[int]:
        taken = []
        with vault.session() as session:
            while (job := jobs.claim(session, name, NOW)) is not None:
                assert job.id is not None
                taken.append(job.id)
                assert jobs.finish(session, job.id, name, NOW)
                session.commit()
        return taken

    results = together(*(lambda n=n: worker(vaults[n % 2], f"w{n}") for n in range(4)))
    every = [job_id for taken in results for job_id in taken]
    assert sorted(every) == sorted(queued)  # none twice, none left
    with vaults[1].session() as session:
        states = session.exec(select(MediaJob.state, MediaJob.attempts)).all()
    assert set(states) == {("done", 1)}


@pytest.mark.skipif(TEST_DATABASE != "postgresql", reason="SQLite lets one writer in at a time")
def test_a_claimed_row_is_skipped_not_waited_for(
    tmp_path: Path, shared: dict[str, object], clock: FixedClock
) -> None:
    """FOR UPDATE SKIP LOCKED: while one worker's claim holds the oldest job's row, another
    worker takes the next job at once instead of queueing behind it."""
    a, b = (station(tmp_path, shared, n, clock) for n in ("station-a", "station-b"))
    first, second = sorted(queue_jobs(a, 2))
    with a.session() as holder, b.session() as other:
        locked = holder.exec(select(MediaJob).where(MediaJob.id == first).with_for_update()).one()
        assert locked.id == first
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(jobs.claim, other, "b", NOW).result(timeout=10)
        assert job is not None and job.id == second
        holder.rollback()


def test_audit_chain_and_register_stay_one_chain_under_concurrent_appends(
    tmp_path: Path, shared: dict[str, object], clock: FixedClock
) -> None:
    """AC-7: four stations appending at once; each append reads the head its predecessor
    committed (PostgreSQL: unique prev_hash would otherwise fail one of two racing writers)."""
    vaults = [station(tmp_path, shared, f"station-{n}", clock) for n in range(4)]
    # The stations share the register's signing key (docs/OPERATIONS.md, "Deployment at scale").
    signing.load_private_key(signing.key_path(vaults[0].settings), create=True)
    rounds = 15

    def append_many(vault: Vault) -> None:
        for n in range(rounds):
            with vault.session() as session:
                audit.append(session, vault.actor("t"), at=NOW, action="test", detail={"n": n})
                session.commit()
            with vault.session() as session:
                register.append(vault, session, "view", who=vault.settings.station_id, what="x")
                session.commit()

    together(*(lambda v=v: append_many(v) for v in vaults))
    with vaults[0].session() as session:
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    assert len(events) == 4 * rounds and audit.check_chain(events) == []
    report = register.verify(vaults[0])
    assert report.ok, report.problems
    assert report.entries == 4 * rounds


def test_two_stations_purging_at_once_delete_each_original_once(
    tmp_path: Path, shared: dict[str, object]
) -> None:
    """RT-5: both stations' daily purge runs at the same moment: every expired original is
    deleted by exactly one job, with one purge record and one audit event, and neither fails."""
    past = datetime.now(UTC) - timedelta(days=800)
    seal = station(tmp_path, shared, "station-a", FixedClock(past))
    report = ingest_volume(seal, old_camera(tmp_path / "cam", past, 12))
    ids = sorted({c.evidence_id for c in report.clips})
    now = FixedClock(datetime.now(UTC))
    a, b = (station(tmp_path, shared, n, now) for n in ("station-a", "station-b"))
    # Media work would otherwise keep derivatives in play; here only originals matter.
    assert approve_due(a) is not None  # RT-1: both run the one signed list
    results = together(lambda: purge(a, dry_run=False), lambda: purge(b, dry_run=False))
    deleted = [d["evidence_id"] for r in results for d in r.deleted]
    assert sorted(deleted) == ids  # each exactly once between the two
    with a.session() as session:
        records_ = session.exec(select(PurgeRecord)).all()
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
        purged = session.exec(select(Evidence).where(col(Evidence.purged_at).is_not(None))).all()
    assert sorted(r.evidence_id for r in records_) == ids
    assert {r.state for r in records_} == {"deleted"} and len(purged) == len(ids)
    assert sum(e.action == "evidence.purged" for e in events) == len(ids)
    assert audit.check_chain(events) == []
    assert list(a.store.keys()) == []


def test_a_retention_change_waits_for_another_stations_change_to_the_same_clip(
    tmp_path: Path, shared: dict[str, object], camera: Path
) -> None:
    """RT-4 across stations: a change that recomputes retention locks the clip's row, so a
    second station's change waits and then builds on the first instead of overwriting it."""
    clock = FixedClock(NOW)
    a, b = station(tmp_path, shared, "st-a", clock), station(tmp_path, shared, "st-b", clock)
    evidence_id = ingest_volume(a, camera).clips[0].evidence_id
    classified = threading.Event()

    def classify_on_b() -> None:
        retention.classify(b, evidence_id, "long_term", "dispute", "party disputes the record")
        classified.set()

    with a.session() as session:
        retention.get_evidence(session, evidence_id, lock=True)  # station A is changing it
        worker = threading.Thread(target=classify_on_b)
        worker.start()
        assert not classified.wait(1.5)  # B waits for A's transaction
        session.commit()
    worker.join(30)
    assert classified.is_set()
    hold = retention.place_hold(a, evidence_id, "complaint under review")
    with a.session() as session:
        row = session.get_one(Evidence, evidence_id)
    assert row.retention_class == "long_term" and row.legal_hold and hold.id is not None
