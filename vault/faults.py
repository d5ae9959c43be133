"""Named kill points for crash-safety tests: EVAULT_KILL_AT=NAME[:N] makes the process
SIGKILL itself the Nth time it passes NAME. Unset (always, outside tests) it costs one
dictionary look-up."""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("EVAULT_KILL_AT", "")
_NAME, _, _NTH = _SPEC.partition(":")
_passes: dict[str, int] = {}


def checkpoint(name: str) -> None:
    if not _NAME or name != _NAME:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] >= int(_NTH or 1):
        os.kill(os.getpid(), signal.SIGKILL)
