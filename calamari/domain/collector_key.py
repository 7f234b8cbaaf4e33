"""The collector key aggregate: the CurveZMQ public key a collector authenticates with, and the
administrator's decision about it (like Calamari's salt keys: `pre`, then `accepted` or
`rejected`).

One aggregate per (host name, public key): several keys may wait as pending for one host name, so
that a key registered first under someone else's name cannot block the real collector; the admin
sees every fingerprint and accepts one. A pending key expires after a while (read as gone: no event
is needed, and nothing an unanswered registration leaves behind counts against the limits any more),
and how many keys may be pending, and how fast they may register, is bounded (RegistrationLimits).

Pure: the fingerprint is computed by the caller (it needs the key's binary form), times come in with
the calls, and every decision names who made it (`by`), so the history of keys is an audit trail."""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def collector_key_id(key_id: str, public_key: str) -> UUID:
    """The aggregate id of a host's key (keys registered before a host could have several have
    the id uuid5 of `collector_key/<host>`, which their stored events keep)."""
    return uuid5(NAMESPACE, f"collector_key/{key_id}/{public_key}")


@dataclass(frozen=True)
class RegistrationLimits:
    """What a `hello` from an unknown key may register (docs/security.md, "Limits"). Counts are of
    live pending keys (not expired); the rates count registrations made, in a sliding minute."""

    pending_ttl_s: float = 24 * 3600.0  # a pending key not decided within this is as good as gone
    max_pending: int = 256
    max_pending_per_source: int = 16  # per source address
    max_pending_per_host_and_source: int = 1  # one waiting key per host name from each address
    per_source_per_minute: int = 16
    total_per_minute: int = 64
    max_tracked_sources: int = 10_000  # the rate's memory of addresses (oldest forgotten first)


class CollectorKey(CalamariAggregate):
    class CollectorKeyRegistered(Aggregate.Created):
        """A collector said hello with a key the server had not seen: it waits as pending."""

        key_id: str
        public_key: str
        fingerprint: str
        source: str = ""  # the address it said hello from (stored since keys were limited per address)

    def __init__(self, key_id: str, public_key: str, fingerprint: str, source: str = "") -> None:
        self.key_id = key_id
        self.public_key = public_key
        self.fingerprint = fingerprint
        self.source = source  # the address it registered from ("" when unknown)
        self.status = PENDING
        self.decided_by = ""
        self.deleted = False

    class CollectorKeyReregistered(Aggregate.Event):
        """The key said hello again after it was deleted, or after its pending registration
        expired: pending again, from now."""

        public_key: str
        fingerprint: str
        source: str = ""

        def apply(self, key: CollectorKey) -> None:
            key.public_key, key.fingerprint, key.source = self.public_key, self.fingerprint, self.source
            key.status, key.decided_by, key.deleted = PENDING, "", False
            key.reregistered_on = self.timestamp

    class CollectorKeyAccepted(Aggregate.Event):
        by: str

        def apply(self, key: CollectorKey) -> None:
            key.status, key.decided_by = ACCEPTED, self.by

    class CollectorKeyRejected(Aggregate.Event):
        by: str

        def apply(self, key: CollectorKey) -> None:
            key.status, key.decided_by = REJECTED, self.by

    class CollectorKeyDeleted(Aggregate.Event):
        """Forgotten: the collector's next hello registers its key as pending again. `reason`
        says why when no admin asked for it directly (another key of the host was accepted)."""

        by: str
        reason: str = ""

        def apply(self, key: CollectorKey) -> None:
            key.deleted = True

    @property
    def registered_from(self) -> str:
        return getattr(self, "source", "")  # keys registered before addresses were kept have none

    @property
    def pending_since(self) -> datetime:
        return getattr(self, "reregistered_on", None) or self.created_on

    def expires_at(self, ttl_s: float) -> datetime | None:
        """When a pending key stops counting (None for a decided key)."""
        return self.pending_since + timedelta(seconds=ttl_s) if self.status == PENDING else None

    def is_live(self, now: datetime, ttl_s: float) -> bool:
        """Not deleted, and not a pending registration older than `ttl_s`."""
        expires = self.expires_at(ttl_s)
        return not self.deleted and (expires is None or now < expires)

    def decision_event(self, status: str) -> type[Aggregate.Event] | None:
        """The event that records `status` as the decision, None when it is already the status."""
        check_decision(status)
        if self.deleted:
            raise CollectorKeyError("id", "no such key")
        if status == self.status:
            return None
        return CollectorKey.CollectorKeyAccepted if status == ACCEPTED else CollectorKey.CollectorKeyRejected


