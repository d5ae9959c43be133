"""`evault unit add|alias|list`: the unit registry (issue 16). One unit (单位) may be written
several ways: by the camera ("环境监察支队一大队", or a code), by cases and principals
("一大队"); registered with its aliases, a filter by unit (`report compliance --unit`) finds
every record of it. Each command is one call of the service API."""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cli.common import Csv, Table, call, console, csv_mode, print_json
from vault.i18n import _

app = typer.Typer(help="Units and the other names they go by.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The unit's name, as reports show it.")],
    alias: Annotated[
        list[str] | None,
        typer.Option(help="Another name of it (repeat): the camera's unit string or code."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Register a unit (records keeper)."""
    row = call(ctx, "unit.add", name=name, aliases=alias or [])
    if as_json:
        print_json(row)
        return
    also = (
        _(" (also: {aliases})").format(aliases=", ".join(row["aliases"])) if row["aliases"] else ""
    )
    console.print(
        _("unit {name} registered{also}").format(name=row["name"], also=also), markup=False
    )


@app.command("alias")
def alias_(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The registered unit (its name or an alias).")],
    alias: Annotated[str, typer.Argument(help="Another name of it.")],
    as_json: Json = False,
) -> None:
    """Give a registered unit another name (records keeper)."""
    row = call(ctx, "unit.alias", name=name, alias=alias)
    if as_json:
        print_json(row)
        return
    console.print(
        _("{alias} now names unit {name}").format(alias=alias, name=row["name"]), markup=False
    )


@app.command("list")
def list_(ctx: typer.Context, as_json: Json = False, csv: Csv = False) -> None:
    """The registered units with their aliases, then the unit strings in the records that
    no registered unit has; how many officers, cases, dockings and principals use each."""
    csv_mode(csv)
    rows = call(ctx, "unit.list")
    if as_json:
        print_json(rows)
        return
    table = Table("unit", "aliases", "registered", "officers", "cases", "dockings", "principals")
    for row in rows:
        used = row["records"]
        table.add_row(
            row["name"],
            ", ".join(row["aliases"]),
            "yes" if row["registered"] else "no",
            str(used["officers"]),
            str(used["cases"]),
            str(used["dockings"]),
            str(used["principals"]),
        )
    console.print(table)
