"""The push stream's fan-out: every committed event, once the store has given it a position, as the
event feed tells it plus the API paths of the resources it changed, to each open stream in store
order. No open stream slows the writer or another stream: a stream that falls behind is cut off
(it resumes from the store with Last-Event-ID, so it misses nothing).

Events are described at commit (a model listener, under the service lock, where the aggregates
are at hand) and handed on when the event writer reports them stored, with their positions. The
writer thread never takes the service lock here (a durable commit holds that lock while it waits
for the writer) and never waits for a stream: it queues each stored batch for the pump thread,
which encodes every message once and appends it to every stream. An event stored before it was
described (committed before the hub listened, or a change whose listeners run only once it is
stored) is described by the pump, under the service lock; its late description is not kept.

A stream is served in one of two ways:

- pushed (`hand_over`, what calamari-server does): the HTTP server took the answer off its worker
  thread; the pump appends frames to it without blocking (keep-alives too) and cuts it off when
  more than `max_unsent` bytes wait for its client, or ends it after its lifetime. Open streams
  hold no worker thread, so their number (`max_subscribers`) is not tied to the API's threads.
- read (`messages`): a thread iterates the stream's queue (any other WSGI server, the tests'
  client); a stream more than `queue_size` messages behind is cut off.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Any

from calamari.adapters.http_server import HAND_OVER
from calamari.domain.event_feed import OsdServers
from calamari.service.stream_messages import changed_paths, describe_event, positioned
from calamari.service.stream_pump import PUMP_IDLE_EXIT_S, PUMP_TICK_S, StreamPump
from calamari.service.stream_subscription import PushTarget, Subscription

__all__ = ["HAND_OVER", "PUMP_IDLE_EXIT_S", "PUMP_TICK_S", "PushTarget", "StreamHub", "Subscription",
           "changed_paths"]  # HAND_OVER: the WSGI environ key of a hand-over

log = logging.getLogger(__name__)

DEFAULT_QUEUE = 2000  # messages a stream may have queued (read, or not yet handed over) before it is cut off
DEFAULT_MAX_SUBSCRIBERS = 256  # open streams; they hold no worker thread once handed over
DEFAULT_MAX_UNSENT = 1 << 20  # bytes a pushed stream may have waiting for its client before it is cut off
MAX_DESCRIBED = 200_000  # described, not yet stored events kept (a failing store must not grow this forever)
MAX_PENDING = 200_000  # stored messages not yet fanned out; beyond it every stream is cut off (they resume)


class StreamHub(StreamPump):
    def __init__(self, service: Any, max_subscribers: int = DEFAULT_MAX_SUBSCRIBERS,
                 queue_size: int = DEFAULT_QUEUE, max_unsent: int = DEFAULT_MAX_UNSENT,
                 encode: Callable[[dict[str, Any]], bytes] | None = None, keepalive_frame: bytes = b"") -> None:
        """`encode` turns a message into the bytes of its frame and `keepalive_frame` is sent to
        a pushed stream that had nothing for its keep-alive interval (both needed to push)."""
        self.service = service
        self.max_subscribers = max_subscribers
        self.queue_size = queue_size
        self.max_unsent = max_unsent
        self.encode = encode
        self.keepalive_frame = keepalive_frame
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._subscribers: set[Subscription] = set()
        self._described: OrderedDict[int, dict[str, Any]] = OrderedDict()  # id(event) -> description
        self._stored_first: OrderedDict[int, None] = OrderedDict()  # id(event): stored before described
        # the pump's work, in order: ("batch", messages), ("hand over", sub, target, opening), ("closed", sub)
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._pending = 0  # messages in the inbox
        self._queued = self._done = 0  # inbox items ever queued, and handled (settle())
        self._pump: threading.Thread | None = None
        self.cut_off = 0  # subscribers cut off for falling behind, for the log and tests

    def attach(self) -> None:
        """Listen to commits (under the service lock) and to the writer's stored batches."""
        with self.service.reading():
            self.service.listeners.append(self.committed)
            writer = self.service.writer
            before = writer.on_persisted

            def persisted(positions: list[int], events: Any) -> None:
                if before is not None:
                    before(positions, events)
                self.persisted(positions, events)

            writer.on_persisted = persisted

    # ------------------------------------------------------------------ producers

    def committed(self, events: list[Any], model: Any) -> None:
        osd_servers = OsdServers(model)
        with self._lock:
            for event in events:
                if self._stored_first.pop(id(event), False) is None:
                    continue  # already handed on (the pump described it): nothing will take this one
                self._described[id(event)] = describe_event(event, model, osd_servers)
            while len(self._described) > MAX_DESCRIBED:
                self._described.popitem(last=False)

    def persisted(self, positions: list[int], events: Any) -> None:
        """On the writer thread: queue the stored batch for the pump; never waits."""
        with self._lock:
            messages = []
            for position, event in zip(positions, events, strict=False):
                described = self._described.pop(id(event), None)
                if described is None:
                    # not described yet (committed before the hub listened, or its listeners run
                    # once it is stored): the pump describes it, taking the service lock, which
                    # this thread must not
                    messages.append({"position": position, "undescribed": event})
                    self._stored_first[id(event)] = None
                    while len(self._stored_first) > MAX_DESCRIBED:
                        self._stored_first.popitem(last=False)
                else:
                    messages.append(positioned(position, described))
            if not self._subscribers or not messages:
                return
            if self._pending + len(messages) > MAX_PENDING:
                # the pump is stuck far behind: every stream starts again from the store
                log.warning("the stream pump is %d messages behind; cutting off %d streams (they resume from "
                            "the store)", self._pending, len(self._subscribers))
                self._pending = 0
                self._done += len(self._inbox)  # dropped: settle() does not wait for them
                self._inbox.clear()
                for sub in self._subscribers:
                    sub.cut.set()
                    if sub.target is not None:
                        sub.target.cut()
                self.cut_off += len(self._subscribers)
                self._subscribers.clear()
                return
            self._put(("batch", messages))
            self._pending += len(messages)

    # ------------------------------------------------------------------ consumers

    def subscribe(self, lifetime: float = math.inf, keepalive: float = 5.0) -> Subscription | None:
        """A new subscription, or None when max_subscribers streams are open."""
        with self._lock:
            if len(self._subscribers) >= self.max_subscribers:
                return None
            sub = Subscription(self.queue_size, lifetime, keepalive)
            self._subscribers.add(sub)
            self._ensure_pump()
            return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def hand_over(self, sub: Subscription, target: PushTarget, opening: bytes) -> None:
        """From now on the pump writes `sub` to `target`: first `opening` (the stream's first
        frames: hello, the missed events), then what was queued for it meanwhile, then live."""
        if self.encode is None:
            raise RuntimeError("this hub cannot push: it was made without an encoder")
        with self._lock:
            self._put(("hand over", sub, target, opening))
            self._ensure_pump()

    def closed(self, sub: Subscription) -> None:
        """A pushed stream's connection closed (on the HTTP server's loop: never waits)."""
        with self._lock:
            self._put(("closed", sub))

    @property
    def held_descriptions(self) -> int:
        """Descriptions of events not yet stored (bounded by MAX_DESCRIBED)."""
        with self._lock:
            return len(self._described)

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def settle(self, timeout: float) -> bool:
        """Wait until the pump has handled everything queued so far (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._wakeup:
            target = self._queued
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wakeup.wait(left)
        return True

    def stored_after(self, after: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Messages of the stored events after position `after` (the resume of a stream), at most
        `limit`; the flag says there were more (the client must then reload everything)."""
        store = self.service.store
        end = self.service.position()  # a standby's model may be behind the store's end
        stored: list[tuple[int, Any]] = []
        for position, event in store.read(after=after, until=end):
            stored.append((position, event))
            if len(stored) > limit:
                return [], True
        with self.service.reading():  # aggregates are read under the lock, as everywhere
            model = self.service.model
            osd_servers = OsdServers(model)
            return [positioned(p, describe_event(e, model, osd_servers)) for p, e in stored], False

    def messages(self, sub: Subscription, timeout: float) -> Iterator[dict[str, Any] | None]:
        """A read stream's messages as they come; None after `timeout` s without one."""
        while not sub.cut.is_set():
            yield sub.take(timeout)
