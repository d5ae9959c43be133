"""The client side of the vault's Unix socket: one request, one answer. Stdlib only, so a
CLI call costs an interpreter start, not an import of the vault.

Wire format (both ways a JSON header line, then raw bytes): the request is
`{"op", "params", "inputs": {name: base64}, "language"}` (the reader's, $EVAULT_LANGUAGE,
or null); the answer is `{"ok", "exit_code", "result", "error", "message", "timezone",
"language", "files": [{"name", "size"} | {"name", "dir": true}]}` followed by each
file's bytes in that order. The service learns who is asking from the kernel (SO_PEERCRED),
never from anything in the request.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from dataclasses import dataclass, field
from io import BufferedIOBase
from pathlib import Path, PurePosixPath
from typing import Any

DEFAULT_SOCKET = "/run/evidence-vault/evault.sock"
MAX_HEADER = 64 * 1024 * 1024
CHUNK = 1024 * 1024


class ClientError(Exception):
    """The service could not be reached or answered nonsense."""


@dataclass
class Answer:
    ok: bool
    exit_code: int
    result: Any
    error: str | None
    timezone: str
    files: list[str] = field(default_factory=list)  # relative names written under `into`
    message: str | None = None  # the error in the reader's language
    language: str | None = None  # the vault's `language`


def explicit_socket(flag: str | None) -> str | None:
    """The socket named by --socket or $EVAULT_SOCKET, if any."""
    return flag or os.environ.get("EVAULT_SOCKET") or None


def safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ClientError(f"the service sent a file name outside the target: {name!r}")
    return path


def read_line(stream: BufferedIOBase) -> bytes:
    line = stream.readline(MAX_HEADER)
    if not line.endswith(b"\n"):
        raise ClientError("the vault service closed the connection without an answer")
    return line


def receive_files(
    stream: BufferedIOBase, files: list[dict[str, Any]], into: Path | None
) -> list[str]:
    """Write the answer's files under INTO (made 0700 by the caller), in the order sent."""
    names = []
    for item in files:
        relative = safe_relative(str(item["name"]))
        if into is None:
            raise ClientError("the service sent files nobody asked for")
        target = into / relative
        if item.get("dir"):
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
            continue
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        left = int(item["size"])
        with open(target, "xb", opener=lambda p, f: os.open(p, f, 0o600)) as sink:
            while left:
                chunk = stream.read(min(CHUNK, left))
                if not chunk:
                    raise ClientError(f"the connection closed in the middle of {relative}")
                sink.write(chunk)
                left -= len(chunk)
        names.append(str(relative))
    return names


def call(
    path: str,
    op: str,
    params: dict[str, Any],
    inputs: dict[str, bytes] | None = None,
    into: Path | None = None,
) -> Answer:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
        except FileNotFoundError:
            raise ClientError(
                f"the vault service is not running (no socket {path}); "
                "ask the station's administrator to start evault.service"
            ) from None
        except PermissionError:
            raise ClientError(f"cannot connect to the vault service at {path}") from None
        except OSError as exc:
            raise ClientError(f"cannot reach the vault service at {path}: {exc}") from None
        try:
            return call_on(sock, op, params, inputs, into)
        except (ConnectionError, TimeoutError) as exc:
            raise ClientError(f"the vault service at {path} broke off: {exc}") from None
    finally:
        sock.close()


def call_on(
    sock: socket.socket,
    op: str,
    params: dict[str, Any],
    inputs: dict[str, bytes] | None = None,
    into: Path | None = None,
) -> Answer:
    """One request and its answer on a connected socket."""
    request = {
        "op": op,
        "params": params,
        "inputs": {k: base64.b64encode(v).decode() for k, v in (inputs or {}).items()},
        "language": os.environ.get("EVAULT_LANGUAGE") or None,
    }
    with sock.makefile("rwb") as stream:
        stream.write(json.dumps(request, ensure_ascii=False, default=str).encode() + b"\n")
        stream.flush()
        header = json.loads(read_line(stream))
        names = receive_files(stream, header.get("files", []), into)
    return Answer(
        bool(header["ok"]),
        int(header.get("exit_code", 1)),
        header.get("result"),
        header.get("error"),
        str(header.get("timezone", "UTC")),
        names,
        header.get("message"),
        header.get("language"),
    )
