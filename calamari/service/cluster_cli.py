"""`calamari-ctl cluster versions FSID` and `calamari-ctl cluster reset-versions FSID`.

The model refuses a map older than the version it already reflects, across restarts too. A
cluster really rebuilt under the same fsid starts its epochs again from 1: after checking that
it is so, an admin resets the versions (a SyncVersionsReset event), and the next map of any
version is diffed against the model. With the server running the reset goes to it over the data
dir's control channel; with it stopped, the event is written to the event store directly."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from calamari.service.ctl_data_dir import ask_running_server, decided_by, print_error, stored_model


def cmd_versions(args: argparse.Namespace) -> int:
    """The versions the stored events reflect (what a restarted server refuses to go below)."""
    store, model = stored_model(args)
    try:
        if args.fsid not in model.clusters:
            print_error(f"no cluster {args.fsid!r}")
            return 1
        for name, version in sorted(model.reflected.get(args.fsid, {}).items()):
            print(f"{name}\t{version}")
        return 0
    finally:
        store.close()


def _reset_offline(args: argparse.Namespace, by: str) -> dict[str, Any]:
    store, model = stored_model(args)
    try:
        if args.fsid not in model.clusters:
            return {"ok": False, "status": 404, "error": f"no cluster {args.fsid!r}"}
        model.reset_versions(args.fsid, by, datetime.now(UTC))
        store.append(model.drain())
        return {"ok": True}
    finally:
        store.close()


def cmd_reset_versions(args: argparse.Namespace) -> int:
    by = decided_by(args)
    reply = ask_running_server(args, {"op": "cluster_reset_versions", "fsid": args.fsid, "by": by})
    where = " (by the running server)"
    if reply is None:
        reply, where = _reset_offline(args, by), ""
    if not reply.get("ok"):
        print_error(reply.get("error", "failed"))
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
