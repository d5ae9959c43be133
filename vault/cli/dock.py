"""`evault dock`: run the docking-station daemon; `evault dock status`: watch its bays."""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Column, Table

from vault.cli.common import console, print_json, vault_of
from vault.dock.daemon import DockDaemon, replay_events
from vault.dock.events import UdevEvent, load_recorded, monitor_events
from vault.dock.status import read_status
from vault.dock.udev_rules import udev_rules

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
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s %(message)s",
        stream=sys.stderr,
    )
    vault = vault_of(ctx)
    daemon = DockDaemon(vault)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        daemon.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon.start()
    poll_s = min(1.0, vault.settings.dock.watchdog_s / 2)
    events: Any
    if replay is not None:
        events = replay_events(load_recorded(replay), daemon, poll_s, exit_when_idle)
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
            f"[{style}]{bay['state']}[/]",
            escape(bay["device_id"] or bay["profile"] or "?"),
            bar,
            f"{bay['files_done']}/{bay['files_total']}",
            f"{_size(bay['bytes_done'])}/{_size(bay['bytes_total'])}",
            rate,
            eta,
            escape(note),
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
    path = vault_of(ctx).settings.home / "dock.sock"
    state = read_status(path)
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
                live.update(_table(read_status(path)))
        except KeyboardInterrupt:
            pass


@app.command("udev-rules")
def udev_rules_(ctx: typer.Context) -> None:
    """Print udev rules that tag the cameras of the installed profiles (install notes: README)."""
    typer.echo(udev_rules(vault_of(ctx).profiles), nl=False)


def _unused(_: UdevEvent) -> None:  # keeps the import for type checkers of replay files
    pass
