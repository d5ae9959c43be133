"""`evault evidence verify --all --orphans`: objects in the store that no record points at
are listed (JSON and text) and make the exit status 1; they are never deleted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import run_evault, store_derivative
from vault.context import Vault
from vault.ingest.pipeline import ingest_volume


def test_orphans_are_reported_never_deleted_and_records_keep_theirs(
    vault: Vault, home: Path, camera: Path
) -> None:
    report = ingest_volume(vault, camera)
    assert report.ok and report.clips
    evidence_id = report.clips[0].evidence_id
    assert evidence_id is not None
    store_derivative(vault, evidence_id, "poster", b"a poster: referenced by its derivative row")
    clean = run_evault(home, "evidence", "verify", "--all", "--orphans", "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["orphans"] == []

    stray = b"bytes sealed by a run killed before it recorded them"
    sha = hashlib.sha256(stray).hexdigest()
    writer = vault.store.begin_put()
    writer.write(stray)
    put = writer.commit(sha, len(stray), vault.clock.now())
    found = run_evault(home, "evidence", "verify", "--all", "--orphans", "--json")
    assert found.returncode == 1, found.stdout + found.stderr
    body = json.loads(found.stdout)
    assert body["orphans"] == [put.key] and body["failed"] == []
    assert body["checked"] == body["ok"] > 0
    text = run_evault(home, "evidence", "verify", "--all", "--orphans")
    assert text.returncode == 1 and f"orphan: {put.key}" in text.stdout
    assert "orphans (objects no record points at): 1" in text.stdout
    assert vault.store.exists(put.key)  # reported, never deleted

    without = run_evault(home, "evidence", "verify", "--all", "--json")  # not asked: not looked
    assert without.returncode == 0 and "orphans" not in json.loads(without.stdout)
    refused = run_evault(home, "evidence", "verify", str(evidence_id), "--orphans")
    assert refused.returncode == 1 and "--orphans needs --all" in refused.stderr
