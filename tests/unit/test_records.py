"""Records: migrations match the models, and the audit chain shows any edit (AC-7)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel, col, select

from vault.db import audit
from vault.db.engine import open_engine
from vault.db.models import AuditEvent


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'v.db'}")
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []
    assert {"evidence", "device", "officer", "dock_session", "sighting", "audit_event"} <= set(
        inspect(engine).get_table_names()
    )
    open_engine(f"sqlite:///{tmp_path / 'v.db'}")  # a second open is a no-op


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'v.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_audit_chain_detects_an_edited_event(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'v.db'}")
    at = datetime(2026, 11, 23, tzinfo=UTC)
    with Session(engine) as session:
        for n in range(3):
            audit.append(session, audit.Actor("s", "a"), at=at, action=f"act{n}", detail={"n": n})
        session.commit()
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
        assert audit.check_chain(events) == []
        events[1].detail = {"n": 99}
        session.commit()
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    breaks = audit.check_chain(events)
    assert [b.event_id for b in breaks] == [events[1].id]
    assert breaks[0].reason == "content does not match its hash"


def test_schema_head_constant_is_alembics_head(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from vault.db.engine import SCHEMA_HEAD, alembic_config, make_engine, schema_revision

    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    assert ScriptDirectory.from_config(alembic_config(engine)).get_current_head() == SCHEMA_HEAD
    assert schema_revision(engine) is None
    open_engine(f"sqlite:///{tmp_path / 'v.db'}")
    assert schema_revision(engine) == SCHEMA_HEAD


def test_upgrade_from_the_first_revision_keeps_rows(tmp_path: Path) -> None:
    """Migration 0002 adds NOT NULL columns: existing evidence gets their defaults."""
    from alembic import command

    from vault.db.engine import alembic_config, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO dock_session (id, station_id, profile, volume, started_at, status, "
                "clips_sealed, clips_seen, bytes_read) VALUES (1, 's', 'p', '/v', "
                "'2026-01-01 00:00:00', 'done', 0, 0, 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO evidence (id, sha256, size, kind, status, dock_session_id, file_name, "
                "camera_folder, important, camera_time_source, docked_at, sealed_at, "
                "storage_backend, storage_key, immutable_applied) VALUES (1, 'ab', 1, 'video', "
                "'verified', 1, 'f', 'd', 0, 'none', '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00', 'local', 'k', 0)"
            )
        )
    open_engine(f"sqlite:///{tmp_path / 'v.db'}")
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT retention_class, legal_hold FROM evidence WHERE id = 1")
        ).one()
    assert tuple(row) == ("routine", 0)
