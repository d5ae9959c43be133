"""`store.rebuild-index`: the database made again from the WORM store (issue 15).

Local only: it fills the database this process opens (the service's own, run as the
service account or root), from an empty one; over the socket it is refused."""

from __future__ import annotations

from typing import Any

from vault.recovery.rebuild import rebuild_index
from vault.service.api import Call, operation


@operation("store.rebuild-index", local_only=True)
def store_rebuild_index(call: Call) -> dict[str, Any]:
    return rebuild_index(call.vault).to_json()
