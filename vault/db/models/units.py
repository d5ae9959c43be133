"""The registry of units (单位) and the other names they go by (issue 16): a camera reports
"环境监察支队一大队" where cases and principals say "一大队"; one registered unit with its
aliases lets a filter find all of them. Records keep the unit string as written."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from vault.db.models.types import utc_column


class Unit(SQLModel, table=True):
    """A registered unit, by the name reports use for it."""

    __tablename__ = "org_unit"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True, index=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    created_by: str = Field(max_length=128)


class UnitAlias(SQLModel, table=True):
    """Another name of a unit (a camera's unit string or code, an older name); unique: one
    alias names one unit."""

    __tablename__ = "org_unit_alias"

    id: int | None = Field(default=None, primary_key=True)
    alias: str = Field(max_length=128, unique=True, index=True)
    unit_id: int = Field(foreign_key="org_unit.id", index=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    created_by: str = Field(max_length=128)
