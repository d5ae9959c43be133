"""Operations on principals: who may ask for, approve and see records (AC-1)."""

from __future__ import annotations

import pwd
from typing import Any

from vault.access import accounts, principals
from vault.errors import NotFound
from vault.i18n import N_
from vault.service.api import Call, operation
from vault.timeutil import iso


def _require_os_user(name: str) -> None:
    """An OS user mapped to a principal must exist on this station (checked here, by the
    service, not by the caller's CLI)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise NotFound(
            N_("no OS user {user} on this machine: create the account first, then map it"),
            user=repr(name),
        ) from None


@operation("principal.add")
def add(
    call: Call,
    name: str,
    kind: str = "staff",
    roles: list[str] | None = None,
    unit: str | None = None,
    officer: str | None = None,
    id_number: str | None = None,
    user: str | None = None,
    approver_level: str | None = None,
    case: str | None = None,
) -> dict[str, Any]:
    """Add a principal. Scope "empty": the vault's own account bootstraps an empty vault,
    and the domain makes that first principal the records keeper mapped to it."""
    if user is not None:
        _require_os_user(user)
    added = principals.add_principal(
        call.vault, name, kind, roles or [], unit, officer, id_number, user, approver_level, case
    )
    return {
        "name": added.name,
        "kind": added.kind,
        "roles": added.roles,
        "approver_level": added.approver_level,
        "unit": added.unit,
        "os_user": added.os_user,
    }


@operation("principal.map")
def map_(call: Call, os_user: str, name: str) -> dict[str, Any]:
    _require_os_user(os_user)
    principal = principals.map_user(call.vault, os_user, name)
    return {"name": principal.name, "os_user": principal.os_user}


@operation("principal.level")
def level(call: Call, name: str, level: str) -> dict[str, Any]:
    """Set an approver's level (AC-0)."""
    principal = principals.set_level(call.vault, name, level)
    return {"name": principal.name, "approver_level": principal.approver_level}


@operation("principal.disable")
def disable(call: Call, name: str, reason: str) -> dict[str, Any]:
    principal = principals.disable(call.vault, name, reason)
    return {"name": principal.name, "disabled_at": iso(principal.disabled_at)}


@operation("principal.password")
def password(call: Call, name: str, password: str) -> dict[str, Any]:
    """Set NAME's web console password (a new account, or unlocked with a new password)."""
    return accounts.set_password(call.vault, name, password)


@operation("principal.totp")
def totp(call: Call, name: str, remove: bool = False) -> dict[str, Any]:
    """A new TOTP secret for NAME's web login (its provisioning URI), or none."""
    return accounts.set_totp(call.vault, name, remove)


@operation("principal.list")
def list_(call: Call) -> list[dict[str, Any]]:
    with call.vault.session() as session:
        return principals.list_principals(session)
