"""The local channel `calamari-ctl` uses to reach a running server (keys, users, snapshots).

A running server does not read events other processes append, so while it runs, changes that
`calamari-ctl` makes (key decisions, users) must be made by the server itself. It listens on a
loopback port named, with a random token, in <data-dir>/keys/control.json (mode 0600): whoever
can read the data dir may use it, which is the same trust as reading the event store. One JSON
line in, one JSON line out."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

from calamari.domain.collector_key import CollectorKeyError
from calamari.service.collector_keys import CollectorKeyService, key_row

log = logging.getLogger(__name__)

CONTROL_FILE = "control.json"
MAX_REQUEST_BYTES = 64 * 1024


class ServerNotRunning(Exception):
    """No server answers on the data dir's control channel."""


class ServerNotAnswering(Exception):
    """A server took the request on the control channel but gave no answer in time."""


def control_path(key_dir: str) -> str:
    return os.path.join(key_dir, CONTROL_FILE)


Handler = Callable[[dict[str, Any]], dict[str, Any]]


def key_handlers(keys: CollectorKeyService) -> dict[str, Handler]:
    """The key operations: {"op": "list"} or {"op": "accept"|"reject"|"delete", "id", "by",
    "fingerprint" (optional: which of the host's keys)}."""
    def handle(request: dict[str, Any]) -> dict[str, Any]:
        return handle_key_request(keys, request)
    return {op: handle for op in ("list", "accept", "reject", "delete")}


