"""A scripted stand-in for a camera's USB link, for tests of drivers and of the dock.

The script is the exchange expected, in order: each write must be exactly the bytes
expected, each read gets the canned answer. Anything else fails the test at once
(ScriptError is an AssertionError, which no driver catches). Timeouts, garbage and a
camera unplugged mid-exchange are steps of the script like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vault.dock.drivers.base import DriverError, TransportTimeout


class ScriptError(AssertionError):
    """The driver did something the script did not expect."""


@dataclass(frozen=True)
class Expect:
    """The next operation must be a write of exactly these bytes."""

    data: bytes


@dataclass(frozen=True)
class Answer:
    """The next operation must be a read; it gets these bytes (at most `size` of them)."""

    data: bytes


@dataclass(frozen=True)
class Silence:
    """The next operation, read or write, times out (TransportTimeout)."""


@dataclass(frozen=True)
class Unplug:
    """The camera leaves the bus: this and every later operation fail (DriverError)."""


Step = Expect | Answer | Silence | Unplug
UNPLUGGED = "the camera left the USB bus (unplugged, or it switched mode)"


@dataclass
class ScriptedTransport:
    """A Transport that plays a script; `finish()` checks the script was played to its end."""

    script: list[Step]
    written: list[bytes] = field(default_factory=list)
    closed: bool = False
    unplugged: bool = False

    def _next(self, operation: str) -> Expect | Answer:
        if self.closed:
            raise ScriptError(f"{operation} after close")
        if self.unplugged:
            raise DriverError(UNPLUGGED)
        if not self.script:
            raise ScriptError(f"unexpected {operation}: the script is over")
        step = self.script.pop(0)
        if isinstance(step, Silence):
            raise TransportTimeout(f"no {operation} within the time allowed")
        if isinstance(step, Unplug):
            self.unplugged = True
            raise DriverError(UNPLUGGED)
        return step

    def write(self, data: bytes, timeout_ms: int) -> None:
        step = self._next("write")
        if not isinstance(step, Expect):
            raise ScriptError(f"unexpected write {data!r}; the script wanted a read")
        if data != step.data:
            raise ScriptError(f"wrote {data!r}; the script expected {step.data!r}")
        self.written.append(data)

    def read(self, size: int, timeout_ms: int) -> bytes:
        step = self._next("read")
        if not isinstance(step, Answer):
            raise ScriptError(f"unexpected read; the script expected a write of {step.data!r}")
        if len(step.data) > size:  # the rest comes with the next read
            self.script.insert(0, Answer(step.data[size:]))
        return step.data[:size]

    def close(self) -> None:
        self.closed = True

    def finish(self) -> None:
        """Fail unless every step of the script was played."""
        if self.script:
            raise ScriptError(f"the driver stopped with {len(self.script)} steps unplayed")
