"""Named fault points for crash-safety tests.

EVAULT_KILL_AT=NAME[:N] makes the process SIGKILL itself the Nth time it passes NAME.
EVAULT_PAUSE_AT=NAME[:N[:SECONDS]] makes it wait there (default 5 s) the Nth time, so a test
can act at an exact step (send SIGTERM, pull a camera) without racing the pipeline.
Unset (always, outside tests) each costs one comparison.
"""

from __future__ import annotations

import os
import signal
import time

_SPEC = os.environ.get("EVAULT_KILL_AT", "")
_NAME, _, _NTH = _SPEC.partition(":")
_PAUSE_NAME, _, _PAUSE_REST = os.environ.get("EVAULT_PAUSE_AT", "").partition(":")
_PAUSE_NTH, _, _PAUSE_S = _PAUSE_REST.partition(":")
_passes: dict[str, int] = {}


def checkpoint(name: str) -> None:
    if name == _PAUSE_NAME:
        _passes["pause:" + name] = count = _passes.get("pause:" + name, 0) + 1
        if count == int(_PAUSE_NTH or 1):
            time.sleep(float(_PAUSE_S or 5))
    if not _NAME or name != _NAME:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] >= int(_NTH or 1):
        os.kill(os.getpid(), signal.SIGKILL)
