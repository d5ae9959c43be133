"""Operations of the station: ingest of a camera volume, the dock daemon and its state,
the media worker and its queue, and the WORM store's check, bucket and spool.

The daemons and jobs (`ingest`, `dock.run`, `media.run`, `store.drain`) are local_only:
they run in the caller's own process (the service account's systemd units, or root), so a
volume path is the caller's, signals reach them, and progress bars go to the caller's
stderr.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from vault.compliance.scan import scan as compliance_scan
from vault.dock.daemon import DockDaemon, replay_events
from vault.dock.events import load_recorded, monitor_events
from vault.dock.status import read_status
from vault.dock.udev_rules import udev_rules
from vault.errors import VaultError
from vault.ingest.pipeline import ingest_volume
from vault.logs import configure as configure_logging
from vault.media import jobs
from vault.media.worker import run_worker
from vault.recovery.verify import NO_CAPABILITY, can_protect
from vault.service.api import Call, operation
from vault.store.s3_bucket import check_bucket, init_bucket, make_client
from vault.uploader import drain

# What the op shows itself on the caller's stderr (it runs in the caller's process).
_err_console = Console(stderr=True, highlight=False)

STATUS_STYLE = {
    "sealed": "green",
    "already_sealed": "cyan",
    "duplicate": "cyan",
    "unclassified": "yellow",
    "failed": "red",
}


class RichProgress:
    """One bar for the file being read, one for the whole volume."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.total: TaskID | None = None
        self.current: TaskID | None = None
        self.tasks: dict[str, TaskID] = {}

    def phase(self, name: str) -> None:
        pass

    def begin(self, total_files: int, total_bytes: int) -> None:
        self.total = self.bars.add_task(f"{total_files} files", total=total_bytes)

    def file_started(self, path: str, size: int) -> None:
        self.current = self.tasks[path] = self.bars.add_task(path, total=size)

    def advance(self, count: int) -> None:
        for task in (self.total, self.current):
            if task is not None:
                self.bars.advance(task, count)

    def file_done(self, path: str, status: str) -> None:
        # A clip's outcome may come after the next clip was started (its record is made
        # while the next one is read): its own bar is the one to mark.
        task = self.tasks.pop(path, None)
        if task is not None:
            style = STATUS_STYLE.get(status, "white")
            self.bars.update(task, description=f"[{style}]{status:>14}[/] {path}")
            self.bars.stop_task(task)
            if task == self.current:
                self.current = None


