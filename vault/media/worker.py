"""The media worker (`evault media run`, evault-media.service): takes jobs from the queue one
at a time and records what they made. A failing or hostile file fails its own job, which is
retried with backoff and finally given up; the worker itself carries on, and the original is
never touched (IN-3).

Each job holds no database transaction while ffmpeg runs (SQLite takes its write lock at
BEGIN): it reads what it needs, lets go, works, then records the result in one transaction.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlmodel import Session

from vault.context import Vault
from vault.db import audit
from vault.db.models import Evidence, MediaJob
from vault.errors import VaultError
from vault.faults import checkpoint
from vault.logs import kv
from vault.media import derivatives, jobs, tasks
from vault.store.durable import write_durably
from vault.timeutil import iso

log = logging.getLogger(__name__)


class JobProgress(Protocol):
    """Where the worker reports (Rich bars in the CLI; the status file always)."""

    def job_started(self, job_id: int, evidence_id: int, kind: str) -> None: ...

    def job_progress(self, fraction: float) -> None: ...

    def job_done(self, state: str, note: str) -> None: ...


class NoJobProgress:
    def job_started(self, job_id: int, evidence_id: int, kind: str) -> None:
        pass

    def job_progress(self, fraction: float) -> None:
        pass

    def job_done(self, state: str, note: str) -> None:
        pass


@dataclass
class WorkerReport:
    worker: str
    jobs: list[dict[str, Any]] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        states: dict[str, int] = {}
        for entry in self.jobs:
            states[entry["state"]] = states.get(entry["state"], 0) + 1
        return {"worker": self.worker, "counts": states, "jobs": self.jobs, "scans": self.scans}


# What a finished job may change for the compliance scan: the media facts sessions are cut
# from (probe, salvage) and the audio the narration check listens to.
SCAN_INPUTS = frozenset({"probe", "salvage", "audio"})
IdleHook = Callable[[], dict[str, Any]]


def _run_idle_hook(hook: IdleHook, report: WorkerReport) -> None:
    """The work that follows media work (the compliance scan); its failure is logged and
    reported, never the worker's end: the next idle moment tries again."""
    try:
        report.scans.append(hook())
    except Exception as exc:
        message = str(exc) if isinstance(exc, VaultError) else f"{type(exc).__name__}: {exc}"
        kv(log, logging.WARNING, "scan after media work failed", reason=message)
        report.scans.append({"ok": False, "error": message})


class StatusFile:
    """$EVAULT_HOME/run/media-status.json: what the worker is doing, for status displays."""

    def __init__(self, vault: Vault, worker: str) -> None:
        self.path = vault.settings.home / "run" / "media-status.json"
        self.vault, self.worker = vault, worker
        self.state: dict[str, Any] = {"worker": worker, "job": None}
        self.last = 0.0

    def update(self, force: bool = False, **values: Any) -> None:
        self.state.update(values)
        now = time.monotonic()
        if not force and now - self.last < 1.0:
            return
        self.last = now
        self.state["updated_at"] = iso(self.vault.clock.now())
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_durably(self.path, json.dumps(self.state).encode())


