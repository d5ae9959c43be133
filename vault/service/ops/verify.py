"""`evault verify`: every record held against the WORM store (vault.recovery.verify), and the
one-off seal records for rows sealed before seal records existed."""

from __future__ import annotations

from typing import Any

from vault.recovery.seal_missing import seal_missing
from vault.recovery.verify import verify as verify_vault
from vault.service.api import Call, operation


@operation("verify")
def verify(call: Call, objects: bool = True) -> dict[str, Any]:
    """The report by class (`evault verify --json`); its exit_code is the command's."""
    return verify_vault(call.vault, objects=objects).to_json()


@operation("verify.seal-missing")
def seal_missing_records(call: Call) -> dict[str, Any]:
    return seal_missing(call.vault).to_json()
