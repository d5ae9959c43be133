"""The daemon's live state over a Unix socket, and systemd notifications.

`evault dock status` connects to HOME/dock.sock and reads one JSON document: the station,
the daemon's pid and start time, and every bay. Nothing is written to the database for
this, so a busy dock does not contend for the database's write lock with progress counts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdnotify import SystemdNotifier

from vault.errors import VaultError

log = logging.getLogger(__name__)


class DockNotRunning(VaultError):
    """No dock daemon answers on the status socket."""


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        snapshot: Callable[[], dict[str, Any]] = self.server.snapshot  # type: ignore[attr-defined]
        with contextlib.suppress(OSError):  # the client went away
            self.wfile.write(json.dumps(snapshot(), ensure_ascii=False).encode() + b"\n")


class StatusServer:
    def __init__(self, path: Path, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_socket():
            try:  # a live daemon answers; a dead one's socket is stale and removed
                read_status(path, timeout=1.0)
            except DockNotRunning:
                path.unlink()
            else:
                raise VaultError(f"another dock daemon is running (it answers on {path})")
        old_umask = os.umask(0o117)  # owner and group (the operators') may read the state
        try:
            self.server = socketserver.ThreadingUnixStreamServer(str(path), _Handler)
        finally:
            os.umask(old_umask)
        self.server.daemon_threads = True
        self.server.snapshot = snapshot  # type: ignore[attr-defined]
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="dock-status", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def read_status(path: Path, timeout: float = 5.0) -> dict[str, Any]:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(str(path))
            chunks = []
            while chunk := client.recv(65536):
                chunks.append(chunk)
    except (FileNotFoundError, ConnectionRefusedError):
        raise DockNotRunning(
            f"the dock daemon is not running (nothing answers on {path})"
        ) from None
    except OSError as exc:
        raise DockNotRunning(f"cannot read the dock's state from {path}: {exc}") from None
    try:
        data: dict[str, Any] = json.loads(b"".join(chunks))
    except ValueError:
        raise DockNotRunning(f"the dock daemon on {path} sent no state") from None
    return data


class Notifier:
    """sd_notify(3) for Type=notify: READY once listening, WATCHDOG pings, STATUS lines.
    Outside systemd (no NOTIFY_SOCKET) every call does nothing."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier = SystemdNotifier() if self.enabled else None
        if self._notifier is not None and self._notifier.socket is not None:
            # Never wait on systemd: with its queue full (a slow or stopped reader, the
            # kernel keeps ~10 datagrams) a blocking send stopped the dock for good, even
            # its SIGTERM handler; a status or watchdog message dropped is sent again later.
            self._notifier.socket.setblocking(False)
        self._last_status = ""

    def _send(self, message: str) -> None:
        if self._notifier is not None:
            # sd_notify messages are ASCII here: sdnotify encodes Latin-1 and drops the rest.
            self._notifier.notify(message.encode("ascii", "replace").decode())

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={status}\nMAINPID={os.getpid()}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def status(self, status: str) -> None:
        if status != self._last_status:
            self._last_status = status
            self._send(f"STATUS={status}")

    def stopping(self, status: str) -> None:
        self._send(f"STOPPING=1\nSTATUS={status}")
