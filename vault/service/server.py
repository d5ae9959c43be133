"""`evault serve`: the vault as a service on a Unix socket.

The service alone opens $EVAULT_HOME (0700; files 0600), the database, the store and the
signing key. Anyone may connect (the socket is 0666 in a 0755 runtime directory); who they
are comes from the kernel (SO_PEERCRED), and the one policy decides what they may do. Each
connection carries one request and one answer, in a thread of its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import signal
import socket
import socketserver
import stat
import struct
import threading
import time
from collections.abc import Sequence
from io import BufferedIOBase
from pathlib import Path
from typing import Any, Protocol

from vault.client import CHUNK, MAX_HEADER
from vault.context import Vault
from vault.service import api

log = logging.getLogger(__name__)


def peer_uid(sock: socket.socket) -> int:
    """The connecting process's uid, as the kernel recorded it at connect()."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def answer_connection(
    vault: Vault,
    caller: api.Caller,
    rfile: BufferedIOBase,
    wfile: BufferedIOBase,
    remote: bool = True,
) -> None:
    """Read one request, run it for CALLER, write the answer and its files."""
    started = time.monotonic()
    op = "?"
    try:
        request = json.loads(rfile.readline(MAX_HEADER))
        if not isinstance(request, dict):
            raise ValueError("the request is not an object")
        op = str(request["op"])
        params = request.get("params") or {}
        encoded = request.get("inputs") or {}
        if not isinstance(params, dict) or not isinstance(encoded, dict):
            raise ValueError("params and inputs must be objects")
        if not all(isinstance(v, str) for v in encoded.values()):
            raise ValueError("inputs must be base64 strings")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        _answer(wfile, api.Reply(False, 1, error=f"malformed request: {exc}"))
        return
    try:
        # The inputs' bytes are decoded only once the policy has let the call in.
        language = request.get("language")
        reply = api.run(
            vault,
            caller,
            op,
            params,
            encoded=encoded,
            remote=remote,
            language=language if isinstance(language, str) else None,
        )
    except TypeError as exc:  # parameters the operation does not take
        reply = api.Reply(False, 1, error=f"bad parameters for {op}: {exc}")
    except Exception:
        log.exception("call failed op=%s user=%s", op, caller.os_user)
        reply = api.Reply(False, 1, error=f"internal error in {op}; see the service's log")
    try:
        _answer(wfile, reply)
    finally:
        reply.cleanup()
        log.info(
            "call op=%s user=%s uid=%d exit=%d ms=%.1f",
            op,
            caller.os_user,
            caller.uid,
            reply.exit_code,
            (time.monotonic() - started) * 1000,
        )


def _answer(wfile: BufferedIOBase, reply: api.Reply) -> None:
    header = reply.header()
    data = json.dumps(header, ensure_ascii=False, default=str).encode() + b"\n"
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        wfile.write(data)
        for name, path in reply.files:
            for item in header["files"]:
                if item.get("dir") or not Path(item["name"]).is_relative_to(name):
                    continue
                with (path.parent / item["name"]).open("rb") as stream:
                    while chunk := stream.read(CHUNK):
                        wfile.write(chunk)
        wfile.flush()


# One caller cannot starve the others: each uid has at most this many calls in hand at once
# (the service account and root, whose jobs may run long, have more), and a request that
# does not arrive within the timeout frees its thread.
PER_UID = 8
PER_SYSTEM_UID = 32
ALL_CALLS = 128  # whoever asks: the threads and descriptors of the service stay bounded
MAX_REQUEST = 16 * 1024 * 1024  # a request line with its documents (base64)
REQUEST_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 600.0


class _Handler(socketserver.StreamRequestHandler):
    server: VaultServer

    def handle(self) -> None:
        uid = peer_uid(self.request)
        caller = api.Caller(uid, user_name(uid), uid in (0, os.getuid()))
        self.request.settimeout(REQUEST_TIMEOUT_S)
        try:
            line = self.rfile.readline(MAX_REQUEST)
        except TimeoutError:
            log.warning("request timed out user=%s uid=%d", caller.os_user, uid)
            return
        self.request.settimeout(REPLY_TIMEOUT_S)  # a large answer may take a while to drain
        answer_connection(self.server.vault, caller, io.BytesIO(line), self.wfile)


class VaultServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, path: Path, vault: Vault) -> None:
        self.vault = vault
        self._calls: dict[int, int] = {}  # uid: calls in hand
        self._owner: dict[int, int] = {}  # id(request): its caller's uid
        self._lock = threading.Lock()
        super().__init__(str(path), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Refuse at once, without a thread, a caller who already has too many calls."""
        uid = peer_uid(request)
        limit = PER_SYSTEM_UID if uid in (0, os.getuid()) else PER_UID
        with self._lock:
            busy = self._calls.get(uid, 0) >= limit or sum(self._calls.values()) >= ALL_CALLS
            if not busy:
                self._calls[uid] = self._calls.get(uid, 0) + 1
                self._owner[id(request)] = uid
        if busy:
            log.warning("too many calls user=%s uid=%d limit=%d", user_name(uid), uid, limit)
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                error = f"too many calls in hand for this user (at most {limit}); try again"
                reply = api.Reply(False, 1, error=error)
                request.sendall(json.dumps(reply.header()).encode() + b"\n")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread could be started: the call is not in hand
            with self._lock:
                self._owner.pop(id(request), None)
                self._calls[uid] -= 1
                if not self._calls[uid]:
                    del self._calls[uid]
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                uid = self._owner.pop(id(request))
                self._calls[uid] -= 1
                if not self._calls[uid]:
                    del self._calls[uid]


# A quiet chain ends anchored within store.anchor_minutes: the timer offers both heads this
# often, and the anchorer writes one only when its minutes have passed (issue 15).
ANCHOR_TICK_S = 30.0


def anchor_tick(vault: Vault) -> None:
    """One beat of the anchor timer: anchor each chain head that moved, once due. Never
    raises: a store or database that fails now is retried at the next beat."""
    try:
        with vault.session() as session:
            written = vault.anchorer.tick(session)
    except Exception:
        log.exception("anchor timer failed; retrying in %.0f s", ANCHOR_TICK_S)
        return
    for anchor in written:
        log.info("anchor timer chain=%s seq=%d", anchor.chain, anchor.seq)


def anchor_timer(vault: Vault, stop: threading.Event, interval: float = ANCHOR_TICK_S) -> None:
    """The timer thread's loop: a beat every INTERVAL seconds until STOP is set."""
    while not stop.wait(interval):
        anchor_tick(vault)


def _clear_stale(path: Path) -> None:
    """Remove a socket left by a killed service; refuse to steal a live one."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
        return
    finally:
        probe.close()
    raise OSError(f"another vault service already listens on {path}")


class Companion(Protocol):
    """Something served beside the socket in this process (the web console): started once
    the socket listens, stopped on SIGTERM with it."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def serve(
    vault: Vault, path: Path, ready: Any = None, companions: Sequence[Companion] = ()
) -> None:
    """Listen on PATH until SIGTERM/SIGINT; READY=1 to systemd once listening."""
    os.umask(0o077)
    # Open everything once, before the first caller: each call shares it.
    _ = vault.engine, vault.store, vault.profiles
    # Calls cut short by a crash left their work folders (copies of footage): never keep them.
    for stale in api.work_root(vault).glob("call-*"):
        shutil.rmtree(stale, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(path)
    server = VaultServer(path, vault)
    os.chmod(path, 0o666)  # anyone may ask; the kernel says who asked  # noqa: S103
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("stopping on signal %d", signum)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    timer = threading.Thread(target=anchor_timer, args=(vault, stop), name="anchor-timer")
    timer.daemon = True
    timer.start()
    log.info("listening socket=%s home=%s", path, vault.settings.home)
    try:
        for companion in companions:
            companion.start()
        if ready is not None:
            ready(path)
        server.serve_forever(poll_interval=0.5)
    finally:
        stop.set()  # the timer's wait ends at once; a beat in hand finishes first
        for companion in companions:
            companion.stop()
        timer.join(timeout=10)
        server.server_close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
