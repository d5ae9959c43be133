"""Everything a command needs, opened once: settings, database, store, profiles, clock."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine, event
from sqlmodel import Session, select

from vault.config import Settings
from vault.db.audit import HEADS_KEY, Actor
from vault.db.engine import open_engine
from vault.db.models import Principal
from vault.profiles import Profile, load_profiles
from vault.sealing.anchors import Anchorer
from vault.store import WormStore, open_store
from vault.timeutil import Clock, SystemClock


def kernel_user() -> str:
    """This process's OS user as the kernel knows it (never $USER or $LOGNAME)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid:{os.getuid()}"


@dataclass
class Vault:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    user: str = field(default_factory=kernel_user)
    # The principal the web console authenticated (set by the service for a web caller
    # only, vault.service.api.Caller.principal); None: the one `user` is mapped to.
    principal: str | None = None

    @cached_property
    def engine(self) -> Engine:
        return open_engine(self.settings.database_url)

    @cached_property
    def store(self) -> WormStore:
        return open_store(self.settings)

    @cached_property
    def profiles(self) -> dict[str, Profile]:
        return load_profiles(self.settings.profile_dirs)

    @cached_property
    def anchorer(self) -> Anchorer:
        return Anchorer(lambda: self.store, self.settings, self.clock)

    def session(self) -> Session:
        """A session whose commits anchor the chains' heads in the store when due."""
        session = Session(self.engine, expire_on_commit=False)
        event.listen(session, "after_commit", self.anchorer.after_commit)
        event.listen(session, "after_rollback", _forget_heads)
        return session

    def actor(self, role: str) -> Actor:
        return Actor(self.settings.station_id, f"{role}:{self.user}")

    def acting_principal(self, session: Session) -> Principal | None:
        """Who acts (enabled or not): the web console's principal, else the one the OS user
        is mapped to."""
        if self.principal is not None:
            query = select(Principal).where(Principal.name == self.principal)
        else:
            query = select(Principal).where(Principal.os_user == self.user)
        return session.exec(query).first()

    def for_user(self, user: str, principal: str | None = None) -> Vault:
        """The same opened vault (engine, store, profiles) acting for another OS user (or a
        principal the web console authenticated): the service's view of one caller."""
        other = Vault(self.settings, clock=self.clock, user=user, principal=principal)
        for name in ("engine", "store", "profiles", "anchorer"):
            if name in self.__dict__:
                other.__dict__[name] = self.__dict__[name]
        return other


def _forget_heads(session: Session) -> None:
    """A rolled-back transaction moved no head: nothing of it is anchored."""
    session.info.pop(HEADS_KEY, None)
