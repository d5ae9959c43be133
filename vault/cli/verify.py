"""`evault verify`: every record held against the WORM store, one line per class, exiting
with the code of the most serious class found (README: exit codes). One call of the
service API (`verify`; with --seal-missing first `verify.seal-missing`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from vault.cli.common import Table, call, console, print_json
from vault.cli.display import styled
from vault.i18n import _

SHOWN = 3  # findings printed per class; --json lists them all


def _print(report: dict[str, Any]) -> None:
    table = Table("class", "exit", "checked", "found", "first findings")
    for kind, data in report["classes"].items():
        found = data["found"]
        first = "\n".join(f"{f['subject']}: {f['reason']}" for f in found[:SHOWN])
        if len(found) > SHOWN:
            first += f"\n… and {len(found) - SHOWN} more (--json)"
        style = "green" if not found else "yellow" if kind == "warnings" else "red"
        table.add_row(
            kind,
            str(data["exit_code"]),
            str(data["checked"]),
            styled(len(found), style),
            first or "—",
        )
    console.print(table)
    verdict = "[green]ok[/]" if report["ok"] else f"exit {report['exit_code']}"
    console.print(verdict)


def _print_sealed(result: dict[str, Any]) -> None:
    console.print(_("seal records written: {count}").format(count=len(result["sealed"])))
    for refusal in result["refused"]:
        console.print(
            f"  [red]not sealed[/] {escape(refusal['subject'])}: {escape(refusal['reason'])}",
            soft_wrap=True,
        )


def verify(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole report as JSON.")
    ] = False,
    no_objects: Annotated[
        bool,
        typer.Option("--no-objects", help="Do not re-read and re-hash the objects (fast)."),
    ] = False,
    seal_missing: Annotated[
        bool,
        typer.Option(
            "--seal-missing",
            help="First write seal records for rows that have none (once, after upgrading "
            "a vault sealed before seal records): only where the object verifies and the "
            "audit chain names the same bytes.",
        ),
    ] = False,
) -> None:
    """Hold every record against the WORM store: objects, rows, chains, grants, retention,
    protection. Exits 0 when all hold, 10 when only warnings, else the code of the most
    serious class found."""
    sealed = call(ctx, "verify.seal-missing") if seal_missing else None
    report = call(ctx, "verify", objects=not no_objects)
    if as_json:
        print_json(report if sealed is None else {**report, "seal_missing": sealed})
    else:
        if sealed is not None:
            _print_sealed(sealed)
        _print(report)
    if report["exit_code"]:
        raise typer.Exit(report["exit_code"])
