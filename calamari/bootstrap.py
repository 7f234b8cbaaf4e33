"""The composition root: the one place that builds calamari-server's parts and hands each what it
needs: the event store and its writers, the ModelService over them; around it: the
time-series writer, the collector key service, the collector bus, the request executor (sending
through the bus), users and sessions, the event feed, the push stream's hub, the Flask app over
those services, and the control channel `calamari-ctl` reaches a running server by.

Nothing else constructs a service for another part: `calamari-server` (service/main.py) parses its
options and calls build_server(); the API (api/app.py) registers its blueprints over the services
it is given; tests and benchmarks build what they need with build_services() and build_app()."""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask

from calamari.adapters.data_dir import DataDirError, check_writable
from calamari.adapters.event_store import EventStoreError, unavailable_reason
from calamari.adapters.notify.secrets import SecretStore
from calamari.api.app import Services, create_app
from calamari.api.stream import KEEPALIVE as STREAM_KEEPALIVE
from calamari.api.stream import frame as stream_frame
from calamari.domain.alerts.retention import DEFAULT_ALERT_RETENTION
from calamari.domain.event_feed import EventFeed
from calamari.domain.notifications.retention import DEFAULT_NOTIFICATION_RETENTION
from calamari.service import security_options
from calamari.service.alerting import DEFAULT_WINDOW, AlertingService, AlertSink, whisper_reader
from calamari.service.auth import AuthPolicy, AuthService
from calamari.service.collector_keys import CollectorKeyService
from calamari.service.mgr_announcements import MgrAnnouncements
from calamari.service.model import ModelService, ServiceConfig, open_persistence
from calamari.service.notifier import Notifier
from calamari.service.requests import RequestExecutor
from calamari.service.stored_past import FeedPast, StoredPast
from calamari.service.stream_hub import DEFAULT_MAX_SUBSCRIBERS, DEFAULT_MAX_UNSENT, DEFAULT_QUEUE, StreamHub

__all__ = ["FEED_EVENTS", "Server", "StartupError", "attach_feed", "build_app", "build_server", "build_services",
           "connect_executor", "open_service", "stream_setting"]

log = logging.getLogger("calamari.server")

FEED_EVENTS = 200_000  # the newest stored events the event feed tells at a start


class StartupError(RuntimeError):
    """calamari-server cannot start; the message says why in one line."""


def open_service(config: ServiceConfig) -> ModelService:
    """The model service over the event store and writers of `config`, or StartupError with one
    line saying why it cannot start (the event store cannot be opened or written, an event in it
    is damaged)."""
    try:
        return ModelService(config, open_persistence(config))
    except EventStoreError as err:  # includes a damaged event (CorruptEvent): the message names it
        raise StartupError(str(err)) from None
    except Exception as err:  # the driver's errors, wrapped by the eventsourcing library, and OSError
        reason = unavailable_reason(err)
        detail = f"{reason} ({err})" if reason else f"{type(err).__name__}: {err}"
        raise StartupError(f"cannot open the event store: {detail}") from None


# ---------------------------------------------------------------------- the API's services

def attach_feed(feed: EventFeed, service: ModelService) -> int:
    """Follow live commits from now on; returns the store position before them, up to which the
    stored past is told (StoredPast). The live feed starts under the service lock with the writer
    drained, so no event is told twice or missed."""
    with service.lock:
        service.writer.flush(service.config.durable_timeout)
        end = service.position()  # a standby's model may be behind the store's end
        feed.next_id = end + 1  # older entries are numbered by their store positions
        service.listeners.append(feed.add)
    return end


def connect_executor(executor: RequestExecutor, bus: Any) -> None:
    """User requests' commands go to the collectors over the bus, and unfinished ones resume; the
    servers' log routes send host commands. A sender the executor already has is kept."""
    if executor.send is None:
        executor.send = bus.send_command
        executor.start()
    if executor.send_to_host is None:
        executor.send_to_host = bus.send_host_command


