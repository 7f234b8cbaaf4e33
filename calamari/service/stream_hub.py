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
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from calamari.adapters.http_server import HAND_OVER
from calamari.domain.cluster import Cluster
from calamari.domain.collector_key import CollectorKey
from calamari.domain.event_feed import OsdServers, describe
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.server import Server
from calamari.domain.user import User
from calamari.domain.user_request import UserRequest

__all__ = ["HAND_OVER", "PushTarget", "StreamHub", "Subscription"]  # HAND_OVER: the WSGI environ key of a hand-over

log = logging.getLogger(__name__)

DEFAULT_QUEUE = 2000  # messages a stream may have queued (read, or not yet handed over) before it is cut off
DEFAULT_MAX_SUBSCRIBERS = 256  # open streams; they hold no worker thread once handed over
DEFAULT_MAX_UNSENT = 1 << 20  # bytes a pushed stream may have waiting for its client before it is cut off
MAX_DESCRIBED = 200_000  # described, not yet stored events kept (a failing store must not grow this forever)
MAX_PENDING = 200_000  # stored messages not yet fanned out; beyond it every stream is cut off (they resume)
PUMP_IDLE_EXIT_S = 10.0  # the pump thread ends after this long without streams; the next one starts it
PUMP_TICK_S = 1.0  # the pump looks at lifetimes and keep-alives at least this often


class PushTarget(Protocol):
    """Where a pushed stream's bytes go (calamari.adapters.http_server.PushedAnswer)."""

    def push(self, data: bytes) -> int | None:
        """Append without blocking; the bytes waiting unsent, or None once the connection closed."""

    def wake(self) -> None:
        """Have what was pushed sent."""

    def end(self) -> None:
        """Close once everything pushed was sent."""

    def cut(self) -> None:
        """Close now, dropping what was not sent."""


def changed_paths(agg: Any) -> list[str]:
    """The API paths (below /api/v2/) of what an event of `agg` changed."""
    if isinstance(agg, Osd):
        return [f"cluster/{agg.fsid}/osd/{agg.osd_id}"]
    if isinstance(agg, Pool):
        return [f"cluster/{agg.fsid}/pool/{agg.pool_id}"]
    if isinstance(agg, Cluster):
        return [f"cluster/{agg.fsid}"]
    if isinstance(agg, Server):
        return [f"server/{agg.fqdn}"]
    if isinstance(agg, UserRequest):
        paths = [f"request/{agg.request_id}"]
        if agg.fsid:
            paths.append(f"cluster/{agg.fsid}/request/{agg.request_id}")
        return paths
    if isinstance(agg, User):
        return [f"user/{agg.username}"]
    if isinstance(agg, CollectorKey):
        return [f"key/{agg.key_id}"]
    return []


def describe_event(event: Any, model: Any, osd_servers: OsdServers) -> dict[str, Any]:
    """What the stream tells of one event (without its position): type, time, the feed's entry
    (or None for an event the feed does not tell), the changed paths."""
    agg = model.aggregates.get(event.originator_id)
    entry = None
    if agg is not None:
        told = describe(event, agg)
        if told is not None:
            severity, message, fsid, fqdn = told
            if isinstance(agg, Osd):
                fqdn = osd_servers.fqdn(agg) or fqdn
            entry = {"when": event.timestamp.isoformat(), "severity": severity, "message": message,
                     "fsid": fsid, "fqdn": fqdn}
    return {"type": type(event).__name__, "when": event.timestamp.isoformat(), "event": entry,
            "changed": changed_paths(agg) if agg is not None else []}


def positioned(position: int, described: dict[str, Any]) -> dict[str, Any]:
    message = {"position": position, **described}
    if message["event"] is not None:
        message["event"] = {"id": position, **message["event"]}
    return message


class Subscription:
    """One open stream: its queue (read, or waiting for the hand-over), or its push target."""

    def __init__(self, capacity: int, lifetime: float, keepalive: float) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=capacity)
        self.cut = threading.Event()
        self.sent = -1  # the newest position the client has (in its opening, or sent since)
        self.lifetime = lifetime
        self.keepalive = keepalive
        # pushed streams only (pump thread):
        self.target: PushTarget | None = None
        self.deadline = math.inf
        self.last_push = 0.0
        self.pushed = 0  # bytes pushed, the opening included
        self.opening = 0  # bytes of the opening (hello, the missed events): not a sign of lagging

    def offer(self, messages: list[dict[str, Any]]) -> bool:
        if self.cut.is_set():
            return False
        for message in messages:
            try:
                self.queue.put_nowait(message)
            except queue.Full:
                self.cut.set()
                return False
        return True

    def take(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


class StreamHub:
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
        with self.service.lock:
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
        end = store.max_position()
        stored: list[tuple[int, Any]] = []
        for position, event in store.read(after=after, until=end):
            stored.append((position, event))
            if len(stored) > limit:
                return [], True
        with self.service.lock:  # aggregates are read under the lock, as everywhere
            model = self.service.model
            osd_servers = OsdServers(model)
            return [positioned(p, describe_event(e, model, osd_servers)) for p, e in stored], False

    def messages(self, sub: Subscription, timeout: float) -> Iterator[dict[str, Any] | None]:
        """A read stream's messages as they come; None after `timeout` s without one."""
        while not sub.cut.is_set():
            yield sub.take(timeout)

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
        with self.service.lock:
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
