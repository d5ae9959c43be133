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
            audit.append(
                session, at=at, station_id="s", actor="a", action=f"act{n}", detail={"n": n}
            )
        session.commit()
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
        assert audit.check_chain(events) == []
        events[1].detail = {"n": 99}
        session.commit()
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    breaks = audit.check_chain(events)
    assert [b.event_id for b in breaks] == [events[1].id]
    assert breaks[0].reason == "content does not match its hash"
