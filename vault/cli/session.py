"""`evault session annotate` and `evault stop-record add|approve|list`: the written reasons
for interruptions (RC-3, RC-6) and the work records of permitted stops (RC-4). Each command is
one call of the service API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vault.cli.common import Csv, Table, call, call_with_files, console, csv_mode, print_json
from vault.errors import VolumeError

# The codes the domain knows (vault.compliance.reasons.GAP_REASONS, .stops.STOP_REASONS),
# for the help text only: the service checks them.
GAP_CODES = ("device_fault", "battery", "storage_full", "weather", "obstruction", "other")
STOP_CODES = ("witness_request", "public_transport", "secrets", "privacy", "weather", "other")

app = typer.Typer(help="Recording sessions: reasons for interruptions.", no_args_is_help=True)
stop_app = typer.Typer(help="Work records of permitted stops (RC-4).", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def annotate(
    ctx: typer.Context,
    gap_id: Annotated[int, typer.Argument(help="Gap id (evault report compliance --json).")],
    reason: Annotated[str, typer.Option(help=" | ".join(GAP_CODES))],
    note: Annotated[str, typer.Option(help="The written explanation.")],
) -> None:
    """Give the written reason for an interruption (RC-3): an officer for his own recording,
    or a records keeper (RC-6). A changed reason is a new version; the old one is kept."""
    gap = call(ctx, "session.annotate", gap_id=gap_id, reason=reason, note=note)
    console.print(
        f"gap {gap['gap_id']} of session {gap['session_id']}: {reason} ({gap['reason_label']})"
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
        typer.Option(help="The requester's signed statement (witness request, secrets)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """File the work record of a permitted stop; a supervisor approves it (RC-4)."""
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
            raise VolumeError(f"statement file {statement} does not exist or is not a file")
        # Sent under its own name: the sealed statement keeps the file name it was given.
        row = call_with_files(
            ctx, "stop-record.add", {statement.name: statement}, statement=statement.name, **params
        )
    if as_json:
        print_json(row)
        return
    sha256 = row["statement"]["sha256"] if row["statement"] else None
    sealed = f"; statement sealed, SHA-256 {sha256}" if sha256 else ""
    console.print(f"stop record {row['stop_id']} filed, awaiting the supervisor's approval{sealed}")


@stop_app.command()
def approve(
    ctx: typer.Context,
    stop_id: Annotated[int, typer.Argument(help="Stop record id.")],
) -> None:
    """Approve a stop record (a principal with the approver role, not its filer)."""
    row = call(ctx, "stop-record.approve", stop_id=stop_id)
    console.print(f"stop record {row['stop_id']} approved by {row['approved_by']}")


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
