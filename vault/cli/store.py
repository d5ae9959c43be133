"""`evault store check|init|drain`: is the configured store fit to hold evidence, making
it so, and emptying the local spool into S3 after an outage. Each is one call of the
service API (the drain, `store.drain`, runs in this process)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vault.cli.common import call, console, print_json

app = typer.Typer(help="Check or prepare the WORM store.", no_args_is_help=True)


def _print(report: dict[str, Any], as_json: bool, created: bool | None = None) -> None:
    """A bucket's report (`--json`: as the op returned it, with `created` for init)."""
    if as_json:
        print_json(report)
        return
    if created is not None:
        console.print(f"bucket {report['bucket']}: {'created' if created else 'already there'}")
    if report["versioning"] is None:  # no bucket: only the problem says anything
        console.print(f"[red]problem:[/] {report['problems'][0]}", soft_wrap=True)
        raise typer.Exit(1)
    console.print(
        f"bucket {report['bucket']} at {report['endpoint']}: versioning "
        f"{report['versioning']}, Object Lock {'on' if report['object_lock'] else 'OFF'}, "
        "default retention "
        f"{report['default_retention'] or 'none (the vault locks every object itself)'}",
        soft_wrap=True,
    )
    for note in report["notes"]:
        console.print(f"  [yellow]note:[/] {note}", soft_wrap=True)
    for problem in report["problems"]:
        console.print(f"  [red]problem:[/] {problem}", soft_wrap=True)
    console.print("[green]ok[/]" if report["ok"] else "[red]not fit to hold evidence[/]")


@app.command()
def check(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify the store: for S3, the bucket exists with versioning and Object Lock on, and
    the default retention is what store.default_retention_days says. Exits 1 if not."""
    report = call(ctx, "store.check")
    if report.get("backend") == "local":
        if as_json:
            print_json(report)
        else:
            console.print(f"local store at {report['path']}: ok (local)")
        return
    _print(report, as_json)
    if not report["ok"]:
        raise typer.Exit(1)


@app.command()
def init(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create the S3 bucket with Object Lock (and the configured default retention) where
    the credentials allow it, then check it. An existing bucket is checked, not replaced."""
    report = call(ctx, "store.init")
    _print(report, as_json, report["created"])
    if not report["ok"]:
        raise typer.Exit(1)


@app.command()
def drain(
    ctx: typer.Context,
    until_empty: Annotated[
        bool, typer.Option("--until-empty", help="Retry with backoff until the spool is empty.")
    ] = False,
    max_wait: Annotated[
        float, typer.Option(help="With --until-empty: give up after this many seconds.")
    ] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Upload originals sealed in the local spool during an S3 outage, verify them in S3,
    point their records there and drop the spooled copies. Exits 1 if any is left."""
    report = call(ctx, "store.drain", until_empty=until_empty, max_wait=max_wait)
    if as_json:
        print_json(report)
    else:
        console.print(f"uploaded {len(report['uploaded'])}, still spooled {report['left']}")
        for failure in report["failed"]:
            console.print(
                f"  [red]evidence {failure['evidence_id']}:[/] {failure['reason']}",
                soft_wrap=True,
            )
    if report["left"]:
        raise typer.Exit(1)
