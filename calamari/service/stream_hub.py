"""The push stream's fan-out: every committed event, once the store has given it a position, as the
event feed tells it plus the API paths of the resources it changed, to each open stream in store
order. Each subscriber has a bounded queue: one that falls behind is cut off (it resumes from the
store with Last-Event-ID, so it misses nothing) and never slows the writer or other subscribers.

Events are described at commit (a model listener, under the service lock, where the aggregates
are at hand) and sent when the event writer reports them stored, with their positions. The writer
thread never takes the service lock here: a durable commit holds that lock while it waits for the
writer."""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from calamari.domain.cluster import Cluster
from calamari.domain.collector_key import CollectorKey
from calamari.domain.event_feed import OsdServers, describe
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.server import Server
from calamari.domain.user import User
from calamari.domain.user_request import UserRequest

log = logging.getLogger(__name__)

DEFAULT_QUEUE = 2000  # messages a subscriber may be behind before it is cut off
DEFAULT_MAX_SUBSCRIBERS = 4  # each open stream holds an API worker thread: keep well below --threads
MAX_DESCRIBED = 200_000  # described, not yet stored events kept (a failing store must not grow this forever)


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
    """One open stream's queue of messages; `cut` once it fell too far behind."""

    def __init__(self, capacity: int) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=capacity)
        self.cut = threading.Event()

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
                 queue_size: int = DEFAULT_QUEUE) -> None:
        self.service = service
        self.max_subscribers = max_subscribers
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._described: OrderedDict[int, dict[str, Any]] = OrderedDict()  # id(event) -> description
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
                self._described[id(event)] = describe_event(event, model, osd_servers)
            while len(self._described) > MAX_DESCRIBED:
                self._described.popitem(last=False)

    def persisted(self, positions: list[int], events: Any) -> None:
        messages = []
        with self._lock:
            for position, event in zip(positions, events, strict=False):
                described = self._described.pop(id(event), None)
                if described is None:
                    # committed before the hub listened (the bus starts before the API): described
                    # by the stream's own thread, which may take the service lock
                    messages.append({"position": position, "undescribed": event})
                else:
                    messages.append(positioned(position, described))
            subscribers = list(self._subscribers)
        if not subscribers:
            return
        for sub in subscribers:
            if not sub.offer(messages):
                with self._lock:
                    if sub in self._subscribers:
                        self._subscribers.discard(sub)
                        self.cut_off += 1
                        log.warning("a stream client fell %d events behind and was cut off; it resumes from the store",
                                    self.queue_size)

    # ------------------------------------------------------------------ consumers

    def subscribe(self) -> Subscription | None:
        """A new subscription, or None when max_subscribers streams are open."""
        with self._lock:
            if len(self._subscribers) >= self.max_subscribers:
                return None
            sub = Subscription(self.queue_size)
            self._subscribers.add(sub)
            return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._subscribers)

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
        """The subscription's messages as they come; None after `timeout` s without one."""
        while not sub.cut.is_set():
            message = sub.take(timeout)
            if message is not None and "undescribed" in message:
                with self.service.lock:
                    model = self.service.model
                    message = positioned(message["position"], describe_event(message["undescribed"], model,
                                                                             OsdServers(model)))
            yield message
