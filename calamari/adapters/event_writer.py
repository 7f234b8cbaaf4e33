"""Writes events to the store in batches on a background thread, off the ingest path.

Map-derived events are handed over and forgotten (a crash loses at most the batch not yet
written; the next sync restores it): a failing store is retried until it takes them. A durable
submission (user requests, users, sessions, keys) gets a handle the caller waits on before
answering, and it ends either stored or never to be stored: a write failure that retrying soon
will not fix (a full disk, a read-only file system) fails it at once, and a caller that stops
waiting withdraws it. Either way the writer drops it, so it cannot be written later.

Map-derived events are gathered for `gather_s` after the first of them arrives before they are
written (a durable submission, `flush()` or `stop()` ends the gathering at once): the events of one
change (a map, then the alert pass it causes) go in one transaction, and the writer's work is not
done in the milliseconds when the server answers the first reads of a change."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from calamari.adapters.event_store import EventStore, unavailable_reason

log = logging.getLogger(__name__)

Persisted = Callable[[list[int], Sequence[Any]], None]


class NotStored(RuntimeError):
    """A durable submission that was not, and will never be, stored; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Submission:
    def __init__(self, events: Sequence[Any], durable: bool = False) -> None:
        self.events = events
        self.durable = durable
        self.done = threading.Event()
        self.positions: list[int] = []
        self.error: NotStored | None = None  # set (with done) when it will never be stored
        self.seq = 0  # submission order (set by the writer)

    def wait(self, timeout: float | None = None) -> bool:
        """True once stored or refused for good (see `error`); False if still pending."""
        return self.done.wait(timeout)


