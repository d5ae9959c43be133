"""`evault compliance scan|late|late-reason|calendar` and `evault report compliance`: recording
compliance checks and the oversight report (DV-2, RC-1..RC-5, IN-1, OV-1, OV-3). Each command
is one call of the service API."""

from __future__ import annotations

import os
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
    print_json,
    timezone_of,
)
from vault.errors import VaultError
from vault.i18n import N_, _
from vault.timeutil import local_display

app = typer.Typer(help="Recording compliance: sessions, narration, clocks, deadlines.")
report_app = typer.Typer(help="Reports for supervisors.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def scan(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(help="Only recordings since this time (ISO 8601; local time if no zone)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Group clips into sessions, find gaps, listen for narration (idempotent; timer-safe)."""
    report = call(ctx, "compliance.scan", since=since)
    if as_json:
        print_json(report)
    else:
        console.print(
            f"{report['sessions']} sessions ({report['new_sessions']} new), {report['gaps']} "
            f"interruptions ({report['new_gaps']} new); narration checked on "
            f"{len(report['checked'])} clips, {report['up_to_date']} already up to date"
        )
        for entry in report["checked"]:
            verdict = "narrated" if entry["narrated"] else "[red]NOT narrated[/]"
            if not entry["has_audio"]:
                verdict = "[red]no audio track[/]"
            console.print(
                f"  {entry['rule']}  {escape(entry['file_name'])}: {verdict} "
                f"({entry['speech_s']} s of speech)"
            )
        for entry in report["failed"]:
            console.print(
                f"  [red]failed[/] {escape(entry['file_name'])}: {escape(entry['error'])}"
            )
        if report["waiting_for_probe"]:
            console.print(
                f"{report['waiting_for_probe']} clips wait for their media probe "
                "(evault media run); the next scan takes them"
            )
    if not report["ok"]:
        raise typer.Exit(1)


@app.command()
def late(
    ctx: typer.Context,
    officer: Annotated[
        str | None, typer.Option(help="Officer badge number (an officer: only his own).")
    ] = None,
    from_: FromDate = None,
    to: ToDate = None,
    as_json: Json = False,
    csv: Csv = False,
) -> None:
    """Clips sealed after the upload deadline (IN-1) with no reason given yet; give one with
    `evault compliance late-reason ID`."""
    csv_mode(csv)
    rows = call(ctx, "compliance.late", officer=officer, from_=from_, to=to)
    if as_json:
        print_json(rows)
        return
    print_late(rows, timezone_of(ctx))


def print_late(rows: list[dict[str, Any]], tz: str) -> None:
    table = Table(
        "evidence", "camera", "officer", f"recorded ({tz})", f"sealed ({tz})",
        f"deadline ({tz})", "hours late", "file",
    )  # fmt: skip
    for row in rows:
        badge = row["officer_id"] or "?"
        table.add_row(
            str(row["evidence_id"]),
            row["device_id"] or "?",
            f"{row['officer_name']}（{badge}）" if row["officer_name"] else badge,
            local_display(row["recorded_at"], tz),
            local_display(row["sealed_at"], tz),
            local_display(row["due"], tz) + (" (approximate)" if row["approximate"] else ""),
            f"{row['hours_late']:.1f}",
            row["file_name"],
        )
    console.print(table)


@app.command("late-reason")
def late_reason(
    ctx: typer.Context,
    evidence_id: Annotated[int, typer.Argument(help="Evidence id of the late clip.")],
    note: Annotated[str, typer.Option(help="Why it reached the vault late (IN-1).")],
    as_json: Json = False,
) -> None:
    """Attach the officer's reason to a clip sealed after the upload deadline (IN-1)."""
    row = call(ctx, "compliance.late-reason", evidence_id=evidence_id, note=note)
    if as_json:
        print_json(row)
    else:
        console.print(_("reason recorded for evidence {id}").format(id=evidence_id))


@app.command()
def calendar(ctx: typer.Context, as_json: Json = False) -> None:
    """Which years the installed PRC holiday calendar covers (for "2 working days", IN-1)."""
    info = call(ctx, "compliance.calendar")
    if as_json:
        print_json(info)
        return
    first, last = info["years"]
    console.print(
        f"chinese-calendar {info['version']}: PRC holidays and adjusted working days "
        f"{first}-{last}; later years need an update (pip install -U chinese-calendar)"
    )


@report_app.command("compliance")
def compliance_report(
    ctx: typer.Context,
    from_: FromDate = None,
    to: ToDate = None,
    unit: Annotated[
        str | None,
        typer.Option(
            help="A unit: its officers, cases and the cameras that reported it at docking "
            "(every name of it in `evault unit list`)."
        ),
    ] = None,
    officer: Annotated[str | None, typer.Option(help="Officer badge number.")] = None,
    device: Annotated[str | None, typer.Option(help="Camera device id.")] = None,
    as_json: Json = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a printable HTML report here.")
    ] = None,
) -> None:
    """Per officer and camera: recordings, sessions, interruptions, narration, clocks,
    late uploads, must-record cases without footage, and every finding (OV-1, OV-3).

    Filters that match no record say so, name the values that exist, and exit 1: a report
    over nothing is never a clean one."""
    params: dict[str, Any] = {
        "from_": from_,
        "to": to,
        "unit": unit,
        "officer": officer,
        "device": device,
    }
    if html is None:
        report = call(ctx, "report.compliance", **params)
    else:
        report = _report_with_html(ctx, params, html)
    nothing = nothing_matched(report, timezone_of(ctx))
    if as_json:
        print_json(report)
        if nothing:
            err_console.print(nothing, markup=False, soft_wrap=True)
    else:
        _print_report(report, html, nothing)
    if nothing and _filtered(report):
        raise typer.Exit(1)


