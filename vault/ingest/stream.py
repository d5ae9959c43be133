"""The single read pass: each chunk read from the camera is hashed and written to the store
at the same time, a writer thread overlapping the store's writes with the hashing (IN-3)."""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from vault.errors import VolumeError
from vault.faults import checkpoint
from vault.store.base import ObjectWriter


@dataclass
class _Job:
    writer: ObjectWriter
    error: BaseException | None = None


class Streamer:
    """Owns a small pool of buffers and one writer thread; reused for every file of an ingest."""

    def __init__(self, chunk_size: int, depth: int = 4) -> None:
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(depth):
            self._free.put(bytearray(chunk_size))
        self._todo: queue.Queue[tuple[_Job, bytearray, int] | threading.Event | None] = (
            queue.Queue()
        )
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()  # every write queued before this barrier is done
                continue
            job, buffer, count = item
            if job.error is None:
                try:
                    job.writer.write(memoryview(buffer)[:count])
                    checkpoint("stream.chunk")
                except BaseException as exc:  # handed to the reading thread, re-raised there
                    job.error = exc
            self._free.put(buffer)

    def _drain(self) -> None:
        barrier = threading.Event()
        self._todo.put(barrier)
        barrier.wait()

    def copy(
        self, fd: int, writer: ObjectWriter, on_bytes: Callable[[int], None] | None = None
    ) -> tuple[str, int]:
        """Stream fd to its end into writer; return (sha256 hex, size). Nothing is committed."""
        job = _Job(writer)
        digest = hashlib.sha256()
        size = 0
        try:
            while job.error is None:
                buffer = self._free.get()
                try:
                    count = os.readv(fd, [buffer])
                except OSError as exc:
                    self._free.put(buffer)
                    raise VolumeError(f"read failed on the camera: {exc.strerror}") from None
                if count == 0:
                    self._free.put(buffer)
                    break
                self._todo.put((job, buffer, count))
                digest.update(memoryview(buffer)[:count])  # releases the GIL while it hashes
                size += count
                if on_bytes is not None:
                    on_bytes(count)
        finally:
            self._drain()
        if job.error is not None:
            raise job.error
        return digest.hexdigest(), size

    def close(self) -> None:
        self._todo.put(None)
        self._thread.join()
