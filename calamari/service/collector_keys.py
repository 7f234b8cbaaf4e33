"""Collector keys: which CurveZMQ client keys may feed the model, as events of the CollectorKey
aggregate (registrations and the admins' decisions survive restarts and are in the history).

The bus asks `status_of()` for every message, so it reads a view kept beside the model and rebuilt
whenever key events are committed; changes go through the model service's lock and commit like
every other change.

A host name may have several pending keys (one per source address), so that a key registered first
under someone else's name never blocks the real collector: the admin sees every fingerprint and
accepts one, which removes the other pending keys of that host. Registrations are bounded and
rate-limited (RegistrationLimits), and a pending key expires after `pending_ttl_s`: expiry is read,
not recorded (a key past it is simply not live), so it needs no timer and no event, cannot be lost
in a crash, and replaying the history gives the same answer for the same time. A key whose
registration expired registers again (a new event) at its collector's next hello."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from calamari.adapters.curve_keys import fingerprint, is_z85_key
from calamari.domain.collector_key import (
    ACCEPTED,
    PENDING,
    CollectorKey,
    CollectorKeyError,
    RegistrationLimits,
    RegistrationRate,
    check_decision,
    check_key_id,
    check_public_key,
    on_accepting,
    registration_refusal,
)

MAX_SOURCE_LENGTH = 128  # a peer address as ZeroMQ gives it (IPv6 included)


def key_row(key: CollectorKey, ttl_s: float = RegistrationLimits.pending_ttl_s) -> dict[str, Any]:
    """A key as the API and calamari-ctl show it."""
    expires = key.expires_at(ttl_s)
    return {"id": key.key_id, "status": key.status, "fingerprint": key.fingerprint,
            "public_key": key.public_key, "decided_by": key.decided_by or None,
            "registered_at": key.pending_since.isoformat(), "updated_at": key.modified_on.isoformat(),
            "registered_from": key.registered_from or None,
            "expires_at": expires.isoformat() if expires is not None else None}


@dataclass
class _KeyView:
    """The keys that are not deleted, indexed for the bus (rebuilt after every key event)."""

    by_public_key: dict[str, CollectorKey] = field(default_factory=dict)
    by_host: dict[str, list[CollectorKey]] = field(default_factory=dict)
    pending: list[CollectorKey] = field(default_factory=list)
    accepted_hosts: set[str] = field(default_factory=set)


class AmbiguousKey(CollectorKeyError):
    """A host has several keys and the request did not say which one (by fingerprint)."""


class CollectorKeyService:
    """Implements calamari.adapters.bus.KeyGate over the model service."""

    def __init__(self, service: Any, clock: Callable[[], float] = time.time,
                 limits: RegistrationLimits | None = None) -> None:
        self.service = service
        self.clock = clock
        self.limits = limits or RegistrationLimits()
        self._view: _KeyView | None = None
        self._trusted: set[str] = set()
        self._status_lock = threading.Lock()
        self._rate = RegistrationRate(self.limits)
        service.listeners.append(self._on_events)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def _on_events(self, events: list[Any], model: Any) -> None:
        if any(isinstance(e, CollectorKey.Event) for e in events):
            self._view = None

    def _keys_view(self) -> _KeyView:
        view = self._view
        if view is None:
            with self.service.reading():  # key events invalidate under this lock: no stale rebuild
                view = _KeyView()
                for key in self.service.model.collector_keys.values():
                    if key.deleted:
                        continue
                    view.by_public_key[key.public_key] = key
                    view.by_host.setdefault(key.key_id, []).append(key)
                    if key.status == PENDING:
                        view.pending.append(key)
                    elif key.status == ACCEPTED:
                        view.accepted_hosts.add(key.key_id)
                for keys in view.by_host.values():
                    keys.sort(key=lambda k: k.pending_since)
                self._view = view
        return view

    def _live(self, key: CollectorKey, now: datetime) -> bool:
        return key.is_live(now, self.limits.pending_ttl_s)

    # ---------------------------------------------------------------- KeyGate

    def trust(self, public_key: str) -> None:
        """Accept `public_key` for this process's life without an event: for collectors the server
        runs itself (the in-process simulator), which have the server's own trust."""
        check_public_key(public_key)
        with self._status_lock:
            self._trusted.add(public_key)

    def status_of(self, public_key: str) -> str | None:
        """`accepted`, `pre`, `rejected`, or None for a key never registered, deleted, or whose
        pending registration expired."""
        if public_key in self._trusted:
            return ACCEPTED
        key = self._keys_view().by_public_key.get(public_key)
        if key is None or (key.status == PENDING and not self._live(key, self._now())):
            return None  # (only a pending key expires: the clock is read for those alone)
        return key.status

    def register(self, key_id: str, public_key: str, source: str | None = None) -> str:
        """Register a key presented with a hello from address `source` as pending; its status.
        CollectorKeyError when the id or key is invalid, the host has an accepted key, or a limit
        is reached (RegistrationLimits)."""
        check_key_id(key_id)
        check_public_key(public_key)
        if not is_z85_key(public_key):
            raise CollectorKeyError("public_key", "not a CURVE public key")
        source = (source or "")[:MAX_SOURCE_LENGTH]
        with self.service.lock:
            known = self.status_of(public_key)
            if known is not None:
                return known
            now = self._now()
            view = self._keys_view()
            pending = [k for k in view.pending if self._live(k, now)]
            refusal = registration_refusal(pending, view.accepted_hosts, key_id, source, self.limits) \
                or self._rate.refusal(source, now.timestamp())
            if refusal is not None:
                raise CollectorKeyError("id", refusal)
            self.service.model.register_collector_key(key_id, public_key, fingerprint(public_key), now, source=source)
            # Not durable: a registration lost in a crash is simply made again at the next hello,
            # and the bus thread must not wait for the disk.
            self.service.commit()
            self._rate.record(source, now.timestamp())
        return self.status_of(public_key) or ""

    # ---------------------------------------------------------------- administration

    def keys(self) -> list[CollectorKey]:
        """Every live key (pending ones not expired), by host, the earliest registered first."""
        now = self._now()
        view = self._keys_view()
        return [k for host in sorted(view.by_host) for k in view.by_host[host] if self._live(k, now)]

    def keys_of(self, key_id: str) -> list[CollectorKey]:
        """The live keys of one host, the earliest registered first."""
        now = self._now()
        return [k for k in self._keys_view().by_host.get(key_id, []) if self._live(k, now)]

    def get(self, key_id: str, fingerprint: str | None = None) -> CollectorKey | None:
        """The key of a host: the one with `fingerprint`, else its accepted key, else its only one,
        else the one registered first. None when the host has no live key (or none with it)."""
        keys = self.keys_of(key_id)
        if fingerprint is not None:
            return next((k for k in keys if k.fingerprint == fingerprint), None)
        return next((k for k in keys if k.status == ACCEPTED), keys[0] if keys else None)

    def resolve(self, key_id: str, fingerprint: str | None = None) -> CollectorKey:
        """The one key a decision is about: KeyError when there is none, AmbiguousKey when the
        host has several and no fingerprint says which."""
        keys = self.keys_of(key_id)
        if fingerprint is not None:
            keys = [k for k in keys if k.fingerprint == fingerprint]
        if not keys:
            raise KeyError(key_id)
        if len(keys) > 1:
            raise AmbiguousKey("fingerprint", f"{len(keys)} keys are registered for {key_id}: name one by its "
                                              f"fingerprint ({', '.join(k.fingerprint for k in keys)})")
        return keys[0]

    def decide(self, key_id: str, status: str, by: str, fingerprint: str | None = None) -> CollectorKey:
        """Accept or reject a key (KeyError when there is no such key; a repeat changes nothing).
        Accepting one removes the host's other pending keys and rejects its other accepted one:
        a host has one accepted key."""
        check_decision(status)
        with self.service.durable() as model:
            key = self.resolve(key_id, fingerprint)
            now = self._now()
            event_class = key.decision_event(status)
            if event_class is not None:
                model.collector_key_event(key, event_class, now, by=by)
            if status == ACCEPTED:
                for other, other_event, fields in on_accepting(key, self.keys_of(key_id)):
                    model.collector_key_event(other, other_event, now, by=by, **fields)
        return key

    def delete(self, key_id: str, by: str, fingerprint: str | None = None) -> int:
        """Forget the key with `fingerprint`, or every key of the host without one (KeyError when
        there is none): its collector's next hello registers it as pending again. How many."""
        with self.service.durable() as model:
            keys = [self.resolve(key_id, fingerprint)] if fingerprint is not None else self.keys_of(key_id)
            if not keys:
                raise KeyError(key_id)
            now = self._now()
            for key in keys:
                model.collector_key_event(key, CollectorKey.CollectorKeyDeleted, now, by=by)
        return len(keys)
