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
from sqlalchemy.engine import make_url

from vault.config import Settings, parse_settings
from vault.context import Vault
from vault.db.models import Derivative, Evidence
from vault.timeutil import FixedClock

# The suite reads the CLI's messages and errors in English (vault.i18n: $EVAULT_LANGUAGE is
# the reader's language; the papers keep the vault's `language`, zh_CN). Tests of the Chinese
# messages set EVAULT_LANGUAGE=zh_CN themselves (tests/integration/test_messages.py).
os.environ.setdefault("EVAULT_LANGUAGE", "en")

ROOT = Path(__file__).resolve().parent.parent
MAKE_SAMPLE_CAMERA = ROOT / "scripts" / "make-sample-camera"


EVAULT = [sys.executable, "-c", "from vault.cli import main; main()"]
# The shared footage (tests/compliance_footage.py, scripts/make-sample-camera in some tests)
# opens with one 3 s sentence in 4 s clips, not a preset's elements (10 s under the default
# preset, vault.compliance.openings): the fixtures' vaults ask for the 1.5 s they always did;
# tests/integration/test_narration_elements.py checks the preset's length itself.
TEST_MIN_SPEECH_S = 1.5
TEST_CONFIG = (
    'station_id = "cli-test"\n[store]\nimmutable = "off"\n'
    f"[compliance]\nmin_speech_s = {TEST_MIN_SPEECH_S}\n"
)

# The database behind every vault the shared fixtures make: "sqlite" (the default: a file in
# the vault's home) or "postgresql" (scripts/test runs the suite a second time so; each home
# gets a fresh database of its own on one server started for the session).
TEST_DATABASE = os.environ.get("EVAULT_TEST_DATABASE", "sqlite")
if TEST_DATABASE not in ("sqlite", "postgresql"):
    raise RuntimeError(f"EVAULT_TEST_DATABASE={TEST_DATABASE!r}: sqlite or postgresql")
START_PG = ROOT / "scripts" / "start-test-pg"
STOP_PG = ROOT / "scripts" / "stop-test-pg"
# Tests that edit the SQLite file by hand (sqlite3.connect(home / "vault.db")) to forge or
# tamper with records, or check the SQLite default itself; what they check does not depend
# on the database, so they run once.
SQLITE_FILE_TESTS = (
    "tests/integration/test_crash_safety.py",  # its own vault.toml; reads the file by hand
    "tests/property/test_verify_property.py",  # copies the SQLite file per example
    "tests/integration/test_ingest.py::test_settings_fixture_keeps_embedded_defaults",
    "tests/integration/test_retention_purge.py::test_store_refuses_an_early_delete_even_if",
    "tests/integration/test_export.py::test_cli_request_approve_export_and_a_register_that",
    "tests/unit/test_access_register.py::test_sql_",
    "tests/unit/test_access_register.py::test_a_signature_made_with_another_key",
    "tests/unit/test_access_register.py::test_entries_without_the_key",
    "tests/unit/test_access_register.py::test_a_lost_key",
)


class PostgresServer:
    """One PostgreSQL server for the session; a database per vault home, made in a few
    milliseconds from a template migrated once (CREATE DATABASE ... TEMPLATE)."""

    TEMPLATE = "evault_template"

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from vault.db.engine import open_engine

        self.url = make_url(url)
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.created: dict[str, Path] = {}  # database name: the vault home it serves
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.TEMPLATE} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {self.TEMPLATE}")
        template = open_engine(self.url_of(self.TEMPLATE))
        template.dispose()

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def database_for(self, home: Path) -> str:
        """The URL of HOME's database, created (empty, migrated) on first use."""
        name = "t_" + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:24]
        if name not in self.created:
            with self.admin.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {self.TEMPLATE}")
            self.created[name] = home.resolve()
        return self.url_of(name)

    def drop_under(self, root: Path) -> None:
        """Drop the databases of homes under ROOT (a test's tmp_path); those of module and
        session fixtures stay until the server goes. FORCE closes pooled connections."""
        with self.admin.connect() as connection:
            for name, home in list(self.created.items()):
                if home.is_relative_to(root):
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                    del self.created[name]


