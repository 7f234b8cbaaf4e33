"""`calamari-ctl user add NAME --role admin|operator|read-only` (password on stdin), `user list`.

With the server running, the server itself makes the change (over the data dir's control
channel), because a running server does not read events other processes append; with it stopped,
User events are written to the data dir's event store directly (the first admin, or recovery)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from calamari.domain.user import ROLES, UserError, check_email, check_role, check_username
from calamari.service.auth import check_password, hash_password
from calamari.service.ctl_data_dir import ask_running_server, print_error, stored_model


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
        print_error(str(err))
        return 2
    reply = ask_running_server(args, {"op": "user_add", "name": args.name, "password": password, "role": args.role,
                                      "email": args.email, "by": "calamari-ctl"})
    if reply is not None:
        if not reply.get("ok"):
            print_error(reply.get("error", "failed"))
            return 1 if reply.get("status") == 409 else 2
        print(f"added user {args.name} ({args.role})")
        return 0
    store, model = stored_model(args)
    existing = model.users.get(args.name)
    if existing is not None and not existing.deleted:
        print_error(f"user {args.name!r} exists")
        return 1
    model.add_user(args.name, args.role, hash_password(password), args.email, "calamari-ctl",
                   datetime.now(UTC))
    store.append(model.drain())
    print(f"added user {args.name} ({args.role})")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    _, model = stored_model(args)
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