def build_services(service: ModelService, *, auth: AuthService | None = None,
                   executor: RequestExecutor | None = None, bus: Any = None, auth_policy: AuthPolicy | None = None,
                   stream_limit: int = DEFAULT_MAX_SUBSCRIBERS, stream_queue: int = DEFAULT_QUEUE,
                   stream_unsent: int = DEFAULT_MAX_UNSENT, feed_events: int = FEED_EVENTS,
                   notifier: Notifier | None = None, timeseries: Any = None, alert_sink: AlertSink | None = None,
                   alert_window: timedelta = DEFAULT_WINDOW, alert_retention: timedelta = DEFAULT_ALERT_RETENTION,
                   notification_retention: timedelta = DEFAULT_NOTIFICATION_RETENTION, read_past: bool = True) -> Services:
    """What the API's handlers use, over the model service: users and sessions, the request
    executor (connected to `bus` when there is one), the event feed and the push stream's hub,
    both listening to commits from now on (the feed in front, as it numbers the events), the
    notifier (not started: calamari-server starts it; its secrets in the data dir) and the
    alerting service (listening too; its thread is started by build_server, tests run its passes),
    reading `timeseries` (a WhisperStore) for series rules, recording with each alert the changes
    of `alert_window` before it and telling `alert_sink` (default: the notifier) of every stored
    change to an alert. Resolved alerts and ended silences older than `alert_retention`, and
    finished notifications older than `notification_retention`, leave the live model. The stored
    past the feed and alerting tell is read on a thread of its own, started at once, or with
    `read_past` False by `services.stored_past.begin()` (calamari-server: once its API answers)."""
    auth = auth or AuthService(service, policy=auth_policy)
    executor = executor or RequestExecutor(service)
    told = threading.Event()  # set once the feed has told the stored past
    feed = EventFeed()
    notifier = notifier or Notifier(service, SecretStore(service.config.data_dir), retention=notification_retention)
    alerting = AlertingService(service, alert_sink=alert_sink or notifier, window=alert_window,
                               retention=alert_retention,
                               series=whisper_reader(timeseries) if timeseries is not None else None)
    with service.lock:  # both follow commits from the same position, up to which the stored past is read
        end = attach_feed(feed, service)
        alerting.attach(read_past=False)
    assert alerting.older is not None
    hub = StreamHub(service, max_subscribers=stream_limit, queue_size=stream_queue, max_unsent=stream_unsent,
                    encode=lambda message: stream_frame(message).encode(), keepalive_frame=STREAM_KEEPALIVE.encode())
    hub.attach()
    past = StoredPast(service.store, end, [FeedPast(feed, service.model, told), alerting.older],
                      feed_events, closed=lambda: service.closed, reading=service.reading_store)
    if read_past:
        past.begin()
    if notifier.alert_source is None:
        # at its start the notifier is handed the alerts again: a change told but not yet in the
        # outbox at a crash is not lost (handing one in twice queues it once)
        notifier.alert_source = alerting.alerts
    if bus is not None:
        connect_executor(executor, bus)
    return Services(service=service, auth=auth, executor=executor, feed=feed, feed_history_told=told,
                    stream_hub=hub, notifier=notifier, alerting=alerting, stored_past=past)


def stream_setting(options: Mapping[str, Any], name: str, default: float) -> float:
    """A stream setting from the app options, else from $CALAMARI_<name>, else the default."""
    value = options.get(name)
    if value is None:
        value = os.environ.get(f"CALAMARI_{name}")
    return float(value) if value is not None else default


def build_app(service: ModelService, *, auth: AuthService | None = None, executor: RequestExecutor | None = None,
              bus: Any = None, keys: CollectorKeyService | None = None, **options: Any) -> Flask:
    """The API over `service`, with the services build_services() makes and a collector key
    service (`keys`, or one of its own); `options` are the app settings (docs/security.md)."""
    services = build_services(service, auth=auth, executor=executor, bus=bus,
                              auth_policy=options.get("AUTH_POLICY"),
                              stream_limit=int(stream_setting(options, "STREAM_LIMIT", DEFAULT_MAX_SUBSCRIBERS)),
                              stream_queue=int(stream_setting(options, "STREAM_QUEUE", DEFAULT_QUEUE)),
                              stream_unsent=int(stream_setting(options, "STREAM_UNSENT", DEFAULT_MAX_UNSENT)),
                              timeseries=options.get("TIMESERIES"))
    return create_app(services, COLLECTOR_KEYS=keys or CollectorKeyService(service), **options)


# ---------------------------------------------------------------------- calamari-server

@dataclass
class Server:
    """Everything calamari-server runs but the HTTP server, started in build_server()."""

    service: ModelService
    app: Flask | None = None
    services: Services | None = None
    started: list[Any] = field(default_factory=list)  # parts with stop(), in the order they started
    high_availability: Any = None  # the role keeper when several servers share the store
    lost: threading.Event = field(default_factory=threading.Event)  # set when this server lost the active lease

    def answering(self) -> None:
        """Start what the API need not wait for, once it answers: reading the stored past that the
        event feed and alerting tell (until it is read, the feed answers 503 and alerting holds
        its first pass)."""
        if self.services is not None and self.services.stored_past is not None:
            self.services.stored_past.begin()

    def stop(self) -> None:
        """Stop what was started, the newest first (the collector before the bus it sends through,
        the executor before the bus, the store last)."""
        if self.high_availability is not None:
            self.high_availability.halt()  # no promotion starts parts while they stop
        for part in reversed(self.started):
            part.stop()
        self.started.clear()
        self.service.close()


