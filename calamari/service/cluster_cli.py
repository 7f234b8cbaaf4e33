"""`calamari-ctl cluster versions FSID` and `calamari-ctl cluster reset-versions FSID`.

The model refuses a map older than the version it already reflects, across restarts too. A
cluster really rebuilt under the same fsid starts its epochs again from 1: after checking that
it is so, an admin resets the versions (a SyncVersionsReset event), and the next map of any
version is diffed against the model. With the server running the reset goes to it over the data
dir's control channel; with it stopped, the event is written to the event store directly."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from calamari.adapters.curve_keys import server_key_dir
from calamari.service.control import ServerNotRunning, call_running_server


def _by(args: argparse.Namespace) -> str:
    return args.by or f"{getpass.getuser()} (calamari-ctl)"


def _stored_model(args: argparse.Namespace) -> tuple[Any, Any]:
    from calamari.adapters.event_store import EventStore
    from calamari.adapters.snapshots import load_model
    from calamari.service.ctl import _config

    config = _config(args)
    store = EventStore(config.store_url)
    model, _ = load_model(config.snapshot_dir, store)
    return store, model


def cmd_versions(args: argparse.Namespace) -> int:
    """The versions the stored events reflect (what a restarted server refuses to go below)."""
    store, model = _stored_model(args)
    try:
        if args.fsid not in model.clusters:
            print(f"calamari-ctl: no cluster {args.fsid!r}", file=sys.stderr)
            return 1
        for name, version in sorted(model.reflected.get(args.fsid, {}).items()):
            print(f"{name}\t{version}")
        return 0
    finally:
        store.close()


def _reset_offline(args: argparse.Namespace, by: str) -> dict[str, Any]:
    store, model = _stored_model(args)
    try:
        if args.fsid not in model.clusters:
            return {"ok": False, "status": 404, "error": f"no cluster {args.fsid!r}"}
        model.reset_versions(args.fsid, by, datetime.now(UTC))
        store.append(model.drain())
        return {"ok": True}
    finally:
        store.close()


def cmd_reset_versions(args: argparse.Namespace) -> int:
    by = _by(args)
    request = {"op": "cluster_reset_versions", "fsid": args.fsid, "by": by}
    try:
        reply = call_running_server(server_key_dir(args.data_dir), request)
        where = " (by the running server)"
    except ServerNotRunning:
        reply, where = _reset_offline(args, by), ""
    if not reply.get("ok"):
        print(f"calamari-ctl: {reply.get('error', 'failed')}", file=sys.stderr)
        return 1 if reply.get("status") == 404 else 2
    print(f"versions of cluster {args.fsid} reset{where}: the next map of any version is taken in")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    cluster = sub.add_parser("cluster", help="the map versions a cluster's model reflects")
    cluster_sub = cluster.add_subparsers(dest="cluster_command", required=True)
    versions = cluster_sub.add_parser("versions", help="print the newest version of each map the model reflects")
    versions.add_argument("fsid")
    versions.set_defaults(func=cmd_versions)
    reset = cluster_sub.add_parser(
        "reset-versions", help="accept lower map versions again (a cluster rebuilt under the same fsid)")
    reset.add_argument("fsid")
    reset.add_argument("--by", default="", help="who asks (default: the login name)")
    reset.set_defaults(func=cmd_reset_versions)