FILTERS = (
    ("unit", "--unit", "units"),
    ("officer_id", "--officer", "officers"),
    ("device_id", "--device", "cameras"),
)
SHOWN = 12  # known values named in the one line; --json has them all


def _filtered(report: dict[str, Any]) -> bool:
    f = report["filters"]
    return any(f[key] for key, _, _ in FILTERS) or bool(f["from"] or f["to"])


def _some(values: list[str]) -> str:
    if not values:
        return "none"
    more = f" … ({len(values) - SHOWN} more)" if len(values) > SHOWN else ""
    return ", ".join(values[:SHOWN]) + more


def nothing_matched(report: dict[str, Any], tz: str) -> str | None:
    """The one line a report over no record prints instead of a clean result, naming the
    values that exist for each filter given (None: the filters matched records)."""
    if report.get("matched", 1):
        return None
    f = report["filters"]
    given = [f"{flag} {f[key]}" for key, flag, _ in FILTERS if f[key]]
    for key in ("from", "to"):
        if f[key]:
            given.append(f"--{key} {local_display(f[key], tz)}")
    if not given:
        return "no records: nothing to report on yet"
    line = f"no records match {' '.join(given)}: this report covers nothing"
    unknown = report.get("unknown", [])
    for key, flag, label in FILTERS:
        if f[key]:
            what = f"{flag} {f[key]} is in no record; " if key in unknown else ""
            line += f"; {what}known {label}: {_some(report['known'][key])}"
    return line


def _report_with_html(ctx: typer.Context, params: dict[str, Any], html: Path) -> Any:
    """The report, its printable copy written to HTML (replacing a file of that name, as
    the report is rewritten each time): received beside it, then moved into place."""
    if not html.parent.is_dir():
        raise VaultError(N_("cannot write {path}: No such file or directory"), path=html)
    if html.is_dir():
        raise VaultError(N_("cannot write {path}: Is a directory"), path=html)
    received = html.with_name(f".{html.name}.{os.getpid()}.new")
    try:
        report, placed = call_receiving(
            ctx, "report.compliance", {"report.html": received}, html=True, **params
        )
        if "report.html" not in placed:
            raise VaultError(N_("the service sent no printable report for {path}"), path=html)
        os.replace(received, html)
    except OSError as exc:
        raise VaultError(
            N_("cannot write {path}: {problem}"), path=html, problem=exc.strerror or exc
        ) from exc
    finally:
        received.unlink(missing_ok=True)
    return report


def _print_report(report: dict[str, Any], html: Path | None, nothing: str | None) -> None:
    table = Table(
        "officer", "camera", "clips", "hours", "sessions", "interruptions n/r/-",
        "unnarrated", "clock", "late",
    )  # fmt: skip
    for row in report["summary"]["by_officer_device"]:
        gaps = row["interruptions"]
        table.add_row(
            row["officer_id"] or "?",
            row["device_id"] or "?",
            str(row["clips"]),
            f"{row['hours']:.2f}",
            str(row["sessions"]),
            f"{gaps['narrated']}/{gaps['reasoned']}/{gaps['neither']}",
            str(row["unnarrated_sessions"]),
            str(row["clock_flags"]),
            str(row["late"]),
        )
    console.print(table)
    findings = report["findings"]
    if nothing:
        console.print(nothing, markup=False, soft_wrap=True)
    if findings or not nothing:  # "0 findings" over no record would read as a clean report
        console.print(_("{count} findings").format(count=len(findings)))
    for finding in findings:
        console.print(
            f"  [bold]{finding['rule']}[/] {escape(finding['subject'])}: "
            f"{escape(finding['detail'])}",
            soft_wrap=True,
        )
    if html is not None:
        console.print(_("printable report written to {path}").format(path=html))
