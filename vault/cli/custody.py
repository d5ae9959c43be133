"""`evault device checkout|return|event|custody`: camera custody (DV-3, DV-5, DV-6), the
usage 台账 of Pingdingshan 第4条. Each command is one call of the service API; the
commands join `evault device` (vault/cli/device.py) through register()."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from vault.cli.common import (
    Csv,
    Table,
    call,
    call_receiving,
    console,
    csv_mode,
    print_json,
    timezone_of,
)
from vault.errors import VaultError
from vault.i18n import N_, _
from vault.timeutil import local_display

CameraArg = Annotated[str, typer.Argument(help="The camera's device id (serial).")]
NoteOpt = Annotated[str | None, typer.Option(help="What the ledger should read.")]


def _said(event: dict[str, Any], tz: str) -> str:
    who = event["officer_id"] or "-"
    when = local_display(event["at"], tz)
    return f"{event['kind']} of camera {escape(event['device_id'])}, {escape(who)}, {when} ({tz})"


def checkout(
    ctx: typer.Context,
    device_id: CameraArg,
    officer: Annotated[str, typer.Argument(help="Badge number of the officer who takes it.")],
    battery: Annotated[
        int | None, typer.Option(help="Battery percent read before use (else the last dock's).")
    ] = None,
    free_gb: Annotated[
        float | None, typer.Option(help="Free space in GB before use (else the last dock's).")
    ] = None,
    clock_ok: Annotated[
        bool | None,
        typer.Option("--clock-ok/--clock-off", help="Clock checked right (else the last dock's)."),
    ] = None,
    note: NoteOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Hand a camera out to an officer, with the pre-use check (DV-3, DV-5)."""
    event = call(
        ctx,
        "device.checkout",
        device_id=device_id,
        officer=officer,
        battery=battery,
        free_gb=free_gb,
        clock_ok=clock_ok,
        note=note,
    )
    if as_json:
        print_json(event)
        return
    console.print(_said(event, timezone_of(ctx)))
    if event["check_source"] is None:
        console.print(_("no pre-use check is known (no reading given, never docked): a finding"))


def give_back(ctx: typer.Context, device_id: CameraArg, note: NoteOpt = None) -> None:
    """Take a camera back from the officer who has it (DV-5)."""
    event = call(ctx, "device.return", device_id=device_id, note=note)
    console.print(_said(event, timezone_of(ctx)))


def upkeep(
    ctx: typer.Context,
    device_id: CameraArg,
    kind: Annotated[
        str, typer.Argument(help="maintenance, fault, loss, damage or misuse.", metavar="KIND")
    ],
    note: Annotated[str, typer.Option(help="What happened (required).")],
    officer: Annotated[str | None, typer.Option(help="Badge of the officer concerned.")] = None,
) -> None:
    """Record upkeep, a fault, loss, damage or misuse of a camera (DV-5, DV-6)."""
    event = call(ctx, "device.event", device_id=device_id, kind=kind, note=note, officer=officer)
    console.print(_said(event, timezone_of(ctx)))


def custody(
    ctx: typer.Context,
    device_id: Annotated[str | None, typer.Argument(help="One camera (else all).")] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Write the 台账 as a paper to sign.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    csv: Csv = False,
) -> None:
    """The custody ledger: checkouts with their pre-use checks, returns, upkeep and loss."""
    if pdf is not None:
        if not pdf.absolute().parent.is_dir():
            raise VaultError(
                N_("no folder {folder} to write {path} in"), folder=pdf.absolute().parent, path=pdf
            )
        done, _placed = call_receiving(
            ctx, "device.custody", {"ledger.pdf": pdf}, device_id=device_id, pdf=True
        )
        console.print(
            _("wrote {path} ({count} events)").format(path=pdf, count=len(done["events"]))
        )
        return
    events = call(ctx, "device.custody", device_id=device_id)["events"]
    if as_json:
        print_json(events)
        return
    csv_mode(csv)
    tz = timezone_of(ctx)
    table = Table(
        "#",
        "camera",
        "event",
        f"time ({tz})",
        "officer",
        "battery",
        "free",
        "clock",
        "check",
        "by",
        "note",
    )
    for e in events:
        free = e["free_bytes"]
        table.add_row(
            str(e["event_id"]),
            e["device_id"],
            e["kind"],
            local_display(e["at"], tz),
            e["officer_id"] or "",
            f"{e['battery_percent']}%" if e["battery_percent"] is not None else "",
            f"{free / 1e9:.1f} GB" if free is not None else "",
            {True: "ok", False: "off", None: ""}[e["clock_ok"]],
            e["check_source"] or ("none" if e["kind"] == "checkout" else ""),
            e["recorded_by"],
            e["note"] or "",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("checkout")(checkout)
    app.command("return")(give_back)
    app.command("event")(upkeep)
    app.command("custody")(custody)
