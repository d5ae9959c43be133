"""Opening the database: SQLite (WAL, durable commits) on one station, PostgreSQL when many
stations share one vault. Both run the same Alembic migrations."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from vault.errors import VaultError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration. When the database is already there, Alembic is not even imported
# (a tenth of a second at every command); tests/unit/test_records.py keeps this true.
SCHEMA_HEAD = "0022"


class DatabaseError(VaultError):
    """The database cannot be opened or migrated."""


# PostgreSQL session settings, unless the URL sets its own `options`. A lock wait gives up
# after as long as SQLite's busy timeout; a statement that runs for minutes is a bug (the
# largest, a purge planning page or a migration's index, takes seconds on a million rows);
# a transaction left open by a stuck process must not hold its locks for ever.
PG_OPTIONS = (
    "-c lock_timeout=60s -c statement_timeout=300s "
    "-c idle_in_transaction_session_timeout=600s -c timezone=UTC"
)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return _postgresql_engine(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling is replaced by BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed seal survives power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        # Take the write lock up front: a read-then-write transaction never dies of SQLITE_BUSY.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgresql_engine(url: str) -> Engine:
    """READ COMMITTED, stated rather than assumed: what must not interleave takes a lock
    (lock_for_transaction, SELECT ... FOR UPDATE [SKIP LOCKED]) or relies on a unique index,
    and a statement after a lock wait sees what was committed meanwhile. The stations reach
    the server over the network: connections are checked before use (pool_pre_ping)."""
    connect_args: dict[str, Any] = {"application_name": "evault", "connect_timeout": 15}
    if "options" not in make_url(url).query:
        connect_args["options"] = PG_OPTIONS
    return create_engine(
        url,
        isolation_level="READ COMMITTED",
        pool_pre_ping=True,
        pool_recycle=3600,
        connect_args=connect_args,
    )


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a named lock (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_for_transaction(session: Session, name: str) -> None:
    """Hold the lock NAME until the caller's transaction ends: the writers of one hash chain
    (audit events, the access register) go one at a time, each reading the head its
    predecessor committed. SQLite needs nothing: every transaction there starts with BEGIN
    IMMEDIATE and so already holds the database's only write lock. On PostgreSQL a
    transaction-scoped advisory lock; READ COMMITTED makes the next statement see the head."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def schema_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a new (or unreadable) database."""
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None
    return str(found) if found else None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it already is."""
    if schema_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command

    try:
        if engine.dialect.name != "postgresql":
            command.upgrade(alembic_config(engine), "head")  # BEGIN IMMEDIATE serialises
            return
        # Stations started together must not migrate one database twice at once: the first
        # holds this lock (on a connection of its own) while Alembic works, the others wait,
        # then find the schema current.
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("migrate")})
            try:
                if schema_revision(engine) != SCHEMA_HEAD:
                    command.upgrade(alembic_config(engine), "head")
            finally:
                holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("migrate")})
                holder.commit()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot migrate database {engine.url!r}: {exc}") from exc


def open_engine(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)
