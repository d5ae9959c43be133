"""ffmpeg as a pipe of raw frames, for detection and rendering: the same care as the runner
(its own process group killed whole, lowered priority, stderr always drained, a wall-clock
limit), with frames read from its standard output or written to its standard input."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from vault.media.runner import MediaError, MediaTimeout

Frame = npt.NDArray[np.uint8]
GLOBAL = ["-nostdin", "-hide_banner", "-nostats", "-loglevel", "error"]


class Tool:
    """One ffmpeg process; `finish()` waits for it and raises its reason when it failed."""

    def __init__(self, args: list[str], *, nice: int, timeout_s: float, stdin: bool) -> None:
        prefix = ["nice", "-n", str(nice)] if nice else []
        self.name = os.path.basename(args[0])
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        try:
            self.proc = subprocess.Popen(
                [*prefix, *args],
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if stdin else subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise MediaError(f"cannot run {args[0]}: {exc.strerror}; is ffmpeg installed?") from exc
        self.tail: deque[str] = deque(maxlen=20)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.tail.append(raw.decode("utf-8", "replace").rstrip())

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            self.kill()
            raise MediaTimeout(
                f"{self.name} ran longer than {self.timeout_s:g} s and was stopped; raise "
                "media.timeout_s for very long clips"
            )

    def reason(self) -> str:
        code = self.proc.returncode
        if code is not None and code < 0:
            return f"{self.name} crashed ({signal.Signals(-code).name})"
        last = next((line for line in reversed(self.tail) if line.strip()), "no message")
        return f"{self.name} failed (exit {code}): {last.strip()}"

    def finish(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=max(1.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            raise MediaTimeout(f"{self.name} did not finish within {self.timeout_s:g} s") from None
        self._reader.join(timeout=5)
        if self.proc.returncode != 0:
            raise MediaError(self.reason())

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


@contextlib.contextmanager
def tool(args: list[str], *, nice: int, timeout_s: float, stdin: bool) -> Iterator[Tool]:
    """A Tool that is killed (with its group) when the block does not end normally."""
    running = Tool(args, nice=nice, timeout_s=timeout_s, stdin=stdin)
    try:
        yield running
    except BaseException:
        running.kill()
        raise


def decode_args(source: Path, frame_rate: str, vf: str = "") -> list[str]:
    """Raw RGB frames of the first video stream at a constant FRAME_RATE ("n/d"): frame n
    is shown at n / rate, the same numbering for detection and rendering."""
    chain = f"fps={frame_rate}" + (f",{vf}" if vf else "")
    return [
        "ffmpeg",
        *GLOBAL,
        "-i",
        str(source),
        "-map",
        "0:v:0",
        "-vf",
        chain,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:1",
    ]


def frames(running: Tool, width: int, height: int) -> Iterator[Frame]:
    """Each frame ffmpeg writes, as a height × width × 3 array (writable)."""
    size = width * height * 3
    stream = running.proc.stdout
    assert stream is not None
    while True:
        running.check_time()
        data = _read_exactly(stream, size)
        if data is None:
            return
        yield np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


def _read_exactly(stream: IO[bytes], size: int) -> bytearray | None:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            if got:
                raise MediaError(f"ffmpeg stopped in the middle of a frame ({got} of {size} bytes)")
            return None
        got += n
    return buffer