def build_server(args: argparse.Namespace) -> Server:
    """Build and start calamari-server's parts from its options (service/main.py parses them).
    StartupError says in one line why it cannot start; nothing is left running then."""
    app_options = security_options.app_options(args)  # a bad setting ends here, before anything runs
    app_options.setdefault("STREAM_LIMIT", args.http_max_streams)
    try:
        check_writable(args.data_dir)
    except DataDirError as err:
        raise StartupError(str(err)) from None
    config = ServiceConfig(data_dir=args.data_dir, event_store_url=args.event_store,
                           snapshot_every_events=args.snapshot_every_events,
                           snapshot_every_seconds=args.snapshot_every_seconds,
                           history_snapshots=args.history_snapshots,
                           # every API thread may read history, beside the two writer threads
                           store_pool_size=args.threads + 3)
    from calamari.adapters.timeseries import WhisperStore

    try:  # before anything starts: a bad option ends here, with a reason
        whisper_store = WhisperStore(os.path.join(args.data_dir, "whisper"), retention=args.whisper_retention)
    except Exception as exc:  # whisper's own parse errors are plain exceptions
        raise StartupError(f"--whisper-retention {args.whisper_retention!r}: {exc}") from None
    service = open_service(config)
    log.info("model restored at position %d from %r", service.restored_position, service.store)
    server = Server(service)
    try:
        _start_parts(server, args, whisper_store, app_options)
    except BaseException:
        server.stop()
        raise
    return server


def _start_parts(server: Server, args: argparse.Namespace, whisper_store: Any, app_options: dict[str, Any]) -> None:
    from calamari.adapters.bus import CollectorBus
    from calamari.adapters.curve_keys import SERVER_KEY_NAME, load_or_create_key_pair, server_key_dir
    from calamari.adapters.local_host import server_grains
    from calamari.adapters.timeseries import TimeSeriesWriter
    from calamari.service.control import (
        ControlServer,
        cluster_handlers,
        key_handlers,
        notify_handlers,
        snapshot_handler,
        user_handlers,
    )

    service = server.service
    timeseries = TimeSeriesWriter(whisper_store)
    timeseries.start()
    server.started.append(timeseries)
    keys = CollectorKeyService(service)
    server_keys = None
    if not args.insecure_bus:
        server_keys = load_or_create_key_pair(server_key_dir(args.data_dir), SERVER_KEY_NAME)
        log.info("collector bus uses CURVE; server public key %s (%s), file %s/%s.key: give it to collectors "
                 "as --server-key", server_keys.public_key, server_keys.fingerprint,
                 server_key_dir(args.data_dir), SERVER_KEY_NAME)
    else:
        log.warning("--insecure-bus: collector traffic is neither encrypted nor authenticated")
    bus = CollectorBus(service, args.bus, stats_sink=timeseries.stats_sink, server_keys=server_keys,
                       key_gate=keys if server_keys is not None else None, contact_timeout_s=args.contact_timeout)
    shared = service.store.is_postgres  # several servers may share it: only the lease holder writes
    if not shared:
        bus.start()
        server.started.append(bus)
        _start_mgr_announcements(server, service, args)
        if args.simulate:
            server.started.append(_start_simulator(args, service, bus, keys, server_keys))

    services = build_services(service, bus=None if shared else bus, auth_policy=app_options.get("AUTH_POLICY"),
                              stream_limit=int(stream_setting(app_options, "STREAM_LIMIT", DEFAULT_MAX_SUBSCRIBERS)),
                              stream_queue=int(stream_setting(app_options, "STREAM_QUEUE", DEFAULT_QUEUE)),
                              stream_unsent=int(stream_setting(app_options, "STREAM_UNSENT", DEFAULT_MAX_UNSENT)),
                              timeseries=whisper_store, alert_window=timedelta(seconds=args.alert_window),
                              alert_retention=timedelta(seconds=args.alert_retention),
                              notification_retention=timedelta(seconds=args.notification_retention),
                              read_past=False)  # read once the API answers: Server.answering()
    server.services = services
    if shared:
        server.high_availability = _start_high_availability(server, args, bus, keys, server_keys)
    else:
        server.started.append(services.executor)  # it sends through the bus: stopped before it
        _start_alerting(server)
    server.app = create_app(services, COLLECTOR_KEYS=keys, TIMESERIES=timeseries.store,
                            TIMESERIES_WRITER=timeseries, SERVER_GRAINS=server_grains,
                            HIGH_AVAILABILITY=server.high_availability, **app_options)
    # calamari-ctl reaches the running server here for what it would otherwise write to the store
    control = ControlServer(server_key_dir(args.data_dir), {**key_handlers(keys), **snapshot_handler(service),
                                                            **user_handlers(services.auth),
                                                            **cluster_handlers(service),
                                                            **notify_handlers(services.notifier)})
    control.start()
    server.started.append(control)


