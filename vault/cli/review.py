"""`evault review sample|record`: spot checks of recording sessions (OV-2, OV-3)."""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cli.common import console, print_json, vault_of
from vault.timeutil import parse_time
from vault.compliance.review import draw_json, draw_sample, record_review, review_json

app = typer.Typer(help="Spot checks: random samples for playback review.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def sample(
    ctx: typer.Context,
    count: Annotated[int, typer.Option(help="How many sessions to draw.")],
    seed: Annotated[
        str | None, typer.Option(help="Seed: the same seed and data give the same sample.")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Sessions recorded at or after (ISO 8601).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Sessions recorded before (ISO 8601).")] = None,
    as_json: Json = False,
) -> None:
    """Draw a reproducible random sample of sessions; the draw is recorded (OV-2)."""
    vault = vault_of(ctx)
    tz = vault.settings.timezone
    draw = draw_sample(vault, count, seed, parse_time(from_, tz), parse_time(to, tz))
    if as_json:
        print_json(draw_json(draw))
        return
    sessions = ", ".join(map(str, draw.session_ids))
    console.print(
        f"draw {draw.id} (seed {draw.seed}, {draw.population} sessions in range): {sessions}"
    )


@app.command()
def record(
    ctx: typer.Context,
    session_id: Annotated[int, typer.Argument(help="Recording session id.")],
    result: Annotated[str, typer.Option(help="ok or finding.")],
    note: Annotated[str, typer.Option(help="What was reviewed and found.")],
    as_json: Json = False,
) -> None:
    """Record the reviewer's result for a session; findings go into the report (OV-3)."""
    row = record_review(vault_of(ctx), session_id, result, note)
    if as_json:
        print_json(review_json(row))
        return
    console.print(f"review {row.id} of session {session_id}: {result}")
