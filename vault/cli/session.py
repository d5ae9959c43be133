"""`evault session list|gaps|annotate|unresumed|review` and `evault stop-record
add|approve|list`: recording sessions, the interruptions that still need a written reason,
the reasons themselves and their review, recordings that could not be resumed (RC-2, RC-3,
RC-6), and the work records of permitted stops (RC-4). Each command is one call of the
service API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vault.cli.common import (
    Csv,
    FromDate,
    Table,
    ToDate,
    call,
    call_with_files,
    console,
    csv_mode,
    print_json,
    timezone_of,
)
from vault.errors import VolumeError
from vault.i18n import N_, _
from vault.timeutil import local_display

# The codes the domain knows (vault.compliance.reasons.GAP_REASONS, .stops.STOP_REASONS),
# for the help text only: the service checks them.
GAP_CODES = ("device_fault", "battery", "storage_full", "weather", "obstruction", "other")
STOP_CODES = (
    "witness_request",
    "public_transport",
    "secrets",
    "privacy",
    "weather",
    "device_fault",
    "obstruction",
    "force_majeure",
    "other",
)

app = typer.Typer(
    help="Recording sessions, their interruptions and the reasons for them.", no_args_is_help=True
)
stop_app = typer.Typer(help="Work records of permitted stops (RC-4).", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Officer = Annotated[
    str | None, typer.Option(help="Officer badge number (an officer: only his own).")
]
Camera = Annotated[str | None, typer.Option("--camera", help="Camera device id.")]


def _person(row: dict[str, Any]) -> str:
    """姓名（执法证号）, or the badge alone when the records know no name."""
    badge = row.get("officer_id") or "?"
    return f"{row['officer_name']}（{badge}）" if row.get("officer_name") else badge


def _length(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


@app.command("list")
def list_sessions(
    ctx: typer.Context,
    officer: Officer = None,
    device: Camera = None,
    from_: FromDate = None,
    to: ToDate = None,
    as_json: Json = False,
    csv: Csv = False,
) -> None:
    """Recording sessions (RC-2): camera, officer, start, end, clips (run `evault compliance
    scan` first)."""
    csv_mode(csv)
    rows = call(ctx, "session.list", officer=officer, device=device, from_=from_, to=to)
    if as_json:
        print_json(rows)
        return
    print_sessions(rows, timezone_of(ctx))


def print_sessions(rows: list[dict[str, Any]], tz: str) -> None:
    table = Table(
        "session", "camera", "officer", f"start ({tz})", f"end ({tz})", "clips", "interruptions"
    )
    for row in rows:
        table.add_row(
            str(row["session_id"]),
            row["device_id"] or "?",
            _person(row),
            local_display(row["start"], tz),
            local_display(row["end"], tz),
            ", ".join(row["clips"]),
            str(row["gaps"]),
        )
    console.print(table)


# What a gap's status means to the person reading the list.
STATUS = {
    "needs_reason": "needs a reason",
    "reason": "reason given",
    "narrated": "resume narrated",
    "stop_record": "approved stop record",
    "stop_record_pending": "stop record awaits approval",
    "not_checked": "resume not yet checked",
}


@app.command()
def gaps(
    ctx: typer.Context,
    all_: Annotated[
        bool, typer.Option("--all", help="Also the interruptions already explained.")
    ] = False,
    officer: Officer = None,
    device: Camera = None,
    from_: FromDate = None,
    to: ToDate = None,
    as_json: Json = False,
    csv: Csv = False,
) -> None:
    """Interruptions that still need a written reason (RC-3, RC-6): the resume is not
    narrated and neither a reason nor an approved stop record explains it. Give one with
    `evault session annotate GAP_ID`."""
    csv_mode(csv)
    rows = call(ctx, "session.gaps", all_=all_, officer=officer, device=device, from_=from_, to=to)
    if as_json:
        print_json(rows)
        return
    print_gaps(rows, timezone_of(ctx), all_)


def print_gaps(rows: list[dict[str, Any]], tz: str, explained: bool = False) -> None:
    headers = ["gap", "camera", "officer", "session", f"from ({tz})", f"to ({tz})", "length"]
    table = Table(*headers, *(("status", "reason") if explained else ()))
    for row in rows:
        cells = [
            str(row["gap_id"]),
            row["device_id"] or "?",
            _person(row),
            str(row["session_id"]),
            local_display(row["from"], tz),
            local_display(row["to"], tz),
            _length(row["seconds"]),
        ]
        if explained:
            reason = row["reason_label"] or row["reason"] or ""
            note = row["note"] or ""
            cells += [STATUS.get(row["status"], row["status"]), f"{reason} {note}".strip()]
        table.add_row(*cells)
    console.print(table)


@app.command()
def annotate(
    ctx: typer.Context,
    gap_id: Annotated[int, typer.Argument(help="Gap id (see evault session gaps).")],
    reason: Annotated[str, typer.Option(help=" | ".join(GAP_CODES))],
    note: Annotated[str, typer.Option(help="The written explanation.")],
) -> None:
    """Give the written reason for an interruption (RC-3): an officer for his own recording,
    or a records keeper (RC-6). `evault session gaps` lists the gaps (their ids) that need
    one. A changed reason is a new version; the old one is kept."""
    gap = call(ctx, "session.annotate", gap_id=gap_id, reason=reason, note=note)
    console.print(
        f"gap {gap['gap_id']} of session {gap['session_id']}: {reason} ({gap['reason_label']})"
    )


@app.command()
def unresumed(
    ctx: typer.Context,
    session_id: Annotated[int, typer.Argument(help="Session id (see evault session list).")],
    reason: Annotated[str, typer.Option(help=" | ".join(GAP_CODES))],
    reported_to: Annotated[
        str | None, typer.Option(help="Whom the officer reported to at once (立即报告).")
    ] = None,
    reported_at: Annotated[
        str | None, typer.Option(help="When the report was made (ISO 8601).")
    ] = None,
    note: Annotated[
        str | None, typer.Option(help="The written explanation afterwards (事后书面说明).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Record that a session's recording stopped and could not be resumed (RC-3): the
    immediate report (to whom, when) and the written explanation; given again, a new
    version keeps the old one."""
    row = call(
        ctx,
        "session.unresumed",
        session_id=session_id,
        reason=reason,
        reported_to=reported_to,
        reported_at=reported_at,
        note=note,
    )
    if as_json:
        print_json(row)
        return
    reported = (
        _("reported to {to} at {at}").format(to=row["reported_to"], at=row["reported_at"])
        if row["reported_to"]
        else _("no immediate report recorded")
    )
    explained = _("explained") if row["note"] else _("no written explanation yet")
    console.print(
        _("session {id}: {reason}; {reported}; {explained}").format(
            id=row["session_id"], reason=row["reason_label"], reported=reported, explained=explained
        )
    )


