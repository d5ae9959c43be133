"""What the fault rounds found, pinned down by tests of their own (no dock, no Ceph needed)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.faults.rounds import Lab, run_round
from vault.config import parse_settings
from vault.store.s3 import S3WormStore
from vault.store.s3_bucket import StoreUnavailable

LOCK_ON = (
    b'<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration>'
    b"<ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"
)


class Endpoint:
    """An S3 endpoint that goes away in the middle of its first answer (the status line
    sent, then the connection closed), takes no new connection until restore(), then
    answers whole: what the rounds' forwarder showed when the gateway stopped."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.back = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def restore(self) -> None:
        self.back.set()

    def _serve(self) -> None:
        first = True
        while True:
            client, _ = self.server.accept()
            with client:
                client.recv(65536)
                whole = f"HTTP/1.1 200 OK\r\nContent-Length: {len(LOCK_ON)}\r\n\r\n".encode()
                whole += LOCK_ON
                client.sendall(whole[:17] if first else whole)  # first: the status line only
                client.shutdown(socket.SHUT_RDWR)
            if first:
                first = False
                self.back.wait()


def test_a_cut_answer_about_object_lock_is_an_outage_not_a_bucket_without_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by `scripts/faults --backend s3` (s3_down, seed 12): the S3 endpoint went away
    while the bucket's Object Lock settings were being read. The status line had arrived,
    nothing more; botocore takes that as an empty 200 answer, and the store concluded, and
    remembered for the life of the daemon, that the bucket has no Object Lock: every later
    clip was refused ("make a new bucket") until the daemon was restarted. A cut answer is
    an outage (the spool takes over) and the next clip asks again."""
    for name, value in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}.items():
        monkeypatch.setenv(name, value)
    endpoint = Endpoint()
    settings = parse_settings(
        {
            "home": str(tmp_path),
            "store": {"backend": "s3", "endpoint_url": endpoint.url, "bucket": "b", "timeout_s": 2},
        }
    )
    store = S3WormStore(settings.store, "faults")
    with pytest.raises(StoreUnavailable, match="cut short"):
        store.require_lock()
    endpoint.restore()
    assert store.require_lock() is None  # asked again: Object Lock on, no default mode


@pytest.mark.slow
@pytest.mark.s3
def test_a_duplicate_spooled_during_an_outage_leaves_no_orphan(s3_lab: Lab) -> None:
    """Found by `scripts/faults --backend s3 --seed 501` (s3_down): clip 0001 is sealed in
    S3, the endpoint goes away, then the camera's IMP copy of 0001 (the same bytes) is read.
    SpoolingStore.begin_put sends it to the spool, which creates an object there; the record
    step finds evidence 1 (in S3) for that SHA-256 and records a "duplicate" sighting, so no
    record points at the spooled copy: `store drain` never moves it (it follows records) and
    nothing else removed it. After recovery `evault evidence verify --all --orphans` listed
    spool:sha256/... and exited 1. Fixed: the ingest releases such a copy at once (the
    deterministic test is tests/integration/test_spool.py; this round replays the finding)."""
    outcome = run_round(s3_lab, 0, 501, "s3_down")
    assert outcome.violations == [], outcome.violations
