"""What the server answers a collector: acknowledgements, resync and hello requests, commands.

A sync object is asked for (`resync`) once per collector session until a copy of the version asked
for, or a newer one, has arrived and been handed to the model (applied or refused), or until the
resync time-out has passed: the heartbeats and deltas that come meanwhile would otherwise ask for
another whole copy each (at 30,000 OSDs, 165 MB decoded) while the first is still on its way."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from calamari.adapters.bus.peers import CollectorSession
from calamari.adapters.bus.transport import RouterTransport
from calamari.protocol import ACK, COMMAND, HELLO_REQUEST, RESYNC
from calamari.protocol.envelope import is_int

log = logging.getLogger("calamari.bus")

# How long a copy asked for may take before it is asked for again: long enough for the collector
# to read and encode a 30,000-OSD map and for this server to receive, decode and ingest it on a
# loaded machine. A copy is lost on a live session only when the collector could not read or send
# it (it says so in its heartbeats); a restarted collector is a new session, asked at once.
RESYNC_TIMEOUT_S = 120.0
# ... and at least this many times what the last copy of that sync object took on the session, so
# that the time-out grows with the map's size and the machine's load as measured.
RESYNC_TIMEOUT_FACTOR = 3.0


class Replies:
    """Encodes the server's messages and queues them on the transport."""

    def __init__(self, transport: RouterTransport, resync_timeout_s: float = RESYNC_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`resync_timeout_s`: see RESYNC_TIMEOUT_S; `clock`: monotonic seconds."""
        if not resync_timeout_s > 0:
            raise ValueError("resync_timeout_s must be above 0 seconds")
        self.transport = transport
        self.resync_timeout_s = resync_timeout_s
        self.clock = clock

    def reply(self, session: CollectorSession, msg_type: str, body: dict[str, Any]) -> None:
        """Answer `session` from the serving thread."""
        self.transport.queue(session.identity, self.transport.encode(msg_type, body, session.fsid))

    def ack(self, session: CollectorSession, body: dict[str, Any]) -> None:
        self.reply(session, ACK, body)

    def resync(self, session: CollectorSession, wanted: dict[str, Any]) -> list[str]:
        """Ask for whole copies of these sync objects (name -> the version the server wants), but
        not of one already asked for whose copy is still awaited. Returns the names asked for."""
        now = self.clock()
        names = [name for name in wanted if not self._awaited(session, name, now)]
        session.resyncs_held_back += len(wanted) - len(names)
        if not names:
            return names
        for name in names:
            session.resyncs_pending[name] = (wanted[name], now)
        session.resyncs += 1
        log.info("asking collector %s for whole copies of %s", session.host or session.identity.hex(),
                 ", ".join(names))
        self.reply(session, RESYNC, {"names": names})
        return names

    def resync_timeout(self, session: CollectorSession, name: str) -> float:
        """Seconds a copy of `name` asked of `session` is awaited before it is asked for again."""
        took = session.resync_took.get(name)
        if took is None:
            return self.resync_timeout_s
        return max(self.resync_timeout_s, RESYNC_TIMEOUT_FACTOR * took)

    def _awaited(self, session: CollectorSession, name: str, now: float) -> bool:
        pending = session.resyncs_pending.get(name)
        return pending is not None and now - pending[1] < self.resync_timeout(session, name)

    def copy_handled(self, session: CollectorSession, name: str, version: Any) -> None:
        """A copy of `name` at `version` from `session` was handed to the model (applied, refused
        or rejected as invalid): a resync of it is answered unless it is older than asked for."""
        pending = session.resyncs_pending.get(name)
        if pending is None:
            return
        asked, asked_at = pending
        if is_int(asked) and is_int(version) and version < asked:
            return  # sent before the request: the copy asked for is still to come
        del session.resyncs_pending[name]
        session.resync_took[name] = max(0.0, self.clock() - asked_at)

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
