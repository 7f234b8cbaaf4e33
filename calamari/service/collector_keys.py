"""Collector keys: which CurveZMQ client keys may feed the model, as events of the CollectorKey
aggregate (registrations and the admins' decisions survive restarts and are in the history).

The bus asks `status_of()` for every message, so it reads a dict kept beside the model and
rebuilt whenever key events are committed; changes go through the model service's lock and
commit like every other change."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from calamari.adapters.curve_keys import fingerprint, is_z85_key
from calamari.domain.collector_key import (
    ACCEPTED,
    CollectorKey,
    CollectorKeyError,
    check_decision,
    check_key_id,
    check_public_key,
)


def key_row(key: CollectorKey) -> dict[str, Any]:
    """A key as the API and calamari-ctl show it."""
    return {"id": key.key_id, "status": key.status, "fingerprint": key.fingerprint,
            "public_key": key.public_key, "decided_by": key.decided_by or None,
            "registered_at": key.created_on.isoformat(), "updated_at": key.modified_on.isoformat()}


class CollectorKeyService:
    """Implements calamari.adapters.bus.KeyGate over the model service."""

    def __init__(self, service: Any, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.clock = clock
        self._status: dict[str, str] | None = None  # Z85 public key -> status, live keys only
        self._trusted: set[str] = set()
        self._status_lock = threading.Lock()
        service.listeners.append(self._on_events)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def _on_events(self, events: list[Any], model: Any) -> None:
        if any(isinstance(e, CollectorKey.Event) for e in events):
            self._status = None

    # ---------------------------------------------------------------- KeyGate

    def trust(self, public_key: str) -> None:
        """Accept `public_key` for this process's life without an event: for collectors the server
        runs itself (the in-process simulator), which have the server's own trust."""
        check_public_key(public_key)
        with self._status_lock:
            self._trusted.add(public_key)

    def status_of(self, public_key: str) -> str | None:
        if public_key in self._trusted:
            return ACCEPTED
        status = self._status
        if status is None:
            with self.service.lock:  # key events invalidate under this lock: no stale rebuild
                status = {k.public_key: k.status for k in self.service.model.collector_keys.values()
                          if not k.deleted}
                self._status = status
        return status.get(public_key)

    def register(self, key_id: str, public_key: str) -> str:
        check_key_id(key_id)
        check_public_key(public_key)
        if not is_z85_key(public_key):
            raise CollectorKeyError("public_key", "not a CURVE public key")
        with self.service.lock:
            known = self.status_of(public_key)
            if known is not None:
                return known
            self.service.model.register_collector_key(key_id, public_key, fingerprint(public_key), self._now())
            # Not durable: a registration lost in a crash is simply made again at the next hello,
            # and the bus thread must not wait for the disk.
            self.service._commit()
        return self.status_of(public_key) or ""

    # ---------------------------------------------------------------- administration

    def keys(self) -> list[CollectorKey]:
        with self.service.lock:
            return sorted((k for k in self.service.model.collector_keys.values() if not k.deleted),
                          key=lambda k: k.key_id)

    def get(self, key_id: str) -> CollectorKey | None:
        key = self.service.model.collector_keys.get(key_id)
        return None if key is None or key.deleted else key

    def decide(self, key_id: str, status: str, by: str) -> CollectorKey:
        """Accept or reject a key (KeyError when there is no such key; a repeat changes nothing)."""
        check_decision(status)
        with self.service.durable() as model:
            key = self.get(key_id)
            if key is None:
                raise KeyError(key_id)
            event_class = key.decision_event(status)
            if event_class is not None:
                model.collector_key_event(key_id, event_class, self._now(), by=by)
        return key

    def delete(self, key_id: str, by: str) -> None:
        """Forget a key: its collector's next hello registers it as pending again."""
        with self.service.durable() as model:
            if self.get(key_id) is None:
                raise KeyError(key_id)
            model.collector_key_event(key_id, CollectorKey.CollectorKeyDeleted, self._now(), by=by)
