"""The web console in the service's process: uvicorn in a thread of `evault serve`, on a
socket bound before the service says it is ready (a port in use is a one-line error)."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from vault.context import Vault
from vault.errors import ConfigError, VaultError

log = logging.getLogger(__name__)


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT ([::1]:8080 for IPv6)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"web listen address {text!r}: give HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


class WebConsole:
    """Start (bind now, serve in a thread) and stop the console."""

    def __init__(self, vault: Vault, listen: str) -> None:
        self.vault = vault
        self.host, self.port = parse_listen(listen)
        self.server: Any = None
        self.thread: threading.Thread | None = None
        self.sock: socket.socket | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.vault.settings.web.tls_cert else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def bind(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise VaultError(f"web console: cannot listen on {self.url}: {exc.strerror}") from None
        sock.listen(128)
        sock.set_inheritable(True)
        self.sock = sock

    def start(self) -> None:
        import uvicorn

        from vault.web.app import create_app

        if self.sock is None:
            self.bind()
        web = self.vault.settings.web
        config = uvicorn.Config(
            create_app(self.vault),
            ssl_certfile=str(web.tls_cert) if web.tls_cert else None,
            ssl_keyfile=str(web.tls_key) if web.tls_key else None,
            proxy_headers=True,  # X-Forwarded-Proto/For from a proxy on this machine
            forwarded_allow_ips="127.0.0.1,::1",
            lifespan="off",
            access_log=False,
            log_config=None,  # the service's own logging (vault.logs)
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        sockets = [self.sock]
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": sockets}, name="web-console", daemon=True
        )
        self.thread.start()
        log.info("web console listening url=%s", self.url)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        if self.sock is not None:
            self.sock.close()
        from vault.web import media  # the playback copies handed out: removed with the server

        media.end_all()
