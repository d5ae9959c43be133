"""The child process of one camera: it loads the vendor's library and answers the dock.

Started by `vault.dock.drivers.isolated` as `python -P -m vault.dock.drivers.library_child
<dock pid>` with its working directory `/` and a minimal environment. Nothing imports this
module (so running it with `-m` gives no runpy warning); it speaks JSON lines on its standard
input and output, and tells which library call it enters before entering it.

Before it loads anything it makes sure it cannot outlive the dock (PR_SET_PDEATHSIG, then a
check that the dock is still its parent), and that it leaves no core dump and cannot be
read by a debugger of the same account (PR_SET_DUMPABLE 0, RLIMIT_CORE 0): it holds the
camera password.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
from dataclasses import asdict
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from vault.dock.drivers.base import CameraInfo, DriverError, redact
from vault.profiles import LibraryDriver

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message, ensure_ascii=False) + "\n")
    out.flush()


def _dispatch(driver: Any, op: str, message: dict[str, Any]) -> Any:
    if op == "identify":
        return driver.identify()
    if op == "read_info":
        return asdict(driver.read_info())
    if op == "read_clock":
        found = driver.read_clock()
        return {
            "time": None if found is None else found.isoformat(),
            "text": driver.clock_text,
        }
    if op == "sync_clock":
        return driver.sync_clock(datetime.fromisoformat(message["now"]))
    if op == "enter_mass_storage":
        return driver.enter_mass_storage()
    if op == "write_info":
        return driver.write_info(CameraInfo(**message["info"]))
    raise DriverError(f"unknown request {op!r}")


def serve(requests: IO[str], out: IO[str]) -> int:
    """Open the camera's library, then answer requests until told to close."""
    from vault.dock.drivers.gat947 import Gat947Driver  # only ever in the child

    driver: Any = None
    password = ""
    for line in requests:
        message = json.loads(line)
        op = message.get("op")
        if op == "close":
            break
        try:
            if op == "open":
                password = message["password"]
                options = LibraryDriver.model_validate(message["options"])
                driver = Gat947Driver.open(
                    options,
                    password,
                    ZoneInfo(message["timezone"]),
                    message["where"],
                    on_call=lambda name: _send(out, {"calling": name}),
                )
                _send(out, {"ok": {"supports": sorted(driver.supports)}})
                continue
            if driver is None:
                raise DriverError("the camera library is not open")
            _send(out, {"ok": _dispatch(driver, op, message)})
        except DriverError as exc:
            _send(out, {"error": redact(str(exc), password)})
        except Exception as exc:  # the library misbehaving in a way ctypes noticed
            _send(out, {"error": redact(f"{type(exc).__name__}: {exc}", password)})
    return 0


def guard(dock_pid: int) -> None:
    """Die with the dock; leave no core dump and no readable memory (it holds the password)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != dock_pid:  # the dock died before the line above took effect
        os._exit(1)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the dock decides when this child stops
    guard(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid())
    # The protocol keeps a private copy of standard output; the library's own writes to
    # standard output go to standard error, where the parent masks and logs them.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return serve(sys.stdin, out)


if __name__ == "__main__":
    sys.exit(main())
