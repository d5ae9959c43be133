"""Alembic environment: the engine comes from the vault (vault.db.engine.migrate)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import vault.db.models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite alters tables by copying them
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
