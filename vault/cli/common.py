"""What every command shares: the vault it acts on and the consoles it prints to."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from vault.config import load_settings
from vault.context import Vault

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@dataclass
class State:
    config: Path | None
    _vault: Vault | None = field(default=None, init=False)

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = Vault(load_settings(self.config))
        return self._vault


def vault_of(ctx: typer.Context) -> Vault:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state.vault


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_fields(detail: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """A record as aligned 'key  value' lines; nested values as compact JSON."""
    for key, value in detail.items():
        if key in skip:
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False, default=str)
        console.print(f"[bold]{key:>22}[/]  {escape(str(value))}", soft_wrap=True)
