"""The data dir a `calamari-ctl` command works on: its configuration, the model its stored events
make, the running server that owns it, and who a decision is recorded as made by.

Every command module of calamari-ctl (`*_cli.py`) uses these; this module imports none of them,
nor ctl.py, which assembles them."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from calamari.adapters.curve_keys import server_key_dir
from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import load_model
from calamari.domain.model import ClusterModel
from calamari.service.control import ServerNotAnswering, ServerNotRunning, call_running_server
from calamari.service.model import ServiceConfig

ANSWER_TIMEOUT_S = 30.0  # how long a command waits for the running server's answer


def service_config(args: argparse.Namespace) -> ServiceConfig:
    """The data dir and event store named by the global options (`--data-dir`, `--event-store`)."""
    return ServiceConfig(data_dir=args.data_dir, event_store_url=args.event_store)


def stored_model(args: argparse.Namespace) -> tuple[EventStore, ClusterModel]:
    """The event store and the model folded from it (newest snapshot plus the events after it)."""
    config = service_config(args)
    store = EventStore(config.store_url)
    model, _ = load_model(config.snapshot_dir, store)
    return store, model


def ask_running_server(args: argparse.Namespace, request: dict[str, Any],
                       timeout: float | None = None) -> dict[str, Any] | None:
    """The reply of the server running on the data dir (waiting `timeout` seconds, default
    ANSWER_TIMEOUT_S), or None when none runs: the command then works on the stored events itself."""
    try:
        return call_running_server(server_key_dir(args.data_dir), request,
                                   timeout=ANSWER_TIMEOUT_S if timeout is None else timeout)
    except ServerNotRunning:
        return None
    except ServerNotAnswering as exc:
        # a failed reply, not None: the server runs, and a change written to the store behind its
        # back would be lost to it
        return {"ok": False, "status": 504, "error": str(exc)}


def decided_by(args: argparse.Namespace) -> str:
    """Who a decision is recorded as made by: `--by`, else the login name."""
    return args.by or f"{getpass.getuser()} (calamari-ctl)"


def print_error(message: str) -> None:
    """One line on standard error, in the form every calamari-ctl error takes."""
    print(f"calamari-ctl: {message}", file=sys.stderr)
