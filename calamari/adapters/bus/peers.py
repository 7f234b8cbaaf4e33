"""What the bus knows about each connected collector: its session, which cluster and hosts it
speaks for, and its counters (messages, bytes, rejects by reason, resyncs, reported errors)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("calamari.bus")

# Anyone who reaches the port can open connections: the sessions of those that never said a
# hello the bus applied are forgotten once silent for the contact timeout, and beyond this many
# sessions the longest-silent of them are forgotten at once.
MAX_SESSIONS = 10_000
# Rejections are logged at most once per 5 s per collector, and at most this many per 10 s in all.
MAX_REJECT_WARNINGS = 20


@dataclass
class CollectorSession:
    """What the bus knows about one connected collector (one ROUTER identity)."""

    identity: bytes
    public_key: str | None = None  # Z85 client key authenticated by CURVE (None on plain TCP)
    peer_address: str | None = None  # the connection's source address, as ZeroMQ gives it
    hello: bool = False
    fsid: str | None = None
    host: str = ""
    collector_version: str = ""
    messages: int = 0
    bytes: int = 0
    rejects: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    resyncs: int = 0
    # resyncs not sent because a copy asked for earlier is still on its way (calamari.adapters.bus.replies)
    resyncs_held_back: int = 0
    # sync object name -> (the version asked for, when: monotonic seconds), until a copy arrives
    resyncs_pending: dict[str, tuple[Any, float]] = field(default_factory=dict)
    # sync object name -> seconds its last answered resync took, from the request to the copy handled
    resync_took: dict[str, float] = field(default_factory=dict)
    last_seen: float = 0.0
    last_warning: float = 0.0
    last_hello_request: float = 0.0
    last_error: str | None = None  # the newest problem the collector reported in a heartbeat
    errors_reported: int = 0


class Peers:
    """The sessions by routing identity, and which one speaks for each cluster and host.

    Sessions are created and changed on the bus thread; the lock guards the maps that the
    service's threads read (sending commands, counters)."""

    def __init__(self, contact_timeout_s: float) -> None:
        self.contact_timeout_s = contact_timeout_s
        self.sessions: dict[bytes, CollectorSession] = {}
        self._identity_by_fsid: dict[str, bytes] = {}
        # host name or fqdn -> the collector that last spoke for that host (hello, server_facts)
        self._identity_by_host: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._warnings_since = 0.0  # the rejection warnings of the current 10 s window
        self._warnings = 0

    # -- sessions -------------------------------------------------------------------------------
    def session(self, identity: bytes) -> CollectorSession:
        """The session of `identity`, made on its first message."""
        session = self.sessions.get(identity)
        if session is None:
            if len(self.sessions) >= MAX_SESSIONS:
                self.forget_idle(len(self.sessions) - MAX_SESSIONS + MAX_SESSIONS // 10)
            with self._lock:
                session = self.sessions[identity] = CollectorSession(identity)
        return session

    def forget_idle(self, count: int = 0) -> None:
        """Forget sessions without an applied hello that have been silent for the contact timeout,
        and the `count` longest-silent ones of them besides."""
        now = time.time()
        with self._lock:
            idle = sorted((s for s in self.sessions.values() if not s.hello), key=lambda s: s.last_seen)
            for position, session in enumerate(idle):
                if position < count or now - session.last_seen > self.contact_timeout_s:
                    del self.sessions[session.identity]

    def said_hello(self, session: CollectorSession, fsid: str | None, host: str, collector_version: str) -> None:
        """The collector introduced itself: it now speaks for `fsid` and `host`."""
        with self._lock:
            session.hello = True
            session.fsid = fsid
            session.host = host
            session.collector_version = collector_version
            if fsid is not None:
                self._identity_by_fsid[fsid] = session.identity
        self.speaks_for(session, host)

    def speaks_for(self, session: CollectorSession, *hosts: Any) -> None:
        """Host commands for these names (a host name, its fqdn) go to this collector."""
        with self._lock:
            for host in hosts:
                if isinstance(host, str) and host:
                    self._identity_by_host[host] = session.identity

    def forget_hello(self, session: CollectorSession) -> None:
        """Its key is no longer accepted: it must say hello again before anything is applied."""
        with self._lock:
            session.hello = False
            if session.fsid is not None and self._identity_by_fsid.get(session.fsid) == session.identity:
                del self._identity_by_fsid[session.fsid]
        log.warning("collector %s lost its key's acceptance; its messages are dropped", session.host or "?")

    def for_cluster(self, fsid: str) -> tuple[bytes | None, CollectorSession | None]:
        """The identity of the collector that said hello for `fsid`, and its session."""
        with self._lock:
            identity = self._identity_by_fsid.get(fsid)
            return identity, self.sessions.get(identity) if identity is not None else None

    def for_host(self, host: str) -> CollectorSession | None:
        """The session of the collector that last spoke for `host`."""
        with self._lock:
            identity = self._identity_by_host.get(host)
            return self.sessions.get(identity) if identity is not None else None

    def connected_fsids(self) -> list[str]:
        with self._lock:
            return list(self._identity_by_fsid)

    # -- counters -------------------------------------------------------------------------------
    def received(self, session: CollectorSession, size: int, public_key: str | None, peer_address: str | None) -> None:
        """Count one message of `size` bytes and note where it came from."""
        if public_key is not None:
            session.public_key = public_key
        if peer_address is not None:
            session.peer_address = peer_address
        session.messages += 1
        session.last_seen = time.time()
        session.bytes += size

    def count_reason(self, session: CollectorSession, reason: str) -> None:
        session.rejects += 1
        session.reject_reasons[reason] = session.reject_reasons.get(reason, 0) + 1

    def reject(self, session: CollectorSession, reason: str, detail: str) -> None:
        """Count a dropped message under `reason` and log it, rate-limited so that a misbehaving
        collector (or thousands of them) cannot flood the log."""
        self.count_reason(session, reason)
        now = time.monotonic()
        if now - self._warnings_since > 10.0:
            self._warnings_since, self._warnings = now, 0
        if now - session.last_warning > 5.0 and self._warnings < MAX_REJECT_WARNINGS:
            session.last_warning = now
            self._warnings += 1
            log.warning(
                "rejected message from collector %s (%s): %s %s (%d rejected so far)",
                session.host or "?",
                session.identity.hex(),
                reason,
                detail[:200],
                session.rejects,
            )
        else:
            log.debug("rejected message from %s: %s %s", session.identity.hex(), reason, detail[:200])

    def note_collector_error(self, session: CollectorSession, error: str) -> None:
        """A problem the collector reports (its cluster unreachable, a map it cannot send, a
        restart of its loop): counted, and logged when it changes (heartbeats repeat it)."""
        error = error[:500]
        session.errors_reported += 1
        if error != session.last_error:
            log.warning("collector %s reports: %s", session.host or session.identity.hex(), error)
        session.last_error = error

    def counters(self) -> dict[str, dict[str, Any]]:
        """Per collector (keyed by host and routing id) messages, bytes and rejects."""
        with self._lock:
            sessions = list(self.sessions.values())
        return {
            f"{session.host or '?'}/{session.identity.hex()}": {
                "fsid": session.fsid,
                "host": session.host,
                "public_key": session.public_key,
                "peer_address": session.peer_address,
                "messages": session.messages,
                "bytes": session.bytes,
                "rejects": session.rejects,
                "reject_reasons": dict(session.reject_reasons),
                "resyncs": session.resyncs,
                "resyncs_held_back": session.resyncs_held_back,
                "last_seen": session.last_seen,
                "last_error": session.last_error,
                "errors_reported": session.errors_reported,
            }
            for session in sessions
        }

    def totals(self) -> dict[str, int]:
        counters = self.counters().values()
        return {
            "collectors": len(counters),
            "messages": sum(c["messages"] for c in counters),
            "bytes": sum(c["bytes"] for c in counters),
            "rejects": sum(c["rejects"] for c in counters),
            "resyncs": sum(c["resyncs"] for c in counters),
            "resyncs_held_back": sum(c["resyncs_held_back"] for c in counters),
        }
