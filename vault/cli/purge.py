"""`evault purge`: delete what retention no longer requires, and record each deletion.
One call of the service API: `purge.plan` with --dry-run, else `purge.run`."""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cli.common import call, console, print_json
from vault.errors import VaultError


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
    if dry_run:
        report = call(ctx, "purge.plan", as_of=as_of)
    elif as_of is not None:
        raise VaultError("--as-of is only allowed with --dry-run: a purge deletes as of now")
    else:
        report = call(ctx, "purge.run")
    if as_json:
        print_json(report)
        return
    verb = "would delete" if dry_run else "deleted"
    deleted = report["would_delete" if dry_run else "deleted"]
    for entry in deleted:
        console.print(
            f"{verb} evidence {entry['evidence_id']} ({entry['rule']}, retained "
            f"until {entry['retain_until']})"
        )
    for entry in report["kept"]:
        console.print(f"kept evidence {entry['evidence_id']}: {entry['reason']}")
    job = f" (purge job {report['job_id']})" if report["job_id"] else ""
    console.print(f"{verb} {len(deleted)}, kept {len(report['kept'])}{job}")
