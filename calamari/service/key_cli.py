"""`calamari-ctl key list|accept ID|reject ID|delete ID|server`: collector keys.

With the server running, decisions go to it over the data dir's control channel (it applies them
at once and records them); with it stopped, they are written to the event store directly and the
server finds them when it starts."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from calamari.adapters.curve_keys import (
    SERVER_KEY_NAME,
    KeyFileError,
    fingerprint,
    load_or_create_key_pair,
    server_key_dir,
)
from calamari.domain.collector_key import CollectorKey, CollectorKeyError, check_key_id
from calamari.service.collector_keys import key_row
from calamari.service.control import ServerNotRunning, call_running_server

OPS = {"accept": "accepted", "reject": "rejected"}


def _by(args: argparse.Namespace) -> str:
    return args.by or f"{getpass.getuser()} (calamari-ctl)"


def _offline(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any]:
    """What the server would have answered, made on the stored events (server stopped)."""
    from calamari.adapters.event_store import EventStore
    from calamari.adapters.snapshots import load_model
    from calamari.service.ctl import _config

    config = _config(args)
    store = EventStore(config.store_url)
    model, _ = load_model(config.snapshot_dir, store)
    live = {k.key_id: k for k in model.collector_keys.values() if not k.deleted}
    if request["op"] == "list":
        return {"ok": True, "keys": [key_row(k) for _, k in sorted(live.items())]}
    key = live.get(request["id"])
    if key is None:
        return {"ok": False, "status": 404, "error": f"no key {request['id']!r}"}
    now = datetime.now(UTC)
    if request["op"] == "delete":
        model.collector_key_event(key.key_id, CollectorKey.CollectorKeyDeleted, now, by=request["by"])
    else:
        event_class = key.decision_event(OPS[request["op"]])
        if event_class is not None:
            model.collector_key_event(key.key_id, event_class, now, by=request["by"])
    store.append(model.drain())
    return {"ok": True, "key": key_row(key)}


def _call(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any]:
    try:
        return call_running_server(server_key_dir(args.data_dir), request)
    except ServerNotRunning:
        return _offline(args, request)


def _fail(reply: dict[str, Any]) -> int:
    print(f"calamari-ctl: {reply.get('error', 'failed')}", file=sys.stderr)
    return 1 if reply.get("status") == 404 else 2


def cmd_key_list(args: argparse.Namespace) -> int:
    reply = _call(args, {"op": "list"})
    if not reply.get("ok"):
        return _fail(reply)
    for row in reply["keys"]:
        print(f"{row['id']}\t{row['status']}\t{row['fingerprint']}\t{row['decided_by'] or '-'}")
    return 0


def cmd_key_decide(args: argparse.Namespace) -> int:
    try:
        check_key_id(args.id)
    except CollectorKeyError as err:
        print(f"calamari-ctl: {err}", file=sys.stderr)
        return 2
    reply = _call(args, {"op": args.key_command, "id": args.id, "by": _by(args)})
    if not reply.get("ok"):
        return _fail(reply)
    print(f"{args.key_command}ed key {args.id}" if args.key_command != "delete" else f"deleted key {args.id}")
    return 0


def cmd_key_server(args: argparse.Namespace) -> int:
    """The server's public key (made now if the server never ran), for collectors' --server-key."""
    try:
        pair = load_or_create_key_pair(server_key_dir(args.data_dir), SERVER_KEY_NAME)
    except (KeyFileError, OSError) as err:
        print(f"calamari-ctl: {err}", file=sys.stderr)
        return 2
    print(pair.public_key)
    if args.verbose:
        print(f"fingerprint {fingerprint(pair.public_key)}", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    key = sub.add_parser("key", help="collector keys: list, accept, reject, delete; the server's key")
    key_sub = key.add_subparsers(dest="key_command", required=True)
    listing = key_sub.add_parser("list", help="keys with their status (pre, accepted, rejected)")
    listing.set_defaults(func=cmd_key_list)
    for op, text in (("accept", "let a collector's maps reach the model"),
                     ("reject", "drop everything a collector sends"),
                     ("delete", "forget a key (its collector's next hello makes it pending again)")):
        parser = key_sub.add_parser(op, help=text)
        parser.add_argument("id", help="the key id: the collector's host name")
        parser.add_argument("--by", default=None, help="who decides (default: your login name)")
        parser.set_defaults(func=cmd_key_decide)
    server = key_sub.add_parser("server", help="print the server's public key (for --server-key)")
    server.add_argument("-v", "--verbose", action="store_true", help="also print its fingerprint")
    server.set_defaults(func=cmd_key_server, creates_data_dir=True)
