"""The cluster model: every aggregate of every cluster (`ModelState`), and what changes it, each
operation a method that hands over to the module of its job: sync objects diffed into events
(`calamari.domain.ingest`), host reports and contact (`ingest.hosts`, `contact`), forgetting
(`forgetting`), user requests (`request_lifecycle`), users, logins and collector keys (`accounts`).

Pure: callers pass the time of each change. `ingest()` validates a whole document before it
changes anything, so a bad map leaves the model as it was. `apply()` folds a stored event back
in (replay); live ingest and replay go through the same event `apply` methods, so they agree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calamari.domain import accounts, contact, forgetting, request_lifecycle
from calamari.domain.alerts import lifecycle as alert_lifecycle
from calamari.domain.collector_key import CollectorKey
from calamari.domain.ingest import hosts, sync_object
from calamari.domain.model_state import ModelState
from calamari.domain.sync_versions import (
    EXACT_VERSIONS,
    NUMERIC_VERSIONS,
    SYNC_OBJECTS,
    VERSION_SOURCES,
    SyncVersion,
)
from calamari.domain.user import User
from calamari.domain.user_request import UserRequest

# Importers name these by this module (the API, the service, tests).
__all__ = ["EXACT_VERSIONS", "NUMERIC_VERSIONS", "SYNC_OBJECTS", "VERSION_SOURCES", "ClusterModel", "SyncVersion"]


class ClusterModel(ModelState):
    """All aggregates, indexed by natural keys, plus the newest sync object of each kind (the
    input the events were derived from; kept to diff the next one and to serve it raw)."""

    # ---------------------------------------------------------------- sync objects

    def accepts(self, fsid: str, name: str, version: SyncVersion) -> bool:
        """Whether a sync object of this version would be taken in (`ingest.sync_object.accepts`)."""
        return sync_object.accepts(self, fsid, name, version)

    def reflected_version(self, fsid: str, name: str) -> SyncVersion | None:
        """The newest version of a sync object the model holds or reflects (for messages)."""
        return sync_object.reflected_version(self, fsid, name)

    def ingest(self, fsid: str, name: str, version: SyncVersion, data: Any, at: datetime) -> bool:
        """Diff a sync object into events. False (and no change) when it is not newer than the one
        held or older than the one the model reflects (`accepts`). Raises InvalidMap, with nothing
        changed, when it is malformed."""
        return sync_object.ingest(self, fsid, name, version, data, at)

    # ---------------------------------------------------------------- hosts and contact

    def server_facts(self, fsid: str | None, facts: dict[str, Any], at: datetime) -> None:
        hosts.server_facts(self, fsid, facts, at)

    def heartbeat(self, fsid: str | None, host: str, at: datetime) -> None:
        contact.heartbeat(self, fsid, host, at)

    def cluster_unreachable(self, fsid: str, host: str, at: datetime) -> None:
        """The collector on `host` is alive but cannot reach its cluster: it is stale now."""
        contact.cluster_unreachable(self, fsid, host, at)

    def check_contact(self, now: datetime, timeout_s: float) -> None:
        contact.check_contact(self, now, timeout_s)

    # ---------------------------------------------------------------- forgetting

    def forget_cluster(self, fsid: str, by: str, at: datetime) -> None:
        """Drop a cluster from the lists (KeyError if unknown): see `forgetting.forget_cluster`."""
        forgetting.forget_cluster(self, fsid, by, at)

    def reset_versions(self, fsid: str, by: str, at: datetime) -> None:
        """Forget the versions a rebuilt cluster reached (KeyError if unknown)."""
        forgetting.reset_versions(self, fsid, by, at)

    def forget_server(self, fqdn: str, by: str, at: datetime) -> None:
        """Drop a host that runs no Ceph service any more. KeyError if unknown; ValueError while
        services are still placed on it."""
        forgetting.forget_server(self, fqdn, by, at)

    # ---------------------------------------------------------------- user requests

    def submit_request(self, request_id: str, fsid: str, username: str, kind: str, target: str,
                       headline: str, body: dict[str, Any], commands: list[dict[str, Any]],
                       at: datetime, expect: list[dict[str, Any]] | None = None) -> UserRequest:
        return request_lifecycle.submit_request(self, request_id, fsid, username, kind, target, headline, body,
                                                commands, at, expect)

    def request_executing(self, request_id: str, status: str, at: datetime) -> None:
        request_lifecycle.request_executing(self, request_id, status, at)

    def request_command_succeeded(self, request_id: str, index: int, output: Any,
                                  awaiting: dict[str, Any], at: datetime) -> None:
        """A command ran. `awaiting` names the sync object and the version beyond which its effect
        must show ({"name": "osd_map", "after": 41}); an empty dict completes at once."""
        request_lifecycle.request_command_succeeded(self, request_id, index, output, awaiting, at)

    def request_failed(self, request_id: str, error_message: str, at: datetime) -> None:
        request_lifecycle.request_failed(self, request_id, error_message, at)

    # ---------------------------------------------------------------- users and logins

    def add_user(self, username: str, role: str, password_hash: str, email: str, by: str, at: datetime) -> User:
        return accounts.add_user(self, username, role, password_hash, email, by, at)

    def user_event(self, username: str, event_class: type, at: datetime, **fields: Any) -> None:
        self.emit(self.users[username], event_class, at, **fields)

    def user_changed(self, username: str) -> None:
        """Record the events a User command method (e.g. User.change) emitted itself."""
        self.adopt_pending(self.users[username])

    def login_address_locked(self, address: str, until: float, failures: int, at: datetime) -> None:
        accounts.login_address_locked(self, address, until, failures, at)

    # ---------------------------------------------------------------- collector keys

    def register_collector_key(self, key_id: str, public_key: str, fingerprint: str, at: datetime,
                               source: str = "") -> CollectorKey:
        """Record a key as pending for host `key_id` (whether it may register is the caller's
        policy: calamari.domain.collector_key.registration_refusal)."""
        return accounts.register_collector_key(self, key_id, public_key, fingerprint, at, source)

    def collector_key_event(self, key: CollectorKey, event_class: type, at: datetime, **fields: Any) -> None:
        self.emit(key, event_class, at, **fields)

    # ---------------------------------------------------------------- alerts, silences, rules

    def raise_alert(self, *, at: datetime, **fields: Any) -> Any:
        return alert_lifecycle.raise_alert(self, at=at, **fields)

    def acknowledge_alert(self, alert_id: str, by: str, comment: str, at: datetime) -> Any:
        return alert_lifecycle.acknowledge(self, alert_id, by, comment, at)

    def create_silence(self, silence_id: str, body: dict[str, Any], by: str, at: datetime) -> Any:
        return alert_lifecycle.create_silence(self, silence_id, body, by, at)

    def expire_silence(self, silence_id: str, by: str, at: datetime) -> Any:
        return alert_lifecycle.expire_silence(self, silence_id, by, at)

    def alert_rule_set(self) -> dict[str, Any]:
        return alert_lifecycle.rules(self)

    def tune_alert_rule(self, name: str, changes: dict[str, Any], by: str, at: datetime) -> Any:
        return alert_lifecycle.tune_rule(self, name, changes, by, at)

    def define_alert_rule(self, body: dict[str, Any], by: str, at: datetime) -> Any:
        return alert_lifecycle.define_rule(self, body, by, at)
