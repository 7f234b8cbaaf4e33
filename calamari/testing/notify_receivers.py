"""Real local receivers of notifications, for tests and bench/bench_notify.py: a webhook receiver
(http.server in a thread), an Alertmanager v2 receiver that checks the API's JSON shape, and an
SMTP server (aiosmtpd, from the `test` extra) with STARTTLS on a throwaway certificate and AUTH."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from calamari.testing.live import free_port

LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived
    answered: int | None = None  # the status it was answered with (None: not answered)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """An HTTP server on 127.0.0.1 that records every POST. `status` is what it answers (an int, or
    a function of the request); while `hold` is clear, it waits before answering (a receiver
    that took the request but has not answered yet)."""

    status: int | Callable[[Received], int] = 200
    certificate: tuple[Path, Path] | None = None  # (cert, key): serve https
    received: list[Received] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.hold.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                item = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length),
                                time.monotonic())
                with receiver.arrived:
                    receiver.received.append(item)
                    receiver.arrived.notify_all()
                receiver.hold.wait(60)
                status = receiver.status(item) if callable(receiver.status) else receiver.status
                answer = receiver.check(item) if status < 300 else None
                if answer is not None:
                    status = 400
                item.answered = status
                payload = json.dumps({"error": answer} if answer else {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.certificate[0]), str(self.certificate[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.certificate is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def check(self, item: Received) -> str | None:
        """Why the request is malformed for this receiver (None: it is fine)."""
        return None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} requests arrived, not {count}, in {timeout} s")
                self.arrived.wait(left)
            return list(self.received)

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def verify_webhook(secret: str, item: Received) -> bool:
    """What a receiver does with X-Calamari-Signature (docs/notifications.md)."""
    timestamp = item.headers.get("x-calamari-timestamp", "")
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + item.body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, item.headers.get("x-calamari-signature", ""))


def _rfc3339(value: Any) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


class AlertmanagerReceiver(HttpReceiver):
    """Answers like Alertmanager's `POST /api/v2/alerts`: 400 with a reason unless the body is a
    list of postable alerts (labels: a non-empty map of valid label names to strings, with an
    alertname; annotations: strings; startsAt/endsAt: RFC 3339 times, endsAt not before startsAt)."""

    def check(self, item: Received) -> str | None:
        if item.path != "/api/v2/alerts":
            return f"no route {item.path}"
        try:
            alerts = item.json()
        except ValueError:
            return "not JSON"
        if not isinstance(alerts, list) or not alerts:
            return "a list of alerts"
        for alert in alerts:
            if not isinstance(alert, dict) or set(alert) - {"labels", "annotations", "startsAt", "endsAt",
                                                            "generatorURL"}:
                return "an alert has unknown fields"
            labels = alert.get("labels")
            if not isinstance(labels, dict) or not labels or "alertname" not in labels:
                return "labels with an alertname are required"
            if any(not LABEL_NAME.match(k) or not isinstance(v, str) or not v for k, v in labels.items()):
                return "label names must match [A-Za-z_][A-Za-z0-9_]* and values be non-empty strings"
            if any(not isinstance(v, str) for v in (alert.get("annotations") or {}).values()):
                return "annotations must be strings"
            for name in ("startsAt", "endsAt"):
                if name in alert and not _rfc3339(alert[name]):
                    return f"{name} must be an RFC 3339 time"
            if "startsAt" in alert and "endsAt" in alert and \
                    datetime.fromisoformat(alert["endsAt"]) < datetime.fromisoformat(alert["startsAt"]):
                return "endsAt before startsAt"
        return None


def throwaway_certificate(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (openssl), as (cert, key) files."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class SmtpReceiver:
    """An SMTP server (aiosmtpd) on 127.0.0.1 that requires STARTTLS and AUTH with `username` and
    `password`, and keeps every message it accepted (`messages`: (envelope from, to, content)).
    `port` and `certificate` (cert, key) may be chosen beforehand (a server that comes up later)."""

    def __init__(self, directory: Path, username: str, password: str, port: int | None = None,
                 certificate: tuple[Path, Path] | None = None, implicit_tls: bool = False) -> None:
        """`implicit_tls`: TLS from the first byte (SMTPS, port 465 style) instead of STARTTLS."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.cert, key = certificate or throwaway_certificate(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert), str(key))
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.failed_logins = 0
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                receiver.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
                return "250 OK"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            ok = isinstance(data, LoginPassword) and data.login == username.encode() and \
                data.password == password.encode()
            if not ok:
                receiver.failed_logins += 1
            return AuthResult(success=ok, handled=False)

        self.port = port or free_port()
        tls = {"ssl_context": context} if implicit_tls else {"tls_context": context, "require_starttls": True}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticate,
                                     auth_required=True, auth_require_tls=not implicit_tls, **tls)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
