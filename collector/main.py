"""`calamari-collector`: the agent against a real cluster, a simulated one, or recorded captures."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from typing import Any

from calamari.adapters.curve_keys import (
    COLLECTOR_KEY_NAME,
    ClientCurveKeys,
    KeyFileError,
    default_collector_key_dir,
    load_or_create_key_pair,
    read_public_key,
)
from calamari.protocol import DEFAULT_BUS_ENDPOINT
from collector.agent import BusServer, Collector
from collector.ceph_mgr.calamari_notify.wire import DEFAULT_PORT as DEFAULT_NOTIFY_PORT
from collector.failover import DEFAULT_FAILOVER_AFTER_S
from collector.mgr_notify import mgr_notify_endpoints

SWITCH_INTERVAL_S = 0.001  # sys.setswitchinterval: see main()


def positive_seconds(text: str) -> float:
    """A number of seconds above 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0 seconds: {text}")
    return value


def core_share(text: str) -> float:
    """A share of one CPU core, in (0, 1] (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a share of one core is above 0 and at most 1: {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calamari-collector", description=__doc__)
    parser.add_argument("--server", action="append", metavar="tcp://HOST:PORT[,...]",
                        help=f"the server bus (default {DEFAULT_BUS_ENDPOINT}). For active/standby servers give "
                             "each: the option repeated or a comma list; the collector talks to one at a time and "
                             "moves to the next when it has not answered for --failover-after seconds "
                             "(docs/collector-failover.md)")
    parser.add_argument("--server-key", action="append", metavar="PATH|Z85",
                        help="the server's CURVE public key (`calamari-ctl key server` prints it); with several "
                             "servers repeated in the order of --server, or given once for all")
    parser.add_argument("--failover-after", type=positive_seconds, default=DEFAULT_FAILOVER_AFTER_S,
                        metavar="SECONDS",
                        help="with several servers: seconds without an answer from the one talked to before "
                             f"moving to the next (default {DEFAULT_FAILOVER_AFTER_S:g}; a quiet server is "
                             "probed every third of this)")
    parser.add_argument("--key-dir", default=None,
                        help="where this collector's key pair lives, made on first start "
                             f"(default {default_collector_key_dir()})")
    parser.add_argument("--insecure", action="store_true",
                        help="plain TCP, no encryption or authentication (a server run with --insecure-bus)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ceph-conf", metavar="PATH", help="a real cluster's ceph.conf")
    source.add_argument("--simulate", metavar="SPEC", help="e.g. hosts=50,osds=1000,pools=20,pgs=65536,seed=7")
    source.add_argument("--replay", metavar="DIR", help="recorded capture steps, one sub-folder each")
    parser.add_argument("--keyring", help="keyring for --ceph-conf (default: from the conf)")
    parser.add_argument("--name", default="client.admin", help="Ceph client name")
    parser.add_argument("--log-dir", metavar="DIR",
                        help="with --ceph-conf: the Ceph log files the server may list and tail (default: the "
                             "directory of the conf's `log file` setting, else /var/log/ceph)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between replayed steps")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="with --replay: exit a few seconds after the last step was sent")
    parser.add_argument("--poll-interval", type=float, default=1.0,
                        help="seconds between full polls (PG summary, usage, cluster log; default 1)")
    parser.add_argument("--check-interval", type=positive_seconds, default=0.05,
                        help="with --ceph-conf: seconds between version checks, which send a changed map at "
                             "once (default 0.05; paced further to stay within --cpu-share)")
    parser.add_argument("--ceph-client", choices=("auto", "librados", "bridge", "cli"), default="auto",
                        help="with --ceph-conf: librados in the collector; 'bridge': librados through the ceph "
                             "CLI's interpreter (one lasting process); 'cli': one ceph process per command; "
                             "'auto' (default): the first of these that works")
    parser.add_argument("--mgr-notify", default=f"127.0.0.1:{DEFAULT_NOTIFY_PORT}", metavar="HOST[:PORT][,...]|none",
                        help="with --ceph-conf: where the calamari_notify mgr module listens (tried in turn); while "
                             "it is connected, new maps are read the moment the mgr has them and the version "
                             "checks stop; 'none': checks only (default %(default)s; docs/mgr-module.md)")
    parser.add_argument("--cpu-share", type=core_share, default=0.05,
                        help="with --ceph-conf: the share of one core the steady reads of the cluster may use "
                             "(default 0.05)")
    parser.add_argument("--heartbeat-interval", type=float, default=5.0)
    parser.add_argument("--stats-interval", type=float, default=10.0)
    parser.add_argument("--ceph-timeout", type=float, default=10.0,
                        help="seconds a Ceph command may take before the cluster counts as unreachable")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line. A Z85 key may begin with '-', which argparse would take for an
    option, so `--server-key VALUE` is read as `--server-key=VALUE` whatever VALUE looks like."""
    words = list(sys.argv[1:] if argv is None else argv)
    joined: list[str] = []
    index = 0
    while index < len(words):
        if words[index] == "--server-key" and index + 1 < len(words):
            joined.append(f"--server-key={words[index + 1]}")
            index += 2
            continue
        joined.append(words[index])
        index += 1
    return build_parser().parse_args(joined)


