"""`evault device ...`: the cameras' keepers and their usage ledger (DV-1, DV-3).
Each command is one call of the service API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from vault.cli.common import Table, call, console, print_json
from vault.i18n import _

app = typer.Typer(help="Body cameras: keepers and the usage ledger.", no_args_is_help=True)


@app.command()
def assign(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="The camera's device id (serial).")],
    keeper: Annotated[str, typer.Argument(help="Badge number of its responsible keeper.")],
    note: Annotated[str | None, typer.Option(help="Why, e.g. a hand-over note.")] = None,
    profile: Annotated[
        str | None, typer.Option(help="Register a camera never docked yet, with this profile.")
    ] = None,
) -> None:
    """Make an officer the one responsible keeper of a camera (DV-1)."""
    done = call(
        ctx, "device.assign", device_id=device_id, keeper=keeper, note=note, profile=profile
    )
    console.print(
        _("camera {camera} is kept by {keeper} from now on").format(
            camera=escape(device_id), keeper=escape(keeper)
        )
    )
    if done.get("camera_badge"):
        console.print(_("its badge: {badge}").format(badge=escape(done["camera_badge"])))


@app.command()
def ledger(
    ctx: typer.Context,
    device_id: Annotated[str | None, typer.Argument(help="One camera (else all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The usage ledger: keepers, and every docking with battery, space, clock and times."""
    devices = call(ctx, "device.ledger", device_id=device_id)
    if as_json:
        print_json(devices)
        return
    for device in devices:
        console.print(
            f"[bold]{escape(device['device_id'])}[/] {escape(device['model'] or '')} "
            f"(profile {device['profile']}), keeper {escape(device['keeper'] or 'none')}"
        )
        for keeper in device["keepers"]:
            until = keeper["to"] or "now"
            console.print(f"  keeper {escape(keeper['keeper'])} {keeper['from']} .. {until}")
        table = Table(
            "dock",
            "station/bay",
            "officer",
            "docked",
            "undocked",
            "status",
            "battery",
            "free",
            "clock",
            "seen",
            "sealed",
            "erased",
        )
        for dock in device["docks"]:
            free = dock["free_bytes"]
            offset = dock["clock_offset_s"]
            table.add_row(
                str(dock["dock_id"]),
                escape(f"{dock['station_id']}/{dock['bay'] or '-'}"),
                escape(dock["officer_id"] or "?"),
                dock["docked_at"] or "",
                dock["undocked_at"] or "",
                escape(dock["status"]),
                f"{dock['battery_percent']}%" if dock["battery_percent"] is not None else "?",
                f"{free / 1e9:.1f} GB" if free is not None else "?",
                f"{offset:+.0f} s" if offset is not None else "?",
                str(dock["clips_seen"]),
                str(dock["clips_sealed"]),
                str(dock["clips_erased"]),
            )
        console.print(table)
