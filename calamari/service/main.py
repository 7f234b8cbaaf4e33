"""`calamari-server`: collector bus + event-sourced model + REST API in one process."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading

from calamari.adapters.data_dir import DataDirError, check_writable
from calamari.adapters.event_store import EventStoreError, unavailable_reason
from calamari.adapters.http_server import ConnectionLimits, create_http_server
from calamari.adapters.snapshots import HISTORY_KEEP
from calamari.adapters.timeseries import DEFAULT_RETENTION
from calamari.service import security_options
from calamari.service.model import ModelService, ServiceConfig
from calamari.service.stream_hub import DEFAULT_MAX_SUBSCRIBERS

log = logging.getLogger("calamari.server")


def _count(text: str) -> int:
    """A whole number ≥ 0, for argparse (which then reports a bad one with the option's name)."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive_count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(text)
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="calamari-server", description=__doc__)
    p.add_argument("--data-dir", default="./var")
    p.add_argument("--api", default="127.0.0.1:8002", help="HOST:PORT of the REST API")
    p.add_argument("--bus", default="tcp://127.0.0.1:5560", help="ZeroMQ endpoint collectors connect to")
    p.add_argument("--contact-timeout", type=_positive_seconds, default=30.0, metavar="SECONDS",
                   help="a cluster whose collectors have been silent this long shows as stale, a host as contact "
                        "lost (default 30)")
    p.add_argument("--insecure-bus", action="store_true",
                   help="plain TCP bus: no encryption, every collector trusted (development and tests only)")
    p.add_argument("--simulate", default=None, metavar="SPEC", help="also run a simulated cluster in-process")
    p.add_argument("--event-store", default=os.environ.get("CALAMARI_EVENT_STORE"),
                   help="event store URL: sqlite:///PATH (default: events.db in the data dir) or "
                        "postgresql://USER:PASS@HOST:PORT/DBNAME[?table=calamari_events]; "
                        "$CALAMARI_EVENT_STORE keeps a password off the command line")
    p.add_argument("--snapshot-every-events", type=int, default=20_000)
    p.add_argument("--snapshot-every-seconds", type=float, default=300.0)
    p.add_argument("--history-snapshots", type=_count, default=HISTORY_KEEP, metavar="N",
                   help="older snapshots kept to answer history queries fast, one per 20,000 events "
                        f"(default {HISTORY_KEEP}; 0 keeps none: past states then replay from the newest kept)")
    p.add_argument("--threads", type=int, default=8, help="API worker threads")
    p.add_argument("--whisper-retention", default=DEFAULT_RETENTION,
                   help="time-series archives of new whisper files, e.g. 1m:1d,5m:30d,1h:1y (docs/metrics.md)")
    p.add_argument("--log-level", default="INFO")
    security_options.add_arguments(p)
    http = p.add_argument_group("HTTP connections (docs/security.md)")
    defaults = ConnectionLimits()
    http.add_argument("--http-max-connections", type=_positive_count, default=defaults.max_connections, metavar="N",
                      help="open API connections; at the limit a new one closes the connection that has waited "
                           f"longest for its client (default {defaults.max_connections})")
    http.add_argument("--http-request-timeout", type=_positive_seconds, default=defaults.request_timeout,
                      metavar="SECONDS", help="a request not fully received this long after its first byte is "
                                              f"dropped (default {defaults.request_timeout:g})")
    http.add_argument("--http-idle-timeout", type=_positive_seconds, default=defaults.idle_timeout,
                      metavar="SECONDS", help="a connection with no request under way is closed after this long "
                                              f"without progress (default {defaults.idle_timeout:g})")
    http.add_argument("--http-max-streams", type=_positive_count, default=DEFAULT_MAX_SUBSCRIBERS, metavar="N",
                      help="open push streams (GET /api/v2/stream); they hold no worker thread and do not count "
                           f"towards --http-max-connections (default {DEFAULT_MAX_SUBSCRIBERS})")
    return p.parse_args(argv)


def open_service(config: ServiceConfig) -> ModelService:
    """The model service, or StartupError with one line saying why it cannot start (the event
    store cannot be opened or written, an event in it is damaged)."""
    try:
        return ModelService(config)
    except EventStoreError as err:  # includes a damaged event (CorruptEvent): the message names it
        raise StartupError(str(err)) from None
    except Exception as err:  # the driver's errors, wrapped by the eventsourcing library, and OSError
        reason = unavailable_reason(err)
        detail = f"{reason} ({err})" if reason else f"{type(err).__name__}: {err}"
        raise StartupError(f"cannot open the event store: {detail}") from None


