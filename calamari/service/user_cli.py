"""`calamari-ctl user add NAME --role admin|operator|read-only` (password on stdin), `user list`.

Writes User events to the event store of the data dir. Use it while the server is stopped (the
first admin, or recovery); with the server running, manage users through /api/v2/user, because a
running server does not read events other processes append."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import load_model
from calamari.domain.user import ROLES, UserError, check_role, check_username
from calamari.service.auth import check_password, hash_password


def _store_and_model(args: argparse.Namespace):
    from calamari.service.ctl import _config

    config = _config(args)
    store = EventStore(config.store_url)
    model, _ = load_model(config.snapshot_dir, store)
    return store, model


def cmd_user_add(args: argparse.Namespace) -> int:
    try:
        check_username(args.name)
        check_role(args.role)
        if sys.stdin.isatty():
            password = getpass.getpass("password: ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        check_password(password)
    except UserError as err:
        print(f"calamari-ctl: {err}", file=sys.stderr)
        return 2
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
