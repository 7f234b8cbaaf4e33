"""`calamari-ctl key list|accept ID|reject ID|delete ID [--fingerprint FP]|server`: collector keys.

With the server running, decisions go to it over the data dir's control channel (it applies them
at once and records them); with it stopped, they are written to the event store directly and the
server finds them when it starts."""

from __future__ import annotations

import argparse
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
from calamari.domain.collector_key import (
    ACCEPTED,
    CollectorKey,
    CollectorKeyError,
    RegistrationLimits,
    check_key_id,
    on_accepting,
)
from calamari.service.collector_keys import key_row
from calamari.service.ctl_data_dir import ask_running_server, decided_by, print_error, stored_model

OPS = {"accept": "accepted", "reject": "rejected"}


def _offline(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any]:
    """What the server would have answered, made on the stored events (server stopped)."""
    store, model = stored_model(args)
    now = datetime.now(UTC)
    ttl_s = RegistrationLimits().pending_ttl_s
    live = sorted((k for k in model.collector_keys.values() if k.is_live(now, ttl_s)),
                  key=lambda k: (k.key_id, k.pending_since))
    if request["op"] == "list":
        return {"ok": True, "keys": [key_row(k, ttl_s) for k in live]}
    keys = [k for k in live if k.key_id == request["id"]
            and request.get("fingerprint") in (None, k.fingerprint)]
    if not keys:
        return {"ok": False, "status": 404, "error": f"no key {request['id']!r}"}
    if request["op"] == "delete":
        for key in keys:
            model.collector_key_event(key, CollectorKey.CollectorKeyDeleted, now, by=request["by"])
        store.append(model.drain())
        return {"ok": True, "deleted": len(keys)}
    if len(keys) > 1:
        return {"ok": False, "status": 400, "error": f"{len(keys)} keys are registered for {request['id']}: name "
                f"one with --fingerprint ({', '.join(k.fingerprint for k in keys)})"}
    key, status = keys[0], OPS[request["op"]]
    event_class = key.decision_event(status)
    if event_class is not None:
        model.collector_key_event(key, event_class, now, by=request["by"])
    if status == ACCEPTED:  # as the server does: one accepted key per host
        for other, other_event, fields in on_accepting(key, live):
            model.collector_key_event(other, other_event, now, by=request["by"], **fields)
    store.append(model.drain())
    return {"ok": True, "key": key_row(key, ttl_s)}


def _call(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any]:
    reply = ask_running_server(args, request)
    return reply if reply is not None else _offline(args, request)


def _fail(reply: dict[str, Any]) -> int:
    print_error(reply.get("error", "failed"))
    return 1 if reply.get("status") == 404 else 2


def cmd_key_list(args: argparse.Namespace) -> int:
    reply = _call(args, {"op": "list"})
    if not reply.get("ok"):
        return _fail(reply)
    for row in reply["keys"]:
        # the first four columns as before; then where it registered from and when a pending key expires
        print(f"{row['id']}\t{row['status']}\t{row['fingerprint']}\t{row['decided_by'] or '-'}\t"
              f"{row.get('registered_from') or '-'}\t{row.get('expires_at') or '-'}")
    return 0


def cmd_key_decide(args: argparse.Namespace) -> int:
    try:
        check_key_id(args.id)
    except CollectorKeyError as err:
        print_error(str(err))
        return 2
    request = {"op": args.key_command, "id": args.id, "by": decided_by(args)}
    if args.fingerprint:
        request["fingerprint"] = args.fingerprint
    reply = _call(args, request)
    if not reply.get("ok"):
        return _fail(reply)
    if args.key_command != "delete":
        print(f"{args.key_command}ed key {args.id} ({reply['key']['fingerprint']})")
    else:
        count = reply.get("deleted", 1)
        print(f"deleted key {args.id}" if count == 1 else f"deleted {count} keys of {args.id}")
    return 0


def cmd_key_server(args: argparse.Namespace) -> int:
    """The server's public key (made now if the server never ran), for collectors' --server-key."""
    try:
        pair = load_or_create_key_pair(server_key_dir(args.data_dir), SERVER_KEY_NAME)
    except (KeyFileError, OSError) as err:
        print_error(str(err))
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
        parser.add_argument("--fingerprint", default=None,
                            help="which of the host's keys (SHA256:..., as `key list` shows; needed when it has "
                                 "several, e.g. two pending; without it, delete forgets all of them)")
        parser.add_argument("--by", default=None, help="who decides (default: your login name)")
        parser.set_defaults(func=cmd_key_decide)
    server = key_sub.add_parser("server", help="print the server's public key (for --server-key)")
    server.add_argument("-v", "--verbose", action="store_true", help="also print its fingerprint")
    server.set_defaults(func=cmd_key_server, creates_data_dir=True)
