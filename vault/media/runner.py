"""Running ffmpeg and ffprobe so that a hostile file cannot hurt the vault: a wall-clock
limit, lowered CPU and I/O priority, a process group killed whole, both pipes always drained
(an unread stderr deadlocks ffmpeg), and `-progress pipe:1` turned into callbacks."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from vault.errors import VaultError
from vault.logs import kv

log = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, str]], None]
STDERR_LINES = 40
STOP_POLL_S = 0.2


class MediaError(VaultError):
    """ffmpeg/ffprobe failed, hung or crashed on a file; the original is untouched (IN-3)."""


class MediaTimeout(MediaError):
    """A media tool ran past its time limit and was killed."""


class MediaStopped(MediaError):
    """The worker was told to stop (SIGTERM) while a stoppable tool ran; it was killed."""


class ReferenceMissing(MediaError):
    """Salvage needs a healthy clip from the same camera, and none is sealed (yet)."""


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    stdout: bytes
    stderr_tail: list[str]
    seconds: float

    def reason(self, tool: str) -> str:
        """One line a records keeper can read: the tool's last complaint, or how it died."""
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            return f"{tool} crashed ({name})"
        last = next((line for line in reversed(self.stderr_tail) if line.strip()), "")
        return f"{tool} failed (exit {self.returncode}): {last.strip() or 'no message'}"


def _priority_prefix(nice: int) -> list[str]:
    """nice for the CPU, ionice idle for the disk: sealing always goes first."""
    prefix = ["nice", "-n", str(nice)] if nice else []
    if nice and _has_ionice():
        prefix += ["ionice", "-c", "3"]
    return prefix


_IONICE: list[bool] = []


def _has_ionice() -> bool:
    if not _IONICE:
        _IONICE.append(
            any(
                os.access(os.path.join(d, "ionice"), os.X_OK)
                for d in os.environ.get("PATH", "").split(":")
            )
        )
    return _IONICE[0]


def run_tool(
    args: list[str],
    *,
    timeout_s: float,
    nice: int = 0,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    name: str | None = None,
    own_group: bool = True,
) -> ToolResult:
    """Run args[0] (ffmpeg, ffprobe, the salvage) to completion or until timeout_s,
    whichever is first.

    With progress given, stdout is read as `-progress` key=value blocks and each finished
    block is passed on; otherwise stdout is collected and returned. stop: set (SIGTERM),
    it kills the tool within a second (MediaStopped). name: the tool's name in messages.
    own_group=False keeps the tool in the caller's process group, so that a kill of the
    caller's group (a salvage's own ffprobe) takes it too.
    """
    tool = name or os.path.basename(args[0])
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [*_priority_prefix(nice), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=own_group,  # its own process group: a kill takes every child
        )
    except OSError as exc:
        raise MediaError(f"cannot run {args[0]}: {exc.strerror}; is ffmpeg installed?") from exc
    assert proc.stdout is not None and proc.stderr is not None
    tail: deque[str] = deque(maxlen=STDERR_LINES)
    out = bytearray()

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            tail.append(raw.decode("utf-8", "replace").rstrip())

    def drain_stdout() -> None:
        assert proc.stdout is not None
        if progress is None:
            while chunk := proc.stdout.read(65536):
                out.extend(chunk)
            return
        block: dict[str, str] = {}
        for raw in proc.stdout:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            block[key] = value
            if key == "progress":
                with contextlib.suppress(Exception):  # a progress display never kills a job
                    progress(block)
                block = {}

    readers = [
        threading.Thread(target=drain_stderr, daemon=True),
        threading.Thread(target=drain_stdout, daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        _wait(proc, timeout_s, stop)
    except _Stopped:
        _kill_group(proc, own_group)
        kv(log, logging.WARNING, "media tool stopped", tool=tool)
        raise MediaStopped(f"{tool} was stopped: the worker is shutting down") from None
    except subprocess.TimeoutExpired:
        _kill_group(proc, own_group)
        kv(log, logging.WARNING, "media tool killed", tool=tool, limit_s=timeout_s)
        raise MediaTimeout(
            f"{tool} ran longer than {timeout_s:g} s and was stopped "
            "(a hostile or broken file?); raise media.timeout_s for very long clips"
        ) from None
    except BaseException:
        _kill_group(proc, own_group)
        raise
    finally:
        for reader in readers:
            reader.join(timeout=5)
    result = ToolResult(proc.returncode, bytes(out), list(tail), time.monotonic() - started)
    seconds = round(result.seconds, 3)
    kv(log, logging.DEBUG, "media tool ran", tool=tool, exit=result.returncode, s=seconds)
    return result


class _Stopped(Exception):
    pass


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, stop: threading.Event | None) -> None:
    """proc.wait(timeout_s); with stop, looking at it every STOP_POLL_S."""
    if stop is None:
        proc.wait(timeout=timeout_s)
        return
    deadline = time.monotonic() + timeout_s
    while True:
        if stop.is_set():
            raise _Stopped
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(proc.args, timeout_s)
        try:
            proc.wait(timeout=min(STOP_POLL_S, left))
            return
        except subprocess.TimeoutExpired:
            continue


def _kill_group(proc: subprocess.Popen[bytes], own_group: bool = True) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if own_group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
