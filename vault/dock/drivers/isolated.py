"""A vendor library in a child process of its own, one per camera, each call with a time limit.

A vendor's library is foreign native code: it may crash (a segfault), hang or leak. The dock
therefore never loads it; it starts `python -m vault.dock.drivers.isolated` per camera and
speaks JSON lines with it over pipes. The child tells which library call it enters before
entering it, so when the child dies, stops answering within that call's time limit, or grows
past the profile's memory limit, the parent kills it and fails that bay naming the call; the
dock carries on with its other bays.

The camera password travels only on the child's standard input (never its arguments or
environment); everything the child or the library writes is masked before it is logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from vault.dock.drivers.base import CameraInfo, DriverError, redact
from vault.profiles import LibraryDriver

log = logging.getLogger(__name__)

START_S = 30.0  # the child's interpreter start and the library's loading
CLOSE_S = 2.0
POLL_S = 0.05


class LibraryCallFailed(DriverError):
    """The library crashed, hung or leaked in a call; `call` names it (for the bay, the audit)."""

    def __init__(self, message: str, call: str | None) -> None:
        super().__init__(message)
        self.call = call


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _signal_name(returncode: int) -> str:
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


class IsolatedDriver:
    """The parent's side: a CameraDriver whose every call runs in the camera's child."""

    name = "gat947"

    def __init__(self, options: LibraryDriver, password: str) -> None:
        self._options = options
        self._password = password
        self._call: str | None = None  # the library call the child is in
        self._dead: str | None = None  # why the child is gone
        self.supports: frozenset[str] = frozenset()
        root = str(Path(__file__).resolve().parents[3])  # the directory holding `vault`
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        }
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "vault.dock.drivers.isolated"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        self._buffer = b""
        self._stderr = threading.Thread(target=self._drain, daemon=True, name="camera-lib")
        self._stderr.start()

    @classmethod
    def start(
        cls, options: LibraryDriver, password: str, timezone: str, where: dict[str, Any]
    ) -> IsolatedDriver:
        """A child for one camera, its library loaded and the camera connected."""
        driver = cls(options, password)
        try:
            opened = driver._request(
                "open",
                options=options.model_dump(mode="json"),
                password=password,
                timezone=timezone,
                where=where,
            )
        except BaseException:
            driver.close()
            raise
        driver.supports = frozenset(opened["supports"])
        return driver

    def __repr__(self) -> str:
        return f"IsolatedDriver(library={str(self._options.library)!r}, pid={self._proc.pid})"

    # -- the child -------------------------------------------------------------------------

    def _mask(self, text: str) -> str:
        return redact(text, self._password)

    def _drain(self) -> None:
        """What the child and the library write on standard error, masked, into the log."""
        assert self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = self._mask(raw.decode("utf-8", "replace").rstrip())
            if line:
                log.warning("camera library (pid %d): %s", self._proc.pid, line)

    def _limit(self) -> float:
        if self._call is None:
            return START_S
        if self._call == "SetMSDC":
            return self._options.msdc_timeout_s
        return self._options.timeout_s

    def _fail(self, message: str) -> LibraryCallFailed:
        self._dead = message
        self._kill()
        return LibraryCallFailed(message, self._call)

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def _line(self) -> dict[str, Any]:
        """The child's next message; its time limit restarts with each call it enters."""
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self._limit()
        while b"\n" not in self._buffer:
            rss = _rss_mb(self._proc.pid)
            if rss > self._options.memory_mb:
                raise self._fail(
                    f"the camera library leaked: its process grew to {rss:.0f} MiB in "
                    f"{self._call or 'loading'} (limit {self._options.memory_mb} MiB)"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(
                    f"the camera library call {self._call or 'loading'} did not return within "
                    f"{self._limit():g} s; its process was stopped"
                )
            ready, _, _ = select.select([fd], [], [], min(left, POLL_S))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = self._proc.wait()
                raise self._fail(
                    f"the camera library crashed in {self._call or 'loading'} "
                    f"({_signal_name(code)})"
                )
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def _request(self, op: str, **args: Any) -> Any:
        if self._dead is not None:
            raise LibraryCallFailed(f"the camera library's process is gone: {self._dead}", None)
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps({"op": op, **args}).encode() + b"\n")
            self._proc.stdin.flush()
        except OSError:
            pass  # it died: reading its end says how
        while True:
            message = self._line()
            if "calling" in message:
                self._call = str(message["calling"])
                log.debug("camera library: %s", self._call)
                continue
            if "error" in message:
                raise DriverError(self._mask(str(message["error"])))
            rss = _rss_mb(self._proc.pid)
            if rss > self._options.memory_mb:
                raise self._fail(
                    f"the camera library leaked: its process grew to {rss:.0f} MiB in "
                    f"{self._call} (limit {self._options.memory_mb} MiB)"
                )
            return message.get("ok")

    # -- CameraDriver ----------------------------------------------------------------------

    def identify(self) -> str:
        return str(self._request("identify"))

    def read_info(self) -> CameraInfo:
        return CameraInfo(**self._request("read_info"))

    def read_clock(self) -> datetime | None:
        found = self._request("read_clock")
        return None if found is None else datetime.fromisoformat(found)

    def sync_clock(self, now: datetime) -> None:
        self._request("sync_clock", now=now.isoformat())

    def enter_mass_storage(self) -> None:
        self._request("enter_mass_storage")

    def write_info(self, info: CameraInfo) -> None:
        self._request("write_info", info=asdict(info))

    def close(self) -> None:
        if self._proc.poll() is None and self._dead is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(b'{"op": "close"}\n')
                self._proc.stdin.close()
                self._proc.wait(CLOSE_S)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()
        self._stderr.join(CLOSE_S)
        for pipe in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(OSError):
                    pipe.close()


# -- the child's side --------------------------------------------------------------------


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
        return None if found is None else found.isoformat()
    if op == "sync_clock":
        return driver.sync_clock(datetime.fromisoformat(message["now"]))
    if op == "enter_mass_storage":
        return driver.enter_mass_storage()
    if op == "write_info":
        return driver.write_info(CameraInfo(**message["info"]))
    raise DriverError(f"unknown request {op!r}")


def serve(requests: IO[str], out: IO[str]) -> int:
    """The child: open the camera's library, then answer requests until told to close."""
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


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the dock decides when this child stops
    # The protocol keeps a private copy of standard output; the library's own writes to
    # standard output go to standard error, where the parent masks and logs them.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return serve(sys.stdin, out)


if __name__ == "__main__":
    sys.exit(main())
