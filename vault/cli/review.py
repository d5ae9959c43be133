"""`evault review sample|record`: spot checks of recording sessions (OV-2, OV-3). Each command
is one call of the service API; a sample then asks for the drawn sessions' facts (camera,
officer, times, clips) so the reviewer knows what to play back."""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cli.common import Csv, FromDate, ToDate, call, console, csv_mode, print_json, timezone_of
from vault.cli.session import print_sessions
from vault.i18n import _

app = typer.Typer(help="Spot checks: random samples for playback review.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def sample(
    ctx: typer.Context,
    count: Annotated[int, typer.Option(help="How many sessions to draw.")],
    seed: Annotated[
        str | None, typer.Option(help="Seed: the same seed and data give the same sample.")
    ] = None,
    from_: FromDate = None,
    to: ToDate = None,
    as_json: Json = False,
    csv: Csv = False,
) -> None:
    """Draw a reproducible random sample of sessions; the draw is recorded (OV-2). Lists
    each drawn session's camera, officer, start and end, and clips."""
    csv_mode(csv)
    draw = call(ctx, "review.sample", count=count, seed=seed, from_=from_, to=to)
    drawn = call(ctx, "session.list", ids=draw["sessions"])
    if as_json:
        print_json(draw | {"drawn": drawn})
        return
    if not csv:
        console.print(
            f"draw {draw['draw_id']} (seed {draw['seed']}, {draw['population']} sessions in "
            f"range): {len(draw['sessions'])} drawn",
            soft_wrap=True,
        )
    print_sessions(drawn, timezone_of(ctx))


@app.command()
def record(
    ctx: typer.Context,
    session_id: Annotated[int, typer.Argument(help="Recording session id.")],
    result: Annotated[str, typer.Option(help="ok or finding.")],
    note: Annotated[str, typer.Option(help="What was reviewed and found.")],
    as_json: Json = False,
) -> None:
    """Record the reviewer's result for a session; findings go into the report (OV-3)."""
    row = call(ctx, "review.record", session_id=session_id, result=result, note=note)
    if as_json:
        print_json(row)
        return
    console.print(
        _("review {id} of session {session}: {result}").format(
            id=row["review_id"], session=session_id, result=result
        )
    )
