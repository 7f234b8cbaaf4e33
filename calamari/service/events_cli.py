"""`calamari-ctl events [--since N]`: the stored events as JSON lines, oldest first (`events export`
and `events import`, the lossless form, are in history_cli.py)."""

from __future__ import annotations

import argparse
import sys

import orjson

from calamari.adapters.event_store import EventStore, event_record
from calamari.adapters.snapshots import kept_base_file
from calamari.service.ctl_data_dir import service_config


def cmd_events(args: argparse.Namespace) -> int:
    config = service_config(args)
    store = EventStore(config.store_url)
    base = kept_base_file(config.snapshot_dir, store)
    if base is not None and args.since < base[0]:
        print(f"calamari-ctl: the kept history starts after position {base[0]}: the events up to it are "
              "in the archives of `events archive`", file=sys.stderr)
    out = sys.stdout.buffer
    for position, event in store.read(after=args.since):
        out.write(orjson.dumps(event_record(position, event)) + b"\n")
    out.flush()
    return 0


def add_commands(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `events`; its parser is returned for the sub-commands history_cli adds to it."""
    events = sub.add_parser("events", help="print stored events as JSON lines")
    events.add_argument("--since", type=int, default=0, help="only events after this position")
    events.set_defaults(func=cmd_events)
    return events
