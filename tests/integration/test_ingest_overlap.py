"""The overlapped, grouped ingest (issue 22 part 2): clip N's seal and read-back run while
clip N+1 is read, and several clips' records go in one commit. The rules stay: a clip is
erased only once its record is committed and its sealed copy read back and matched (IN-2),
a crash between a group's commit and the erase loses nothing, and the audit chain of
grouped records verifies."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import select

from tests.conftest import EVAULT, evault_env, run_evault
from vault.context import Vault
from vault.db.models import Evidence
from vault.ingest.pipeline import ingest_volume
from vault.ingest.report import NoProgress
from vault.store import LocalWormStore
from vault.store.base import VerifyResult

CLIPS = "DCIM/100ANDRO"


def assert_vault_verifies(home: Path) -> None:
    """`evault verify`: nothing found but the station's warning (no chattr +i in tests)."""
    verify = run_evault(home, "verify", "--json")
    assert verify.returncode in (0, 10), verify.stdout + verify.stderr
    classes = json.loads(verify.stdout)["classes"]
    assert classes["chains"]["checked"] > 0
    found = {kind: data["found"] for kind, data in classes.items() if kind != "warnings"}
    assert all(not data for data in found.values()), verify.stdout


def clip_names(camera: Path) -> list[str]:
    return sorted(p.name for p in camera.rglob("*.MP4"))


class Started(NoProgress):
    """Tells which files the pipeline has started reading."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.changed = threading.Event()

    def file_started(self, path: str, size: int) -> None:
        self.started.append(path)
        self.changed.set()
        self.changed.clear()


def test_a_read_back_that_fails_while_the_next_clip_is_read_keeps_that_clip(
    vault: Vault, camera: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clip N's sealed copy is damaged in the store and read back while clip N+1 is being
    read: N is recorded "failed" and stays on the camera; the others are erased."""
    assert isinstance(vault.store, LocalWormStore)
    store = vault.store
    progress = Started()
    victim_file = sorted((camera / CLIPS).glob("*.MP4"))[0]
    victim = hashlib.sha256(victim_file.read_bytes()).hexdigest()
    victim_rel = f"{CLIPS}/{victim_file.name}"
    real_verify = store.verify
    seen_reading: list[list[str]] = []

    def verify(key: str, expected: str, size: int | None = None) -> VerifyResult:
        if expected == victim:
            # The read-back of N runs on its own thread while the pipeline reads on.
            deadline = time.monotonic() + 10
            while progress.started[-1] == victim_rel and time.monotonic() < deadline:
                progress.changed.wait(0.05)
            seen_reading.append(list(progress.started))
            path = store.path_for(key)
            path.chmod(0o600)
            with path.open("r+b") as damaged:
                damaged.seek(size // 2 if size else 0)
                damaged.write(b"\0damaged\0")
            path.chmod(0o400)
        return real_verify(key, expected, size)

    monkeypatch.setattr(store, "verify", verify)
    report = ingest_volume(vault, camera, erase=True, progress=progress)
    assert seen_reading, "the victim was never read back"
    assert seen_reading[0][-1] != victim_rel  # a later file had been started meanwhile
    victim_clip = next(c for c in report.clips if c.path == victim_rel)
    assert victim_clip.verified is False
    assert victim_rel not in report.erased
    assert victim_file.exists()  # IN-2: kept on the camera
    assert report.erased  # the clips that read back are erased
    for clip in report.clips:
        if clip.path in report.erased:
            assert clip.verified is True
    with vault.session() as session:
        row = session.exec(select(Evidence).where(Evidence.sha256 == victim)).one()
        assert row.status == "failed"


def test_records_of_several_clips_share_a_commit_and_the_chain_verifies(
    vault: Vault, camera: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the first seal is held back, the next clips are read and queued: they are
    sealed as one group and recorded in one commit; `evault verify` finds the chain whole."""
    assert isinstance(vault.store, LocalWormStore)
    store = vault.store
    for index in range(12):  # small files: photos and notes beside the clips
        (camera / CLIPS / f"NOTE{index:04d}.TXT").write_text(f"note {index}\n" * (index + 1))
    real_commit = store.commit_writers
    groups: list[int] = []
    first = threading.Event()

    def commit_writers(jobs):  # type: ignore[no-untyped-def]
        if not groups:
            first.wait(10)  # held until the reading thread has gone on to the last file
        groups.append(len(jobs))
        return real_commit(jobs)

    class Last(NoProgress):
        def file_done(self, path: str, status: str) -> None:
            pass

        def file_started(self, path: str, size: int) -> None:
            if path.endswith("NOTE0011.TXT"):
                first.set()

    monkeypatch.setattr(store, "commit_writers", commit_writers)
    commits = 0

    def count(_connection: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(vault.engine, "commit", count)
    try:
        report = ingest_volume(vault, camera, progress=Last())
    finally:
        event.remove(vault.engine, "commit", count)
    assert report.ok, report.failed
    sealed = [c for c in report.clips if c.status in ("sealed", "unclassified")]
    assert len(sealed) >= 12
    assert max(groups) > 1  # objects sealed together
    # Records in groups: fewer commits than one per record and one per verification.
    assert commits < 2 * len(report.clips)
    with vault.session() as session:
        assert {e.status for e in session.exec(select(Evidence))} == {"verified"}
    assert_vault_verifies(home)


def test_a_kill_after_a_group_commit_before_the_erase_loses_nothing(
    camera: Path, home: Path
) -> None:
    """SIGKILL right after the first group's records are committed, before any erase: every
    clip is still on the camera, every committed record has its object; the next run
    seals the rest, verifies, erases, and the vault verifies."""
    before = clip_names(camera)
    env = evault_env(home, kill_at="ingest.recorded:2")
    killed = subprocess.run(
        [*EVAULT, "ingest", str(camera), "--erase", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert clip_names(camera) == before  # nothing erased
    listed = run_evault(home, "evidence", "verify", "--all", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert json.loads(listed.stdout)["failed"] == []
    again = run_evault(home, "ingest", str(camera), "--erase", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads(again.stdout)
    assert report["ok"]
    assert clip_names(camera) == []  # all sealed, verified, then erased
    assert_vault_verifies(home)
