"""The collector key aggregate: the CurveZMQ public key a collector authenticates with, and the
administrator's decision about it (like Calamari's salt keys: `pre`, then `accepted` or
`rejected`).

One aggregate per key id (the collector's host name). Pure: the fingerprint is computed by the
caller (it needs the key's binary form), and every decision names who made it (`by`), so the
history of keys is an audit trail."""

from __future__ import annotations

import re
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate
from calamari.domain.ids import NAMESPACE

# Calamari's names for the states: a key not decided yet is "pre" (pending).
PENDING, ACCEPTED, REJECTED = "pre", "accepted", "rejected"
STATUSES = (PENDING, ACCEPTED, REJECTED)
DECISIONS = (ACCEPTED, REJECTED)

# A host name (also the id in URLs: no slashes, no spaces).
KEY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
# A CURVE public key in Z85 text: 40 characters of the Z85 alphabet.
Z85_KEY_RE = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


class CollectorKeyError(ValueError):
    """A key operation that breaks a rule; `field` names the offending input."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_key_id(key_id: str) -> None:
    if not isinstance(key_id, str) or not KEY_ID_RE.match(key_id):
        raise CollectorKeyError("id", "a host name: letters, digits, '.', '-', '_' (at most 253)")


def check_public_key(public_key: str) -> None:
    if not isinstance(public_key, str) or not Z85_KEY_RE.match(public_key):
        raise CollectorKeyError("public_key", "a CURVE public key: 40 characters of Z85")


def check_decision(status: str) -> None:
    if status not in DECISIONS:
        raise CollectorKeyError("status", f"must be one of {', '.join(DECISIONS)}")


def collector_key_id(key_id: str) -> UUID:
    return uuid5(NAMESPACE, f"collector_key/{key_id}")


class CollectorKey(CalamariAggregate):
    class CollectorKeyRegistered(Aggregate.Created):
        """A collector said hello with a key the server had not seen: it waits as pending."""

        key_id: str
        public_key: str
        fingerprint: str

    def __init__(self, key_id: str, public_key: str, fingerprint: str) -> None:
        self.key_id = key_id
        self.public_key = public_key
        self.fingerprint = fingerprint
        self.status = PENDING
        self.decided_by = ""
        self.deleted = False

    class CollectorKeyReregistered(Aggregate.Event):
        """A key arrived for an id whose previous key was deleted: pending again."""

        public_key: str
        fingerprint: str

        def apply(self, key: CollectorKey) -> None:
            key.public_key, key.fingerprint = self.public_key, self.fingerprint
            key.status, key.decided_by, key.deleted = PENDING, "", False

    class CollectorKeyAccepted(Aggregate.Event):
        by: str

        def apply(self, key: CollectorKey) -> None:
            key.status, key.decided_by = ACCEPTED, self.by

    class CollectorKeyRejected(Aggregate.Event):
        by: str

        def apply(self, key: CollectorKey) -> None:
            key.status, key.decided_by = REJECTED, self.by

    class CollectorKeyDeleted(Aggregate.Event):
        """Forgotten: the collector's next hello registers its key as pending again."""

        by: str

        def apply(self, key: CollectorKey) -> None:
            key.deleted = True

    def decision_event(self, status: str) -> type[Aggregate.Event] | None:
        """The event that records `status` as the decision, None when it is already the status."""
        check_decision(status)
        if self.deleted:
            raise CollectorKeyError("id", "no such key")
        if status == self.status:
            return None
        return CollectorKey.CollectorKeyAccepted if status == ACCEPTED else CollectorKey.CollectorKeyRejected
