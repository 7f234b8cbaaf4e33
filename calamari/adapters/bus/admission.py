"""Which collectors' messages reach the model when the bus is a CurveZMQ server.

Any client key passes the handshake (an unknown one must be able to say hello and become
pending); ZAP then stamps each message with its key, and only messages from keys the KeyGate
reports as accepted are applied. A hello from an unknown key registers it as pending (within the
gate's registration limits); everything else from a pending or rejected key is counted and dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from calamari.adapters.bus.peers import CollectorSession, Peers
from calamari.adapters.bus.replies import Replies
from calamari.adapters.curve_keys import KeyPair
from calamari.domain.collector_key import ACCEPTED, PENDING, REJECTED, CollectorKeyError
from calamari.protocol import HELLO, Envelope

log = logging.getLogger("calamari.bus")

ZAP_DOMAIN = b"calamari"
KEY_REJECT_REASONS = {None: "key_unknown", PENDING: "key_pending", REJECTED: "key_rejected"}


class KeyGate(Protocol):
    """Which collector keys may feed the model (calamari.service.collector_keys)."""

    def status_of(self, public_key: str) -> str | None:
        """`accepted`, `pre`, `rejected`, or None for a key never registered (or deleted)."""

    def register(self, key_id: str, public_key: str, source: str | None = None) -> str:
        """Register a key presented with a hello from address `source` as pending; its status.
        Raises CollectorKeyError when the id is invalid, the host has an accepted key, or a
        registration limit is reached."""


@dataclass
class KeyAdmission:
    """CURVE on the socket, ZAP on its context, and the gate's verdict on every message."""

    server_keys: KeyPair
    gate: KeyGate
    peers: Peers
    replies: Replies
    _authenticator: ThreadAuthenticator | None = field(default=None, init=False)

    def secure(self, router: zmq.Socket) -> bool:
        """Make `router` a CURVE server whose messages carry their client's key (its setup hook)."""
        self._authenticator = ThreadAuthenticator(router.context, log=logging.getLogger("calamari.bus.zap"))
        self._authenticator.start()
        self._authenticator.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
        router.curve_server = True
        router.curve_secretkey = self.server_keys.secret_key.encode()
        router.curve_publickey = self.server_keys.public_key.encode()
        router.zap_domain = ZAP_DOMAIN
        return True

    def stop(self) -> None:
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

    def accepts(self, session: CollectorSession | None) -> bool:
        """Whether commands may go to this collector: its key is still accepted."""
        return session is not None and session.public_key is not None and (
            self.gate.status_of(session.public_key) == ACCEPTED
        )

    def admit(self, session: CollectorSession, envelope: Envelope) -> bool:
        """True when the message's key is accepted. Otherwise the message is counted and dropped;
        a hello from a key never seen registers it as pending (an admin then decides)."""
        public_key = session.public_key
        if public_key is None:  # cannot happen behind CURVE; refuse rather than trust
            self.peers.reject(session, "key_unknown", "no authenticated key")
            return False
        try:
            status = self.gate.status_of(public_key)
        except Exception:
            log.exception("looking up collector key %s failed", public_key)
            status = None
        if status == ACCEPTED:
            return True
        if session.hello:
            self.peers.forget_hello(session)  # rejected or deleted since it said hello
        host = ""
        if envelope.type == HELLO:
            host = envelope.body["hostname"] or envelope.host
        if envelope.type != HELLO and status is None:
            # a key deleted under a connected collector: its hello registers it as pending again
            # (docs/security.md), and a running collector says hello only when asked
            self.replies.ask_hello(session)
        if envelope.type == HELLO and status is None:
            try:
                status = self.gate.register(host, public_key, session.peer_address)
            except CollectorKeyError as exc:
                self.peers.reject(session, "key_refused", f"{host}: {exc.reason}")
                return False
            log.info("collector %s presents a new key %s: pending until an admin accepts it", host, public_key)
            if status == ACCEPTED:
                return True
        self.peers.reject(session, KEY_REJECT_REASONS.get(status, "key_unknown"), host or envelope.type)
        return False
