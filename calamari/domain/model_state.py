"""The state of the cluster model: every aggregate of every cluster indexed by its natural key, the
newest sync object of each kind (the input the events were derived from; kept to diff the next one
and to serve it raw), contact times and the versions the model reflects. Folding stored events in
(replay) and recording new ones.

Pure. The operations that change the state live by job (`calamari.domain.ingest`, `contact`,
`forgetting`, `accounts`, `request_lifecycle`); `ClusterModel` (`calamari.domain.model`) is this
state with those operations as its methods."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from calamari.domain.alerts.alert import FIRING, Alert
from calamari.domain.alerts.retention import AlertRetention
from calamari.domain.alerts.rules import AlertRule
from calamari.domain.alerts.silence import Silence
from calamari.domain.base import CalamariAggregate, recording_prior_states, restore_prior_states
from calamari.domain.cluster import Cluster
from calamari.domain.collector_key import CollectorKey
from calamari.domain.notifications.channel import Channel
from calamari.domain.notifications.notification import PENDING, Notification
from calamari.domain.notifications.retention import OutboxRetention
from calamari.domain.osd import Osd
from calamari.domain.pool import Pool
from calamari.domain.server import Server
from calamari.domain.sync_versions import Reflected, SyncVersion, estimate_reflected, note_version
from calamari.domain.user import User
from calamari.domain.user_request import COMPLETE, UserRequest
from calamari.protocol.packed import pack, unpacked

# Sync objects held as their msgpack bytes (calamari.protocol.packed): large, and read only to
# plan requests, to place a new OSD and by the raw sync object routes; at 10,000 OSDs the OSD
# metadata takes 27 MB decoded and 11 MB packed, the CRUSH map 10 MB and 1 MB.
PACKED_SYNC_OBJECTS = frozenset({"osd_metadata", "crush_map"})


class ModelState:
    """All aggregates, indexed by natural keys, plus what the model keeps beside them."""

    def __init__(self) -> None:
        self.aggregates: dict[UUID, CalamariAggregate] = {}
        self.clusters: dict[str, Cluster] = {}
        self.osds: dict[str, dict[int, Osd]] = {}
        self.pools: dict[str, dict[int, Pool]] = {}
        self.servers: dict[str, Server] = {}
        self.requests: dict[str, UserRequest] = {}
        self.users: dict[str, User] = {}
        self.collector_keys: dict[UUID, CollectorKey] = {}  # every key ever registered, deleted ones too
        self.channels: dict[str, Channel] = {}  # notification channels, deleted ones too
        self.notifications: dict[str, Notification] = {}  # the outbox, by notification id
        self._pending_notifications: set[str] | None = None  # ids of those not yet sent; None: recompute
        self.alerts: dict[str, Alert] = {}  # by alert id, resolved ones too
        self.alert_index: dict[str, dict[str, Alert]] = {}  # rule -> key -> the newest alert of that key
        self.silences: dict[str, Silence] = {}
        self.alert_rules: dict[str, AlertRule] = {}  # rules changed through the API, by name
        # Resolved alerts, ended silences and finished notifications leave the indexes above when
        # retired (calamari.domain.alerts.retention, .notifications.retention); these say which.
        self.alert_retention: AlertRetention | None = None
        self.outbox_retention: OutboxRetention | None = None
        self._retired_now: list[CalamariAggregate] = []  # unindexed since the last drain (for undo)
        self._open_requests: set[str] | None = None  # unfinished request ids; None: recompute
        # fsid -> name -> (version, document); read documents through held_document()
        self.held: dict[str, dict[str, tuple[SyncVersion, Any]]] = {}
        self.last_contact: dict[str, float] = {}
        self.last_contact_host: dict[str, float] = {}
        self.fqdn_of_hello: dict[str, str] = {}  # a collector's hello name -> its server's fqdn (a cache)
        # The raw OSD and pool entries of the newest OSD map, to skip unchanged ones cheaply.
        self._osd_entries: dict[str, dict[int, Any]] = {}
        self._pool_entries: dict[str, dict[int, Any]] = {}
        self.received_at: dict[str, dict[str, float]] = {}
        # fsid -> sync object -> the newest version the model reflects, folded from the events
        # (VERSION_SOURCES, SyncVersionAdvanced) live and in replay alike, and kept in snapshots:
        # unlike `held`, it survives a restart, so an older map is refused after one too.
        self.reflected: Reflected = {}
        self._touched: list[CalamariAggregate] = []
        self._new: list[Aggregate.Event] = []

    # ---------------------------------------------------------------- registry and replay

    def _register(self, agg: CalamariAggregate) -> None:
        self.aggregates[agg.id] = agg
        if isinstance(agg, Osd):
            self.osds.setdefault(agg.fsid, {})[agg.osd_id] = agg
        elif isinstance(agg, Pool):
            self.pools.setdefault(agg.fsid, {})[agg.pool_id] = agg
        elif isinstance(agg, Cluster):
            if not getattr(agg, "forgotten", False):  # snapshots from before forgetting lack it
                self.clusters[agg.fsid] = agg
        elif isinstance(agg, Server):
            self.servers[agg.fqdn] = agg
        elif isinstance(agg, UserRequest):
            self.requests[agg.request_id] = agg
            self._open_requests = None
        elif isinstance(agg, User):
            self.users[agg.username] = agg
        elif isinstance(agg, CollectorKey):
            self.collector_keys[agg.id] = agg
        elif isinstance(agg, Channel):
            self.channels[agg.channel_id] = agg
        elif isinstance(agg, Notification):
            self.notifications[agg.notification_id] = agg
            self._pending_notifications = None
        elif isinstance(agg, Alert):
            self.alerts[agg.alert_id] = agg
            self.alert_index.setdefault(agg.rule, {})[agg.key] = agg
        elif isinstance(agg, Silence):
            self.silences[agg.silence_id] = agg
        elif isinstance(agg, AlertRule):
            self.alert_rules[agg.name] = agg
        elif isinstance(agg, AlertRetention):
            self.alert_retention = agg
        elif isinstance(agg, OutboxRetention):
            self.outbox_retention = agg

    def apply(self, event: Aggregate.Event) -> None:
        """Fold one stored event into the model (replay)."""
        if isinstance(event, Aggregate.Created):
            agg = event.mutate(None)
            self._register(agg)
        else:
            agg = self.aggregates[event.originator_id]
            event.mutate(agg)
            if isinstance(event, UserRequest.Event):
                self._open_requests = None
            elif isinstance(event, Notification.Event):
                self._pending_notifications = None
            elif isinstance(event, Cluster.ClusterForgotten):
                self.unindex_cluster(agg.fsid)
            elif isinstance(event, Cluster.ClusterRediscovered):
                self.clusters[agg.fsid] = agg
            elif isinstance(event, AlertRetention.AlertsRetired):
                self.unindex_retired(alerts=event.alerts, silences=event.silences, live=False)
            elif isinstance(event, OutboxRetention.NotificationsRetired):
                self.unindex_retired(notifications=event.notifications, live=False)
        note_version(self.reflected, agg, event)

    def load(self, aggregates: Iterable[CalamariAggregate], reflected: Reflected | None = None) -> None:
        """Install aggregates restored from a snapshot, with the versions the model reflected
        (None from a snapshot written before they were kept: estimated from the aggregates)."""
        aggregates = list(aggregates)
        for agg in aggregates:
            self._register(agg)
        if reflected is None:
            reflected = estimate_reflected(aggregates)
        self.reflected = {fsid: dict(versions) for fsid, versions in reflected.items()}

    # ---------------------------------------------------------------- recording new events

    def create(self, cls: type[CalamariAggregate], created: type, agg_id: UUID, at: datetime,
               **fields: Any) -> Any:
        """A new aggregate, from its creation event timestamped `at`."""
        agg = cls._create(created, id=agg_id, timestamp=at, **fields)
        self._register(agg)
        self._touched.append(agg)
        self._new.append(agg.pending_events[-1])
        note_version(self.reflected, agg, agg.pending_events[-1])
        return agg

    def emit(self, agg: CalamariAggregate, event_class: type, at: datetime, **fields: Any) -> None:
        """Change an aggregate by one event timestamped `at`."""
        agg.emit(event_class, at, **fields)
        if isinstance(agg, Notification):
            self._pending_notifications = None
        self._touched.append(agg)
        self._new.append(agg.pending_events[-1])
        note_version(self.reflected, agg, agg.pending_events[-1])

    def adopt_pending(self, agg: CalamariAggregate) -> None:
        """Record the events an aggregate's own command method (e.g. User.change) emitted."""
        self._touched.append(agg)
        self._new.extend(e for e in agg.pending_events if e not in self._new)

    def drain(self) -> list[Aggregate.Event]:
        """The events produced since the last drain, in the order they were made."""
        for agg in self._touched:
            agg.pending_events.clear()
        self._touched.clear()
        self._retired_now.clear()
        events, self._new = self._new, []
        return events

    # ---------------------------------------------------------------- what the indexes answer

    def open_requests(self) -> list[UserRequest]:
        """Requests not yet complete (kept as a set: the history of requests only grows)."""
        if self._open_requests is None:
            self._open_requests = {r.request_id for r in self.requests.values() if r.state != COMPLETE}
        return [r for r in (self.requests[i] for i in list(self._open_requests)) if r.state != COMPLETE]

    def pending_notifications(self) -> list[Notification]:
        """Notifications not yet delivered, given up or cancelled, the earliest due first."""
        if self._pending_notifications is None:
            self._pending_notifications = {n.notification_id for n in self.notifications.values()
                                           if n.state == PENDING}
        pending = [self.notifications[i] for i in list(self._pending_notifications)]
        return sorted((n for n in pending if n.state == PENDING), key=lambda n: (n.due, n.notification_id))

    def request_finished(self, request_id: str) -> None:
        """A request just completed or failed: it leaves the open ones."""
        if self._open_requests is not None:
            self._open_requests.discard(request_id)

    def hold(self, fsid: str, name: str, version: SyncVersion, document: Any) -> None:
        """Keep `document` as the newest sync object `name` of the cluster (packed if it is one of
        PACKED_SYNC_OBJECTS)."""
        self.held.setdefault(fsid, {})[name] = (version, pack(document) if name in PACKED_SYNC_OBJECTS else document)

    def held_document(self, fsid: str, name: str) -> tuple[SyncVersion, Any] | None:
        """(version, document) of the newest sync object `name` held for the cluster, None before
        one came; a packed one is unpacked into a new copy (read it once per use)."""
        held = self.held.get(fsid, {}).get(name)
        return None if held is None else (held[0], unpacked(held[1]))

    def osd_map_entries(self, fsid: str) -> tuple[dict[int, Any], dict[int, Any]]:
        """The raw OSD and pool entries of the newest OSD map taken in, by id (empty before one)."""
        return self._osd_entries.get(fsid, {}), self._pool_entries.get(fsid, {})

    def keep_osd_map_entries(self, fsid: str, osds: dict[int, Any], pools: dict[int, Any]) -> None:
        self._osd_entries[fsid] = osds
        self._pool_entries[fsid] = pools

    def drop_held_maps(self, fsid: str) -> None:
        """Forget the maps held for a cluster: the next one of any version is diffed in full."""
        for per_cluster in (self.held, self._osd_entries, self._pool_entries):
            per_cluster.pop(fsid, None)

    def unindex_cluster(self, fsid: str) -> None:
        """Take a forgotten cluster off the lists, with its held maps and contact time."""
        # The OSD and pool aggregates stay (their ids are fixed by fsid and number): a cluster that
        # comes back diffs its maps against them.
        self.clusters.pop(fsid, None)
        for per_cluster in (self.held, self.last_contact, self._osd_entries, self._pool_entries, self.received_at):
            per_cluster.pop(fsid, None)

    def pool_entry(self, fsid: str, pool_id: int) -> dict[str, Any] | None:
        """The pool's entry as the newest OSD map gave it (raw: targets, flags), None if it has none."""
        return self._pool_entries.get(fsid, {}).get(pool_id)

    def open_alert(self, key: str) -> Alert | None:
        """The firing alert of a rule and object (`evaluate.alert_key`), if there is one."""
        alert = self.alert_index.get(key.split("|", 1)[0], {}).get(key)
        return alert if alert is not None and alert.state == FIRING else None

    def open_alerts_of(self, rule: str) -> list[Alert]:
        return [a for a in list(self.alert_index.get(rule, {}).values()) if a.state == FIRING]

    def unindex_retired(self, alerts: Iterable[str] = (), silences: Iterable[str] = (),
                        notifications: Iterable[str] = (), live: bool = True) -> None:
        """Take retired alerts, silences and notifications out of the model (ids it lacks are
        skipped): live and in replay alike, for the retention events. `live`: a change being
        made, which undo() may take back (a replay keeps nothing for that)."""
        gone: list[CalamariAggregate] = []
        for one in alerts:
            if (alert := self.alerts.pop(one, None)) is not None:
                by_key = self.alert_index.get(alert.rule, {})
                if by_key.get(alert.key) is alert:
                    del by_key[alert.key]
                    if not by_key:
                        del self.alert_index[alert.rule]  # as a snapshot without the rule's alerts restores it
                gone.append(alert)
        gone += [s for one in silences if (s := self.silences.pop(one, None)) is not None]
        gone += [n for one in notifications if (n := self.notifications.pop(one, None)) is not None]
        for agg in gone:
            self.aggregates.pop(agg.id, None)
        if live:
            self._retired_now += gone
        if self._pending_notifications is not None:
            self._pending_notifications.difference_update(notifications)

    # ---------------------------------------------------------------- undoing a change

    # Indexes only ever added to by _register; every other dict of the model is copied by undoable()
    _REGISTRIES = ("aggregates", "osds", "pools", "servers", "requests", "users", "collector_keys", "channels",
                   "notifications", "alerts", "alert_index", "silences", "alert_rules")

    @contextmanager
    def undoable(self) -> Iterator[Callable[[], None]]:
        """Yield a function that puts the model back as it was when the block began: aggregates
        changed in the block get their prior state back, those created leave the indexes, the
        other indexes are restored, and events not yet drained are dropped. For changes that
        must be stored before they count (the caller undoes them if storing fails); they are
        few and small, as every aggregate they change is copied."""
        registered = len(self.aggregates)
        retired_before = len(self._retired_now)
        saved = {name: dict(value) for name, value in vars(self).items()
                 if isinstance(value, dict) and name not in self._REGISTRIES}
        with recording_prior_states() as prior:
            def undo() -> None:
                retired = list(self._retired_now[retired_before:])
                self.drain()
                restore_prior_states(prior)
                created = list(islice(reversed(self.aggregates), len(self.aggregates) + len(retired) - registered))
                for agg_id in created:
                    self._unregister(self.aggregates[agg_id])
                for agg in retired:  # retired in the block: back in the indexes
                    self._register_again(agg)
                for name, value in saved.items():
                    setattr(self, name, value)  # a whole dict at once: readers never see it half done
                self._open_requests = None
                self._pending_notifications = None

            yield undo

    def _register_again(self, agg: CalamariAggregate) -> None:
        """Put back an aggregate taken out of the indexes, not displacing a newer alert of its key."""
        newest = self.alert_index.get(agg.rule, {}).get(agg.key) if isinstance(agg, Alert) else None
        self._register(agg)
        if newest is not None and newest is not agg and newest.created_on >= agg.created_on:
            self.alert_index[agg.rule][agg.key] = newest
        self._pending_notifications = None

    def _unregister(self, agg: CalamariAggregate) -> None:
        """Remove an aggregate that undo() takes back from every index _register put it in."""
        self.aggregates.pop(agg.id, None)
        keyed: list[tuple[dict[Any, Any], Any]] = []
        if isinstance(agg, Osd):
            keyed.append((self.osds.get(agg.fsid, {}), agg.osd_id))
        elif isinstance(agg, Pool):
            keyed.append((self.pools.get(agg.fsid, {}), agg.pool_id))
        elif isinstance(agg, Server):
            keyed.append((self.servers, agg.fqdn))
        elif isinstance(agg, UserRequest):
            keyed.append((self.requests, agg.request_id))
        elif isinstance(agg, User):
            keyed.append((self.users, agg.username))
        elif isinstance(agg, CollectorKey):
            keyed.append((self.collector_keys, agg.id))
        elif isinstance(agg, Channel):
            keyed.append((self.channels, agg.channel_id))
        elif isinstance(agg, Notification):
            keyed.append((self.notifications, agg.notification_id))
        elif isinstance(agg, Alert):
            keyed += [(self.alerts, agg.alert_id), (self.alert_index.get(agg.rule, {}), agg.key)]
        elif isinstance(agg, Silence):
            keyed.append((self.silences, agg.silence_id))
        elif isinstance(agg, AlertRule):
            keyed.append((self.alert_rules, agg.name))
        elif isinstance(agg, AlertRetention) and self.alert_retention is agg:
            self.alert_retention = None
        elif isinstance(agg, OutboxRetention) and self.outbox_retention is agg:
            self.outbox_retention = None
        for index, key in keyed:
            if index.get(key) is agg:
                del index[key]
        if isinstance(agg, Alert) and not self.alert_index.get(agg.rule, True):
            del self.alert_index[agg.rule]  # as a snapshot without the rule's alerts restores it