class StartupError(RuntimeError):
    """calamari-server cannot start; the message says why in one line."""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Everything the server creates (events.db and its -wal/-shm, snapshots, keys, whisper files,
    # the control file) is for its own user alone: the data dir holds password hashes and keys.
    previous = os.umask(0o077)
    try:
        return serve(args)
    finally:
        os.umask(previous)  # for a caller in the same process (tests)


def serve(args: argparse.Namespace) -> int:
    try:
        limits = ConnectionLimits(max_connections=args.http_max_connections,
                                  request_timeout=args.http_request_timeout, idle_timeout=args.http_idle_timeout,
                                  max_body=args.max_body)
    except ValueError:
        print(f"calamari-server: --max-body must be 0 or more, not {args.max_body}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        check_writable(args.data_dir)
    except DataDirError as err:
        print(f"calamari-server: {err}", file=sys.stderr)
        return 2
    config = ServiceConfig(data_dir=args.data_dir, event_store_url=args.event_store,
                           snapshot_every_events=args.snapshot_every_events,
                           snapshot_every_seconds=args.snapshot_every_seconds,
                           history_snapshots=args.history_snapshots,
                           # every API thread may read history, beside the two writer threads
                           store_pool_size=args.threads + 3)
    from calamari.adapters.timeseries import TimeSeriesWriter, WhisperStore

    try:  # before anything starts: a bad option ends here, with a reason
        whisper_store = WhisperStore(os.path.join(args.data_dir, "whisper"), retention=args.whisper_retention)
    except Exception as exc:  # whisper's own parse errors are plain exceptions
        print(f"calamari-server: --whisper-retention {args.whisper_retention!r}: {exc}", file=sys.stderr)
        return 2
    try:
        service = open_service(config)
    except StartupError as err:
        print(f"calamari-server: {err}", file=sys.stderr)
        return 2
    log.info("model restored at position %d from %r", service.restored_position, service.store)
    # The restored model is long-lived: keep the cyclic collector from walking it again and again
    # (it showed as p99 spikes of the large list routes).
    gc.freeze()

    from calamari.adapters.bus import CollectorBus
    from calamari.adapters.curve_keys import SERVER_KEY_NAME, load_or_create_key_pair, server_key_dir
    from calamari.api.app import create_app

    timeseries = TimeSeriesWriter(whisper_store)
    timeseries.start()
    from calamari.service.collector_keys import CollectorKeyService
    from calamari.service.control import ControlServer, cluster_handlers, key_handlers, snapshot_handler, user_handlers

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
    bus.start()
    collector = None
    if args.simulate:
        from collector.agent import Collector
        from collector.simulator import SimulatedCluster

        cluster = SimulatedCluster(args.simulate)
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

    host, _, port = args.api.rpartition(":")
    from calamari.adapters.local_host import server_grains

    app = create_app(service, BUS=bus, COLLECTOR_KEYS=keys, TIMESERIES=timeseries.store, TIMESERIES_WRITER=timeseries,
                     SERVER_GRAINS=server_grains, STREAM_LIMIT=args.http_max_streams,
                     **security_options.app_options(args))
    # calamari-ctl reaches the running server here for what it would otherwise write to the store
    control = ControlServer(server_key_dir(args.data_dir), {**key_handlers(keys), **snapshot_handler(service),
                                                            **user_handlers(app.config["CALAMARI"].auth),
                                                            **cluster_handlers(service)})
    control.start()
    http = create_http_server(app, host or "127.0.0.1", int(port), args.threads, limits)
    stop = threading.Event()

    def shutdown(*_: object) -> None:
        stop.set()
        http.close()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    log.info("API on http://%s:%s/api/v2/", host, port)
    try:
        http.run()
    except (OSError, ValueError):
        if not stop.is_set():
            raise
    finally:
        if collector is not None:
            collector.stop()
        app.config["CALAMARI"].executor.stop()  # started by create_app; it sends through the bus
        bus.stop()
        control.stop()
        timeseries.stop()
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
