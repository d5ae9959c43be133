"""The unit registry (issue 16): one registered unit (单位) and the other names it goes by.

A camera reports its unit as its makers typed it ("环境监察支队一大队", or a code such as
"330100000000"), cases and principals say "一大队": the records keep each string as written,
and a filter by unit (`report compliance --unit`) resolves both sides through the registry,
so that every spelling of one unit is found. A string nobody registered still works: it
matches itself, literally.

Names are compared after Unicode NFKC (full-width digits and letters as ASCII) with the
surrounding and repeated white space removed; nothing else is guessed.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vault.context import Vault
from vault.db import audit
from vault.db.models import Case, DockSession, Officer, Principal, Unit, UnitAlias
from vault.errors import Conflict, NotFound, VaultError
from vault.i18n import N_, Phrase
from vault.timeutil import iso

MAX_NAME = 128  # the column's length, and Case.unit's

_WHAT = {"name": Phrase(N_("name")), "alias": Phrase(N_("alias"))}


def normalise(text: str) -> str:
    """The form names are compared (and registered) in."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _checked(text: str, what: str) -> str:
    name = normalise(text)
    if not name:
        raise VaultError(N_("a unit's {what} cannot be empty"), what=_WHAT.get(what, what))
    if len(name) > MAX_NAME:
        raise VaultError(
            N_("a unit's {what} is at most {most} characters ({given} given)"),
            what=_WHAT.get(what, what),
            most=MAX_NAME,
            given=len(name),
        )
    return name


def resolve(session: Session, text: str | None) -> Unit | None:
    """The registered unit this string names (its name or one of its aliases), or None."""
    if text is None or not (name := normalise(text)):
        return None
    unit = session.exec(select(Unit).where(Unit.name == name)).first()
    if unit is not None:
        return unit
    query = select(Unit).join(UnitAlias, col(UnitAlias.unit_id) == Unit.id)
    return session.exec(query.where(UnitAlias.alias == name)).first()


def names_of(session: Session, unit: Unit) -> list[str]:
    """The unit's name, then its aliases (in the order they were added)."""
    query = select(UnitAlias.alias).where(UnitAlias.unit_id == unit.id)
    return [unit.name, *session.exec(query.order_by(col(UnitAlias.id)))]


@dataclass(frozen=True)
class UnitFilter:
    """What `--unit TEXT` matches: every name of the unit TEXT resolves to, or, for a string
    nobody registered, TEXT itself."""

    asked: str
    unit: str | None = None  # the registered unit's name; None: not registered
    names: tuple[str, ...] = ()  # every name that matches, normalised
    _set: frozenset[str] = field(default=frozenset(), repr=False)

    def matches(self, text: str | None) -> bool:
        return text is not None and normalise(text) in self._set


def unit_filter(session: Session, text: str) -> UnitFilter:
    unit = resolve(session, text)
    names = tuple(names_of(session, unit)) if unit is not None else (normalise(text),)
    return UnitFilter(text, unit.name if unit else None, names, frozenset(names))


def add_unit(
    vault: Vault, name: str, aliases: list[str] | None = None, by: str | None = None
) -> dict[str, Any]:
    """Register a unit, with the other names it goes by. by: who (the principal's name;
    default the OS user acting)."""
    name = _checked(name, "name")
    wanted = [_checked(a, "alias") for a in aliases or []]
    added = [alias for alias in dict.fromkeys(wanted) if alias != name]
    with vault.session() as session, _race(name):
        for each in (name, *added):
            _require_free(session, each)
        unit = Unit(name=name, created_at=vault.clock.now(), created_by=by or _actor(vault))
        session.add(unit)
        session.flush()
        for alias in added:
            _add_alias(vault, session, unit, alias, by)
        _event(vault, session, "unit.added", unit, aliases=added, by=unit.created_by)
        session.commit()
        return _row(session, unit)


def add_alias(vault: Vault, name: str, alias: str, by: str | None = None) -> dict[str, Any]:
    """Another name for a registered unit (named by its name or an alias it has)."""
    alias = _checked(alias, "alias")
    with vault.session() as session, _race(alias):
        unit = resolve(session, name)
        if unit is None:
            raise NotFound(
                N_("no unit {name} is registered; {known}"),
                name=repr(normalise(name)),
                known=_known(session),
            )
        _require_free(session, alias)
        _add_alias(vault, session, unit, alias, by)
        _event(vault, session, "unit.alias_added", unit, alias=alias, by=by or _actor(vault))
        session.commit()
        return _row(session, unit)


