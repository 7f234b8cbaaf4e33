"""`calamari-server`: collector bus + event-sourced model + REST API in one process. This module
parses the options, has calamari/bootstrap.py build the parts and serves the API until a signal."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading

from calamari.adapters.allocator import tune_allocator
from calamari.adapters.http_server import ConnectionLimits, create_http_server
from calamari.adapters.snapshots import HISTORY_KEEP, HISTORY_SPACING
from calamari.adapters.timeseries import DEFAULT_RETENTION
from calamari.api.answers import at_once_for
from calamari.bootstrap import StartupError, build_server
from calamari.service import security_options
from calamari.service.stream_hub import DEFAULT_MAX_SUBSCRIBERS
from collector.mgr_notify import mgr_notify_endpoints, parse_endpoint

log = logging.getLogger("calamari.server")

EXIT_LEASE_LOST = 3  # the server stepped down: another one holds the active lease
SWITCH_INTERVAL_S = 0.001  # sys.setswitchinterval: see serve()


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


def _mgr_endpoints(text: str) -> list[tuple[str, int]]:
    """--mgr-notify: HOST[:PORT][,...] or 'none' (argparse type)."""
    try:
        return [parse_endpoint(endpoint) for endpoint in mgr_notify_endpoints(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (HOST[:PORT][,...] or none)") from None


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> float:
    """Seconds from `30d`, `12h`, `90m`, `45s` or a plain number of seconds (above 0)."""
    unit = _DURATION_UNITS.get(text[-1:].lower())
    value = float(text[:-1] if unit else text) * (unit or 1)
    if not 0 < value < 100 * 365 * 86400:
        raise ValueError(text)
    return value


def _lease_seconds(text: str) -> float:
    value = float(text)
    if not 1.0 <= value <= 600.0:
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
    p.add_argument("--mgr-notify", type=_mgr_endpoints, default=[], metavar="HOST[:PORT][,...]|none",
                   help="where a cluster's calamari_notify mgr module listens (tried in turn): the server hears "
                        "of each new OSD and file system map as ceph-mgr takes it in, and reads of that cluster "
                        "wait for the map (at most 50 ms) rather than answer with the one before; the map still "
                        "comes from the collector (default: none; docs/mgr-module.md)")
    p.add_argument("--event-store", default=os.environ.get("CALAMARI_EVENT_STORE"),
                   help="event store URL: sqlite:///PATH (default: events.db in the data dir) or "
                        "postgresql://USER:PASS@HOST:PORT/DBNAME[?table=calamari_events]; "
                        "$CALAMARI_EVENT_STORE keeps a password off the command line")
    ha = p.add_argument_group("several servers on one PostgreSQL store (docs/high-availability.md)")
    ha.add_argument("--lease-time", type=_lease_seconds, default=5.0, metavar="SECONDS",
                    help="how long the active server's lease lasts without renewal (renewed every third of it); "
                         "a standby takes over at most about this long after the active one died (default 5)")
    ha.add_argument("--advertise-url", default=None, metavar="URL",
                    help="the address of this server's API that standbys name to clients when it is active "
                         "(default http://<--api>)")
    p.add_argument("--snapshot-every-events", type=int, default=HISTORY_SPACING)
    p.add_argument("--snapshot-every-seconds", type=float, default=300.0)
    p.add_argument("--history-snapshots", type=_count, default=HISTORY_KEEP, metavar="N",
                   help=f"older snapshots kept to answer history queries fast, one per {HISTORY_SPACING:,} events "
                        f"(default {HISTORY_KEEP}; 0 keeps none: past states then replay from the newest kept)")
    p.add_argument("--threads", type=int, default=8, help="API worker threads")
    p.add_argument("--whisper-retention", default=DEFAULT_RETENTION,
                   help="time-series archives of new whisper files, e.g. 1m:1d,5m:30d,1h:1y (docs/metrics.md)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--alert-window", type=_positive_seconds, default=1800.0, metavar="SECONDS",
                   help="how far back the changes recorded with each alert reach (docs/alerts.md)")
    p.add_argument("--alert-retention", type=_duration, default=30 * 86400.0, metavar="DURATION",
                   help="resolved alerts and ended silences older than this leave the live model and its lists "
                        "(history keeps them): e.g. 30d, 12h, or seconds (default 30d; docs/alerts.md)")
    p.add_argument("--notification-retention", type=_duration, default=7 * 86400.0, metavar="DURATION",
                   help="delivered, given-up and cancelled notifications older than this leave the live outbox "
                        "(history keeps them): e.g. 7d (default 7d; docs/notifications.md)")
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
    tune_allocator()  # before any thread: large answers must not stay in per-thread heaps
    # A thread woken by I/O (the bus, the HTTP loop) waits for the interpreter while another
    # computes for up to this long (Python's default: 5 ms, as long as a whole change takes to
    # cross calamari); 1 ms costs a few more hand-overs between busy threads, nothing else.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        server = build_server(args)  # the composition root: every part built, started and wired
    except StartupError as err:
        print(f"calamari-server: {err}", file=sys.stderr)
        return 2
    # The restored model is long-lived: keep the cyclic collector from walking it again and again
    # (it showed as p99 spikes of the large list routes).
    gc.freeze()
    host, _, port = args.api.rpartition(":")
    try:
        http = create_http_server(server.app, host or "127.0.0.1", int(port), args.threads, limits,
                                  at_once=at_once_for(server.app))
    except BaseException:
        server.stop()
        raise
    server.answering()  # the socket listens: what can wait for it starts now
    stop = threading.Event()

    def shutdown(*_: object) -> None:
        stop.set()
        http.close()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    def step_down() -> None:
        # Another server took the active lease: what this one holds in memory may never be
        # stored, so it ends; restarted, it follows the store as a standby.
        server.lost.wait()
        if not stop.is_set():
            log.error("this server is no longer the active one: exiting (exit status %d)", EXIT_LEASE_LOST)
            shutdown()

    watcher = None
    if server.high_availability is not None:  # only servers sharing a store can lose the lease
        watcher = threading.Thread(target=step_down, name="step-down", daemon=True)
        watcher.start()
    log.info("API on http://%s:%s/api/v2/", host, port)
    try:
        http.run()
    except (OSError, ValueError):
        if not stop.is_set():
            raise
    finally:
        server.stop()
        lost = server.lost.is_set()
        if watcher is not None:
            stop.set()
            server.lost.set()  # ends the watcher (stop is set: it does nothing more)
            watcher.join(5)
    return EXIT_LEASE_LOST if lost else 0


if __name__ == "__main__":
    sys.exit(main())
