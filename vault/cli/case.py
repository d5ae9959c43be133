"""`evault case ...`: case files, their evidence, closure and litigation hold (RT-3, IN-4).
Each command is one call of the service API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from vault.cli.common import (
    Csv,
    Table,
    call,
    console,
    csv_mode,
    human,
    print_fields,
    print_json,
    timezone_of,
)
from vault.errors import VaultError
from vault.i18n import N_, _

app = typer.Typer(help="Case files and the evidence linked to them.", no_args_is_help=True)

Number = Annotated[str, typer.Argument(help="Case number, e.g. 环罚〔2026〕12号.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def create(
    ctx: typer.Context,
    number: Number,
    name: Annotated[str, typer.Option(help="Case name.")],
    case_type: Annotated[
        str, typer.Option("--type", help="行政处罚, 行政强制, 行政检查, 行政许可 or other.")
    ],
    unit: Annotated[str, typer.Option(help="Handling unit.")],
    handler: Annotated[
        list[str] | None, typer.Option(help="Case handler's badge number (repeat).")
    ] = None,
    activity: Annotated[
        list[str] | None, typer.Option(help="Must-record activity (RC-5), e.g. 查封 (repeat).")
    ] = None,
    matter: Annotated[
        list[str] | None,
        typer.Option(
            help="事项 of the bureau's must-record list (RC-5), e.g. 查封、扣押 (repeat)."
        ),
    ] = None,
    stage: Annotated[
        list[str] | None,
        typer.Option(help="环节 of that 事项 (repeat; none: every 环节 of the 事项)."),
    ] = None,
    place: Annotated[
        str | None, typer.Option(help="Where its footage was recorded (EV-1, the statement).")
    ] = None,
    to_prove: Annotated[
        str | None, typer.Option("--to-prove", help="What its footage is to prove (证明对象).")
    ] = None,
) -> None:
    """Open a case file; its handlers are named by a records keeper, never by themselves."""
    case = call(
        ctx,
        "case.create",
        number=number,
        name=name,
        case_type=case_type,
        unit=unit,
        handlers=handler or [],
        activities=activity or [],
        matters=matter or [],
        stages=stage or [],
        place=place,
        to_prove=to_prove,
    )
    years = case["file_retention_years"]
    if years:
        opened = _("case {number} opened ({type}; file kept {years} years after closure)")
    else:
        opened = _("case {number} opened ({type}; file kept permanently)")
    console.print(opened.format(number=case["number"], type=case["type"], years=years))
    for stated in case.get("stages") or []:
        console.print(
            _("  must record: {matter} / {stage}").format(
                matter=escape(stated["matter"]), stage=escape(stated["stage"])
            )
        )


@app.command("link")
def link_(
    ctx: typer.Context,
    number: Number,
    evidence_ids: Annotated[list[int] | None, typer.Argument(help="Evidence ids.")] = None,
    session: Annotated[
        list[int] | None,
        typer.Option("--session", help="All evidence of a docking (dock id; repeat)."),
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option(help="The case's 环节 the footage records (RC-5; one stated: that one)."),
    ] = None,
) -> None:
    """Link evidence to a case: it is then kept as long as the case file (RT-3)."""
    if not evidence_ids and not session:
        raise VaultError(N_("name evidence ids or {option}"), option="--session DOCK_ID")
    linked = call(
        ctx,
        "case.link",
        number=number,
        evidence_ids=evidence_ids or [],
        sessions=session or [],
        stage=stage,
    )
    if linked:
        console.print(
            _("linked to case {number}: {ids}").format(
                number=number, ids=", ".join(map(str, linked))
            )
        )
    else:
        console.print(_("linked to case {number}: nothing new").format(number=number))


@app.command()
def unlink(
    ctx: typer.Context,
    number: Number,
    evidence_ids: Annotated[list[int], typer.Argument(help="Evidence ids.")],
    reason: Annotated[str, typer.Option(help="Why the link was wrong (recorded).")],
) -> None:
    """Unlink evidence from a case: recorded, and refused if retention would shrink (RT-4)."""
    call(ctx, "case.unlink", number=number, evidence_ids=evidence_ids, reason=reason)
    console.print(
        _("unlinked from case {number}: {ids}").format(
            number=number, ids=", ".join(map(str, evidence_ids))
        )
    )


@app.command()
def show(ctx: typer.Context, number: Number, as_json: Json = False) -> None:
    """A case with every link ever made to it."""
    detail = call(ctx, "case.show", number=number)
    if as_json:
        print_json(detail)
        return
    tz = timezone_of(ctx)
    print_fields(detail, skip=("evidence",), tz=tz)
    table = Table("evidence", "file", "环节", "linked", "unlinked", "retain until", "hold")
    for row in detail["evidence"]:
        unlinked = (
            f"{human(row['unlinked_at'], tz)} ({row['unlink_reason']})"
            if row["unlinked_at"]
            else ""
        )
        table.add_row(
            str(row["evidence_id"]),
            escape(row["file_name"]),
            escape(row.get("stage") or ""),
            human(row["linked_at"], tz),
            escape(unlinked),
            human(row["retain_until"], tz) if row["retain_until"] else "permanent",
            "yes" if row["hold"] else "",
        )
    console.print(table)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="open or closed.")] = None,
    as_json: Json = False,
    csv: Csv = False,
) -> None:
    """All case files."""
    csv_mode(csv)
    rows = call(ctx, "case.list", status=status)
    if as_json:
        print_json(rows)
        return
    table = Table("number", "name", "type", "unit", "status", "litigation", "evidence")
    for row in rows:
        table.add_row(
            row["number"],
            row["name"],
            row["type"],
            row["unit"],
            row["status"],
            "yes" if row["litigation"] else "",
            str(row["evidence_count"]),
        )
    console.print(table)


@app.command()
def close(ctx: typer.Context, number: Number) -> None:
    """Close a case: its evidence is then kept for the case file's retention from today."""
    count = call(ctx, "case.close", number=number)
    console.print(
        _("case {number} closed; retention recomputed for {count} records").format(
            number=number, count=count
        )
    )


@app.command()
def litigation(
    ctx: typer.Context,
    number: Number,
    start: Annotated[
        bool, typer.Option("--start", help="Litigation is pending: hold everything.")
    ] = False,
    end: Annotated[
        bool, typer.Option("--end", help="Litigation has ended: release the hold.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Court, docket number, ...")] = "",
) -> None:
    """Start or end the litigation hold on a case's evidence (RT-3)."""
    if start == end:
        raise VaultError(N_("give exactly one of {start} or {end}"), start="--start", end="--end")
    count = call(ctx, "case.litigation", number=number, start=start, reason=reason)
    if start:
        done = _("case {number} under litigation hold; {count} records updated")
    else:
        done = _("case {number} released from litigation hold; {count} records updated")
    console.print(done.format(number=number, count=count))
