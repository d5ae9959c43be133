# STAND-IN (core owns this file)
"""Who is logged in (stand-in): WebUser, and the service calls made as that principal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import select

from vault.context import Vault
from vault.db.models import Officer, Principal
from vault.errors import AccessRefused, VaultError
from vault.service import api


@dataclass(frozen=True)
class WebUser:
    name: str
    display: str
    roles: list[str]


def web_user(vault: Vault, name: str) -> WebUser | None:
    with vault.session() as session:
        principal = session.exec(select(Principal).where(Principal.name == name)).first()
        if principal is None or principal.disabled_at is not None:
            return None
        display = principal.name
        if principal.officer_pk is not None:
            officer = session.get(Officer, principal.officer_pk)
            if officer is not None:
                display = f"{principal.name}（{officer.officer_id}）"
        return WebUser(principal.name, display, list(principal.roles))


def _caller(vault: Vault, name: str) -> api.Caller:
    with vault.session() as session:
        principal = session.exec(select(Principal).where(Principal.name == name)).one()
    return api.Caller(60000, principal.os_user or f"web:{name}", False)


def _reply(vault: Vault, name: str, op: str, params: dict[str, Any]) -> api.Reply:
    from vault.service import ops

    ops.known_operations()
    reply = api.run(vault, _caller(vault, name), op, params)
    if not reply.ok:
        reply.cleanup()
        if reply.exit_code == AccessRefused.exit_code:
            raise AccessRefused(reply.error or "refused")
        raise VaultError(reply.error or "failed")
    return reply


def caller_functions(
    vault: Vault, name: str
) -> tuple[Callable[..., Any], Callable[..., tuple[Any, dict[str, Path], Callable[[], None]]]]:
    def call(op: str, **params: Any) -> Any:
        reply = _reply(vault, name, op, params)
        reply.cleanup()
        return reply.result

    def call_files(op: str, **params: Any) -> tuple[Any, dict[str, Path], Callable[[], None]]:
        reply = _reply(vault, name, op, params)
        files: dict[str, Path] = {}
        for label, path in reply.files:
            files[label] = path
            if path.is_dir():
                for part in path.rglob("*"):
                    if part.is_file():
                        files[str(Path(label) / part.relative_to(path))] = part
        return reply.result, files, reply.cleanup

    return call, call_files
