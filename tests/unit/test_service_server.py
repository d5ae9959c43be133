"""The service's socket under a hostile caller: who asks is the kernel's word, a caller
cannot hold every thread, and a half-sent request frees its thread (issue 13)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vault import client
from vault.context import Vault
from vault.service import server

_SERVERS: dict[Path, server.VaultServer] = {}


def _settled(path: Path) -> None:
    """Wait until the service has let go of every call it answered: a reply reaches the
    client a moment before its thread gives the call back."""
    deadline = time.monotonic() + 5
    while _SERVERS[path]._calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _SERVERS[path]._calls


@pytest.fixture
def serving(vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(server, "REQUEST_TIMEOUT_S", 0.5)
    monkeypatch.setattr(server, "PER_SYSTEM_UID", 3)
    from vault.service.ops import known_operations

    known_operations()
    path = tmp_path / "s.sock"
    instance = server.VaultServer(path, vault)
    _SERVERS[path] = instance
    thread = threading.Thread(target=instance.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield path
    finally:
        instance.shutdown()
        instance.server_close()
        thread.join()
        del _SERVERS[path]


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))
    return sock


def test_a_caller_with_too_many_calls_in_hand_is_turned_away_at_once(serving: Path) -> None:
    held = [_connect(serving) for _ in range(3)]  # never send: each holds a thread
    try:
        time.sleep(0.1)
        extra = _connect(serving)
        extra.settimeout(2)
        answer = json.loads(extra.makefile("rb").readline())
        assert not answer["ok"] and "too many calls" in answer["error"]
        extra.close()
    finally:
        for sock in held:
            sock.close()


def test_a_request_that_never_arrives_frees_its_thread(serving: Path) -> None:
    held = [_connect(serving) for _ in range(3)]
    time.sleep(1.0)  # past the request timeout: the service has hung up on them
    for sock in held:
        sock.settimeout(2)
        assert sock.recv(10) == b""
        sock.close()
    _settled(serving)
    answer = client.call(str(serving), "policy.show", {})
    assert answer.exit_code in (0, 3)  # served again (refused only for want of a role)


def test_malformed_and_unknown_requests_get_one_line_errors(serving: Path) -> None:
    for line in (b"not json\n", b'{"op": 5}\n', b'{"op": "x", "params": []}\n'):
        sock = _connect(serving)
        sock.sendall(line)
        answer = json.loads(sock.makefile("rb").readline())
        sock.close()
        assert not answer["ok"] and answer["error"]
    _settled(serving)  # three calls in a row is this test's whole allowance
    answer = client.call(str(serving), "no.such.op", {})
    assert not answer.ok and "unknown operation" in (answer.error or "")
    answer = client.call(str(serving), "evidence.show", {"evidence_id": "1; drop"})
    assert not answer.ok and "bad parameters" in (answer.error or "")
