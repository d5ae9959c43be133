"""The persistent media job queue: sealing only adds a row here and never waits for media
work; jobs survive restarts, are retried with backoff, and a failure never touches the
original (IN-3).

Claiming locks the candidate rows with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL: a
worker on another station passes over the rows one is taking instead of queueing behind
it; SQLite ignores the clause, its BEGIN IMMEDIATE already lets one writer in at a time)
and then takes one with a compare-and-set UPDATE, so two workers never take one job. A
job left "running" by a worker that died is taken back: at once when that worker was on
this host and its process is gone, otherwise when its heartbeat is older than
media.stale_after_s.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vault.config import MediaSettings
from vault.db.models import Evidence, MediaJob
from vault.logs import kv
from vault.timeutil import iso

log = logging.getLogger(__name__)

MEDIA_KINDS = ("video", "audio", "photo")
JOB_KINDS = ("probe", "salvage", "viewing", "poster", "contact_sheet", "audio")
CLAIMABLE = ("queued", "failed")
ERROR_CHARS = 2000


def worker_id() -> str:
    """host:pid, so a worker can tell that a job's claimant on this host has died."""
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(
    session: Session,
    evidence_id: int,
    kind: str,
    now: datetime,
    max_attempts: int = 5,
) -> MediaJob:
    """Queue one job (idempotent: one job per evidence and kind); the caller commits."""
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown media job kind {kind!r}")
    existing = session.exec(
        select(MediaJob).where(MediaJob.evidence_id == evidence_id, MediaJob.kind == kind)
    ).first()
    if existing is not None:
        return existing
    job = MediaJob(
        evidence_id=evidence_id,
        kind=kind,
        max_attempts=max_attempts,
        not_before=now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # queued meanwhile by another process
        return session.exec(
            select(MediaJob).where(MediaJob.evidence_id == evidence_id, MediaJob.kind == kind)
        ).one()
    return job


def queue_new_evidence(
    session: Session, evidence: Evidence, now: datetime, inserted: bool = True
) -> None:
    """Queue a new original's probe (the probe queues the rest), in the caller's
    transaction; files that are not media are marked so. INSERTED: a row this transaction
    inserted (ingest records a clip and its probe in one commit), for which no other process
    can have queued a job, so no savepoint guards the insert; else `enqueue`'s guard."""
    assert evidence.id is not None
    if evidence.kind in MEDIA_KINDS:
        if inserted:
            session.add(
                MediaJob(evidence_id=evidence.id, kind="probe", not_before=now, created_at=now)
            )
        else:
            enqueue(session, evidence.id, "probe", now)
    elif evidence.media_state == "pending":
        evidence.media_state = "not_media"
        session.add(evidence)


def enqueue_new_evidence(session: Session, evidence: Evidence, now: datetime) -> None:
    """queue_new_evidence for a row already committed, then commit."""
    queue_new_evidence(session, evidence, now, inserted=False)
    session.commit()


def enqueue_missing(session: Session, now: datetime, max_attempts: int = 5) -> int:
    """Queue the probe of media evidence that has none: sealed before media work existed,
    or by an ingest killed between recording the clip and queueing its probe."""
    queued = select(MediaJob.evidence_id).where(MediaJob.kind == "probe")
    missing = session.exec(
        select(Evidence.id).where(
            Evidence.media_state == "pending",
            col(Evidence.kind).in_(MEDIA_KINDS),
            col(Evidence.purged_at).is_(None),
            col(Evidence.id).not_in(queued),
        )
    ).all()
    for evidence_id in missing:
        if evidence_id is not None:
            enqueue(session, evidence_id, "probe", now, max_attempts)
    session.commit()
    if missing:
        kv(log, logging.INFO, "probes queued for evidence without one", count=len(missing))
    return len(missing)


def claim(
    session: Session, worker: str, now: datetime, kinds: tuple[str, ...] = JOB_KINDS
) -> MediaJob | None:
    """Take the oldest due job, probes first (they are quick, and salvage needs the other
    clips probed to find a reference), or None. Each attempt is counted when claimed."""
    probes_first = case((col(MediaJob.kind) == "probe", 0), else_=1)
    candidates = session.exec(
        select(MediaJob)
        .where(
            col(MediaJob.state).in_(CLAIMABLE),
            col(MediaJob.not_before) <= now,
            col(MediaJob.kind).in_(kinds),
        )
        .order_by(probes_first, col(MediaJob.id))
        .limit(1)  # the one we take: a row locked here is passed over by the others
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)  # the row as locked, not a stale copy
    ).all()
    for job in candidates:
        taken = session.connection().execute(
            update(MediaJob)
            .where(
                col(MediaJob.id) == job.id,
                col(MediaJob.state) == job.state,
                col(MediaJob.attempts) == job.attempts,
            )
            .values(
                state="running",
                attempts=job.attempts + 1,
                claimed_by=worker,
                claimed_at=now,
                heartbeat_at=now,
            )
        )
        if taken.rowcount == 1:
            session.commit()
            session.expunge(job)  # no refresh: a new read would hold SQLite's write lock
            job.state, job.attempts, job.claimed_by = "running", job.attempts + 1, worker
            job.claimed_at = job.heartbeat_at = now
            return job
    session.commit()
    return None


