"""`evault dock`: run the docking-station daemon; `evault dock status`: watch its bays.
Each is one call of the service API (the daemon's, `dock.run`, runs in this process)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Column, Table

from vault.cli.common import call, console, print_json
from vault.cli.display import literal, styled

app = typer.Typer(
    help="The docking-station daemon and its bays.",
    invoke_without_command=True,
)

STATE_STYLE = {"done": "green", "failed": "red", "detected": "white", "mounted": "cyan"}


@app.callback()
def dock(
    ctx: typer.Context,
    replay: Annotated[
        Path | None,
        typer.Option(
            help="Take udev events from this JSON file (recorded property sets) instead of "
            "the kernel: for tests and rehearsals."
        ),
    ] = None,
    exit_when_idle: Annotated[
        bool, typer.Option("--exit-when-idle", help="With --replay: exit once every bay ended.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every event.")] = False,
) -> None:
    """Run the dock: take every camera plugged in, seal its clips, erase only what verified."""
    if ctx.invoked_subcommand is not None:
        return
    call(
        ctx,
        "dock.run",  # runs here, in this process, until SIGTERM/SIGINT (or idle, replaying)
        replay=str(replay) if replay is not None else None,
        exit_when_idle=exit_when_idle,
        verbose=verbose,
    )


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def _table(state: dict[str, Any]) -> Group:
    table = Table("progress", "files", "bytes", "rate", "ETA", "note")
    for n, name in enumerate(("bay", "state", "camera")):  # never cut: the operator acts on them
        table.columns.insert(n, Column(name, no_wrap=True))
    for bay in state["bays"]:
        style = STATE_STYLE.get(bay["state"], "yellow")
        total = bay["bytes_total"] or 1
        bar = ProgressBar(total=total, completed=min(bay["bytes_done"], total), width=24)
        eta = f"{bay['eta_s']:.0f} s" if bay["eta_s"] is not None else ""
        rate = f"{_size(bay['rate_bps'])}/s" if bay["rate_bps"] else ""
        note = bay["reason"] or bay["current"] or ""
        if bay["removed_at"]:
            note = f"(removed) {note}"
        table.add_row(
            bay["bay"],
            styled(bay["state"], style),
            literal(bay["device_id"] or bay["profile"] or "?"),
            bar,
            f"{bay['files_done']}/{bay['files_total']}",
            f"{_size(bay['bytes_done'])}/{_size(bay['bytes_total'])}",
            rate,
            eta,
            literal(note),
        )
    head = (
        f"station {escape(state['station_id'])}, dock pid {state['pid']} since "
        f"{state['started_at']}: {escape(state['summary'])}"
        + (" [yellow](stopping)[/]" if state["stopping"] else "")
    )
    return Group(head, table)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Keep the view live until Ctrl-C.")
    ] = False,
) -> None:
    """Every bay of the running dock: state, progress, rate, ETA and what went wrong."""
    state = call(ctx, "dock.status")  # the service reads the dock's socket
    if as_json:
        print_json(state)
        return
    if not watch:
        console.print(_table(state))
        return
    with Live(_table(state), console=console, refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(0.5)
                live.update(_table(call(ctx, "dock.status")))
        except KeyboardInterrupt:
            pass


@app.command("udev-rules")
def udev_rules_(ctx: typer.Context) -> None:
    """Print udev rules that tag the cameras of the installed profiles (docs/OPERATIONS.md)."""
    typer.echo(call(ctx, "dock.udev-rules"), nl=False)
