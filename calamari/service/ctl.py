"""`calamari-ctl`: administration on a data dir (works whether or not the server is running).

This module only assembles the command line from the command modules (`*_cli.py`) and runs the
chosen command; what the commands share is in ctl_data_dir.py."""

from __future__ import annotations

import argparse
import os
import sys

from calamari.adapters.event_store import EventStoreError, unavailable_reason
from calamari.service import alerts_cli, cluster_cli, events_cli, history_cli, key_cli, snapshot_cli, user_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calamari-ctl", description="calamari administration")
    parser.add_argument("--data-dir", default=os.environ.get("CALAMARI_DATA_DIR", "./var"))
    parser.add_argument("--event-store", default=os.environ.get("CALAMARI_EVENT_STORE"),
                        help="event store URL, as given to the server (default: sqlite in the data dir; "
                             "or $CALAMARI_EVENT_STORE, which keeps a password off the command line)")
    sub = parser.add_subparsers(dest="command", required=True)
    events = events_cli.add_commands(sub)  # events
    snapshot_cli.add_commands(sub)  # snapshot
    history_cli.add_commands(sub, events)  # history, diff, events export|import
    user_cli.add_commands(sub)  # user add|list
    key_cli.add_commands(sub)  # key list|accept|reject|delete|server
    cluster_cli.add_commands(sub)  # cluster versions|reset-versions
    alerts_cli.add_commands(sub)  # alerts prometheus-rules
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (not os.path.isdir(args.data_dir) and args.event_store is None and not getattr(args, "creates_data_dir", False)
            and getattr(args, "needs_data_dir", True)):
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
