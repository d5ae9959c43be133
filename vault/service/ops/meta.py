"""Operations about the service itself."""

from __future__ import annotations

from typing import Any

from vault.service import policy
from vault.service.api import Call, operation


@operation("policy.show")
def show(call: Call) -> list[dict[str, Any]]:
    """The policy table, and which of its rows the caller's roles allow."""
    rows = []
    for rule in policy.TABLE:
        decision = policy.decide(rule.action, call.roles, call.caller.system)
        rows.append(
            {
                "action": rule.action,
                "what": rule.text,
                "allow": rule.allow,
                "you": decision.scope if decision.allowed else None,
            }
        )
    return rows