def list_units(session: Session) -> list[dict[str, Any]]:
    """Every registered unit with its aliases and how many records use each of its names,
    then the unit strings in the records that no registered unit has (unregistered)."""
    uses = strings_in_use(session)
    rows = []
    claimed: set[str] = set()
    for unit in session.exec(select(Unit).order_by(col(Unit.name))):
        row = _row(session, unit)
        names = {unit.name, *row["aliases"]}
        claimed |= names
        row["records"] = _count(uses, names)
        rows.append(row)
    for name in sorted(set(uses) - claimed):
        rows.append(
            {
                "name": name,
                "aliases": [],
                "registered": False,
                "created_at": None,
                "created_by": None,
                "records": _count(uses, {name}),
            }
        )
    return rows


def known_units(session: Session) -> list[str]:
    """The names a unit filter can usefully be given: the registered units, then the
    strings in the records that no registered unit has."""
    return [row["name"] for row in list_units(session)]


def strings_in_use(session: Session) -> dict[str, Counter[str]]:
    """Each unit string (normalised) in the records: how many officers, cases, dockings
    (the camera's reported unit name or code) and staff principals use it."""
    uses: dict[str, Counter[str]] = {}

    def seen(text: str | None, where: str) -> None:
        if text and (name := normalise(text)):
            uses.setdefault(name, Counter())[where] += 1

    for text in session.exec(select(Officer.unit)):
        seen(text, "officers")
    for text in session.exec(select(Case.unit)):
        seen(text, "cases")
    for unit_name, unit_id in session.exec(
        select(DockSession.camera_unit_name, DockSession.camera_unit_id)
    ):
        seen(unit_name, "dockings")
        seen(unit_id, "dockings")
    for text in session.exec(select(Principal.unit).where(Principal.kind == "staff")):
        seen(text, "principals")
    return uses


def _count(uses: dict[str, Counter[str]], names: set[str]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for name in names:
        total.update(uses.get(name, Counter()))
    return {key: total[key] for key in ("officers", "cases", "dockings", "principals")}


def _row(session: Session, unit: Unit) -> dict[str, Any]:
    return {
        "name": unit.name,
        "aliases": names_of(session, unit)[1:],
        "registered": True,
        "created_at": iso(unit.created_at),
        "created_by": unit.created_by,
    }


def _known(session: Session) -> Phrase:
    names = [u.name for u in session.exec(select(Unit).order_by(col(Unit.name)))]
    if not names:
        return Phrase(N_("none is yet ({command})"), command="evault unit add NAME")
    return Phrase(N_("registered: {names}"), names=", ".join(names))


def _require_free(session: Session, name: str) -> None:
    """A name names one unit: refused if it is a unit's name or alias already."""
    owner = resolve(session, name)
    if owner is None:
        return
    if owner.name == name:
        raise Conflict(N_("unit {name} is already registered"), name=repr(name))
    raise Conflict(
        N_("{name} is already an alias of unit {unit}"), name=repr(name), unit=repr(owner.name)
    )


def _add_alias(vault: Vault, session: Session, unit: Unit, alias: str, by: str | None) -> None:
    assert unit.id is not None
    created_by = by or _actor(vault)
    session.add(
        UnitAlias(alias=alias, unit_id=unit.id, created_at=vault.clock.now(), created_by=created_by)
    )
    session.flush()


@contextmanager
def _race(name: str) -> Iterator[None]:
    """Another station registering the same name meanwhile: the unique index refuses ours."""
    try:
        yield
    except IntegrityError:
        raise Conflict(
            N_("{name} was registered at the same time elsewhere (see `{command}`)"),
            name=repr(name),
            command="evault unit list",
        ) from None


def _actor(vault: Vault) -> str:
    return vault.actor("records").name


def _event(vault: Vault, session: Session, action: str, unit: Unit, **detail: object) -> None:
    audit.append(
        session,
        vault.actor("records"),
        at=vault.clock.now(),
        action=action,
        subject=f"unit:{unit.name}",
        detail={"name": unit.name, **detail},
    )
