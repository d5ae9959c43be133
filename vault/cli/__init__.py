"""`evault`: the command line. Thin: parse, call, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.main

from vault import __version__, i18n
from vault.cli import (
    access,
    case,
    compliance,
    custody,
    device,
    dock,
    evidence,
    ingest,
    media,
    principal,
    purge,
    review,
    serve,
    session,
    store,
    todo,
    unit,
    verify,
)
from vault.cli.common import State
from vault.cli.metavars import name_metavars
from vault.errors import VaultError
from vault.i18n import _

app = typer.Typer(
    name="evault",
    help="Evidence Vault: body-camera footage from dock to the end of its retention.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("ingest")(ingest.ingest)
app.add_typer(evidence.app, name="evidence")
app.add_typer(store.app, name="store")
app.add_typer(case.app, name="case")
app.add_typer(purge.app, name="purge")
app.add_typer(media.app, name="media")
app.add_typer(access.app, name="access")
app.add_typer(principal.app, name="principal")
app.add_typer(compliance.app, name="compliance")
app.add_typer(compliance.report_app, name="report")
app.add_typer(session.app, name="session")
app.add_typer(session.stop_app, name="stop-record")
app.add_typer(review.app, name="review")
app.add_typer(dock.app, name="dock")
custody.register(device.app)
app.add_typer(device.app, name="device")
app.add_typer(unit.app, name="unit")
app.command("serve")(serve.serve)
app.command("policy")(serve.policy)
app.command("verify")(verify.verify)
app.command("todo")(todo.todo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"evault {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Configuration file (else $EVAULT_CONFIG, "
            "else $EVAULT_HOME/vault.toml, else embedded defaults).",
        ),
    ] = None,
    socket: Annotated[
        str | None,
        typer.Option(
            "--socket",
            help="The vault service's socket (else $EVAULT_SOCKET, else "
            "/run/evidence-vault/evault.sock; the vault's own account works in-process).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    ctx.obj = State(config, socket)


def main() -> None:
    # The CLI's own words and errors in the reader's language ($EVAULT_LANGUAGE), else the
    # vault's (its settings, or what the service answered); papers keep the vault's.
    with i18n.speaking(i18n.reader()):
        try:
            command = typer.main.get_command(app)
            name_metavars(command)
            command(prog_name="evault")
        except VaultError as exc:
            # one plain line, no wrapping, no traceback
            sys.stderr.write(_("error: {message}").format(message=exc.localized()) + "\n")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            sys.stderr.write(_("interrupted: what was sealed is kept; run again to finish") + "\n")
            sys.exit(130)
