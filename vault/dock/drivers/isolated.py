"""A vendor library in a child process of its own, one per camera, each call with a time limit.

A vendor's library is foreign native code: it may crash (a segfault), hang or leak. The dock
therefore never loads it; it starts `python -P -m vault.dock.drivers.library_child` per
camera (working directory `/`, a minimal environment: nothing of the dock's settings or its
database URL) and speaks JSON lines with it over pipes. The child tells which library call
it enters before entering it, so when the child dies, stops answering within that call's
time limit, or grows past the profile's memory limit, the parent kills it and fails that bay
naming the call; the dock carries on with its other bays. The child leads a process group
of its own, and the whole group is killed: whatever the library started goes with it.

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
from typing import Any

from vault.dock.drivers.base import CameraInfo, DriverError, redact
from vault.dock.drivers.credentials import check_library
from vault.profiles import LibraryDriver

log = logging.getLogger(__name__)

START_S = 30.0  # the child's interpreter start and the library's loading
CLOSE_S = 2.0
POLL_S = 0.05
CHILD = "vault.dock.drivers.library_child"
# What the child keeps of the dock's environment: nothing that names the vault's settings,
# its database or its secrets.
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


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
        self._call: str | None = None  # the library call the child is in, until it answers
        self._started = False  # the child loaded the library and answered "open"
        self._dead: str | None = None  # why the child is gone
        self.supports: frozenset[str] = frozenset()
        self.clock_text: str | None = None  # what the clock call gave, as the camera said it
        root = str(Path(__file__).resolve().parents[3])  # the directory holding `vault`
        env = {key: os.environ[key] for key in KEPT_ENV if key in os.environ}
        env["PYTHONPATH"] = root  # the vault's own code only: -P keeps the cwd off sys.path
        env.setdefault("PATH", os.defpath)
        # The dock's pid: the child exits at once if it was already reparented (PDEATHSIG).
        # PDEATHSIG follows the thread that starts the child: open and close a driver on the
        # same thread (control.drive does).
        self._proc = subprocess.Popen(
            [sys.executable, "-P", "-m", CHILD, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd="/",
            close_fds=True,
            start_new_session=True,  # its own process group: killed whole
        )
        self._buffer = b""
        self._stderr = threading.Thread(target=self._drain, daemon=True, name="camera-lib")
        self._stderr.start()

    @classmethod
    def start(
        cls, options: LibraryDriver, password: str, timezone: str, where: dict[str, Any]
    ) -> IsolatedDriver:
        """A child for one camera, its library loaded and the camera connected."""
        check_library(options.library)  # before anything runs it: absolute, root's, not writable
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
        driver._started = True
        return driver

    def __repr__(self) -> str:
        return f"IsolatedDriver(library={str(self._options.library)!r}, pid={self._proc.pid})"

    # -- the child -------------------------------------------------------------------------

    def _mask(self, text: str) -> str:
        return redact(text, self._password)

    def _drain(self) -> None:
        """What the child and the library write on standard error, masked, into the log.

        This thread owns the pipe: it reads until every writer is gone (the process group is
        killed) and closes it; nothing else touches it.
        """
        assert self._proc.stderr is not None
        pipe = self._proc.stderr
        fd, pending = pipe.fileno(), b""
        try:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    self._log_line(raw)
            self._log_line(pending)
        finally:
            pipe.close()

    def _log_line(self, raw: bytes) -> None:
        line = self._mask(raw.decode("utf-8", "replace").rstrip())
        if line:
            log.warning("camera library (pid %d): %s", self._proc.pid, line)

    def _where(self) -> str:
        """Where the child was: in a named call, loading, or between calls."""
        if self._call is not None:
            return f"in {self._call}"
        return "in loading" if not self._started else "between library calls"

    def _limit(self) -> float:
        if not self._started and self._call is None:
            return START_S
        if self._call is None:
            return self._options.timeout_s
        if self._call == "SetMSDC":
            return self._options.msdc_timeout_s
        return self._options.timeout_s

    def _fail(self, message: str) -> LibraryCallFailed:
        self._dead = message
        self._kill()
        return LibraryCallFailed(message, self._call)

    def _kill(self) -> None:
        """The child's whole process group: the child and whatever the library started."""
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
            os.killpg(self._proc.pid, signal.SIGKILL)
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
                    f"the camera library leaked: its process grew to {rss:.0f} MiB "
                    f"{self._where()} (limit {self._options.memory_mb} MiB)"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                what = (
                    f"call {self._call or 'loading'}"
                    if self._call or not self._started
                    else "process (between library calls)"
                )
                raise self._fail(
                    f"the camera library {what} did not return within "
                    f"{self._limit():g} s; its process was stopped"
                )
            ready, _, _ = select.select([fd], [], [], min(left, POLL_S))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = self._proc.wait()
                raise self._fail(
                    f"the camera library crashed {self._where()} ({_signal_name(code)})"
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
                self._call = None  # it answered: a later death is not this call's
                raise DriverError(self._mask(str(message["error"])))
            rss = _rss_mb(self._proc.pid)
            if rss > self._options.memory_mb:
                raise self._fail(
                    f"the camera library leaked: its process grew to {rss:.0f} MiB "
                    f"{self._where()} (limit {self._options.memory_mb} MiB)"
                )
            self._call = None  # it answered: a later death is not this call's
            return message.get("ok")

    # -- CameraDriver ----------------------------------------------------------------------

    def identify(self) -> str:
        return str(self._request("identify"))

    def read_info(self) -> CameraInfo:
        return CameraInfo(**self._request("read_info"))

    def read_clock(self) -> datetime | None:
        found = self._request("read_clock")
        self.clock_text = found["text"]
        return None if found["time"] is None else datetime.fromisoformat(found["time"])

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
        self._stderr.join(CLOSE_S)  # the drain thread closes standard error itself
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(OSError):
                    pipe.close()
