"""`evault evidence ...`: find records, check them against the store, set their retention
and markings, view, redact and export them. Each command is one call of the service API."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from vault.cli.common import (
    Csv,
    FromDate,
    Table,
    ToDate,
    call,
    call_receiving,
    console,
    csv_mode,
    err_console,
    human,
    print_fields,
    print_json,
    print_nothing_matched,
    timezone_of,
)
from vault.errors import VaultError
from vault.i18n import _
from vault.timeutil import local_display

app = typer.Typer(help="Find evidence and check it against the store.", no_args_is_help=True)


# How `evidence list` names each filter when nothing matched.
LIST_LABELS = {
    "device": ("--device", "cameras"),
    "officer": ("--officer", "officers"),
    "case": ("--case", "cases"),
    "class": ("--class", "classes in use"),
    "recorded": ("recorded", "clips are recorded"),
}


@app.command("list")
def list_(
    ctx: typer.Context,
    device: Annotated[str | None, typer.Option(help="Camera device id.")] = None,
    officer: Annotated[str | None, typer.Option(help="Officer badge number.")] = None,
    from_: FromDate = None,
    to: ToDate = None,
    case: Annotated[str | None, typer.Option(help="Linked to this case number.")] = None,
    retention_class: Annotated[
        str | None, typer.Option("--class", help="routine, long_term or case.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(help="At most this many rows: a page (the next: --after the cursor shown)."),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option(help="The rows after this cursor: the next page of an earlier --limit."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print JSON: the rows; paged, {"evidence": rows, "next": cursor or null}.',
        ),
    ] = False,
    csv: Csv = False,
) -> None:
    """List evidence by camera, officer and recording time (then id), in pages with --limit."""
    csv_mode(csv)
    answer = call(
        ctx,
        "evidence.list",
        device=device,
        officer=officer,
        from_=from_,
        to=to,
        case=case,
        retention_class=retention_class,
        limit=limit,
        after=after,
        explain=True,
    )
    rows = answer["evidence"]
    tz = timezone_of(ctx)
    if as_json:
        paged = limit is not None or after is not None
        # Unpaged, the list it always was; what exists goes to standard error.
        print_json({"evidence": rows, "next": answer["next"]} if paged else rows)
        print_nothing_matched(answer, LIST_LABELS, tz, as_json=True)
        return
    if print_nothing_matched(answer, LIST_LABELS, tz, csv=csv):
        return
    _print_list(rows, tz)
    if answer["next"]:
        more = _("more: the next page is {option} {cursor}")
        more = more.format(option="--after", cursor=answer["next"])
        err_console.print(more, soft_wrap=True, markup=False)


def _print_list(rows: list[dict[str, Any]], tz: str) -> None:
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
    detail = call(ctx, "evidence.show", evidence_id=evidence_id)
    if as_json:
        print_json(detail)
        return
    tz = timezone_of(ctx)
    print_fields(detail, skip=("sightings",), tz=tz)
    table = Table("dock", "station", "path on the camera", "outcome", "erased", title="seen")
    for sighting in detail["sightings"]:
        erased = sighting["erased_at"]
        table.add_row(
            str(sighting["dock_id"]),
            escape(str(sighting["station_id"])),
            escape(sighting["path"]),
            sighting["outcome"],
            local_display(erased, tz) if erased else "no",
        )
    console.print(table)


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
    report = call(
        ctx, "evidence.verify", evidence_id=None if all_ else evidence_id, orphans=orphans
    )
    if as_json:
        print_json(report)
    else:
        console.print(
            f"checked {report['checked']}, ok {report['ok']}, failed {len(report['failed'])}"
        )
        for failure in report["failed"]:
            console.print(f"  [red]evidence {failure['evidence_id']}:[/] {failure['reason']}")
        if report.get("orphans") is not None:
            console.print(f"orphans (objects no record points at): {len(report['orphans'])}")
            for key in report["orphans"]:
                console.print(f"  [red]orphan:[/] {key}", soft_wrap=True)
    if report["failed"] or report.get("orphans"):
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
    decision = call(
        ctx,
        "evidence.classify",
        evidence_id=evidence_id,
        retention_class=retention_class,
        category=category,
        reason=reason,
    )
    until = decision["retain_until"] or "permanently"
    console.print(
        f"evidence {evidence_id}: {retention_class}, kept until {until} ({decision['rule']})"
    )


@app.command()
def hold(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
) -> None:
    """Place a legal hold: nothing deletes the evidence until the hold is released."""
    placed = call(ctx, "evidence.hold", evidence_id=evidence_id, reason=reason)
    console.print(f"hold {placed['hold_id']} placed on evidence {evidence_id}")


@app.command()
def release(
    ctx: typer.Context,
    hold_id: Annotated[int, typer.Argument(help="Hold id (see evidence show).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
) -> None:
    """Release a legal hold; the evidence's dated retention stays as it was."""
    released = call(ctx, "evidence.release", hold_id=hold_id, reason=reason)
    console.print(f"hold {hold_id} on evidence {released['evidence_id']} released")


