"""`calamari-collector`: the agent against a real cluster, a simulated one, or recorded captures."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from typing import Any

from calamari.protocol import DEFAULT_BUS_ENDPOINT
from collector.agent import Collector


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calamari-collector", description=__doc__)
    parser.add_argument("--server", default=DEFAULT_BUS_ENDPOINT, help="the server bus, tcp://HOST:PORT")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ceph-conf", metavar="PATH", help="a real cluster's ceph.conf")
    source.add_argument("--simulate", metavar="SPEC", help="e.g. hosts=50,osds=1000,pools=20,pgs=65536,seed=7")
    source.add_argument("--replay", metavar="DIR", help="recorded capture steps, one sub-folder each")
    parser.add_argument("--keyring", help="keyring for --ceph-conf (default: from the conf)")
    parser.add_argument("--name", default="client.admin", help="Ceph client name")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between replayed steps")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="with --replay: exit a few seconds after the last step was sent")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--heartbeat-interval", type=float, default=5.0)
    parser.add_argument("--stats-interval", type=float, default=10.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def build_source(args: argparse.Namespace) -> Any:
    if args.simulate:
        from collector.simulator import SimulatedCluster

        return SimulatedCluster(args.simulate)
    if args.replay:
        from collector.replay import ReplaySource

        return ReplaySource(args.replay, interval=args.interval)
    from collector.ceph_source import CephSource

    return CephSource(args.ceph_conf, keyring=args.keyring, name=args.name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        source = build_source(args)
    except Exception as exc:
        print(f"calamari-collector: cannot open the cluster source: {exc}", file=sys.stderr)
        return 2
    collector = Collector(
        source, args.server, poll_interval=args.poll_interval,
        heartbeat_interval=args.heartbeat_interval, stats_interval=args.stats_interval,
    )
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
