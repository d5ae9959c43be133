"""The persistent media queue: idempotent enqueue, one claimant per job, backoff, give-up,
and taking back jobs of dead workers (sealing never waits for any of it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from vault.context import Vault
from vault.db.models import DockSession, Evidence, MediaJob
from vault.media import jobs

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def add_evidence(session: Session, kind: str = "video", n: int = 1) -> Evidence:
    dock = DockSession(station_id="s", profile="p", volume="/v", started_at=NOW)
    session.add(dock)
    session.flush()
    evidence = Evidence(
        sha256=f"{n:064x}",
        size=1,
        kind=kind,
        dock_session_id=dock.id or 0,
        file_name=f"clip{n}.MP4",
        camera_folder="DCIM",
        docked_at=NOW,
        sealed_at=NOW,
        storage_backend="local",
        storage_key=f"k{n}",
    )
    session.add(evidence)
    session.commit()
    return evidence


def test_new_media_evidence_gets_one_probe_and_other_files_none(vault: Vault) -> None:
    with vault.session() as session:
        clip, notes = add_evidence(session), add_evidence(session, "unclassified", 2)
        jobs.enqueue_new_evidence(session, clip, NOW)
        jobs.enqueue_new_evidence(session, clip, NOW)  # again: still one job
        jobs.enqueue_new_evidence(session, notes, NOW)
        found = session.exec(select(MediaJob)).all()
        assert [(j.evidence_id, j.kind, j.state) for j in found] == [(clip.id, "probe", "queued")]
        assert session.get_one(Evidence, notes.id).media_state == "not_media"


def test_two_workers_never_take_the_same_job(vault: Vault) -> None:
    with vault.session() as session:
        jobs.enqueue(session, add_evidence(session).id or 0, "probe", NOW)
        session.commit()
    with vault.session() as one, vault.session() as two:
        first = jobs.claim(one, "host:1", NOW)
        second = jobs.claim(two, "host:2", NOW)
    assert first is not None and first.attempts == 1 and first.claimed_by == "host:1"
    assert second is None


def test_failed_job_backs_off_then_gives_up(vault: Vault) -> None:
    settings = vault.settings.media
    with vault.session() as session:
        job = jobs.enqueue(session, add_evidence(session).id or 0, "viewing", NOW, max_attempts=2)
        session.commit()
        claimed = jobs.claim(session, "w:1", NOW)
        assert claimed is not None
        assert jobs.fail(session, claimed, "w:1", "ffmpeg failed", NOW, settings) == "failed"
        assert jobs.claim(session, "w:1", NOW) is None  # not before the backoff
        later = NOW + timedelta(seconds=settings.backoff_s)
        again = jobs.claim(session, "w:1", later)
        assert again is not None and again.attempts == 2
        assert jobs.fail(session, again, "w:1", "still failing", later, settings) == "dead"
        session.expire_all()
        row = session.get_one(MediaJob, job.id)
        assert (row.state, row.last_error) == ("dead", "still failing")
        assert jobs.claim(session, "w:1", later + timedelta(days=1)) is None
        assert jobs.retry(session, later) == 1
        session.expire_all()
        assert session.get_one(MediaJob, job.id).state == "queued"


def test_job_of_a_dead_local_worker_is_taken_back_at_once(vault: Vault) -> None:
    with vault.session() as session:
        jobs.enqueue(session, add_evidence(session).id or 0, "probe", NOW)
        session.commit()
        gone = f"{jobs.worker_id().rpartition(':')[0]}:{2**22 + 7}"  # no such pid
        assert jobs.claim(session, gone, NOW) is not None
        assert jobs.requeue_stale(session, NOW, vault.settings.media, jobs.worker_id()) == 1
        job = jobs.claim(session, jobs.worker_id(), NOW)
    assert job is not None and job.attempts == 2


@pytest.mark.parametrize(("age", "taken"), [(10, 0), (3600, 1)])
def test_remote_worker_job_is_taken_back_only_when_its_heartbeat_is_old(
    vault: Vault, age: int, taken: int
) -> None:
    with vault.session() as session:
        jobs.enqueue(session, add_evidence(session).id or 0, "probe", NOW)
        session.commit()
        assert jobs.claim(session, "other-host:1", NOW) is not None
        later = NOW + timedelta(seconds=age)
        assert jobs.requeue_stale(session, later, vault.settings.media, "me:1") == taken
