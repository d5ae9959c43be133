"""`evault session annotate` and `evault stop-record add|approve|list`: the written reasons
for interruptions (RC-3) and the work records of permitted stops (RC-4)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vault.cli.common import console, print_json, vault_of
from vault.timeutil import parse_time
from vault.compliance.reasons import GAP_REASONS, annotate_gap
from vault.compliance.stops import STOP_REASONS, add_stop, all_stops, approve_stop, stop_json
from vault.errors import VaultError

app = typer.Typer(help="Recording sessions: reasons for interruptions.", no_args_is_help=True)
stop_app = typer.Typer(help="Work records of permitted stops (RC-4).", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def annotate(
    ctx: typer.Context,
    gap_id: Annotated[int, typer.Argument(help="Gap id (evault report compliance --json).")],
    reason: Annotated[str, typer.Option(help=" | ".join(GAP_REASONS))],
    note: Annotated[str, typer.Option(help="The written explanation.")],
) -> None:
    """Give the written reason for an interruption (RC-3)."""
    gap = annotate_gap(vault_of(ctx), gap_id, reason, note)
    console.print(f"gap {gap.id} of session {gap.session_id}: {reason} ({GAP_REASONS[reason]})")


@stop_app.command()
def add(
    ctx: typer.Context,
    device: Annotated[str, typer.Option(help="Camera device id.")],
    officer: Annotated[str, typer.Option(help="Officer badge number.")],
    from_: Annotated[str, typer.Option("--from", help="Recording stopped (ISO 8601).")],
    to: Annotated[str, typer.Option(help="Recording resumed or the activity ended.")],
    reason: Annotated[str, typer.Option(help=" | ".join(STOP_REASONS))],
    basis: Annotated[str, typer.Option(help="The rule or instruction the stop rests on.")],
    statement: Annotated[
        Path | None,
        typer.Option(help="The requester's signed statement (witness request, secrets)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """File the work record of a permitted stop; a supervisor approves it (RC-4)."""
    vault = vault_of(ctx)
    tz = vault.settings.timezone
    start, end = parse_time(from_, tz), parse_time(to, tz)
    if start is None or end is None:
        raise VaultError("--from and --to are required")
    row = add_stop(
        vault,
        device_id=device,
        officer_id=officer,
        stop_from=start,
        stop_to=end,
        reason=reason,
        basis=basis,
        statement=statement,
    )
    if as_json:
        with vault.session() as session:
            print_json(stop_json(session, row))
        return
    sealed = f"; statement sealed, SHA-256 {row.statement_sha256}" if row.statement_sha256 else ""
    console.print(f"stop record {row.id} filed, awaiting the supervisor's approval{sealed}")


@stop_app.command()
def approve(
    ctx: typer.Context,
    stop_id: Annotated[int, typer.Argument(help="Stop record id.")],
) -> None:
    """Approve a stop record (a principal with the approver role, not its filer)."""
    row = approve_stop(vault_of(ctx), stop_id)
    console.print(f"stop record {row.id} approved by {row.approved_by}")


@stop_app.command("list")
def list_(ctx: typer.Context, as_json: Json = False) -> None:
    """Every stop record."""
    vault = vault_of(ctx)
    with vault.session() as session:
        rows = [stop_json(session, row) for row in all_stops(session)]
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