@operation("ingest", local_only=True)
def ingest(
    call: Call,
    volume: str,
    profile: str | None = None,
    label: str | None = None,
    erase: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Seal every clip of a volume mounted on the caller's machine. The result: `report`,
    what `evault ingest --json` prints, and `failed`, how many of its first `skipped`
    entries are read or store failures (the summary shows them as failed rows)."""
    if not (progress and _err_console.is_terminal):  # bars only on a terminal (issue 17)
        report = ingest_volume(
            call.vault, Path(volume), profile_name=profile, label=label, erase=erase
        )
    else:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=_err_console, transient=False) as bars:
            report = ingest_volume(
                call.vault,
                Path(volume),
                profile_name=profile,
                label=label,
                erase=erase,
                progress=RichProgress(bars),
            )
    return {"report": report.to_json(), "failed": len(report.failed)}


@operation("dock.run", local_only=True)
def dock_run(
    call: Call, replay: str | None = None, exit_when_idle: bool = False, verbose: bool = False
) -> None:
    """The docking-station daemon, until SIGTERM/SIGINT (or, replaying, until idle)."""
    vault = call.vault
    wanted = vault.settings.logging
    configure_logging("debug" if verbose else wanted.level, wanted.format)
    daemon = DockDaemon(vault)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        daemon.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon.start()
    poll_s = min(1.0, vault.settings.dock.watchdog_s / 2)
    events: Any
    if replay is not None:
        events = replay_events(load_recorded(Path(replay)), daemon, poll_s, exit_when_idle)
    else:
        events = monitor_events(poll_s)
    watcher = None
    if vault.settings.dock.watch_dirs:
        from vault.dock.watch import DirWatcher

        watcher = DirWatcher(daemon, vault.settings.dock.watch_dirs)
        watcher.start()
    try:
        daemon.run(events)
    finally:
        if watcher is not None:
            watcher.stop()
        daemon.close()


@operation("dock.status")
def dock_status(call: Call) -> dict[str, Any]:
    """The running dock's live state, read from its socket $EVAULT_HOME/dock.sock."""
    return read_status(call.vault.settings.home / "dock.sock")


@operation("dock.udev-rules")
def dock_udev_rules(call: Call) -> str:
    return udev_rules(call.vault.profiles)


class RichJobProgress:
    """One bar per job, fed by ffmpeg's -progress output."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.task: TaskID | None = None

    def job_started(self, job_id: int, evidence_id: int, kind: str) -> None:
        self.task = self.bars.add_task(f"job {job_id}: {kind} of evidence {evidence_id}", total=1)

    def job_progress(self, fraction: float) -> None:
        if self.task is not None:
            self.bars.update(self.task, completed=fraction)

    def job_done(self, state: str, note: str) -> None:
        if self.task is not None:
            style = {"done": "green", "skipped": "cyan"}.get(state, "red")
            task = self.bars.tasks[self.task]
            detail = f" ({note})" if note else ""
            self.bars.update(
                self.task,
                completed=1,
                description=f"[{style}]{state}[/] {task.description}{detail}",
            )
            self.bars.stop_task(self.task)
            self.task = None


@operation("media.run", local_only=True)
def media_run(call: Call, until_idle: bool = False, progress: bool = False) -> dict[str, Any]:
    """Work the media queue; SIGTERM: finish the job in hand (a salvage in hand is
    stopped), then stop."""
    configure_logging(call.vault.settings)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)

    def scan_after_media() -> dict[str, Any]:
        """The compliance scan once the clips' probes and audio are in (issue 16): a
        station left alone has its findings in `report compliance` within minutes."""
        return compliance_scan(call.vault).to_json()

    if not (progress and _err_console.is_terminal):  # bars only on a terminal
        report = run_worker(call.vault, until_idle=until_idle, stop=stop, on_idle=scan_after_media)
        return report.to_json()
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_err_console, transient=False) as bars:
        report = run_worker(
            call.vault,
            until_idle=until_idle,
            progress=RichJobProgress(bars),
            stop=stop,
            on_idle=scan_after_media,
        )
    return report.to_json()


@operation("media.jobs")
def media_jobs(
    call: Call, state: list[str] | None = None, evidence: int | None = None
) -> dict[str, Any]:
    with call.vault.session() as session:
        rows = jobs.list_jobs(session, tuple(state) if state else None, evidence)
        counts = jobs.counts(session)
    return {"counts": counts, "jobs": rows}


@operation("media.retry")
def media_retry(call: Call, job_ids: list[int] | None = None) -> dict[str, Any]:
    with call.vault.session() as session:
        count = jobs.retry(session, call.vault.clock.now(), job_ids)
    return {"queued": count}


@operation("store.check")
def store_check(call: Call) -> dict[str, Any]:
    """The local store: opened (which makes and checks its folders); S3: the bucket's
    report (`evault store check --json`)."""
    settings = call.vault.settings
    if settings.store.backend == "local":
        store = call.vault.store  # opening it creates and checks its folders
        able = bool(can_protect(store))
        problems = []
        for key in store.keys():  # noqa: SIM118 (a store) as the files are now, not as recorded
            found = store.protection(key)
            if found and not able:
                found = ", ".join(p for p in found.split(", ") if p != "not immutable")
            if found:
                problems.append({"key": key, "problem": found})
        return {
            "backend": "local",
            "path": str(settings.store_path),
            "ok": not problems,
            "immutable": able,
            "problems": problems,
            "notes": [] if able else [NO_CAPABILITY],
        }
    return check_bucket(make_client(settings.store), settings.store).to_json()


@operation("store.init")
def store_init(call: Call) -> dict[str, Any]:
    settings = call.vault.settings
    if settings.store.backend != "s3":
        raise VaultError(
            f'store.backend is "{settings.store.backend}"; `evault store init` prepares an S3 '
            f"bucket (the local store at {settings.store_path} is made when first used)"
        )
    created, report = init_bucket(make_client(settings.store), settings.store)
    data = report.to_json()
    data["created"] = created
    return data


@operation("store.drain", local_only=True)
def store_drain(call: Call, until_empty: bool = False, max_wait: float = 600.0) -> dict[str, Any]:
    configure_logging(call.vault.settings)
    return drain(call.vault, until_empty=until_empty, max_wait_s=max_wait).to_json()
