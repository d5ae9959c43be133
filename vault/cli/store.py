"""`evault store check|init|drain`: is the configured store fit to hold evidence, making
it so, and emptying the local spool into S3 after an outage."""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cli.common import console, print_json, vault_of
from vault.config import Settings
from vault.errors import VaultError
from vault.store.s3_bucket import BucketReport

app = typer.Typer(help="Check or prepare the WORM store.", no_args_is_help=True)


def _s3_only(settings: Settings) -> None:
    if settings.store.backend != "s3":
        raise VaultError(
            f'store.backend is "{settings.store.backend}"; `evault store init` prepares an S3 '
            f"bucket (the local store at {settings.store_path} is made when first used)"
        )


def _print(report: BucketReport, as_json: bool, created: bool | None = None) -> None:
    if as_json:
        data = report.to_json()
        if created is not None:
            data["created"] = created
        print_json(data)
        return
    if created is not None:
        console.print(f"bucket {report.bucket}: {'created' if created else 'already there'}")
    if report.versioning is None:  # no bucket: only the problem says anything
        console.print(f"[red]problem:[/] {report.problems[0]}", soft_wrap=True)
        raise typer.Exit(1)
    console.print(
        f"bucket {report.bucket} at {report.endpoint}: versioning {report.versioning}, "
        f"Object Lock {'on' if report.object_lock else 'OFF'}, default retention "
        f"{report.default_retention or 'none (the vault locks every object itself)'}",
        soft_wrap=True,
    )
    for note in report.notes:
        console.print(f"  [yellow]note:[/] {note}", soft_wrap=True)
    for problem in report.problems:
        console.print(f"  [red]problem:[/] {problem}", soft_wrap=True)
    console.print("[green]ok[/]" if report.ok else "[red]not fit to hold evidence[/]")


@app.command()
def check(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify the store: for S3, the bucket exists with versioning and Object Lock on, and
    the default retention is what store.default_retention_days says. Exits 1 if not."""
    vault = vault_of(ctx)
    settings = vault.settings
    if settings.store.backend == "local":
        store = vault.store  # opening it creates and checks its folders
        if as_json:
            print_json({"backend": "local", "path": str(settings.store_path), "ok": True})
        else:
            console.print(f"local store at {settings.store_path}: ok ({store.backend})")
        return
    from vault.store.s3_bucket import check_bucket, make_client

    report = check_bucket(make_client(settings.store), settings.store)
    _print(report, as_json)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def init(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create the S3 bucket with Object Lock (and the configured default retention) where
    the credentials allow it, then check it. An existing bucket is checked, not replaced."""
    vault = vault_of(ctx)
    _s3_only(vault.settings)
    from vault.store.s3_bucket import init_bucket, make_client

    created, report = init_bucket(make_client(vault.settings.store), vault.settings.store)
    _print(report, as_json, created)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def drain(
    ctx: typer.Context,
    until_empty: Annotated[
        bool, typer.Option("--until-empty", help="Retry with backoff until the spool is empty.")
    ] = False,
    max_wait: Annotated[
        float, typer.Option(help="With --until-empty: give up after this many seconds.")
    ] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Upload originals sealed in the local spool during an S3 outage, verify them in S3,
    point their records there and drop the spooled copies. Exits 1 if any is left."""
    from vault.store.uploader import drain as drain_spool

    report = drain_spool(vault_of(ctx), until_empty=until_empty, max_wait_s=max_wait)
    if as_json:
        print_json(report.to_json())
    else:
        console.print(f"uploaded {len(report.uploaded)}, still spooled {report.left}")
        for evidence_id, reason in report.failed:
            console.print(f"  [red]evidence {evidence_id}:[/] {reason}", soft_wrap=True)
    if report.left:
        raise typer.Exit(1)