class EventWriter:
    def __init__(self, store: EventStore, batch_size: int = 5000, on_persisted: Persisted | None = None,
                 gather_s: float = 0.0) -> None:
        self.store = store
        self.batch_size = batch_size
        self.gather_s = gather_s
        self._hurry = 0  # flush() calls waiting: no gathering meanwhile
        self.on_persisted = on_persisted
        self._queue: deque[Submission] = deque()
        self._batch: list[Submission] = []  # taken from the queue, being written or retried
        self._seq = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._writing = False  # an append is under way (its outcome decides the batch)
        self._retrying = False  # the current batch failed and waits for its next attempt
        self._thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self.written = 0
        self.failures = 0
        self.backlog = 0  # events submitted and not yet written (queued or in the batch being retried)
        # Why the last append failed, when retrying soon will not fix it (None after a success):
        # durable submissions are then refused at once rather than queued behind the failing batch.
        self.unavailable: str | None = None
        # Set while this server may not write at all (a standby of several sharing one store):
        # every submission is refused with this reason, none is queued.
        self.refusing: str | None = None
        self.refused = 0  # submissions refused so (while refusing)

    def start(self) -> None:
        self._thread.start()

    def submit(self, events: Sequence[Any], durable: bool = False) -> Submission:
        """Queue events for writing. A durable submission is refused at once (done, with `error`)
        while the store is known to be unavailable and a batch before it is still failing: it
        could only be written after that batch, and its caller must not wait for that."""
        sub = Submission(events, durable)
        if not events:
            sub.done.set()
            return sub
        with self._cond:
            if self.refusing is not None:
                self.refused += 1
                sub.error = NotStored(self.refusing)
                sub.done.set()
                if not durable:
                    log.error("%d events made on a server that may not write were dropped: %s",
                              len(events), self.refusing)
                return sub
            if durable and self._retrying and self.unavailable is not None:
                sub.error = NotStored(self.unavailable)
                sub.done.set()
                return sub
            self._seq += 1
            sub.seq = self._seq
            self._queue.append(sub)
            self.backlog += len(events)
            self._cond.notify_all()
        return sub

    def withdraw(self, sub: Submission) -> bool:
        """Give up waiting for a durable submission. True: it is not stored and never will be;
        False: it was stored after all. An append under way is waited for, as it decides."""
        with self._cond:
            while True:
                if sub.done.is_set():
                    return sub.error is not None
                if not (self._writing and sub in self._batch):
                    self._refuse(sub, NotStored("the event store did not confirm the write in time"))
                    if sub in self._queue:
                        self._queue.remove(sub)
                    return True
                self._cond.wait()

    def _refuse(self, sub: Submission, error: NotStored) -> None:
        """Mark a submission as never to be stored (call with the condition held)."""
        sub.error = error
        self.backlog -= len(sub.events)
        sub.done.set()
        self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written (or, if durable, refused). Submissions
        are written in order: the oldest one not done, in the batch or at the head of the queue,
        tells how far the writer is."""
        with self._cond:
            target = self._seq
            self._hurry += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._oldest_pending() > target, timeout)
            finally:
                self._hurry -= 1

    def _oldest_pending(self) -> int:
        """The submission number of the oldest submission not done (call with the condition held)."""
        for sub in self._batch:
            if not sub.done.is_set():
                return sub.seq
        return self._queue[0].seq if self._queue else self._seq + 1

    def refuse_all(self, reason: str) -> None:
        """From now on refuse every submission, and drop what waits to be written (durable
        submissions are refused with `reason`): this server lost the right to write, and what
        it still holds must never be stored. An append under way is left to the store, which
        refuses it too."""
        with self._cond:
            self.refusing = reason
            for sub in [s for s in (*self._batch, *self._queue) if not s.done.is_set()]:
                if not (self._writing and sub in self._batch):
                    self._refuse(sub, NotStored(reason))
            self._queue.clear()
            self._cond.notify_all()

    def allow(self) -> None:
        """Take submissions again (this server became the one that writes)."""
        with self._cond:
            self.refusing = None

    def stop(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _take_batch(self) -> list[Submission]:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            deadline = time.monotonic() + self.gather_s
            while not self._stopping and not self._hurry and not any(sub.durable for sub in self._queue):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch: list[Submission] = []
            count = 0
            while self._queue and (not batch or count + len(self._queue[0].events) <= self.batch_size):
                sub = self._queue.popleft()
                batch.append(sub)
                count += len(sub.events)
            self._batch = batch
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                return  # stopping and drained
            self._write(batch)

    def _write(self, batch: list[Submission]) -> None:
        """Append the batch, retrying with back-off; durable submissions leave it as described in
        the module's docstring."""
        delay = 0.1
        while True:
            with self._cond:
                batch = self._batch = [sub for sub in batch if not sub.done.is_set()]  # withdrawn meanwhile
                self._retrying = False
                if not batch:
                    return
                self._writing = True
            events = [e for sub in batch for e in sub.events]
            try:
                positions = self.store.append(events)
            except Exception as err:
                reason = unavailable_reason(err)
                with self._cond:
                    self._writing = False
                    self.failures += 1
                    self.unavailable = reason
                    if self.refusing is not None:  # this server lost the right to write meanwhile
                        for sub in [s for s in batch if not s.done.is_set()]:
                            self._refuse(sub, NotStored(self.refusing))
                    if reason is not None:
                        # durable submissions queued behind this batch would wait for it as well
                        for sub in [s for s in (*batch, *self._queue) if s.durable and not s.done.is_set()]:
                            self._refuse(sub, NotStored(reason))
                        self._queue = deque(s for s in self._queue if not s.done.is_set())
                    batch = self._batch = [sub for sub in batch if not sub.done.is_set()]
                    self._retrying = bool(batch)
                    self._cond.notify_all()
                if not batch:
                    log.warning("appending %d events failed: %s; not stored", len(events), reason or err)
                    return
                if reason is not None:
                    log.warning("appending %d events failed: %s (%s); retrying in %.1fs",
                                len(events), reason, err, delay)
                else:
                    log.exception("appending %d events failed; retrying in %.1fs", len(events), delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._stored(batch, events, positions)
            return

    def _stored(self, batch: list[Submission], events: list[Any], positions: list[int]) -> None:
        with self._cond:
            self._writing = False
            self.unavailable = None
            start = 0
            for sub in batch:
                sub.positions = positions[start:start + len(sub.events)]
                start += len(sub.events)
                sub.done.set()
            self.written += len(events)
            self.backlog -= len(events)
            self._batch = []
            self._cond.notify_all()
        if self.on_persisted is not None:
            try:
                self.on_persisted(positions, events)
            except Exception:  # a listener must never stop the writer
                log.exception("event listener failed")