# Set by the session fixture postgres_server when TEST_DATABASE is "postgresql": the server,
# or why there is none.
_postgres: PostgresServer | str | None = None


def database_url_for(home: Path) -> str | None:
    """The database URL for a vault in HOME; None: the default SQLite file in HOME."""
    if TEST_DATABASE == "sqlite":
        return None
    if not isinstance(_postgres, PostgresServer):
        raise RuntimeError(f"no PostgreSQL for the tests: {_postgres}")
    return _postgres.database_for(home)


def evault_env(home: Path, kill_at: str | None = None) -> dict[str, str]:
    """The environment of an `evault` subprocess on the vault in home (its vault.toml)."""
    config = home / "vault.toml"
    if not config.exists():
        url = database_url_for(home)
        config.write_text(TEST_CONFIG + (f'[database]\nurl = "{url}"\n' if url else ""))
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
    data["compliance"] = {"min_speech_s": TEST_MIN_SPEECH_S, **sections.pop("compliance", {})}
    if "database" not in sections and (url := database_url_for(home)):
        data["database"] = {"url": url}
    data.update(sections)
    return parse_settings(data)


def _parse_exports(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if line.startswith("export ") and sep:
            found[name] = value
    return found


def pytest_configure(config: pytest.Config) -> None:
    if TEST_DATABASE == "postgresql":
        # Vaults made by tests are never closed; their pooled connections go with the
        # garbage, or with DROP DATABASE ... WITH (FORCE) after the test.
        config.addinivalue_line(
            "filterwarnings", "ignore:.*was deleted while still open:ResourceWarning"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TEST_DATABASE == "sqlite":
        return
    kept, dropped = [], []
    for item in items:
        node = item.nodeid
        (dropped if any(node.startswith(p) for p in SQLITE_FILE_TESTS) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def postgres_server() -> Iterator[None]:
    """With EVAULT_TEST_DATABASE=postgresql: the server at EVAULT_TEST_PG_URL, or one that
    scripts/start-test-pg starts for the session (and scripts/stop-test-pg removes)."""
    global _postgres
    if TEST_DATABASE != "postgresql":
        yield
        return
    started: dict[str, str] = {}
    url = os.environ.get("EVAULT_TEST_PG_URL")
    if not url:
        try:
            run = subprocess.run(
                [str(START_PG)], capture_output=True, text=True, timeout=600, check=False
            )
            started = _parse_exports(run.stdout)
            url = started.get("EVAULT_TEST_PG_URL")
            if run.returncode or not url:
                tail = "\n".join(run.stderr.strip().splitlines()[-12:])
                _postgres = f"scripts/start-test-pg failed (exit {run.returncode}):\n{tail}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            _postgres = f"scripts/start-test-pg could not run: {exc}"
    try:
        if url:
            try:
                _postgres = PostgresServer(url)
            except Exception as exc:  # any failure: say why, once
                _postgres = f"cannot use PostgreSQL at {url}: {exc}"
        yield
    finally:
        if isinstance(_postgres, PostgresServer):
            _postgres.admin.dispose()
        if "EVAULT_TEST_PG_DIR" in started:
            subprocess.run([str(STOP_PG), started["EVAULT_TEST_PG_DIR"]], check=False)


@pytest.fixture(autouse=True)
def per_test_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """PostgreSQL run: fail (CI=true) or skip when there is no server; afterwards drop the
    databases of this test's vaults."""
    if TEST_DATABASE != "postgresql":
        yield
        return
    if not isinstance(_postgres, PostgresServer):
        reason = f"EVAULT_TEST_DATABASE=postgresql but no PostgreSQL: {_postgres}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    tmp_path: Path = request.getfixturevalue("tmp_path")
    yield
    _postgres.drop_under(tmp_path.resolve())


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
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    if url := database_url_for(path):
        # PostgreSQL run: also for a vault.toml a test writes by hand (it names no database).
        monkeypatch.setenv("EVAULT_DATABASE_URL", url)
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
