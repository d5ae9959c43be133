"""Crash safety of `evault ingest`: SIGKILL a real subprocess at many points (IN-2, IN-3).

Requirement: a crash at any moment leaves no evidence row that claims a sealed object that
is missing or wrong, the next run completes the work, and a clip that was not verified is
never erased from the camera (IN-2).

The kills are of two sorts: deterministic ones at the named checkpoints of vault/faults.py
(EVAULT_KILL_AT=NAME:N), and SIGKILLs sent from outside after a random delay. After every
kill `check_invariant` inspects the database (read-only, with the stdlib sqlite3 module),
the store and the camera volume.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make-sample-camera"
EVAULT = [sys.executable, "-c", "from vault.cli import main; main()"]
CLIP_FOLDERS = ("DCIM/100ANDRO/", "DCIM/101ANDRO/")
MIB = 1024 * 1024
# Two big random clips, so that kills land in the middle of a stream (1 MiB chunks).
BIG_CLIPS = {
    "DCIM/100ANDRO/3100001_010203_20261123100000_0100.MP4": 24 * MIB,
    "DCIM/100ANDRO/3100001_010203_20261123101000_0101.MP4": 40 * MIB,
}
SAMPLE_OPTIONS = ["--quiet", "--no-narration", "--clips", "3", "--seconds", "2"]
CONFIG = '[store]\nimmutable = "off"\n\n[ingest]\nchunk_size = 1048576\n'
RUN_TIMEOUT = 120


@dataclass(frozen=True)
class Camera:
    """The untouched sample volume, the sha256 of each of its files, and timings."""

    pristine: Path
    sha: dict[str, str]  # volume-relative path -> sha256 of the original bytes
    startup_s: float  # `evault --version`: interpreter start and imports, no work
    clean_run_s: float  # one complete `evault ingest --erase` of the volume

    @property
    def clips(self) -> set[str]:
        return {rel for rel in self.sha if rel.startswith(CLIP_FOLDERS)}

    @property
    def others(self) -> set[str]:
        return set(self.sha) - self.clips


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(4 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def volume_files(volume: Path) -> set[str]:
    return {p.relative_to(volume).as_posix() for p in volume.rglob("*") if p.is_file()}


def evault_env(home: Path, kill_at: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EVAULT_KILL_AT", "EVAULT_CONFIG")}
    env["EVAULT_HOME"] = str(home)
    if kill_at is not None:
        env["EVAULT_KILL_AT"] = kill_at
    return env


def command(home: Path, *args: str) -> list[str]:
    """The evault command line for a vault at home, with this module's config file."""
    config = home.parent / "vault.toml"
    if not config.exists():
        config.write_text(CONFIG, encoding="utf-8")
    return [*EVAULT, "--config", str(config), *args]


def evault(home: Path, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(home, *args),
        env=evault_env(home, kill_at),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def read_db(home: Path, query: str) -> list[sqlite3.Row]:
    """Rows of a query on <home>/vault.db, opened read-only; none before the schema exists.

    A killed run may leave vault.db-wal and vault.db-shm behind; a read-only connection still
    reads the committed transactions in the WAL and ignores the uncommitted tail.
    """
    path = home / "vault.db"
    if not path.exists():
        return []
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"evidence", "sighting"} <= tables:
            return []  # killed before the schema was created
        return list(db.execute(query))
    finally:
        db.close()


def check_invariant(home: Path, volume: Path, pristine: Camera) -> None:
    """What must hold after a kill at any moment.

    - every evidence row's object exists in the store with the row's sha256 and size;
    - every clip missing from the camera has a verified evidence row with its sha256 (IN-2);
    - a sighting marked erased names a clip that is gone from the camera;
    - no file outside the clip folders ever disappears.
    Files under <home>/store/tmp/*.part are allowed: debris of a write the kill interrupted.
    """
    evidence = read_db(home, "SELECT id, sha256, size, status, storage_key FROM evidence")
    for row in evidence:
        obj = home / "store" / "objects" / row["storage_key"]
        assert obj.is_file(), f"evidence {row['id']} claims {obj}, which is missing"
        assert obj.stat().st_size == row["size"], f"evidence {row['id']}: size of {obj}"
        assert sha256_file(obj) == row["sha256"], f"evidence {row['id']}: {obj} is not its bytes"
    verified = {row["sha256"] for row in evidence if row["status"] == "verified"}

    present = volume_files(volume)
    missing = set(pristine.sha) - present
    lost = missing & pristine.others
    assert not lost, f"files outside the clip folders disappeared: {sorted(lost)}"
    unverified = sorted(rel for rel in missing if pristine.sha[rel] not in verified)
    assert not unverified, f"erased from the camera without a verified seal (IN-2): {unverified}"

    erased = read_db(home, "SELECT path FROM sighting WHERE erased_at IS NOT NULL")
    still_there = sorted({row["path"] for row in erased} & present)
    assert not still_there, f"sightings marked erased, yet on the camera: {still_there}"

    debris = home / "store" / "tmp"
    if debris.is_dir():
        strays = [p.name for p in debris.iterdir() if not p.name.endswith(".part")]
        assert not strays, f"unexpected files in store/tmp: {strays}"


