"""`calamari-ctl user add NAME --role admin|operator|read-only` (password on stdin), `user list`.

With the server running, the server itself makes the change (over the data dir's control
channel), because a running server does not read events other processes append; with it stopped,
User events are written to the data dir's event store directly (the first admin, or recovery)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from calamari.adapters.curve_keys import server_key_dir
from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import load_model
from calamari.domain.model import ClusterModel
from calamari.domain.user import ROLES, UserError, check_email, check_role, check_username
from calamari.service.auth import check_password, hash_password
from calamari.service.control import ServerNotRunning, call_running_server


def _store_and_model(args: argparse.Namespace) -> tuple[EventStore, ClusterModel]:
    from calamari.service.ctl import _config

    config = _config(args)
    store = EventStore(config.store_url)
    model, _ = load_model(config.snapshot_dir, store)
    return store, model


def cmd_user_add(args: argparse.Namespace) -> int:
    try:
        check_username(args.name)
        check_role(args.role)
        check_email(args.email)
        if sys.stdin.isatty():
            password = getpass.getpass("password: ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        check_password(password, args.name)
    except UserError as err:
        print(f"calamari-ctl: {err}", file=sys.stderr)
        return 2
    try:
        reply = call_running_server(server_key_dir(args.data_dir), {
            "op": "user_add", "name": args.name, "password": password, "role": args.role,
            "email": args.email, "by": "calamari-ctl"})
    except ServerNotRunning:
        reply = None
    if reply is not None:
        if not reply.get("ok"):
            print(f"calamari-ctl: {reply.get('error', 'failed')}", file=sys.stderr)
            return 1 if reply.get("status") == 409 else 2
        print(f"added user {args.name} ({args.role})")
        return 0
    store, model = _store_and_model(args)
    existing = model.users.get(args.name)
    if existing is not None and not existing.deleted:
        print(f"calamari-ctl: user {args.name!r} exists", file=sys.stderr)
        return 1
    model.add_user(args.name, args.role, hash_password(password), args.email, "calamari-ctl",
                   datetime.now(UTC))
    store.append(model.drain())
    print(f"added user {args.name} ({args.role})")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    _, model = _store_and_model(args)
    for user in sorted(model.users.values(), key=lambda u: u.username):
        if not user.deleted:
            print(f"{user.username}\t{user.role}\t{user.email}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="manage API users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add a user (password read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="read-only")
    add.add_argument("--email", default="")
    add.set_defaults(func=cmd_user_add)
    listing = user_sub.add_parser("list", help="list users")
    listing.set_defaults(func=cmd_user_list)