@app.command()
def review(
    ctx: typer.Context,
    subject: Annotated[
        str, typer.Argument(help="gap:ID, evidence:ID (a late clip) or session:ID.")
    ],
    result: Annotated[str, typer.Option(help="accepted | rejected")],
    note: Annotated[str | None, typer.Option(help="Why (required to reject).")] = None,
) -> None:
    """Review the newest written reason (RC-6): accepted or rejected, by someone other than
    who gave it. A rejected reason explains nothing until a new version is given."""
    row = call(ctx, "session.review", subject=subject, result=result, note=note)
    console.print(
        f"{row['subject']} version {row['version']}: {row['review']['result']} "
        f"by {row['review']['by']}"
    )


@stop_app.command()
def add(
    ctx: typer.Context,
    device: Annotated[str, typer.Option(help="Camera device id.")],
    officer: Annotated[str, typer.Option(help="Officer badge number.")],
    from_: Annotated[str, typer.Option("--from", help="Recording stopped (ISO 8601).")],
    to: Annotated[str, typer.Option(help="Recording resumed or the activity ended.")],
    reason: Annotated[str, typer.Option(help=" | ".join(STOP_CODES))],
    basis: Annotated[str, typer.Option(help="The rule or instruction the stop rests on.")],
    statement: Annotated[
        Path | None,
        typer.Option(
            help="The requester's signed statement, where one was asked for (optional; "
            "Xiangxi 第11条: a witness's or informant's request, secrets or privacy)."
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """File the work record (工作记录) of a permitted stop: the ground, its basis, optionally
    the requester's signed statement; a supervisor reviews it (RC-4: Xiangxi 第11条,
    Pingdingshan 第12条)."""
    params = {
        "device": device,
        "officer": officer,
        "from_": from_,
        "to": to,
        "reason": reason,
        "basis": basis,
    }
    if statement is None:
        row = call(ctx, "stop-record.add", **params)
    else:
        if not statement.is_file():
            raise VolumeError(
                N_("statement file {path} does not exist or is not a file"), path=statement
            )
        # Sent under its own name: the sealed statement keeps the file name it was given.
        row = call_with_files(
            ctx, "stop-record.add", {statement.name: statement}, statement=statement.name, **params
        )
    if as_json:
        print_json(row)
        return
    sha256 = row["statement"]["sha256"] if row["statement"] else None
    sealed = (
        _("; statement sealed, {hash} {sha256}").format(hash="SHA-256", sha256=sha256)
        if sha256
        else ""
    )
    console.print(
        _("stop record {id} filed, awaiting the supervisor's approval{sealed}").format(
            id=row["stop_id"], sealed=sealed
        )
    )


@stop_app.command()
def approve(
    ctx: typer.Context,
    stop_id: Annotated[int, typer.Argument(help="Stop record id.")],
) -> None:
    """Approve a stop record (a principal with the approver role, not its filer)."""
    row = call(ctx, "stop-record.approve", stop_id=stop_id)
    console.print(
        _("stop record {id} approved by {who}").format(id=row["stop_id"], who=row["approved_by"])
    )


@stop_app.command("list")
def list_(ctx: typer.Context, as_json: Json = False, csv: Csv = False) -> None:
    """Every stop record (an officer: his own)."""
    csv_mode(csv)
    rows = call(ctx, "stop-record.list")
    if as_json:
        print_json(rows)
        return
    table = Table("id", "camera", "officer", "from", "to", "reason", "status", "statement")
    for row in rows:
        table.add_row(
            str(row["stop_id"]),
            row["device_id"] or "?",
            row["officer_id"] or "?",
            row["from"],
            row["to"],
            row["reason_label"],
            row["status"],
            "sealed" if row["statement"] else "",
        )
    console.print(table)
