"""Writes events to the store in batches on a background thread, off the ingest path.

Map-derived events are handed over and forgotten (a crash loses at most the batch not yet
written; the next sync restores it). A submission marked durable (user requests, users) gets a
handle the caller waits on before answering."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from calamari.adapters.event_store import EventStore

log = logging.getLogger(__name__)

Persisted = Callable[[list[int], Sequence[Any]], None]


class Submission:
    def __init__(self, events: Sequence[Any]) -> None:
        self.events = events
        self.done = threading.Event()
        self.positions: list[int] = []

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


class EventWriter:
    def __init__(self, store: EventStore, batch_size: int = 5000, on_persisted: Persisted | None = None,
                 ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.on_persisted = on_persisted
        self._queue: deque[Submission] = deque()
        self._last_submitted: Submission | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self.written = 0
        self.failures = 0
        self.backlog = 0  # events submitted and not yet written (queued or in the batch being retried)

    def start(self) -> None:
        self._thread.start()

    def submit(self, events: Sequence[Any]) -> Submission:
        sub = Submission(events)
        if not events:
            sub.done.set()
            return sub
        with self._cond:
            self._queue.append(sub)
            self._last_submitted = sub
            self.backlog += len(events)
            self._cond.notify()
        return sub

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written. Submissions are written in order, so
        the newest one being done means all are (it may already have left the queue and still be
        in the batch being written)."""
        with self._cond:
            last = self._last_submitted
        return True if last is None else last.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    def _take_batch(self) -> list[Submission]:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            batch: list[Submission] = []
            count = 0
            while self._queue and (not batch or count + len(self._queue[0].events) <= self.batch_size):
                sub = self._queue.popleft()
                batch.append(sub)
                count += len(sub.events)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                return  # stopping and drained
            events = [e for sub in batch for e in sub.events]
            positions = self._append_with_retry(events)
            start = 0
            for sub in batch:
                sub.positions = positions[start:start + len(sub.events)]
                start += len(sub.events)
                sub.done.set()
            self.written += len(events)
            with self._cond:
                self.backlog -= len(events)
            if self.on_persisted is not None:
                try:
                    self.on_persisted(positions, events)
                except Exception:  # a listener must never stop the writer
                    log.exception("event listener failed")

    def _append_with_retry(self, events: list[Any]) -> list[int]:
        delay = 0.1
        while True:
            try:
                return self.store.append(events)
            except Exception:
                self.failures += 1
                log.exception("appending %d events failed; retrying in %.1fs", len(events), delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
