"""The stream hub's pump thread: it takes the hub's queued work (stored batches, hand-overs, closed
connections), encodes each message once and appends it to every stream, sends keep-alives, ends
streams past their lifetime and cuts off those that fall behind (calamari.service.stream_hub)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from calamari.domain.event_feed import OsdServers
from calamari.service.stream_messages import describe_event, positioned
from calamari.service.stream_subscription import PushTarget, Subscription

log = logging.getLogger("calamari.service.stream_hub")  # the name its log lines have always had

PUMP_IDLE_EXIT_S = 10.0  # the pump thread ends after this long without streams; the next one starts it
PUMP_TICK_S = 1.0  # the pump looks at lifetimes and keep-alives at least this often


class StreamPump:
    """The pump half of StreamHub, which holds the state below (and unsubscribe())."""

    service: Any
    queue_size: int
    max_unsent: int
    encode: Callable[[dict[str, Any]], bytes] | None
    keepalive_frame: bytes
    _lock: threading.Lock
    _wakeup: threading.Condition
    _subscribers: set[Subscription]
    _inbox: deque[tuple[Any, ...]]
    _pending: int
    _queued: int
    _done: int
    _pump: threading.Thread | None
    cut_off: int

    # ------------------------------------------------------------------ the pump thread

    def _put(self, item: tuple[Any, ...]) -> None:
        """Queue work for the pump; the caller holds the lock."""
        self._inbox.append(item)
        self._queued += 1
        self._wakeup.notify_all()

    def _ensure_pump(self) -> None:
        """The caller holds the lock."""
        if self._pump is None:
            self._pump = threading.Thread(target=self._run_pump, name="stream-pump", daemon=True)
            self._pump.start()

    def _run_pump(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self._wakeup:
                if not self._inbox:
                    self._wakeup.wait(self._next_due())
                items = list(self._inbox)
                self._inbox.clear()
                now = time.monotonic()
                if items or self._subscribers:
                    idle_since = now
                elif now - idle_since > PUMP_IDLE_EXIT_S:
                    self._pump = None  # under the lock: the next subscribe() starts a new one
                    return
            touched: dict[int, PushTarget] = {}
            try:
                for item in items:
                    self._handle(item, touched)
                self._tick(touched)
            except Exception:  # a bug here must not end the fan-out for everyone
                log.exception("the stream pump failed on a batch; its streams resume from the store")
            for target in touched.values():
                target.wake()
            with self._wakeup:
                self._done += len(items)
                self._wakeup.notify_all()

    def _next_due(self) -> float:
        """Seconds until a pushed stream needs a keep-alive or reaches its end (the lock is held)."""
        now = time.monotonic()
        due = now + PUMP_TICK_S
        for sub in self._subscribers:
            if sub.target is not None:
                due = min(due, sub.last_push + sub.keepalive, sub.deadline)
        return max(0.005, due - now)

    def _handle(self, item: tuple[Any, ...], touched: dict[int, PushTarget]) -> None:
        kind = item[0]
        if kind == "batch":
            messages = self._described_all(item[1])
            with self._lock:
                self._pending = max(0, self._pending - len(item[1]))
                subscribers = list(self._subscribers)
            frames: list[tuple[int, bytes]] | None = None
            for sub in subscribers:
                if sub.target is None:
                    if not sub.offer(messages):
                        self._cut(sub, f"{self.queue_size} messages behind")
                    continue
                if frames is None:
                    frames = [(m["position"], self._encode(m)) for m in messages]
                self._push_frames(sub, frames, touched)
        elif kind == "hand over":
            _, sub, target, opening = item
            sub.target = target
            sub.deadline = time.monotonic() + sub.lifetime
            sub.opening = len(opening)
            self._push(sub, opening, touched)
            queued: list[dict[str, Any]] = []
            while True:
                try:
                    queued.append(sub.queue.get_nowait())
                except queue.Empty:
                    break
            if queued:
                self._push_frames(sub, [(m["position"], self._encode(m)) for m in queued], touched)
            with self._lock:
                gone = sub not in self._subscribers
            if gone or sub.cut.is_set():
                # cut off before its hand-over: what it has ends with the opening; it resumes from there
                self._end(sub, target, touched)
        elif kind == "closed":
            self.unsubscribe(item[1])

    def _described_all(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not any("undescribed" in m for m in messages):
            return messages
        with self.service.reading():
            model = self.service.model
            osd_servers = OsdServers(model)
            return [positioned(m["position"], describe_event(m["undescribed"], model, osd_servers))
                    if "undescribed" in m else m for m in messages]

    def _encode(self, message: dict[str, Any]) -> bytes:
        assert self.encode is not None  # hand_over() refuses without one
        return self.encode(message)

    def _push_frames(self, sub: Subscription, frames: list[tuple[int, bytes]],
                     touched: dict[int, PushTarget]) -> None:
        newer = [(p, data) for p, data in frames if p > sub.sent]
        if newer:
            self._push(sub, b"".join(data for _, data in newer), touched)
            sub.sent = newer[-1][0]

    def _push(self, sub: Subscription, data: bytes, touched: dict[int, PushTarget]) -> None:
        target = sub.target
        if target is None:
            return
        unsent = target.push(data)
        if unsent is None:  # the connection closed; its close notice may still be on its way
            self.unsubscribe(sub)
            return
        touched[id(target)] = target
        sub.pushed += len(data)
        sub.last_push = time.monotonic()
        opening_unsent = max(0, sub.opening - (sub.pushed - unsent))
        if unsent - opening_unsent > self.max_unsent:
            target.cut()
            self._cut(sub, f"{unsent - opening_unsent} bytes behind")

    def _tick(self, touched: dict[int, PushTarget]) -> None:
        """Keep-alives for quiet pushed streams; the end of those past their lifetime."""
        now = time.monotonic()
        with self._lock:
            pushed = [s for s in self._subscribers if s.target is not None]
        for sub in pushed:
            assert sub.target is not None
            if now >= sub.deadline:
                self._end(sub, sub.target, touched)
            elif now - sub.last_push >= sub.keepalive:
                self._push(sub, self.keepalive_frame, touched)

    def _end(self, sub: Subscription, target: PushTarget, touched: dict[int, PushTarget]) -> None:
        self.unsubscribe(sub)
        target.end()
        touched.pop(id(target), None)  # end() wakes the loop itself

    def _cut(self, sub: Subscription, how_far: str) -> None:
        sub.cut.set()
        with self._lock:
            if sub not in self._subscribers:
                return
            self._subscribers.discard(sub)
            self.cut_off += 1
        log.warning("a stream client fell %s and was cut off; it resumes from the store", how_far)
