"""Operations on the unit registry (issue 16): a records keeper registers units and the
other names they go by; anyone mapped lists them (and the unit strings nobody registered)."""

from __future__ import annotations

from typing import Any

from vault.cases import units
from vault.service.api import Call, operation


@operation("unit.add")
def add(call: Call, name: str, aliases: list[str] | None = None) -> dict[str, Any]:
    return units.add_unit(call.vault, name, list(aliases or []), by=call.name)


@operation("unit.alias")
def alias(call: Call, name: str, alias: str) -> dict[str, Any]:
    return units.add_alias(call.vault, name, alias, by=call.name)


@operation("unit.list")
def list_(call: Call) -> list[dict[str, Any]]:
    with call.vault.session() as session:
        return units.list_units(session)
