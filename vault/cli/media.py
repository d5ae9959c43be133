"""`evault media run|jobs|retry`: the media worker and its persistent queue."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from vault.cli.common import console, err_console, print_json, vault_of
from vault.media import jobs
from vault.media.worker import run_worker

app = typer.Typer(help="Viewing copies, thumbnails, salvage: the media job queue.")


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


@app.command()
def run(
    ctx: typer.Context,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Drain the queue, then exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Work the media queue (evault-media.service runs this); never touches an original."""
    vault = vault_of(ctx)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()  # finish the job in hand, then stop

    signal.signal(signal.SIGTERM, on_term)
    if as_json:
        report = run_worker(vault, until_idle=until_idle, stop=stop)
        print_json(report.to_json())
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=False) as bars:
        report = run_worker(vault, until_idle=until_idle, progress=RichJobProgress(bars), stop=stop)
    counts = report.to_json()["counts"]
    console.print(
        f"{len(report.jobs)} jobs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    )


@app.command("jobs")
def list_jobs(
    ctx: typer.Context,
    state: Annotated[
        list[str] | None,
        typer.Option(
            help="Only jobs in this state (queued, running, done, failed, dead, skipped)."
        ),
    ] = None,
    evidence: Annotated[int | None, typer.Option(help="Only jobs of this evidence id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The media queue: every job with its attempts, last error and next try."""
    vault = vault_of(ctx)
    with vault.session() as session:
        rows = jobs.list_jobs(session, tuple(state) if state else None, evidence)
        counts = jobs.counts(session)
    if as_json:
        print_json({"counts": counts, "jobs": rows})
        return
    table = Table("job", "evidence", "kind", "state", "attempts", "next try", "last error")
    for row in rows:
        table.add_row(
            str(row["job_id"]),
            str(row["evidence_id"]),
            row["kind"],
            row["state"],
            f"{row['attempts']}/{row['max_attempts']}",
            row["not_before"] if row["state"] in ("queued", "failed") else "",
            row["last_error"] or "",
        )
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no jobs")


@app.command()
def retry(
    ctx: typer.Context,
    job_ids: Annotated[
        list[int] | None, typer.Argument(help="Job ids (default: every dead job).")
    ] = None,
) -> None:
    """Give jobs a fresh set of attempts (after fixing what made them fail)."""
    vault = vault_of(ctx)
    with vault.session() as session:
        count = jobs.retry(session, vault.clock.now(), job_ids)
    console.print(f"{count} jobs queued again")
