"""`evault media run|jobs|retry`: the media worker and its persistent queue. Each is one
call of the service API (the worker's, `media.run`, runs in this process)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from vault.cli.common import Table, call, console, err_console, print_json

app = typer.Typer(help="Viewing copies, thumbnails, salvage: the media job queue.")


@app.command()
def run(
    ctx: typer.Context,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Drain the queue, then exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Work the media queue (evault-media.service runs this); never touches an original.
    When the queue runs dry after new probes or audio, it runs the compliance scan."""
    # SIGTERM: the worker finishes the job in hand (a salvage in hand is stopped), then
    # stops; bars on stderr unless --json.
    report = call(ctx, "media.run", until_idle=until_idle, progress=not as_json)
    if as_json:
        print_json(report)
        return
    counts = report["counts"]
    console.print(
        f"{len(report['jobs'])} jobs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    )
    for scan in report.get("scans", []):
        if "error" in scan:
            err_console.print(f"compliance scan failed: {escape(scan['error'])}")
        else:
            console.print(
                f"compliance scan: {scan['sessions']} sessions, {scan['gaps']} gaps, "
                f"{len(scan['checked'])} openings checked, {len(scan['failed'])} failed"
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
    queue = call(ctx, "media.jobs", state=list(state) if state else None, evidence=evidence)
    if as_json:
        print_json(queue)
        return
    rows, counts = queue["jobs"], queue["counts"]
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
    result = call(ctx, "media.retry", job_ids=list(job_ids) if job_ids else None)
    console.print(f"{result['queued']} jobs queued again")