def _start_mgr_announcements(server: Server, service: ModelService, args: argparse.Namespace) -> None:
    """With --mgr-notify: hear of new maps from ceph-mgr itself, so that reads wait for them
    (service/mgr_announcements.py). Only the server collectors send to does."""
    endpoints = getattr(args, "mgr_notify", None)
    if endpoints:
        announcements = MgrAnnouncements(service, endpoints)
        announcements.start()
        service.mgr_announcements = announcements
        server.started.append(announcements)


def _start_alerting(server: Server) -> None:
    """Rules evaluated as changes arrive and on a timer, and the notifier, which first sends what
    the outbox still holds from before a restart (or from the active server before a failover)."""
    services = server.services
    assert services is not None
    # the notifier consumes what alerting tells it: started first, stopped after it, so that no
    # alert change is told to a stopped notifier
    services.notifier.start()
    server.started.append(services.notifier)
    services.alerting.start()
    server.started.append(services.alerting)


def _start_high_availability(server: Server, args: argparse.Namespace, bus: Any, keys: CollectorKeyService,
                             server_keys: Any) -> Any:
    """Several servers on one PostgreSQL store (docs/high-availability.md): start as a standby that
    follows the store; on taking the lease, bind the collector bus and resume unfinished requests
    (commands sent only while the lease is certainly held); on losing it, set `server.lost`."""
    from calamari.adapters.postgres_lease import LeaseError, PostgresLease
    from calamari.adapters.server_identity import load_or_create_server_id
    from calamari.service.high_availability import HighAvailability

    service, services = server.service, server.services
    assert services is not None
    try:
        lease = PostgresLease(service.config.store_url, load_or_create_server_id(args.data_dir),
                              args.advertise_url or f"http://{args.api}", args.lease_time)
        lease.setup()
    except (LeaseError, OSError, ValueError) as err:
        raise StartupError(f"cannot use the active lease: {err}") from None
    executor = services.executor

    def promoted() -> None:
        services.auth.sessions_used_elsewhere(False)  # sessions are used here now
        bus.start()  # a standby does not listen: collectors find the active server by this
        server.started.append(bus)
        _start_mgr_announcements(server, service, args)
        if args.simulate:
            server.started.append(_start_simulator(args, service, bus, keys, server_keys))
        executor.send = ha.guard(bus.send_command)
        executor.send_to_host = ha.guard(bus.send_host_command)
        executor.start()  # re-sends the commands of requests still executing
        server.started.append(executor)
        _start_alerting(server)  # only the active one raises alerts and sends notifications

    def lost(reason: str) -> None:
        server.lost.set()

    services.auth.sessions_used_elsewhere(True)  # until promoted, sessions are used on the active server
    ha = HighAvailability(service, lease, on_promoted=promoted, on_lost=lost)
    server.started.append(ha)  # stopped after the bus and the executor: it releases the lease last
    ha.start()
    log.info("several servers may share %r: this one (%s) starts as a standby", service.store, lease.holder)
    return ha


def _start_simulator(args: argparse.Namespace, service: ModelService, bus: Any, keys: CollectorKeyService,
                     server_keys: Any) -> Any:
    """`--simulate SPEC`: a simulated cluster and its collector, in-process, reporting over the bus."""
    from collector.agent import Collector
    from collector.simulator import SimulatedCluster

    cluster = SimulatedCluster(args.simulate)
    # The same spec gives the same fsid, but each start simulates the cluster anew from its first
    # map versions: the model would refuse them all as older than the previous run's and show that
    # run's cluster frozen. To the model it is a cluster rebuilt under the same fsid.
    try:
        service.reset_sync_versions(cluster.fsid, by="calamari-server --simulate")
        log.info("simulated cluster %s starts anew: its map versions from the previous run are reset", cluster.fsid)
    except KeyError:
        pass  # the first run on this data dir
    curve = None
    if server_keys is not None:
        from calamari.adapters.curve_keys import ClientCurveKeys, new_key_pair

        # It runs inside the server, with the server's trust: its key is accepted unasked.
        simulator_keys = new_key_pair()
        keys.trust(simulator_keys.public_key)
        curve = ClientCurveKeys(simulator_keys, server_keys.public_key)
    collector = Collector(cluster, bus.bound_endpoint or args.bus, curve=curve)
    collector.start()
    log.info("simulated cluster %s (%s) reporting in-process", cluster.fsid, args.simulate)
    return collector