@app.command()
def view(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Keep a copy in this new folder: a copy, needing a copy grant."),
    ] = None,
    play: Annotated[bool, typer.Option("--play", help="Play it (the default).")] = True,
    player: Annotated[
        str, typer.Option(help="Command that plays the file (its path is appended).")
    ] = "ffplay -autoexit -loglevel error",
) -> None:
    """Watch a viewing copy: a handler's own case, else a view grant (AC-2, AC-3); it plays
    from a private place that is removed afterwards. Registered (AC-7)."""
    if out is not None:
        _, placed = call_receiving(
            ctx, "evidence.view", {"view": out}, evidence_id=evidence_id, keep=True
        )
        kept = sorted(p for p in placed["view"].iterdir())
        console.print(f"copy of evidence {evidence_id} kept: {kept[0] if kept else out}")
        return
    command = shlex.split(player)
    if not command or shutil.which(command[0]) is None:
        raise VaultError(
            f"no player {command[0] if command else player!r}: install ffmpeg's ffplay or "
            "give --player; nothing was fetched"
        )
    private = Path(tempfile.mkdtemp(prefix="evault-view-"))  # 0700, the caller's own
    try:
        answer, _ = call_receiving(
            ctx, "evidence.view", {"view": private / "view"}, evidence_id=evidence_id
        )
        path = private / answer["file"]
        subprocess.run([*command, str(path)], check=False)
        console.print(f"viewed evidence {evidence_id}; the copy is removed")
    finally:
        shutil.rmtree(private, ignore_errors=True)  # AC-2: nothing stays behind