def check_completed(home: Path, volume: Path, pristine: Camera) -> None:
    """After a clean run: every clip sealed, verified and erased; nothing else erased."""
    done = evault(home, "ingest", str(volume), "--erase", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is True
    check_invariant(home, volume, pristine)

    rows = read_db(home, "SELECT sha256, status FROM evidence")
    status = {row["sha256"]: row["status"] for row in rows}
    for rel in sorted(pristine.clips):
        assert status.get(pristine.sha[rel]) == "verified", f"{rel} is not sealed and verified"
    present = volume_files(volume)
    assert present == pristine.others, f"left on the camera: {sorted(present & pristine.clips)}"
    for rel in pristine.others:
        assert sha256_file(volume / rel) == pristine.sha[rel], f"{rel} was changed"

    verify = evault(home, "evidence", "verify", "--all", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report: dict[str, Any] = json.loads(verify.stdout)
    assert report["failed"] == []
    assert report["checked"] == len({pristine.sha[rel] for rel in pristine.clips})


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Camera:
    base = tmp_path_factory.mktemp("crash-camera")
    pristine = base / "volume"
    made = subprocess.run(
        [sys.executable, str(SCRIPT), str(pristine), *SAMPLE_OPTIONS],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    for rel, size in BIG_CLIPS.items():
        (pristine / rel).write_bytes(os.urandom(size))
    sha = {rel: sha256_file(pristine / rel) for rel in sorted(volume_files(pristine))}
    camera = Camera(pristine, sha, 0.0, 0.0)
    assert set(BIG_CLIPS) <= camera.clips
    assert {"DEVICE.TXT", "DCIM/LOGS/DEVLOG.TXT", "DCIM/SEGTEMP/SEG0001.TMP"} <= camera.others

    # Timed: the random kills are spread over a clean run, mostly after the imports.
    home, volume = base / "clean" / "home", base / "clean" / "volume"
    shutil.copytree(pristine, volume)
    started = time.monotonic()
    version = evault(home, "--version")
    startup = time.monotonic() - started
    assert version.returncode == 0, version.stderr
    started = time.monotonic()
    clean = evault(home, "ingest", str(volume), "--erase", "--json")
    elapsed = time.monotonic() - started
    assert clean.returncode == 0, clean.stdout + clean.stderr
    shutil.rmtree(base / "clean")
    return Camera(pristine, sha, startup, elapsed)


def fresh(tmp_path: Path, camera: Camera) -> tuple[Path, Path]:
    volume = tmp_path / "volume"
    shutil.copytree(camera.pristine, volume)
    return tmp_path / "home", volume


# The clips are read in name order: the two big ones (24 and 40 chunks), four small ones,
# then the camera's IMP copy of clip 0001 (the same bytes: 8 passes, 7 objects, 7 rows).
# N=2: a first clip is already recorded; N=8 (7 for verified): the last pass, the
# duplicate whose object already exists (IN-6).  Two values each keep the module short.
KILL_POINTS = [
    *(("stream.chunk", n) for n in (1, 7, 30)),  # 30: inside the second big clip
    *(
        (name, n)
        for name in ("store.written", "store.linked", "ingest.sealed", "ingest.recorded")
        for n in (2, 8)
    ),
    ("ingest.verified", 2),
    ("ingest.verified", 7),
    ("ingest.erased", 1),
    ("ingest.erased", 8),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "nth"), KILL_POINTS, ids=[f"{n}:{k}" for n, k in KILL_POINTS])
def test_kill_at_any_checkpoint_loses_nothing_and_next_run_completes(
    tmp_path: Path, camera: Camera, name: str, nth: int
) -> None:
    """IN-2, IN-3: SIGKILL at the Nth pass of a checkpoint (EVAULT_KILL_AT) leaves no row
    claiming a missing or wrong object and erases nothing unverified; the next run seals,
    verifies and erases every clip, and nothing outside the clip folders."""
    home, volume = fresh(tmp_path, camera)
    killed = evault(home, "ingest", str(volume), "--erase", "--json", kill_at=f"{name}:{nth}")
    assert killed.returncode == -signal.SIGKILL, (
        f"expected death by SIGKILL at {name}:{nth}, got {killed.returncode}\n"
        + killed.stdout
        + killed.stderr
    )
    check_invariant(home, volume, camera)
    check_completed(home, volume, camera)


@pytest.mark.slow
def test_random_sigkills_never_break_the_invariant_and_a_last_run_completes(
    tmp_path: Path, camera: Camera
) -> None:
    """IN-2, IN-3: SIGKILL from outside at random moments, round after round on one vault and
    one camera; after every kill the invariant holds, and a last clean run finishes the work."""
    seed = int(os.environ.get("EVAULT_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    home, volume = fresh(tmp_path, camera)
    args = command(home, "ingest", str(volume), "--erase", "--json")
    # Kills during the imports are harmless and teach little: most land after them. A run
    # that finishes first is fine too (its clips are then done), so later rounds find less.
    low, high = camera.startup_s * 0.7, camera.clean_run_s
    outcomes: list[str] = []
    for round_ in range(15):
        delay = rng.uniform(low, high)
        proc = subprocess.Popen(
            args,
            env=evault_env(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=RUN_TIMEOUT)
        outcomes.append(f"{delay:.2f}s:{proc.returncode}")
        context = f"seed {seed} (rerun with EVAULT_CRASH_SEED={seed}), round {round_}, {outcomes}"
        assert proc.returncode in (0, -signal.SIGKILL), f"{context}\n{stderr}"
        try:
            check_invariant(home, volume, camera)
        except AssertionError as exc:
            raise AssertionError(f"{context}: {exc}") from exc
    print(f"random kills: seed {seed}, {outcomes}")
    assert any(o.endswith(f":{-signal.SIGKILL}") for o in outcomes), (
        f"no run was killed: {outcomes}"
    )
    try:
        check_completed(home, volume, camera)
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}, {outcomes}: {exc}") from exc
