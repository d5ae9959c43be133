"""`evault purge`: delete what retention no longer requires, and record each deletion."""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cases.purge import purge as run_purge
from vault.cli.common import console, print_json, vault_of
from vault.timeutil import parse_time


def purge(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be deleted.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Plan as of this time (ISO 8601; --dry-run only).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete originals whose retention has passed and that nothing holds (RT-1..RT-5)."""
    vault = vault_of(ctx)
    report = run_purge(vault, dry_run=dry_run, as_of=parse_time(as_of, vault.settings.timezone))
    if as_json:
        print_json(report.to_json())
        return
    verb = "would delete" if dry_run else "deleted"
    for entry in report.deleted:
        console.print(
            f"{verb} evidence {entry['evidence_id']} ({entry['rule']}, retained "
            f"until {entry['retain_until']})"
        )
    for entry in report.kept:
        console.print(f"kept evidence {entry['evidence_id']}: {entry['reason']}")
    job = f" (purge job {report.job_id})" if report.job_id else ""
    console.print(f"{verb} {len(report.deleted)}, kept {len(report.kept)}{job}")
