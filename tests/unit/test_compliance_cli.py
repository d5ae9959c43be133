"""The compliance CLI is thin (issue 13): its modules import nothing of the vault's domain
at the top, and the reason codes its help lists are the domain's."""

from __future__ import annotations

import ast
from pathlib import Path

import vault
from vault.cli import session as session_cli
from vault.compliance.reasons import GAP_REASONS
from vault.compliance.stops import STOP_REASONS

# vault.i18n: the words the CLI prints, in the reader's language (issue 17), below the domain.
ALLOWED = ("vault.cli.common", "vault.errors", "vault.timeutil", "vault.client", "vault.i18n")


def test_no_cli_module_imports_the_domain_at_the_top() -> None:
    """Issue 14: every CLI module, not only these three; the domain only lazily, if at all."""
    folder = Path(vault.__file__).parent / "cli"
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                found = [node.module]
            elif isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            else:
                continue
            for module in found:
                if module.startswith("vault.cli") or module == "vault":  # itself, __version__
                    continue
                if module.startswith("vault."):
                    assert module in ALLOWED, f"vault/cli/{path.name} imports {module}"


def test_the_help_lists_the_domains_reason_codes() -> None:
    assert tuple(GAP_REASONS) == session_cli.GAP_CODES
    assert tuple(STOP_REASONS) == session_cli.STOP_CODES