def heartbeat(session: Session, job_id: int, worker: str, now: datetime) -> bool:
    """Say the job is still being worked on; False when it was taken back meanwhile."""
    beat = session.connection().execute(
        update(MediaJob)
        .where(
            col(MediaJob.id) == job_id,
            col(MediaJob.state) == "running",
            col(MediaJob.claimed_by) == worker,
        )
        .values(heartbeat_at=now)
    )
    session.commit()
    return beat.rowcount == 1


def _settle(session: Session, job_id: int, worker: str, **values: Any) -> bool:
    done = session.connection().execute(
        update(MediaJob)
        .where(
            col(MediaJob.id) == job_id,
            col(MediaJob.state) == "running",
            col(MediaJob.claimed_by) == worker,
        )
        .values(**values)
    )
    return done.rowcount == 1


def finish(
    session: Session, job_id: int, worker: str, now: datetime, state: str = "done", note: str = ""
) -> bool:
    """done (or skipped, with why); an earlier attempt's error stays readable. In the
    caller's transaction, committed by the caller."""
    values: dict[str, Any] = {"state": state, "finished_at": now}
    if note:
        values["last_error"] = note[:ERROR_CHARS]
    return _settle(session, job_id, worker, **values)


def backoff(settings: MediaSettings, attempts: int) -> timedelta:
    return timedelta(seconds=settings.backoff_s * 2 ** max(0, attempts - 1))


def fail(
    session: Session,
    job: MediaJob,
    worker: str,
    error: str,
    now: datetime,
    settings: MediaSettings,
) -> str:
    """Count a failed attempt: retried after a growing wait, or "dead" when out of attempts."""
    dead = job.attempts >= job.max_attempts
    state = "dead" if dead else "failed"
    retry_at = now + backoff(settings, job.attempts)
    facts = {"job": job.id, "kind": job.kind, "evidence": job.evidence_id, "error": error}
    attempts = {"attempt": job.attempts, "of": job.max_attempts}
    _settle(
        session,
        job.id or 0,
        worker,
        state=state,
        last_error=error[:ERROR_CHARS],
        not_before=retry_at,
        finished_at=now if dead else None,
    )
    session.commit()
    if dead:
        kv(log, logging.ERROR, "job failed, given up", **facts, **attempts)
    else:
        kv(log, logging.WARNING, "job failed, will retry", **facts, **attempts, retry_at=retry_at)
    return state


def _alive_here(claimant: str | None) -> bool:
    host, _, pid = (claimant or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another host's worker: only its heartbeat can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue_stale(session: Session, now: datetime, settings: MediaSettings, me: str) -> int:
    """Take back jobs whose worker died (killed, crashed, host lost); counts as a failure."""
    stale_before = now - timedelta(seconds=settings.stale_after_s)
    running = session.exec(select(MediaJob).where(MediaJob.state == "running")).all()
    taken: list[dict[str, Any]] = []
    for job in running:
        if job.claimed_by == me:
            continue
        old = job.heartbeat_at is None or job.heartbeat_at < stale_before
        if not old and _alive_here(job.claimed_by):
            continue
        dead = job.attempts >= job.max_attempts
        moved = session.connection().execute(
            update(MediaJob)
            .where(
                col(MediaJob.id) == job.id,
                col(MediaJob.state) == "running",
                col(MediaJob.claimed_by) == job.claimed_by,
            )
            .values(
                state="dead" if dead else "failed",
                last_error=f"worker {job.claimed_by} stopped during attempt {job.attempts} "
                "(killed or crashed)",
                not_before=now,
                finished_at=now if dead else None,
            )
        )
        if moved.rowcount:
            taken.append(
                {"job": job.id, "kind": job.kind, "evidence": job.evidence_id}
                | {"worker": job.claimed_by, "attempt": job.attempts, "given_up": dead}
            )
    session.commit()
    for facts in taken:
        kv(log, logging.WARNING, "job taken back from a stopped worker", **facts)
    return len(taken)


def retry(session: Session, now: datetime, job_ids: list[int] | None = None) -> int:
    """Give dead (or given) jobs a fresh set of attempts."""
    query = update(MediaJob).values(state="queued", attempts=0, not_before=now, finished_at=None)
    if job_ids:
        query = query.where(col(MediaJob.id).in_(job_ids), col(MediaJob.state) != "running")
    else:
        query = query.where(col(MediaJob.state) == "dead")
    count = session.connection().execute(query).rowcount
    session.commit()
    kv(log, logging.INFO, "jobs queued again", count=count, jobs=job_ids or "all dead")
    return count


def counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(MediaJob.state, func.count()).group_by(col(MediaJob.state))).all()
    return {str(state): int(n) for state, n in rows}


def job_row(job: MediaJob) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "evidence_id": job.evidence_id,
        "kind": job.kind,
        "state": job.state,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "last_error": job.last_error,
        "not_before": iso(job.not_before),
        "claimed_by": job.claimed_by,
        "heartbeat_at": iso(job.heartbeat_at),
        "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at),
    }


def list_jobs(
    session: Session, states: tuple[str, ...] | None = None, evidence_id: int | None = None
) -> list[dict[str, Any]]:
    query = select(MediaJob).order_by(col(MediaJob.id))
    if states:
        query = query.where(col(MediaJob.state).in_(states))
    if evidence_id is not None:
        query = query.where(MediaJob.evidence_id == evidence_id)
    return [job_row(job) for job in session.exec(query)]
