"""PostgreSQL as the shared database (issue 9): the same Alembic migrations build exactly the
models, every migration runs up and down, the engine's session settings, and stations
starting at once migrate one database once. Runs in the PostgreSQL pass
(EVAULT_TEST_DATABASE=postgresql, see scripts/test)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel, select

from tests.conftest import TEST_DATABASE, database_url_for
from tests.integration.test_multi_station import together
from vault.db.engine import (
    SCHEMA_HEAD,
    alembic_config,
    make_engine,
    migrate,
    open_engine,
    schema_revision,
    session,
)
from vault.db.models import DockSession, Evidence

pytestmark = pytest.mark.skipif(
    TEST_DATABASE != "postgresql", reason="the PostgreSQL pass runs these (scripts/test)"
)


def empty_database(tmp_path: Path) -> str:
    """A database with nothing in it (the per-test ones come migrated from the template)."""
    url = database_url_for(tmp_path / "db")
    assert url is not None
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def test_migrations_build_exactly_the_models_on_postgresql(tmp_path: Path) -> None:
    engine = open_engine(empty_database(tmp_path))
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []
    assert schema_revision(engine) == SCHEMA_HEAD
    assert "evidence" in inspect(engine).get_table_names()
    engine.dispose()


def test_every_migration_runs_up_and_down_on_postgresql(tmp_path: Path) -> None:
    engine = make_engine(empty_database(tmp_path))
    config = alembic_config(engine)
    revisions = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions()]
    for revision in reversed(revisions):  # 0001, 0002, ... one at a time
        command.upgrade(config, revision)
        assert schema_revision(engine) == revision
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert schema_revision(engine) == SCHEMA_HEAD
    engine.dispose()


def test_stations_starting_together_migrate_once(tmp_path: Path) -> None:
    url = empty_database(tmp_path)
    engines = [make_engine(url) for _ in range(3)]
    together(*(lambda e=e: migrate(e) for e in engines))
    assert all(schema_revision(e) == SCHEMA_HEAD for e in engines)
    for engine in engines:
        engine.dispose()


def test_engine_session_settings(tmp_path: Path) -> None:
    url = database_url_for(tmp_path / "db")
    assert url is not None
    engine = make_engine(url)
    with engine.connect() as connection:
        shown = {
            name: connection.execute(text(f"SHOW {name}")).scalar()
            for name in ("transaction_isolation", "lock_timeout", "statement_timeout", "TimeZone")
        }
    assert shown == {
        "transaction_isolation": "read committed",
        "lock_timeout": "1min",
        "statement_timeout": "5min",
        "TimeZone": "UTC",
    }
    assert engine.pool._pre_ping  # type: ignore[attr-defined]
    engine.dispose()


def test_big_sizes_and_aware_times_round_trip(tmp_path: Path) -> None:
    """Clips pass 4 GiB (64-bit sizes); times come back aware UTC, as on SQLite."""
    url = database_url_for(tmp_path / "db")
    assert url is not None
    engine = open_engine(url)
    at = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)
    with session(engine) as s:
        dock = DockSession(station_id="s", profile="p", volume="/v", started_at=at)
        s.add(dock)
        s.flush()
        assert dock.id is not None
        s.add(
            Evidence(
                sha256="f" * 64,
                size=6 * 1024**3,
                kind="video",
                dock_session_id=dock.id,
                file_name="f.MP4",
                camera_folder="DCIM",
                docked_at=at,
                sealed_at=at,
                storage_backend="local",
                storage_key="k",
            )
        )
        s.commit()
    with session(engine) as s:
        row = s.exec(select(Evidence)).one()
    assert row.size == 6 * 1024**3 and row.docked_at == at and row.docked_at.tzinfo is UTC
    engine.dispose()