def handle_key_request(keys: CollectorKeyService, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    ttl_s = keys.limits.pending_ttl_s
    try:
        if op == "list":
            return {"ok": True, "keys": [key_row(k, ttl_s) for k in keys.keys()]}
        key_id, by, fingerprint = request.get("id"), request.get("by"), request.get("fingerprint")
        if not isinstance(key_id, str) or not isinstance(by, str) or not by:
            return {"ok": False, "status": 400, "error": "id and by are required strings"}
        if fingerprint is not None and not isinstance(fingerprint, str):
            return {"ok": False, "status": 400, "error": "fingerprint must be a string"}
        if op in ("accept", "reject"):
            key = keys.decide(key_id, "accepted" if op == "accept" else "rejected", by, fingerprint)
            return {"ok": True, "key": key_row(key, ttl_s)}
        if op == "delete":
            return {"ok": True, "deleted": keys.delete(key_id, by, fingerprint)}
    except KeyError:
        return {"ok": False, "status": 404, "error": f"no key {request.get('id')!r}"}
    except CollectorKeyError as exc:
        return {"ok": False, "status": 400, "error": str(exc)}
    return {"ok": False, "status": 400, "error": f"unknown op {op!r}"}


def snapshot_handler(service: Any) -> dict[str, Handler]:
    """{"op": "snapshot"}: a snapshot of everything written so far, by the server's own writer."""
    def handle(request: dict[str, Any]) -> dict[str, Any]:
        position = service.snapshot()
        if position is None:
            return {"ok": False, "status": 503, "error": "the snapshot was not written in time"}
        return {"ok": True, "position": position}
    return {"snapshot": handle}


def cluster_handlers(service: Any) -> dict[str, Handler]:
    """{"op": "cluster_reset_versions", "fsid", "by"}: lower map versions are accepted again."""
    from calamari.service.model import NotPersisted

    def reset(request: dict[str, Any]) -> dict[str, Any]:
        fsid, by = request.get("fsid"), request.get("by")
        if not isinstance(fsid, str) or not isinstance(by, str) or not by:
            return {"ok": False, "status": 400, "error": "fsid and by are required strings"}
        try:
            service.reset_sync_versions(fsid, by)
        except KeyError:
            return {"ok": False, "status": 404, "error": f"no cluster {fsid!r}"}
        except NotPersisted as exc:
            return {"ok": False, "status": 503, "error": str(exc)}
        return {"ok": True}

    return {"cluster_reset_versions": reset}


def user_handlers(auth: Any) -> dict[str, Handler]:
    """{"op": "user_add", "name", "password", "role", "email", "by"} and {"op": "user_list"}."""
    from calamari.domain.user import UserError

    def add(request: dict[str, Any]) -> dict[str, Any]:
        fields = {k: request.get(k) for k in ("name", "password", "role", "by")}
        if not all(isinstance(v, str) and v for v in fields.values()):
            return {"ok": False, "status": 400, "error": "name, password, role and by are required strings"}
        try:
            auth.add_user(fields["name"], fields["password"], fields["role"], fields["by"],
                          email=str(request.get("email") or ""))
        except UserError as err:
            return {"ok": False, "status": 409 if "exists" in str(err) else 400, "error": str(err)}
        return {"ok": True}

    def listing(request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "users": [{"username": u.username, "role": u.role, "email": u.email}
                                      for u in sorted(auth.users(), key=lambda u: u.username)]}

    return {"user_add": add, "user_list": listing}


def notify_handlers(notifier: Any) -> dict[str, Handler]:
    """{"op": "notify_alert", "alert": {...}}: hand an alert document to the notifier, as the
    alerting service does when an alert changes (for tests and for alert sources outside)."""
    from calamari.domain.notifications.routing import AlertDocumentError, check_alert

    def notify(request: dict[str, Any]) -> dict[str, Any]:
        try:
            check_alert(request.get("alert"))
        except AlertDocumentError as err:
            return {"ok": False, "status": 400, "error": str(err)}
        notifier.alert_changed(request["alert"])
        return {"ok": True}

    return {"notify_alert": notify}


class ControlServer:
    """Serves the registered operations on 127.0.0.1 (an ephemeral port) while the server runs."""

    def __init__(self, key_dir: str, handlers: dict[str, Handler]) -> None:
        self.handlers = dict(handlers)
        self.path = control_path(key_dir)
        self._token = secrets.token_urlsafe(32)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.5)
        self._listener = listener
        port = listener.getsockname()[1]
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"port": port, "token": self._token, "pid": os.getpid()}, f)
        os.replace(tmp, self.path)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="calamari-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        with contextlib.suppress(OSError):
            with open(self.path) as f:
                mine = json.load(f).get("token") == self._token
            if mine:  # a newer server on the same data dir keeps its file
                os.unlink(self.path)

    def _serve(self) -> None:
        listener = self._listener
        assert listener is not None
        try:
            while not self._stopping.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                with conn:
                    self._answer(conn)
        finally:
            listener.close()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)
        try:
            line = conn.makefile("rb").readline(MAX_REQUEST_BYTES)
            try:
                request = json.loads(line)
            except ValueError:
                request = None
            if not isinstance(request, dict):
                reply: dict[str, Any] = {"ok": False, "status": 400, "error": "one JSON object per line"}
            elif not hmac.compare_digest(str(request.get("token", "")), self._token):
                reply = {"ok": False, "status": 403, "error": "wrong token"}
            elif request.get("op") not in self.handlers:
                reply = {"ok": False, "status": 400, "error": f"unknown op {request.get('op')!r}"}
            else:
                try:
                    reply = self.handlers[request["op"]](request)
                except Exception as exc:  # tell calamari-ctl, rather than leave it without an answer
                    log.exception("control request %r failed", request.get("op"))
                    reply = {"ok": False, "status": 500, "error": f"the server could not do it: {exc}"}
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except Exception:
            log.exception("control request failed")


def call_running_server(key_dir: str, request: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send `request` to the server running on this data dir; ServerNotRunning when none is,
    ServerNotAnswering when one took it but did not answer within `timeout` seconds."""
    try:
        with open(control_path(key_dir)) as f:
            info = json.load(f)
        port, token = int(info["port"]), str(info["token"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ServerNotRunning from None
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=2.0)
    except OSError:
        raise ServerNotRunning from None  # a stale file left by a server that died
    with conn:
        conn.settimeout(timeout)
        try:
            conn.sendall(json.dumps({**request, "token": token}).encode() + b"\n")
            line = conn.makefile("rb").readline(16 * 1024 * 1024)
        except TimeoutError:
            raise ServerNotAnswering(f"the running server did not answer within {timeout:g} s") from None
        except OSError:
            raise ServerNotRunning from None  # it went away while we asked, as when it closes without a word
    try:
        reply = json.loads(line)
    except ValueError:
        raise ServerNotRunning from None
    if not isinstance(reply, dict):
        raise ServerNotRunning
    return reply
