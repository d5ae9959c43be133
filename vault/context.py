"""Everything a command needs, opened once: settings, database, store, profiles, clock."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlmodel import Session

from vault.config import Settings
from vault.db.audit import Actor
from vault.db.engine import open_engine
from vault.dock.profiles import Profile, load_profiles
from vault.store import WormStore, open_store
from vault.timeutil import Clock, SystemClock


@dataclass
class Vault:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    user: str = field(default_factory=getpass.getuser)

    @cached_property
    def engine(self) -> Engine:
        return open_engine(self.settings.database_url)

    @cached_property
    def store(self) -> WormStore:
        return open_store(self.settings)

    @cached_property
    def profiles(self) -> dict[str, Profile]:
        return load_profiles(self.settings.profile_dirs)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def actor(self, role: str) -> Actor:
        return Actor(self.settings.station_id, f"{role}:{self.user}")
