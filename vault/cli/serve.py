"""`evault serve`: run the vault as a service on its Unix socket; `evault policy`: the
table of who may do what."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from vault.cli.common import call, print_json, state_of
from vault.client import DEFAULT_SOCKET, explicit_socket
from vault.errors import VaultError


def serve(
    ctx: typer.Context,
    as_root: Annotated[
        bool,
        typer.Option(
            "--as-root",
            help="Allow running as root (files would be root's: for a test machine only).",
        ),
    ] = False,
    web: Annotated[
        str | None,
        typer.Option(
            "--web",
            metavar="HOST:PORT",
            help="Serve the web console too, on HOST:PORT (else as the [web] settings say).",
        ),
    ] = None,
) -> None:
    """Serve the vault on its socket (--socket, $EVAULT_SOCKET, the `socket` setting, else
    /run/evidence-vault/evault.sock) until SIGTERM, and the web console with --web or [web]
    enabled; systemd: evault.service (Type=notify)."""
    import logging

    from vault.config import load_settings
    from vault.context import Vault
    from vault.logs import configure, kv, redact_url
    from vault.service.ops import known_operations
    from vault.service.server import serve as run_server

    if os.geteuid() == 0 and not as_root:
        raise VaultError(
            "run the service as the vault's own account (systemd: User=evault), not root: "
            "every file it makes would be root's (--as-root on a test machine)"
        )
    state = state_of(ctx)
    settings = load_settings(state.config)
    home = settings.home
    if home.exists() and home.stat().st_uid != os.geteuid():
        raise VaultError(f"{home} belongs to uid {home.stat().st_uid}: serve it as that user")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    path = Path(explicit_socket(state.socket) or settings.socket or DEFAULT_SOCKET)
    configure(settings)

    opened = Vault(settings)
    console = None
    if web is not None or settings.web.enabled:
        from vault.web.serving import WebConsole

        console = WebConsole(opened, web or settings.web.listen)
        console.bind()  # a port in use fails here, before anything listens

    def ready(path: Path) -> None:
        import sdnotify

        sdnotify.SystemdNotifier().notify(f"READY=1\nSTATUS=listening on {path}")
        typer.echo(f"evault: serving {home} on {path}", err=True)
        if console is not None:
            typer.echo(f"evault: web console on {console.url}", err=True)

    known_operations()  # registers every operation
    kv(
        logging.getLogger("vault.serve"),
        logging.INFO,
        "starting",
        home=home,
        socket=path,
        database=redact_url(settings.database_url),
        store=settings.store.backend,
    )
    run_server(opened, path, ready, [console] if console is not None else [])


def policy(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the one policy: which role may do which action, on what scope (--json: asks
    the vault which rows are yours)."""
    if as_json:
        print_json(call(ctx, "policy.show"))
        return
    from vault.service.policy import table_markdown  # stdlib only: no vault is opened

    typer.echo(table_markdown())