@contextlib.contextmanager
def heartbeats(vault: Vault, job_id: int, worker: str) -> Iterator[None]:
    """Tell the queue the job is alive while it runs, so no one takes it back."""
    stop = threading.Event()
    every = min(30.0, vault.settings.media.stale_after_s / 3)

    def beat() -> None:
        while not stop.wait(every):
            with contextlib.suppress(Exception), vault.session() as session:
                jobs.heartbeat(session, job_id, worker, vault.clock.now())

    thread = threading.Thread(target=beat, name="media-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def clean_scratch(vault: Vault) -> None:
    """Remove scratch folders of workers that are gone (named <pid>-...)."""
    for folder in derivatives.work_root(vault).iterdir():
        pid = folder.name.partition("-")[0]
        if pid.isdigit():
            try:
                os.kill(int(pid), 0)
                continue
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        derivatives.clear_workdir(folder)


def run_worker(
    vault: Vault,
    *,
    until_idle: bool,
    progress: JobProgress | None = None,
    stop: threading.Event | None = None,
    max_jobs: int | None = None,
    on_idle: IdleHook | None = None,
) -> WorkerReport:
    """Work the queue; with until_idle, return once nothing is due. on_idle runs each time
    the queue runs dry after a job that changed what it reads (SCAN_INPUTS), so that a
    station left alone still checks its footage (issue 16)."""
    worker = jobs.worker_id()
    report = WorkerReport(worker)
    progress = progress or NoJobProgress()
    stop = stop or threading.Event()
    status = StatusFile(vault, worker)
    clean_scratch(vault)
    with vault.session() as session:
        jobs.enqueue_missing(session, vault.clock.now(), vault.settings.media.max_attempts)
    fetcher = tasks.Fetcher(vault, derivatives.work_root(vault) / f"{os.getpid()}-sources")
    pending_scan = False
    try:
        while not stop.is_set() and (max_jobs is None or len(report.jobs) < max_jobs):
            now = vault.clock.now()
            with vault.session() as session:
                jobs.requeue_stale(session, now, vault.settings.media, worker)
                job = jobs.claim(session, worker, now)
            if job is None:
                fetcher.drop()
                status.update(force=True, job=None)
                if pending_scan and on_idle is not None and not stop.is_set():
                    status.update(force=True, job=None, scanning=True)
                    _run_idle_hook(on_idle, report)
                    status.update(force=True, scanning=False)
                    pending_scan = False
                    continue  # the scan may have queued work (it never does today)
                if until_idle:
                    break
                with vault.session() as session:  # e.g. from an ingest killed mid-clip
                    jobs.enqueue_missing(session, now, vault.settings.media.max_attempts)
                stop.wait(vault.settings.media.poll_s)
                continue
            entry = execute(vault, job, worker, fetcher, progress, status, stop)
            report.jobs.append(entry)
            pending_scan = pending_scan or (
                entry["kind"] in SCAN_INPUTS and entry["state"] in ("done", "skipped", "dead")
            )
    finally:
        fetcher.drop()
        derivatives.clear_workdir(fetcher.folder)
    return report


def execute(
    vault: Vault,
    job: MediaJob,
    worker: str,
    fetcher: tasks.Fetcher,
    progress: JobProgress,
    status: StatusFile,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """One claimed job, start to finish; never raises for a job's own failure. stop
    (SIGTERM) kills a salvage in hand; ffmpeg jobs finish first."""
    assert job.id is not None
    entry: dict[str, Any] = {"job_id": job.id, "evidence_id": job.evidence_id, "kind": job.kind}
    facts = {"job": job.id, "kind": job.kind, "evidence": job.evidence_id}
    kv(log, logging.INFO, "job taken", **facts, attempt=job.attempts, of=job.max_attempts)
    started = time.monotonic()
    progress.job_started(job.id, job.evidence_id, job.kind)
    status.update(force=True, job=entry | {"fraction": 0.0})
    folder = derivatives.work_root(vault) / f"{os.getpid()}-job{job.id}"
    state, note = "done", ""
    try:
        with vault.session() as session:
            evidence = session.get_one(Evidence, job.evidence_id)
            if evidence.purged_at is not None:
                state, note = "skipped", "the original was purged"
            elif job.kind != "probe" and tasks.existing(session, job.evidence_id, job.kind):
                state, note = "done", "already made"
            work = tasks.plan(vault, session, evidence, job.kind) if not note else None
            session.commit()  # nothing written: releases the database before the long part
        if work is not None and work.skip:
            state, note = "skipped", work.skip
        if work is not None and not work.skip:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

            def fraction(value: float) -> None:
                progress.job_progress(value)
                status.update(job=entry | {"fraction": round(value, 3)})

            with heartbeats(vault, job.id, worker):
                product = tasks.run(vault, job.kind, work, fetcher, folder, fraction, stop)
            checkpoint("media.worked")
            state, note = record(vault, job, worker, product)
        else:
            with vault.session() as session:
                why = note if state != "done" else ""  # "already made" is no error
                jobs.finish(session, job.id, worker, vault.clock.now(), state, why)
                session.commit()
    except Exception as exc:  # a job's failure, whatever its cause, stays the job's
        message = str(exc) if isinstance(exc, VaultError) else f"{type(exc).__name__}: {exc}"
        with vault.session() as session:
            state = jobs.fail(
                session, job, worker, message, vault.clock.now(), vault.settings.media
            )
        note = message
    except BaseException:  # stopped (Ctrl-C, SIGTERM): the attempt does not count as done
        with vault.session() as session:
            jobs.fail(
                session, job, worker, "worker stopped", vault.clock.now(), vault.settings.media
            )
        raise
    finally:
        derivatives.clear_workdir(folder)
    ms = round((time.monotonic() - started) * 1000)
    if state in ("done", "skipped"):
        kv(log, logging.INFO, f"job {state}", **facts, ms=ms, note=note or None)
    elif state == "lost":
        kv(log, logging.WARNING, "job lost", **facts, ms=ms, reason=note)
    progress.job_done(state, note)  # failed or dead: logged by jobs.fail
    return entry | {"state": state, "note": note or None}


def record(vault: Vault, job: MediaJob, worker: str, product: tasks.Product) -> tuple[str, str]:
    """Seal what the job made (no transaction open), then in one transaction: link it,
    queue what follows, mark the job."""
    assert job.id is not None
    settings = vault.settings.media
    sealed = None
    if product.probe is None and product.path is not None and not product.skip:
        with vault.session() as session:  # the latest retention, read and let go
            until = session.get_one(Evidence, job.evidence_id).retain_until
            session.commit()
        sealed = derivatives.seal(vault, product.path, until)
        checkpoint("media.sealed")
    with vault.session() as session:
        evidence = session.get_one(Evidence, job.evidence_id)
        now = vault.clock.now()
        state, note, has_audio = "done", "", False
        if product.probe is not None:
            _record_probe(vault, session, evidence, product)
            has_audio = product.probe.has_audio
        elif sealed is None:
            state, note = "skipped", product.skip or "nothing made"
        else:
            derivatives.link(
                vault,
                session,
                job.evidence_id,
                product.kind,
                sealed,
                encoder=product.encoder,
                params=product.params,
                recovered_s=product.recovered_s,
            )
            has_audio = bool((product.params.get("media") or {}).get("audio_codec"))
        if product.kind in ("probe", "salvage") and state == "done":
            for kind in tasks.follow_ups(evidence, product.kind, has_audio):
                jobs.enqueue(session, job.evidence_id, kind, now, settings.max_attempts)
        if not jobs.finish(session, job.id, worker, now, state, note):
            session.rollback()  # taken back meanwhile: whoever holds it now records it
            return "lost", "the job was taken back while it ran"
        checkpoint("media.recorded")
        session.commit()
    return state, note


def _record_probe(
    vault: Vault, session: Session, evidence: Evidence, product: tasks.Product
) -> None:
    result = product.probe
    assert result is not None
    evidence.media_state = "ok" if result.ok else "damaged"
    evidence.media, evidence.damage = result.media, result.damage
    session.add(evidence)
    actor = vault.actor("media")
    audit.append(
        session,
        actor,
        at=vault.clock.now(),
        action="media.probed" if result.ok else "media.damaged",
        subject=f"evidence:{evidence.id}",
        detail={"damage": result.damage} if result.damage else {},
    )
