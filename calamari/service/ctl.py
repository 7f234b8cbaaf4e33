"""`calamari-ctl`: administration on a data dir (works whether or not the server is running)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import orjson

from calamari.adapters.event_store import EventStore, EventStoreError, event_record, unavailable_reason
from calamari.adapters.snapshots import HISTORY_KEEP_ALL, load_model, write_snapshot
from calamari.service import cluster_cli, history_cli, key_cli, user_cli
from calamari.service.model import ServiceConfig


def _config(args: argparse.Namespace) -> ServiceConfig:
    return ServiceConfig(data_dir=args.data_dir, event_store_url=args.event_store)


def cmd_events(args: argparse.Namespace) -> int:
    store = EventStore(_config(args).store_url)
    out = sys.stdout.buffer
    for position, event in store.read(after=args.since):
        out.write(orjson.dumps(event_record(position, event)) + b"\n")
    out.flush()
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from calamari.adapters.curve_keys import server_key_dir
    from calamari.service.control import ServerNotRunning, call_running_server

    try:  # a running server writes it itself, from what it has persisted
        reply = call_running_server(server_key_dir(args.data_dir), {"op": "snapshot"}, timeout=120)
    except ServerNotRunning:
        reply = None
    if reply is not None:
        if not reply.get("ok"):
            print(f"calamari-ctl: {reply.get('error', 'failed')}", file=sys.stderr)
            return 2
        print(f"snapshot at position {reply['position']} (written by the running server)")
        return 0
    config = _config(args)
    store = EventStore(config.store_url)
    model, position = load_model(config.snapshot_dir, store)
    path = write_snapshot(config.snapshot_dir, position, model, HISTORY_KEEP_ALL)
    print(f"snapshot at position {position}: {path}")
    return 0


COMMANDS: dict[str, Any] = {"events": cmd_events, "snapshot": cmd_snapshot}
EXTENSIONS: list[Any] = []  # later parts register sub-commands here: fn(subparsers)
EXTENSIONS.append(history_cli.add_commands)  # history, diff, events export|import
EXTENSIONS.append(user_cli.add_commands)  # user add|list
EXTENSIONS.append(key_cli.add_commands)  # key list|accept|reject|delete|server
EXTENSIONS.append(cluster_cli.add_commands)  # cluster versions|reset-versions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calamari-ctl", description="calamari administration")
    parser.add_argument("--data-dir", default=os.environ.get("CALAMARI_DATA_DIR", "./var"))
    parser.add_argument("--event-store", default=os.environ.get("CALAMARI_EVENT_STORE"),
                        help="event store URL, as given to the server (default: sqlite in the data dir; "
                             "or $CALAMARI_EVENT_STORE, which keeps a password off the command line)")
    sub = parser.add_subparsers(dest="command", required=True)
    events = sub.add_parser("events", help="print stored events as JSON lines")
    events.add_argument("--since", type=int, default=0, help="only events after this position")
    events.set_defaults(func=cmd_events)
    snap = sub.add_parser("snapshot", help="write a snapshot of the model now")
    snap.set_defaults(func=cmd_snapshot)
    for extend in EXTENSIONS:
        extend(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.path.isdir(args.data_dir) and args.event_store is None and not getattr(args, "creates_data_dir", False):
        print(f"calamari-ctl: no data dir {args.data_dir!r}", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except EventStoreError as err:
        print(f"calamari-ctl: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`calamari-ctl events | head`): stop quietly, as shell tools do;
        # stdout goes to /dev/null so that the flush at exit does not fail again
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141  # 128 + SIGPIPE
    except Exception as err:
        reason = unavailable_reason(err)  # a full or read-only data disk: one line, not a traceback
        if reason is None:
            raise
        print(f"calamari-ctl: {reason} ({err})", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
