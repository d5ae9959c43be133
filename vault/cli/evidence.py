"""`evault evidence list|show|verify`: find records and check them against the store."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from vault.access.export import export as export_package
from vault.access.export import view as view_evidence
from vault.access.grants import mark as mark_evidence
from vault.cases.retention import classify as classify_evidence
from vault.cases.retention import place_hold, release_hold
from vault.cli.common import console, print_fields, print_json, vault_of
from vault.errors import VaultError
from vault.media.derivatives import write_out as write_derivative
from vault.retrieval import (
    Filters,
    find_orphans,
    list_evidence,
    show_evidence,
    verify_evidence,
)
from vault.timeutil import iso

app = typer.Typer(help="Find evidence and check it against the store.", no_args_is_help=True)


def parse_time(value: str | None, tz: str) -> datetime | None:
    """ISO 8601; a time without a zone is the station's local time."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise VaultError(f"not an ISO 8601 time: {value!r} (e.g. 2026-11-23T09:00)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(tz))


def local_display(value: str | None, tz: str) -> str:
    """A UTC ISO time from the records, shown in the station's zone to the second."""
    if value is None:
        return "?"
    return datetime.fromisoformat(value).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
def list_(
    ctx: typer.Context,
    device: Annotated[str | None, typer.Option(help="Camera device id.")] = None,
    officer: Annotated[str | None, typer.Option(help="Officer badge number.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Recorded at or after (ISO 8601).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Recorded before (ISO 8601).")] = None,
    case: Annotated[str | None, typer.Option(help="Linked to this case number.")] = None,
    retention_class: Annotated[
        str | None, typer.Option("--class", help="routine, long_term or case.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many rows.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List evidence by camera, officer and recording time."""
    vault = vault_of(ctx)
    tz = vault.settings.timezone
    filters = Filters(
        device_id=device,
        officer_id=officer,
        recorded_from=parse_time(from_, tz),
        recorded_to=parse_time(to, tz),
        case_number=case,
        retention_class=retention_class,
        limit=limit,
    )
    with vault.session() as session:
        rows = list_evidence(session, filters)
    if as_json:
        print_json(rows)
        return
    table = Table(
        "id",
        f"recorded ({tz})",
        "device",
        "officer",
        "file",
        "size",
        "status",
        "class",
        "retain until",
    )
    for row in rows:
        table.add_row(
            str(row["evidence_id"]),
            local_display(row["recorded_at_corrected"], tz),
            row["device_id"] or "?",
            row["officer_id"] or "?",
            row["file_name"],
            f"{row['size']:,}",
            row["status"],
            row["retention_class"] + (" [hold]" if row["hold"] else ""),
            local_display(row["retain_until"], tz) if row["retain_until"] else "permanent",
        )
    console.print(table)


@app.command()
def show(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Everything recorded about one piece of evidence, with every docking it was seen at."""
    vault = vault_of(ctx)
    with vault.session() as session:
        detail = show_evidence(session, evidence_id)
    if as_json:
        print_json(detail)
        return
    print_fields(detail, skip=("sightings",))
    for sighting in detail["sightings"]:
        console.print(
            f"{'seen':>22}  dock {sighting['dock_id']} at {sighting['station_id']}: "
            f"{sighting['path']} ({sighting['outcome']}, erased {sighting['erased_at']})",
            soft_wrap=True,
        )


@app.command()
def verify(
    ctx: typer.Context,
    evidence_id: Annotated[int | None, typer.Argument(help="Evidence id (or --all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Verify every record.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    orphans: Annotated[
        bool,
        typer.Option(
            "--orphans",
            help="With --all: also list objects in the store that no record points at "
            "(reported, never deleted; exit 1 if any).",
        ),
    ] = False,
) -> None:
    """Re-read sealed objects and re-hash them; exits 1 if any does not match its record."""
    if (evidence_id is None) == (not all_):
        raise VaultError("give one evidence id or --all")
    if orphans and not all_:
        raise VaultError("--orphans needs --all (every record must be known)")
    vault = vault_of(ctx)
    report = verify_evidence(vault, None if all_ else [evidence_id] if evidence_id else None)
    if orphans:
        report.orphans = find_orphans(vault)
    if as_json:
        print_json(report.to_json())
    else:
        console.print(f"checked {report.checked}, ok {report.ok}, failed {len(report.failed)}")
        for failure in report.failed:
            console.print(f"  [red]evidence {failure['evidence_id']}:[/] {failure['reason']}")
        if report.orphans is not None:
            console.print(f"orphans (objects no record points at): {len(report.orphans)}")
            for key in report.orphans:
                console.print(f"  [red]orphan:[/] {key}", soft_wrap=True)
    if report.failed or report.orphans:
        raise typer.Exit(1)


@app.command()
def classify(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    retention_class: Annotated[str, typer.Option("--class", help="routine, long_term or case.")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    category: Annotated[
        str | None,
        typer.Option(
            help="For long_term (RT-2): mass_incident, personal_safety, obstruction, "
            "dispute or major_case."
        ),
    ] = None,
) -> None:
    """Set the retention class; a change that would shorten retention is refused (RT-4)."""
    decision = classify_evidence(vault_of(ctx), evidence_id, retention_class, category, reason)
    until = iso(decision.retain_until) or "permanently"
    console.print(
        f"evidence {evidence_id}: {retention_class}, kept until {until} ({decision.rule})"
    )


@app.command()
def hold(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
) -> None:
    """Place a legal hold: nothing deletes the evidence until the hold is released."""
    placed = place_hold(vault_of(ctx), evidence_id, reason)
    console.print(f"hold {placed.id} placed on evidence {evidence_id}")


@app.command()
def release(
    ctx: typer.Context,
    hold_id: Annotated[int, typer.Argument(help="Hold id (see evidence show).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
) -> None:
    """Release a legal hold; the evidence's dated retention stays as it was."""
    released = release_hold(vault_of(ctx), hold_id, reason)
    console.print(f"hold {hold_id} on evidence {released.evidence_id} released")


@app.command()
def view(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for the viewing copy (default: a new temp one).")
    ] = None,
    play: Annotated[bool, typer.Option("--play", help="Play it with ffplay.")] = False,
) -> None:
    """Write a viewing copy to watch: a handler's own case, else a view grant (AC-2, AC-3);
    registered (AC-7)."""
    path = view_evidence(vault_of(ctx), evidence_id, out)
    if not play:
        console.print(f"viewing copy of evidence {evidence_id}: {path}")
        return
    if shutil.which("ffplay") is None:
        console.print(f"ffplay is not installed; viewing copy of evidence {evidence_id}: {path}")
        return
    try:
        subprocess.run(["ffplay", "-autoexit", "-loglevel", "error", str(path)], check=False)
    finally:
        if out is None:  # AC-2: a copy made only to be played does not stay behind
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()


@app.command("export")
def export_(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="New folder for the package.")],
    evidence_id: Annotated[int | None, typer.Argument(help="Evidence id (or --case).")] = None,
    case: Annotated[str | None, typer.Option(help="Every record linked to this case.")] = None,
    grant: Annotated[int | None, typer.Option(help="Grant id (default: a matching one).")] = None,
    iso: Annotated[
        bool, typer.Option("--iso", help="Also write two labelled disc images (EV-2).")
    ] = False,
    place: Annotated[
        str | None, typer.Option(help="Place of recording for the written statement.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Export an evidence package (originals, viewing copies, SHA256SUMS, manifest.json,
    written statement) under a copy or export grant (AC-8, EV-1..EV-3); registered."""
    if (evidence_id is None) == (case is None):
        raise VaultError("give one evidence id or --case NUMBER")
    scope = f"case:{case}" if case is not None else f"evidence:{evidence_id}"
    result = export_package(vault_of(ctx), scope, out, grant, iso, place)
    if as_json:
        print_json(result.to_json())
        return
    console.print(
        f"{result.action} under grant {result.grant_id}: {len(result.files)} files in {out}"
    )
    console.print(f"check on any machine: cd {out} && sha256sum -c SHA256SUMS")
    for image in result.images:
        console.print(f"disc image: {image}")


@app.command()
def mark(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    markings: Annotated[
        list[str] | None,
        typer.Argument(help="state_secret, commercial_secret, privacy (none: clear)."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (registered).")] = "",
) -> None:
    """Set confidentiality markings that narrow who may be granted access (AC-9)."""
    if not reason.strip():
        raise VaultError("a --reason is required to mark evidence")
    found = mark_evidence(vault_of(ctx), evidence_id, markings or [], reason)
    console.print(f"evidence {evidence_id}: {', '.join(found) or 'no marking'}")


@app.command()
def thumbnail(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    out: Annotated[Path, typer.Argument(help="JPEG file to write.")],
) -> None:
    """Write the poster frame of a clip (or a photo's preview) to OUT."""
    row = write_derivative(vault_of(ctx), evidence_id, "poster", out)
    console.print(f"poster of evidence {evidence_id} ({row.size:,} bytes) written to {out}")


@app.command("contact-sheet")
def contact_sheet(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    out: Annotated[Path, typer.Argument(help="JPEG file to write.")],
) -> None:
    """Write the contact sheet of a clip (a grid of frames with their times) to OUT."""
    row = write_derivative(vault_of(ctx), evidence_id, "contact_sheet", out)
    frames = row.params.get("frames")
    console.print(f"contact sheet of evidence {evidence_id} ({frames} frames) written to {out}")
