"""`calamari-ctl snapshot`: a snapshot of the model now. A running server writes it itself, from
what it has persisted; with the server stopped, it is folded from the stored events here."""

from __future__ import annotations

import argparse

from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import HISTORY_KEEP_ALL, load_model, write_snapshot
from calamari.service.ctl_data_dir import ask_running_server, print_error, service_config

SNAPSHOT_TIMEOUT_S = 120.0  # the server writes the whole model first


def cmd_snapshot(args: argparse.Namespace) -> int:
    reply = ask_running_server(args, {"op": "snapshot"}, timeout=SNAPSHOT_TIMEOUT_S)
    if reply is not None:
        if not reply.get("ok"):
            print_error(reply.get("error", "failed"))
            return 2
        print(f"snapshot at position {reply['position']} (written by the running server)")
        return 0
    config = service_config(args)
    model, position = load_model(config.snapshot_dir, EventStore(config.store_url))
    path = write_snapshot(config.snapshot_dir, position, model, HISTORY_KEEP_ALL)
    print(f"snapshot at position {position}: {path}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    snap = sub.add_parser("snapshot", help="write a snapshot of the model now")
    snap.set_defaults(func=cmd_snapshot)