@app.command("export")
def export_(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="New folder for the package.")],
    evidence_id: Annotated[int | None, typer.Argument(help="Evidence id (or --case).")] = None,
    case: Annotated[str | None, typer.Option(help="Every record linked to this case.")] = None,
    grant: Annotated[
        int | None,
        typer.Option(
            help="Grant id: yours (the default), or an outside requester's that a "
            "records keeper hands over."
        ),
    ] = None,
    iso: Annotated[
        bool, typer.Option("--iso", help="Also write two labelled disc images (EV-2).")
    ] = False,
    place: Annotated[
        str | None, typer.Option(help="Place of recording for the written statement.")
    ] = None,
    redacted: Annotated[
        bool,
        typer.Option("--redacted", help="Every record as its redacted copy (see evidence redact)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Export an evidence package (originals, viewing copies, SHA256SUMS, manifest.json,
    written statement) under a copy or export grant (AC-8, EV-1..EV-3); registered."""
    if (evidence_id is None) == (case is None):
        raise VaultError("give one evidence id or --case NUMBER")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise VaultError(f"{out} exists and is not an empty folder: choose a new --out")
    if out.exists():
        out.rmdir()
    out.parent.mkdir(parents=True, exist_ok=True)
    result, _ = call_receiving(
        ctx,
        "evidence.export",
        {"package": out},
        out=str(out.absolute()),
        evidence_id=evidence_id,
        case=case,
        grant=grant,
        iso=iso,
        place=place,
        redacted=redacted,
    )
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result['action']} under grant {result['grant_id']}: {len(result['files'])} files "
        f"in {out}"
    )
    console.print(f"check on any machine: cd {out} && sha256sum -c SHA256SUMS")
    for image in result["images"]:
        console.print(f"disc image: {image}")


@app.command()
def discs(
    ctx: typer.Context,
    evidence_ids: Annotated[list[int], typer.Argument(help="Evidence ids (see evault todo).")],
    out: Annotated[Path, typer.Option(help="New folder for the two disc images.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make the two labelled disc images of footage kept long-term (EV-2), to burn and label
    by hand (制作单位 the bureau, 制作人 you); registered, and taken off evault todo."""
    if out.exists():
        raise VaultError(f"{out} already exists: choose a new --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    result, _ = call_receiving(
        ctx, "evidence.discs", {"discs": out}, out=str(out.absolute()), evidence_ids=evidence_ids
    )
    if as_json:
        print_json(result)
        return
    for image, label in zip(result["images"], result["labels"], strict=True):
        console.print(f"disc image: {image} (label: {label})")


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
    found = call(
        ctx, "evidence.mark", evidence_id=evidence_id, markings=markings or [], reason=reason
    )
    console.print(f"evidence {evidence_id}: {', '.join(found) or 'no marking'}")


@app.command()
def redact(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    faces: Annotated[
        bool, typer.Option("--faces", help="Find the faces (again) with the detector.")
    ] = False,
    box: Annotated[
        list[str] | None,
        typer.Option(help="Hide a region: T0-T1:x,y,w,h (seconds; the source's pixels)."),
    ] = None,
    mute: Annotated[list[str] | None, typer.Option(help="Silence the sound: T0-T1.")] = None,
    drop: Annotated[
        list[str] | None, typer.Option(help="Remove a box or mute range by its id (f3, b1).")
    ] = None,
    plan_in: Annotated[
        Path | None, typer.Option(help="Take the boxes and mute ranges of this JSON plan.")
    ] = None,
    plan_out: Annotated[
        Path | None, typer.Option(help="Write the plan (after the changes) as JSON here.")
    ] = None,
    style: Annotated[str | None, typer.Option(help="blur (the default) or fill.")] = None,
    every: Annotated[int, typer.Option(help="With --faces: look at every Nth frame.")] = 5,
    note: Annotated[str | None, typer.Option(help="Why (kept with the plan version).")] = None,
    render: Annotated[
        bool | None,
        typer.Option(
            "--render/--no-render",
            help="Render the newest plan version and seal it (the default with --faces: "
            "--no-render to review the detections first).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Plan and render a redacted copy for release (AC-9): detected faces, boxes and muted
    sound; each change is a new plan version in your name, a render a sealed derivative.
    `--faces` alone detects, tracks and renders in one go."""
    if render is None:
        render = faces
    plan = None
    if plan_in is not None:
        try:
            plan = json.loads(plan_in.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VaultError(f"cannot read the plan {plan_in}: {exc}") from None
    result = call(
        ctx,
        "evidence.redact",
        evidence_id=evidence_id,
        faces=faces,
        boxes=box or [],
        mutes=mute or [],
        drops=drop or [],
        plan=plan,
        style=style,
        every=every,
        note=note,
        render=render,
    )
    if plan_out is not None and result["plan"] is not None:
        text = json.dumps(result["plan"], ensure_ascii=False, indent=1)
        plan_out.write_text(text + "\n", encoding="utf-8")
    if as_json:
        print_json(result)
        return
    for change in result["changes"]:
        console.print(f"  {change}")
    for row in result["versions"]:
        rendered = f"rendered {row['rendered'][:12]}" if row["rendered"] else "not rendered"
        console.print(
            f"plan v{row['version']} by {row['author']} at "
            f"{human(row['created_at'], timezone_of(ctx))}: "
            f"{row['faces']} faces, {row['boxes']} boxes, {row['mute']} mute ranges "
            f"({row['style']}), {rendered}" + (f" — {row['note']}" if row["note"] else ""),
            soft_wrap=True,
        )
    if result["render"]:
        done = result["render"]
        console.print(f"redacted copy {done['kind']}: {done['sha256']} ({done['size']:,} bytes)")
    if plan_out is not None:
        console.print(f"plan written to {plan_out}")


@app.command()
def thumbnail(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    out: Annotated[Path, typer.Argument(help="JPEG file to write.")],
) -> None:
    """Write the poster frame of a clip (or a photo's preview) to OUT."""
    row, _ = call_receiving(ctx, "evidence.thumbnail", {"poster.jpg": out}, evidence_id=evidence_id)
    console.print(f"poster of evidence {evidence_id} ({row['size']:,} bytes) written to {out}")


@app.command("contact-sheet")
def contact_sheet(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id.")],
    out: Annotated[Path, typer.Argument(help="JPEG file to write.")],
) -> None:
    """Write the contact sheet of a clip (a grid of frames with their times) to OUT."""
    row, _ = call_receiving(
        ctx, "evidence.contact-sheet", {"contact_sheet.jpg": out}, evidence_id=evidence_id
    )
    frames = row["frames"]
    console.print(f"contact sheet of evidence {evidence_id} ({frames} frames) written to {out}")
