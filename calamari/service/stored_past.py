"""What a start reads of the stored past for the parts that tell it: the event feed (the newest
events, as many as it keeps) and alerting (the changes of its window before now). The events are
read once, going back from the newest, handed to every part that still wants older ones, on a
background thread that calamari-server starts once its API answers: the start-up does not wait
for it, and until it is done the parts say so (the event feed answers 503, alerting holds its
first pass) rather than show a past with a hole in it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

log = logging.getLogger(__name__)

BATCH = 10_000  # events read at a time, going back
# Between two batches the reader pauses for the share of the time the batch took: it runs beside
# the first requests and the collectors' resync after a start, which would otherwise wait for the
# interpreter lock behind it (a share of 1.0 halves its pace; 0 does not pause).
PAUSE_SHARE = 0.5


class PastReader(Protocol):
    """A part told of the stored past: `take` gets batches going back from the newest (each oldest
    first) and says whether it wants older ones; `finish` is called once, after the last."""

    def take(self, positioned: list[tuple[int, Any]]) -> bool: ...

    def finish(self) -> None: ...


class StoredPast:
    """Reads the events up to `end` back from the newest, at most `limit_events`, for `readers`;
    `begin()` starts it (once), `done` is set when every reader has finished. `reading()`, when
    given, is held while the store is read (ModelService.reading_store: its close waits for it)."""

    def __init__(self, store: Any, end: int, readers: list[PastReader], limit_events: int,
                 closed: Any = lambda: False, batch: int = BATCH, pause_share: float = PAUSE_SHARE,
                 reading: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self.store = store
        self.reading = reading or (lambda: nullcontext(store))
        self.end = end
        self.readers = readers
        self.limit_events = limit_events
        self.closed = closed
        self.batch = batch
        self.pause_share = pause_share
        self.read = 0  # events read so far
        self.done = threading.Event()
        self._thread: threading.Thread | None = None

    def begin(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="stored-past", daemon=True)
            self._thread.start()

    def run(self) -> None:
        """Read and tell; on this thread (begin) or the caller's."""
        started = last = time.monotonic()
        wanting = list(self.readers)
        try:
            if self.end > 0 and self.limit_events > 0:
                with self.reading() as store:
                    for positioned in store.read_newest_first(self.end, self.batch):
                        positioned = positioned[-(self.limit_events - self.read):]
                        self.read += len(positioned)
                        wanting = [reader for reader in wanting if reader.take(positioned)]
                        if not wanting or self.read >= self.limit_events or self.closed():
                            break
                        if self.pause_share > 0:
                            time.sleep((time.monotonic() - last) * self.pause_share)
                        last = time.monotonic()
        except Exception:  # the past is context (the store stays the record): told as far as it was read
            if not self.closed():
                log.exception("could not read the stored past after %d events", self.read)
        finally:
            for reader in self.readers:
                try:
                    reader.finish()
                except Exception:
                    log.exception("telling the stored past to %r failed", reader)
            self.done.set()
            log.info("stored past told: the newest %d events read in %.2f s", self.read, time.monotonic() - started)


class FeedPast:
    """The event feed's reader of the stored past: its entries replace `feed.older` at the end,
    in one assignment, and `told` is set."""

    def __init__(self, feed: Any, model: Any, told: threading.Event) -> None:
        self.feed = feed
        self.entries = feed.older_entries(model)
        self.told = told

    def take(self, positioned: list[tuple[int, Any]]) -> bool:
        return bool(self.entries.take(positioned))

    def finish(self) -> None:
        try:
            self.feed.older = self.entries.told()
        finally:
            self.told.set()
