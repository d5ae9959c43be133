"""`evault store check|init|drain`: is the configured store fit to hold evidence, making
it so, and emptying the local spool into S3 after an outage. Each is one call of the
service API (the drain, `store.drain`, runs in this process)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from vault.cli.common import call, console, err_console, print_json

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
            for note in report.get("notes", []):
                err_console.print(f"[bold yellow]warning:[/] {escape(note)}", soft_wrap=True)
            for found in report.get("problems", []):
                console.print(f"{escape(found['key'])}: {escape(found['problem'])}", soft_wrap=True)
            state = "ok" if report["ok"] else f"{len(report['problems'])} objects not protected"
            console.print(f"local store at {escape(report['path'])}: {state}")
        if not report["ok"]:
            raise typer.Exit(1)
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


@app.command("rebuild-index")
def rebuild_index(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rebuild an empty database from the WORM store alone (after the database was lost,
    or instead of an old dump): clips, dockings, cameras, officers, derivatives, stop
    statements, retention and holds as the store keeps them; both chains continue from
    their newest anchors. Refused unless the database is empty. Run it on the station, as
    the vault's service account."""
    report = call(ctx, "store.rebuild-index")
    if as_json:
        print_json(report)
        return
    rows = report["rows"]
    anchors = ", ".join(
        f"{chain} #{anchor['seq']}" if anchor else f"{chain}: none"
        for chain, anchor in report["anchors"].items()
    )
    console.print(
        f"rebuilt from {report['seal_records']} seal records (anchors: {anchors}) "
        f"in {report['seconds']:.1f} s",
        soft_wrap=True,
    )
    console.print(
        f"  evidence {rows['evidence']} ({report['purged']} purged), derivatives "
        f"{rows['derivative']}, dockings {rows['dock_session']}, cameras {rows['device']}, "
        f"officers {rows['officer']}, sightings {rows['sighting']} (the sealing ones only), "
        f"stop records {rows['stop_record']}, holds {rows['hold']}",
        soft_wrap=True,
    )
    for key in report["unsealed_objects"]:
        console.print(
            f"  [yellow]no seal record:[/] {key} (sealed before seal records existed)",
            soft_wrap=True,
        )
    for item in report["missing_objects"]:
        console.print(
            f"  [red]missing from the store:[/] {item['subject']} {item['key']}", soft_wrap=True
        )
    for item in report["skipped"]:
        console.print(
            f"  [yellow]not rebuilt:[/] {item['subject']}: {item['reason']}", soft_wrap=True
        )
    for item in report["renumbered"]:
        console.print(
            f"  [yellow]renumbered:[/] {item['table']} {item['from']} is now {item['to']}",
            soft_wrap=True,
        )
    console.print("lost with the database, not rebuilt:")
    for line in report["not_rebuilt"]:
        console.print(f"  - {line}", soft_wrap=True)
