"""Shared fixtures: a vault on its embedded defaults in a temporary home, and camera volumes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vault.config import Settings, parse_settings
from vault.context import Vault
from vault.db.models import Derivative, Evidence
from vault.timeutil import FixedClock

ROOT = Path(__file__).resolve().parent.parent
MAKE_SAMPLE_CAMERA = ROOT / "scripts" / "make-sample-camera"


EVAULT = [sys.executable, "-c", "from vault.cli import main; main()"]
TEST_CONFIG = 'station_id = "cli-test"\n[store]\nimmutable = "off"\n'


def evault_env(home: Path, kill_at: str | None = None) -> dict[str, str]:
    """The environment of an `evault` subprocess on the vault in home (its vault.toml)."""
    config = home / "vault.toml"
    if not config.exists():
        config.write_text(TEST_CONFIG)
    env = {**os.environ, "EVAULT_HOME": str(home), "EVAULT_CONFIG": str(config)}
    env.pop("EVAULT_KILL_AT", None)
    if kill_at:
        env["EVAULT_KILL_AT"] = kill_at  # vault/faults.py: SIGKILL at that checkpoint
    return env


def run_evault(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as an operator would."""
    return subprocess.run(
        [*EVAULT, *args], capture_output=True, text=True, env=evault_env(home), check=False
    )


def make_settings(home: Path, **sections: dict[str, object]) -> Settings:
    # immutable off: chattr +i files would outlive the test's temporary directory.
    data: dict[str, object] = {"home": str(home), "station_id": "test-station"}
    data["store"] = {"immutable": "off", **sections.pop("store", {})}
    data.update(sections)
    return parse_settings(data)


@pytest.fixture(autouse=True)
def private_tempdir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temporary files the vault makes (viewing copies, scratch) stay in pytest's own
    temporary tree, which it prunes, instead of piling up in /tmp."""
    scratch = tmp_path_factory.mktemp("tmp")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC))


@pytest.fixture
def vault(home: Path, clock: FixedClock) -> Vault:
    return Vault(make_settings(home), clock=clock, user="tester")


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB ext4 filesystem on a loop device, to fill up (root only)."""
    if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None:
        pytest.skip("needs root and mkfs.ext4 to make a tiny filesystem")
    image, mount = tmp_path / "tiny.img", tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["truncate", "-s", "8M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
    if subprocess.run(["mount", "-o", "loop", str(image), str(mount)]).returncode:
        pytest.skip("loop mounts are not allowed here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture(scope="session")
def pristine_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sample camera per test session, made by the same script the demo uses."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    path = tmp_path_factory.mktemp("camera") / "vol"
    subprocess.run(
        [
            str(MAKE_SAMPLE_CAMERA),
            str(path),
            "--quiet",
            "--no-narration",
            "--seconds",
            "2",
            "--start",
            "2026-11-23 15:00:00",
        ],
        check=True,
    )
    return path


@pytest.fixture
def camera(pristine_camera: Path, tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the sample camera that a test may erase from or damage."""
    path = tmp_path / "camera"
    shutil.copytree(pristine_camera, path, symlinks=True)
    yield path


def store_derivative(vault: Vault, evidence_id: int, kind: str, data: bytes) -> Derivative:
    """A derivative as the media worker stores it: its own object under its own hash, with
    its original's retention, linked to the original."""
    with vault.session() as session:
        until = session.get_one(Evidence, evidence_id).retain_until
    assert until is not None
    sha = hashlib.sha256(data).hexdigest()
    writer = vault.store.begin_put()
    writer.write(data)
    put = writer.commit(sha, len(data), until)
    row = Derivative(
        evidence_id=evidence_id,
        kind=kind,
        sha256=sha,
        size=len(data),
        storage_key=put.key,
        media_type="image/jpeg",
        created_at=vault.clock.now(),
    )
    with vault.session() as session:
        session.add(row)
        session.commit()
    return row
