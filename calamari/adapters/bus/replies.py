"""What the server answers a collector: acknowledgements, resync and hello requests, commands."""

from __future__ import annotations

import time
from typing import Any

from calamari.adapters.bus.peers import CollectorSession
from calamari.adapters.bus.transport import RouterTransport
from calamari.protocol import ACK, COMMAND, HELLO_REQUEST, RESYNC


class Replies:
    """Encodes the server's messages and queues them on the transport."""

    def __init__(self, transport: RouterTransport) -> None:
        self.transport = transport

    def reply(self, session: CollectorSession, msg_type: str, body: dict[str, Any]) -> None:
        """Answer `session` from the serving thread."""
        self.transport.queue(session.identity, self.transport.encode(msg_type, body, session.fsid))

    def ack(self, session: CollectorSession, body: dict[str, Any]) -> None:
        self.reply(session, ACK, body)

    def resync(self, session: CollectorSession, names: list[str]) -> None:
        """Ask for whole copies of these sync objects (counted per collector)."""
        session.resyncs += 1
        self.reply(session, RESYNC, {"names": names})

    def ask_hello(self, session: CollectorSession) -> None:
        """Ask the collector to introduce itself, at most once a second."""
        now = time.monotonic()
        if now - session.last_hello_request > 1.0:
            session.last_hello_request = now
            self.reply(session, HELLO_REQUEST, {})

    def command(self, identity: bytes, body: dict[str, Any], fsid: str | None) -> None:
        """Send a command from any thread. ValueError when the protocol cannot carry it (e.g. an
        integer beyond 64 bits among its arguments), which fails the request that sent it."""
        try:
            frame = self.transport.encode(COMMAND, body, fsid)
        except (OverflowError, TypeError, ValueError) as exc:
            raise ValueError(f"the command cannot be encoded: {exc}") from None
        self.transport.send(identity, frame)