def on_accepting(key: CollectorKey, host_keys: Iterable[CollectorKey]) -> list[tuple[CollectorKey, type, dict[str, str]]]:
    """What accepting `key` does to the other live keys of its host (a host has one accepted key):
    pending ones are removed, an accepted one is rejected. (key, event class, fields besides `by`)."""
    effects: list[tuple[CollectorKey, type, dict[str, str]]] = []
    for other in host_keys:
        if other is key or other.key_id != key.key_id or other.deleted:
            continue
        if other.status == PENDING:
            effects.append((other, CollectorKey.CollectorKeyDeleted,
                            {"reason": f"{key.fingerprint} was accepted for {key.key_id}"}))
        elif other.status == ACCEPTED:
            effects.append((other, CollectorKey.CollectorKeyRejected, {}))
    return effects


def registration_refusal(pending: Iterable[CollectorKey], accepted_hosts: set[str], key_id: str, source: str,
                         limits: RegistrationLimits) -> str | None:
    """Why a new key may not register as pending for host `key_id` from address `source` (None:
    it may). `pending`: the live pending keys; `accepted_hosts`: host names with an accepted key."""
    if key_id in accepted_hosts:
        return f"{key_id} has an accepted key; an admin must delete or reject it before another key can register"
    pending = list(pending)
    from_source = [k for k in pending if k.registered_from == source]
    if sum(1 for k in from_source if k.key_id == key_id) >= limits.max_pending_per_host_and_source:
        return f"a key for {key_id} from {source or 'this address'} already waits for an admin's decision"
    if len(from_source) >= limits.max_pending_per_source:
        return f"{len(from_source)} keys from {source or 'this address'} already wait for an admin's decision"
    if len(pending) >= limits.max_pending:
        return f"{len(pending)} keys already wait for an admin's decision (at most {limits.max_pending})"
    return None


class RegistrationRate:
    """Registrations in the last `window_s` seconds, per source address and in total (times come in
    with the calls). Memory is bounded: at most `limits.max_tracked_sources` addresses are tracked."""

    def __init__(self, limits: RegistrationLimits, window_s: float = 60.0) -> None:
        self.limits = limits
        self.window_s = window_s
        self._total: deque[float] = deque()
        self._by_source: OrderedDict[str, deque[float]] = OrderedDict()

    def _trim(self, times: deque[float], now: float) -> deque[float]:
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def refusal(self, source: str, now: float) -> str | None:
        """Why a registration from `source` must wait now (None: it may go ahead)."""
        if len(self._trim(self._total, now)) >= self.limits.total_per_minute:
            return f"{self.limits.total_per_minute} keys registered in the last minute (the most allowed); retry later"
        times = self._by_source.get(source)
        if times is not None and len(self._trim(times, now)) >= self.limits.per_source_per_minute:
            return (f"{self.limits.per_source_per_minute} keys registered from {source or 'this address'} in the "
                    f"last minute (the most allowed); retry later")
        return None

    def record(self, source: str, now: float) -> None:
        self._total.append(now)
        times = self._by_source.pop(source, None) or deque()
        times.append(now)
        self._by_source[source] = times  # the newest at the end: the oldest is forgotten first
        while len(self._by_source) > self.limits.max_tracked_sources:
            self._by_source.popitem(last=False)
