"""`evault ingest VOLUME`: seal every clip of a mounted camera volume."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from vault.cli.common import console, err_console, print_json, vault_of
from vault.ingest.pipeline import ingest_volume
from vault.ingest.report import IngestReport

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

    def phase(self, name: str) -> None:
        pass

    def begin(self, total_files: int, total_bytes: int) -> None:
        self.total = self.bars.add_task(f"{total_files} files", total=total_bytes)

    def file_started(self, path: str, size: int) -> None:
        self.current = self.bars.add_task(path, total=size)

    def advance(self, count: int) -> None:
        for task in (self.total, self.current):
            if task is not None:
                self.bars.advance(task, count)

    def file_done(self, path: str, status: str) -> None:
        if self.current is not None:
            style = STATUS_STYLE.get(status, "white")
            self.bars.update(self.current, description=f"[{style}]{status:>14}[/] {path}")
            self.bars.stop_task(self.current)
            self.current = None


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
    vault = vault_of(ctx)
    if as_json:
        report = ingest_volume(vault, volume, profile_name=profile, label=label, erase=erase)
        print_json(report.to_json())
    else:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=False) as bars:
            report = ingest_volume(
                vault,
                volume,
                profile_name=profile,
                label=label,
                erase=erase,
                progress=RichProgress(bars),
            )
        print_summary(report)
    if not report.ok:
        raise typer.Exit(1)


def print_summary(report: IngestReport) -> None:
    offset = f"{report.offset_s:+.1f} s" if report.offset_s is not None else "unknown"
    console.print(
        f"dock {report.dock_id}: camera {report.device_id or '?'} "
        f"(profile {report.profile}), officer {report.officer_id or '?'}, "
        f"clock offset {offset}"
    )
    table = Table("path", "status", "size", "evidence", "verified", "sha256")
    for clip in report.clips:
        verified = {True: "yes", False: f"[red]NO: {clip.verify_error}[/]", None: "earlier"}
        style = STATUS_STYLE.get(clip.status, "white")
        table.add_row(
            clip.path,
            f"[{style}]{clip.status}[/]",
            f"{clip.size:,}",
            str(clip.evidence_id),
            verified[clip.verified],
            clip.sha256[:16] + "…",
        )
    for path, reason in report.failed:
        table.add_row(path, "[red]failed[/]", "", "", "", reason)
    console.print(table)
    for path, reason in report.skipped:
        console.print(f"  skipped {path}: {reason}")
    for path in report.erased:
        console.print(f"  erased from camera: {path}")
    for problem in report.problems:
        console.print(f"  [yellow]note:[/] {problem}")
