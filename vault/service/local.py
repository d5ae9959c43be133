"""In-process calls, for the vault's own account and root (bootstrap, migrations,
maintenance, the systemd units' jobs): the same dispatcher and policy as the socket.

The caller is the process's real uid; `system` when it is root or owns $EVAULT_HOME. Root
acting on a home that belongs to the service account runs the call in a forked child that
has dropped to that account (so every file it makes is the service's) and answers the
parent over a socket pair in the socket's own wire format.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from pathlib import Path
from typing import Any

from vault import client, i18n
from vault.config import Settings, load_settings
from vault.context import Vault, kernel_user
from vault.service import api, capabilities

_opened: dict[Path | None, Vault] = {}


def _vault(config: Path | None) -> Vault:
    if config not in _opened:
        _opened[config] = Vault(load_settings(config))
    return _opened[config]


def _caller(settings: Settings, uid: int, user: str) -> api.Caller:
    """System only for root and the home's real owner: a new home is made first, so its
    owner is a fact of the filesystem, not an assumption."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return api.Caller(uid, user, uid in (0, settings.home.stat().st_uid))


def run_local(
    config: Path | None,
    op: str,
    params: dict[str, Any],
    inputs: dict[str, bytes] | None,
    into: Path | None,
    forked: bool = False,
) -> client.Answer:
    from vault.service import ops

    ops.known_operations()  # registers every operation
    if forked:
        return _run_forked(config, op, params, inputs, into)
    os.umask(0o077)
    opened = _vault(config)
    caller = _caller(opened.settings, os.getuid(), kernel_user())
    reply = api.run(opened, caller, op, params, inputs, language=i18n.reader())
    try:
        names = []
        for name, path in reply.files:
            if into is None:
                raise AssertionError(f"{op} sent files but nobody asked for them")
            shutil.move(str(path), str(into / name))
            names.append(name)
        return client.Answer(
            reply.ok,
            reply.exit_code,
            reply.result,
            reply.error,
            reply.timezone,
            names,
            reply.message,
            reply.language,
        )
    finally:
        reply.cleanup()


def _run_forked(
    config: Path | None,
    op: str,
    params: dict[str, Any],
    inputs: dict[str, bytes] | None,
    into: Path | None,
) -> client.Answer:
    settings = load_settings(config)
    home = settings.home.stat()
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # the child: the service account's own hands
        parent.close()
        code = 0
        try:
            # As the systemd units: the dock keeps mount(2); everything keeps chattr +i.
            keep: tuple[int, ...] = (capabilities.CAP_LINUX_IMMUTABLE,)
            if op == "dock.run":
                keep += (capabilities.CAP_SYS_ADMIN,)
            capabilities.drop_to(home.st_uid, home.st_gid, keep)
            os.umask(0o077)
            from vault.service.server import answer_connection

            vault = Vault(settings)
            with child.makefile("rwb") as stream:
                answer_connection(vault, api.Caller(0, "root", True), stream, stream, remote=False)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    child.close()
    # A SIGTERM for the command is for the work: pass it on (the dock, the media worker).
    previous = {
        signum: signal.signal(signum, lambda signum, _frame: os.kill(pid, signum))
        for signum in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        return client.call_on(parent, op, params, inputs, into)
    finally:
        parent.close()
        os.waitpid(pid, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