def server_endpoints(args: argparse.Namespace) -> list[str]:
    """The --server endpoints in order (repeated options and comma lists); ValueError for an
    empty or repeated one."""
    endpoints = [part.strip() for value in (args.server or [DEFAULT_BUS_ENDPOINT]) for part in value.split(",")]
    if any(not endpoint for endpoint in endpoints):
        raise ValueError("--server: an empty endpoint (tcp://HOST:PORT expected)")
    repeated = sorted({endpoint for endpoint in endpoints if endpoints.count(endpoint) > 1})
    if repeated:
        raise ValueError(f"--server: {repeated[0]} is given twice")
    return endpoints


def build_source(args: argparse.Namespace) -> Any:
    if args.simulate:
        from collector.simulator import SimulatedCluster

        return SimulatedCluster(args.simulate)
    if args.replay:
        from collector.replay import ReplaySource

        return ReplaySource(args.replay, interval=args.interval)
    from collector.ceph_source import CephSource

    return CephSource(args.ceph_conf, keyring=args.keyring, name=args.name, timeout=args.ceph_timeout,
                      log_dir=args.log_dir, client=args.ceph_client, cpu_share=args.cpu_share,
                      mgr_notify=mgr_notify_endpoints(args.mgr_notify))


def build_curves(args: argparse.Namespace, servers: int = 1) -> list[ClientCurveKeys] | None:
    """The CURVE keys to use with each of `servers` servers, in order: the collector's own pair
    (one key dir, made on first start) with each server's public key; None with --insecure.
    Raises KeyFileError with the reason when they cannot be had."""
    if args.insecure:
        return None
    if not args.server_key:
        raise KeyFileError("--server-key PATH|Z85 is required (`calamari-ctl key server` prints it); "
                           "--insecure only works against a server run with --insecure-bus")
    if len(args.server_key) not in (1, servers):
        raise KeyFileError(f"{len(args.server_key)} --server-key for {servers} servers: give one for each "
                           "server, in the same order, or one for all")
    server_keys = [read_public_key(key) for key in args.server_key]
    key_dir = args.key_dir or default_collector_key_dir()
    try:
        pair = load_or_create_key_pair(key_dir, COLLECTOR_KEY_NAME)
    except OSError as exc:
        raise KeyFileError(f"cannot keep a key pair in {key_dir}: {exc.strerror} (see --key-dir)") from None
    return [ClientCurveKeys(pair, server_keys[index if len(server_keys) > 1 else 0]) for index in range(servers)]


def build_curve(args: argparse.Namespace) -> ClientCurveKeys | None:
    """The CURVE keys for the first (or only) server; None with --insecure."""
    curves = build_curves(args)
    return curves[0] if curves else None


def main(argv: list[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["mgr-module"]:
        from collector.mgr_module_install import main as mgr_module_main

        return mgr_module_main(words[1:])
    args = parse_args(words)
    # the thread that reads the mgr module's news must not wait 5 ms (Python's default) for the
    # interpreter while the agent parses a poll: 1 ms
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        endpoints = server_endpoints(args)
        mgr_notify_endpoints(args.mgr_notify)
        curves = build_curves(args, len(endpoints))
    except (KeyFileError, ValueError) as exc:
        print(f"calamari-collector: {exc}", file=sys.stderr)
        return 2
    servers = [BusServer(endpoint, curves[index] if curves else None) for index, endpoint in enumerate(endpoints)]
    curve = servers[0].curve
    try:
        source = build_source(args)
    except Exception as exc:
        print(f"calamari-collector: cannot open the cluster source: {exc}", file=sys.stderr)
        return 2
    collector = Collector(
        source, poll_interval=args.poll_interval, check_interval=args.check_interval,
        heartbeat_interval=args.heartbeat_interval, stats_interval=args.stats_interval,
        servers=servers, failover_after=args.failover_after,
    )
    if curve is not None:
        logging.getLogger("calamari.collector").info(
            "collector key %s: the server applies nothing from %s until an admin accepts it "
            "(calamari-ctl key accept %s)", curve.client.fingerprint, source.hostname, source.hostname)
    stopped = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    collector.start()
    try:
        while not stopped.wait(0.5):
            if args.replay and args.exit_when_done and getattr(source, "done", False):
                time.sleep(max(2.0, args.poll_interval * 2))
                break
    finally:
        collector.stop()
        source.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
