"""`evault ingest VOLUME`: seal every clip of a mounted camera volume (one call of the
service API's `ingest`, run in this process: the volume is this machine's)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vault.cli.common import Table, call, console, print_json
from vault.cli.display import literal, styled

STATUS_STYLE = {
    "sealed": "green",
    "already_sealed": "cyan",
    "duplicate": "cyan",
    "unclassified": "yellow",
    "failed": "red",
}


def ingest(
    ctx: typer.Context,
    volume: Annotated[
        Path, typer.Argument(help="Mounted camera volume, or a directory standing in for one.")
    ],
    profile: Annotated[
        str | None, typer.Option(help="Device profile (else recognised from the volume).")
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="Volume label, for a directory standing in for a volume.")
    ] = None,
    erase: Annotated[
        bool,
        typer.Option(
            "--erase", help="Erase clips from the camera once their sealed copies verified (IN-2)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Seal every clip on a camera volume: one read pass, verified read-back, recorded."""
    result = call(
        ctx,
        "ingest",
        volume=str(volume),
        profile=profile,
        label=label,
        erase=erase,
        progress=not as_json,  # bars on stderr, drawn by the operation in this process
    )
    report = result["report"]
    if as_json:
        print_json(report)
    else:
        print_summary(report, result["failed"])
    if not report["ok"]:
        raise typer.Exit(1)


def print_summary(report: dict[str, Any], failed: int) -> None:
    """The report of `ingest --json`; its first FAILED `skipped` entries are failures."""
    device, clock = report["device"], report["clock"]
    offset = f"{clock['offset_s']:+.1f} s" if clock["offset_s"] is not None else "unknown"
    console.print(
        literal(
            f"dock {report['dock_id']}: camera {device['device_id'] or '?'} "
            f"(profile {device['profile']}), officer {device['officer_id'] or '?'}, "
            f"clock offset {offset}"
        )
    )
    table = Table("path", "status", "size", "evidence", "verified", "sha256")
    for clip in report["clips"]:
        if clip["verified"] is None:
            verified = literal("earlier")
        elif clip["verified"]:
            verified = literal("yes")
        else:
            verified = styled(f"NO: {clip.get('verify_error')}", "red")
        table.add_row(
            clip["path"],
            styled(clip["status"], STATUS_STYLE.get(clip["status"], "white")),
            f"{clip['size']:,}",
            str(clip["evidence_id"]),
            verified,
            clip["sha256"][:16] + "…",
        )
    for entry in report["skipped"][:failed]:
        table.add_row(entry["path"], styled("failed", "red"), "", "", "", entry["reason"])
    console.print(table)
    for entry in report["skipped"][failed:]:
        console.print(literal(f"  skipped {entry['path']}: {entry['reason']}"))
    for path in report["erased"]:
        console.print(literal(f"  erased from camera: {path}"))
    for problem in report["problems"]:
        line = styled("  note: ", "yellow")
        line.append_text(literal(problem))
        console.print(line)
