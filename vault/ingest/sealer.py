"""The sealing thread of an ingest: makes each streamed object durable and visible (fsync,
read-only, retention record, rename, directory fsync) while the reading thread goes on
with the next clip. Objects queued while it works are sealed together, so the fsyncs of a
group share one journal commit (the local store's commit_writers); other stores seal
each object by its writer's own commit. A result says only that the object is in the
store: no clip is recorded, and none erased, before the pipeline has its result."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from vault.store import LocalWormStore, WormStore
from vault.store.base import ObjectWriter, PutResult
from vault.store.local import LocalWriter

MAX_GROUP = 64  # objects sealed together at most


@dataclass
class _Job:
    writer: ObjectWriter
    sha256: str
    size: int
    retain_until: datetime
    result: Future[PutResult] = field(default_factory=Future)


class Sealer:
    def __init__(self, store: WormStore) -> None:
        self._store = store
        self._todo: queue.Queue[_Job | None] = queue.Queue()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sealer", daemon=True)
        self._thread.start()

    def submit(
        self, writer: ObjectWriter, sha256: str, size: int, retain_until: datetime
    ) -> Future[PutResult]:
        """Seal what WRITER holds under sha256; the future gives commit()'s result or error."""
        job = _Job(writer, sha256, size, retain_until)
        job.result.set_running_or_notify_cancel()
        self._todo.put(job)
        return job.result

    def _run(self) -> None:
        while (job := self._todo.get()) is not None:
            group = [job]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    more = self._todo.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
            if self._closing:
                for each in group:  # given up by a failing ingest: never made visible
                    each.writer.abort()
                    each.result.set_exception(RuntimeError("ingest stopped before the seal"))
            else:
                self._seal(group)
            if stop:
                return

    def _seal(self, group: list[_Job]) -> None:
        store = self._store
        try:
            if isinstance(store, LocalWormStore) and all(
                isinstance(job.writer, LocalWriter) for job in group
            ):
                jobs = [(job.writer, job.sha256, job.size, job.retain_until) for job in group]
                results = store.commit_writers(jobs)  # type: ignore[arg-type]
                for job, result in zip(group, results, strict=True):
                    if isinstance(result, BaseException):
                        job.result.set_exception(result)
                    else:
                        job.result.set_result(result)
                return
        except BaseException as exc:  # handed to the reading thread with each clip
            for job in group:
                if not job.result.done():
                    job.writer.abort()
                    job.result.set_exception(exc)
            return
        for job in group:
            try:
                job.result.set_result(job.writer.commit(job.sha256, job.size, job.retain_until))
            except BaseException as exc:
                job.writer.abort()
                job.result.set_exception(exc)

    def close(self, abandon: bool = False) -> None:
        """Wait for the thread; ABANDON: objects not yet being sealed are aborted (a failing
        ingest leaves no object it will not record)."""
        self._closing = abandon
        self._todo.put(None)
        self._thread.join()
