"""Several servers on one store, without PostgreSQL: a standby's model follows what the active one
stores (equal to the active's and to a fresh replay, tokens and lock-outs included), it writes
nothing, the API refuses changes on it with the active's address, and the role keeper promotes
it, steps it down and guards its commands as the lease says. The lease itself and the fencing
of appends are tested on a real PostgreSQL in tests/integration/test_ha_servers.py."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import FAST_HASHER, PASSWORD, feed_step, step

from calamari.adapters.postgres_lease import LeaseHolder, PostgresLease
from calamari.adapters.server_identity import load_or_create_server_id
from calamari.adapters.snapshots import load_model
from calamari.bootstrap import build_app, build_services
from calamari.domain.event_feed import EventFeed
from calamari.service.auth import AuthPolicy, AuthService, LoginThrottled
from calamari.service.high_availability import ACTIVE, FENCED, STANDBY, HighAvailability
from calamari.service.main import parse_args
from calamari.service.model import ModelService, NotPersisted, ServiceConfig
from calamari.testing.captures import capture_steps


class FakeLease:
    """A lease another server holds until `free` is set."""

    def __init__(self, holder: str = "standby-1", address: str = "http://standby:8002") -> None:
        self.holder, self.address, self.ttl_s = holder, address, 3.0
        self.epoch: int | None = None
        self.free = False
        self.keeps = True  # renewals succeed
        self.valid = True  # the local clock says it is still held
        self.active_address = "http://active:8002"

    def try_acquire(self) -> int | None:
        if not self.free:
            return None
        self.epoch = 7
        return self.epoch

    def renew(self) -> bool:
        if not self.keeps:
            self.epoch = None
        return self.keeps

    def held_locally(self) -> bool:
        return self.epoch is not None and self.valid

    def wait_for_appends(self, timeout: float) -> bool:
        time.sleep(timeout)  # no notifications here: the keeper polls
        return False

    def release(self) -> None:
        self.epoch = None

    def read(self) -> Any:
        return LeaseHolder("active-1", self.active_address, 6, live=True)

    def close(self) -> None:
        pass


def _state(service: ModelService) -> dict[str, Any]:
    return {str(k): a.domain_state() for k, a in service.model.aggregates.items()}


@pytest.fixture
def pair(tmp_path, monkeypatch):
    """An active service writing a SQLite store and a standby following the same file."""
    active = ModelService(ServiceConfig(data_dir=str(tmp_path / "a"), snapshot_every_events=10**9))
    standby = ModelService(ServiceConfig(data_dir=str(tmp_path / "b"), snapshot_every_events=10**9,
                                         event_store_url=active.config.store_url))
    # fencing is PostgreSQL's (tested there); here the standby's writer refusing is what counts
    monkeypatch.setattr(standby.store, "fence_with_lease", lambda holder: None)
    yield active, standby
    standby.close()
    active.close()


def _keeper(standby: ModelService, lease: FakeLease, promoted: list[str] | None = None,
            lost: list[str] | None = None) -> HighAvailability:
    keeper = HighAvailability(standby, lease, on_promoted=lambda: (promoted if promoted is not None else []).append("promoted"),
                              on_lost=lambda reason: (lost if lost is not None else []).append(reason))
    # as start() does, without its thread: the tests drive it step by step
    standby.writer.refuse_all("this server is a standby; changes go to the active server")
    standby.followed_position = standby.restored_position
    return keeper


def test_a_standby_follows_the_active_and_equals_a_fresh_replay(pair, capture_dir, tmp_path):
    active, standby = pair
    keeper = _keeper(standby, FakeLease())
    told: list[int] = []
    standby.listeners.append(lambda events, model: told.append(len(events)))
    for s in capture_steps(capture_dir)[:3]:
        feed_step(active, s)
    auth = AuthService(active, hasher=FAST_HASHER)
    auth.add_user("alice", PASSWORD, "admin", by="test")
    active.writer.flush(10)
    end = active.store.max_position()
    assert end > 0

    keeper.follow()
    assert standby.followed_position == end and standby.position() == end
    assert _state(standby) == _state(active)
    assert standby.view.as_dict() == active.view.as_dict()
    assert sum(told) == end  # the feed and the push stream hear every followed event
    replayed, at = load_model(str(tmp_path / "nowhere"), active.store)
    assert at == end and {str(k): a.domain_state() for k, a in replayed.aggregates.items()} == _state(standby)
    assert keeper.status()["lag"] == {"events": 0, "seconds": 0.0}
    assert keeper.status()["role"] == STANDBY and keeper.status()["active"] == ""


def test_the_lag_counts_events_not_yet_followed(pair, capture_dir):
    active, standby = pair
    keeper = _keeper(standby, FakeLease())
    feed_step(active, capture_steps(capture_dir)[0])
    active.writer.flush(10)
    keeper.behind = active.store.max_position() - standby.position()  # as seen before following
    assert keeper.status()["lag"]["events"] == active.store.max_position()
    keeper.follow()
    assert keeper.status()["lag"]["events"] == 0


def test_a_standby_stores_nothing_and_its_model_is_unchanged(pair):
    active, standby = pair
    _keeper(standby, FakeLease())
    auth = AuthService(standby, hasher=FAST_HASHER)
    before, stored = _state(standby), active.store.max_position()
    with pytest.raises(NotPersisted) as refused:
        auth.add_user("mallory", PASSWORD, "admin", by="test")
    assert "standby" in refused.value.reason
    assert _state(standby) == before and active.store.max_position() == stored
    assert auth.get("mallory") is None


def test_a_token_made_on_the_active_works_on_the_standby(pair):
    active, standby = pair
    keeper = _keeper(standby, FakeLease())
    on_active = AuthService(active, hasher=FAST_HASHER)
    on_standby = AuthService(standby, hasher=FAST_HASHER)
    on_active.add_user("alice", PASSWORD, "operator", by="test")
    assert on_standby.get("alice") is None
    token, _csrf = on_active.login("alice", PASSWORD)
    active.writer.flush(10)
    assert on_standby.authenticate(token) is None  # not followed yet
    keeper.follow()
    identity = on_standby.authenticate(token)
    assert identity is not None and identity.username == "alice" and identity.role == "operator"
    on_active.revoke_all("alice", by="test")
    active.writer.flush(10)
    keeper.follow()
    assert on_standby.authenticate(token) is None  # a revoked session ends on every server


def test_a_lock_out_stored_by_the_active_holds_on_the_standby_once_promoted(pair):
    active, standby = pair
    lease = FakeLease()
    keeper = _keeper(standby, lease)
    policy = AuthPolicy()
    now = [time.time()]

    def clock() -> float:
        return now[0]

    on_active = AuthService(active, policy=policy, hasher=FAST_HASHER, clock=clock)
    on_standby = AuthService(standby, policy=policy, hasher=FAST_HASHER, clock=clock)
    on_active.add_user("alice", PASSWORD, "operator", by="test")
    for _ in range(policy.throttle.lock_after):
        now[0] += policy.throttle.max_delay_s + 1  # past each wait the throttle asks for
        assert on_active.login("alice", "wrong-password-1", address="192.0.2.9") is None
    with pytest.raises(LoginThrottled):
        on_active.login("alice", PASSWORD, address="192.0.2.10")
    active.writer.flush(10)
    keeper.follow()
    lease.free = True
    assert keeper.try_promote()
    with pytest.raises(LoginThrottled) as throttled:
        on_standby.login("alice", PASSWORD, address="192.0.2.11")
    assert throttled.value.locked


def test_promotion_catches_up_then_writes_and_calls_back(pair, capture_dir):
    active, standby = pair
    lease = FakeLease()
    promoted: list[str] = []
    keeper = _keeper(standby, lease, promoted)
    assert not keeper.try_promote() and keeper.role == STANDBY and promoted == []
    assert keeper.active_address == "http://active:8002"
    feed_step(active, capture_steps(capture_dir)[0])
    active.writer.flush(10)
    active.close()  # the active dies
    lease.free = True
    assert keeper.try_promote()
    assert keeper.role == ACTIVE and keeper.is_active() and promoted == ["promoted"] and keeper.epoch == 7
    assert standby.followed_position is None and _state(standby)  # caught up before writing
    end = standby.store.max_position()
    AuthService(standby, hasher=FAST_HASHER).add_user("bob", PASSWORD, "admin", by="test")
    assert standby.store.max_position() > end
    assert keeper.status()["active"] == lease.address


def test_a_lost_lease_stops_writing_at_once_and_ends_the_server(pair):
    active, standby = pair
    lease = FakeLease()
    lost: list[str] = []
    keeper = _keeper(standby, lease, lost=lost)
    lease.free = True
    keeper.try_promote()
    keeper.keep()
    assert keeper.role == ACTIVE and lost == []
    lease.keeps = False
    end = standby.store.max_position()
    keeper.keep()
    assert keeper.role == FENCED and len(lost) == 1 and not keeper.is_active()
    with pytest.raises(NotPersisted):
        AuthService(standby, hasher=FAST_HASHER).add_user("bob", PASSWORD, "admin", by="test")
    standby.on_heartbeat(None, "host-1", datetime.now(UTC))  # a map-derived change: dropped, not queued
    assert standby.writer.flush(5)
    assert standby.store.max_position() == end and standby.writer.backlog == 0


def test_commands_are_sent_only_while_the_lease_is_certainly_held(pair):
    active, standby = pair
    lease = FakeLease()
    keeper = _keeper(standby, lease)
    sent: list[tuple[Any, ...]] = []
    send = keeper.guard(lambda *args: sent.append(args) or True)
    assert send("fsid", "r/0", "osd pool create", {}, "mon") is False  # a standby commands nothing
    lease.free = True
    keeper.try_promote()
    assert send("fsid", "r/0", "osd pool create", {}, "mon") is True and len(sent) == 1
    lease.valid = False  # paused past the lease time: its own clock says so before the database does
    assert send("fsid", "r/1", "osd pool create", {}, "mon") is False and len(sent) == 1


def test_the_api_of_a_standby_serves_reads_and_refuses_changes_with_the_active_address(pair, capture_dir):
    active, standby = pair
    fsid = feed_step(active, step(capture_dir, "00"))
    on_active = AuthService(active, hasher=FAST_HASHER)
    on_active.add_user("admin", PASSWORD, "admin", by="test")
    token, _ = on_active.login("admin", PASSWORD)
    active.writer.flush(10)
    lease = FakeLease()
    keeper = _keeper(standby, lease)
    keeper.follow()
    keeper.try_promote()  # not free: learns the active's address
    app = build_app(standby, auth=AuthService(standby, hasher=FAST_HASHER), HIGH_AVAILABILITY=keeper)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    info = client.get("/api/v2/info", headers=headers)
    assert info.status_code == 200 and info.json["role"] == "standby"
    assert info.json["high_availability"]["active"] == "http://active:8002"
    assert client.get(f"/api/v2/cluster/{fsid}/pool", headers=headers).status_code == 200
    health = client.get("/api/v2/health/active")
    assert health.status_code == 503 and health.json["role"] == "standby"
    stored = active.store.max_position()
    created = client.post(f"/api/v2/cluster/{fsid}/pool", headers=headers, json={"name": "p", "pg_num": 8})
    assert created.status_code == 503 and created.json["active"] == "http://active:8002"
    assert created.json["errors"] == {"server": "standby"} and "http://active:8002" in created.json["detail"]
    crush = client.get(f"/api/v2/cluster/{fsid}/crush_map", headers=headers)  # held copies: the active's only
    assert crush.status_code == 503 and crush.json["errors"] == {"server": "standby"}
    assert "http://active:8002" in crush.json["detail"]
    login = client.post("/api/v2/auth/login", json={"username": "admin", "password": PASSWORD})
    assert login.status_code == 503
    assert client.post("/api/v2/auth/logout", json={}).status_code == 401  # authentication comes first
    assert active.store.max_position() == stored
    lease.free = True
    keeper.try_promote()
    assert client.get("/api/v2/health/active").status_code == 200
    assert client.get("/api/v2/info", headers=headers).json["role"] == "active"


def test_a_server_alone_on_its_store_is_single_and_healthy(pair):
    active, _ = pair
    services = build_services(active)
    app = build_app(active, auth=services.auth)
    assert app.test_client().get("/api/v2/health/active").status_code == 200
    assert app.test_client().get("/api/v2/health/active").json["role"] == "single"


def test_the_event_feed_of_a_standby_numbers_from_its_own_position(pair, capture_dir):
    active, standby = pair
    keeper = _keeper(standby, FakeLease())
    first, *later = capture_steps(capture_dir)
    feed_step(active, first)
    active.writer.flush(10)
    keeper.follow()
    for s in later:  # changes to what the standby already knows, not yet followed
        feed_step(active, s)
    active.writer.flush(10)
    assert standby.position() < active.store.max_position()
    services = build_services(standby)  # the model is behind the store's end
    assert services.feed_history_told.wait(10)
    keeper.follow()
    reference = EventFeed()
    reference.add_older(list(active.store.read()), active.model)
    told = sorted((e["when"], e["message"]) for e in services.feed.query())
    assert told and told == sorted((e["when"], e["message"]) for e in reference.query())  # each event told once


def test_the_keeper_thread_promotes_a_standby_when_the_lease_frees(pair, capture_dir, monkeypatch):
    active, standby = pair
    lease = FakeLease()
    promoted = threading.Event()
    keeper = HighAvailability(standby, lease, on_promoted=promoted.set, on_lost=lambda reason: None,
                              follow_interval_s=0.01, acquire_interval_s=0.01)
    monkeypatch.setattr(standby.store, "fence_with_lease", lambda holder: None)
    keeper.start()
    try:
        feed_step(active, capture_steps(capture_dir)[0])
        active.writer.flush(10)
        deadline = time.monotonic() + 10
        while standby.position() < active.store.max_position() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert standby.position() == active.store.max_position() and keeper.role == STANDBY
        lease.free = True
        assert promoted.wait(10) and keeper.role == ACTIVE
    finally:
        keeper.stop()
    assert lease.epoch is None  # released at the stop: a standby takes over at once


def test_a_server_keeps_its_id_across_restarts_and_a_damaged_id_file_is_refused(tmp_path):
    first = load_or_create_server_id(str(tmp_path))
    assert load_or_create_server_id(str(tmp_path)) == first
    assert (tmp_path / "server-id").stat().st_mode & 0o077 == 0
    (tmp_path / "server-id").write_text("not an id\n")
    with pytest.raises(ValueError, match="server-id"):
        load_or_create_server_id(str(tmp_path))


@pytest.mark.parametrize("ttl", [0.5, 601.0])
def test_a_lease_time_out_of_bounds_is_refused(ttl):
    with pytest.raises(ValueError, match="between 1 and 600"):
        PostgresLease("postgresql://u:p@127.0.0.1:1/db", "me", "http://me", ttl)


@pytest.mark.parametrize("value", ["0.5", "601", "x"])
def test_the_server_refuses_a_lease_time_out_of_bounds(value, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--lease-time", value])
    assert "--lease-time" in capsys.readouterr().err


def test_a_session_in_use_on_the_active_works_on_a_standby_and_after_a_failover(pair):
    active, standby = pair
    keeper = _keeper(standby, FakeLease())
    now = [time.time()]

    def clock() -> float:
        return now[0]

    policy = AuthPolicy()
    on_active = AuthService(active, policy=policy, hasher=FAST_HASHER, clock=clock)
    on_standby = AuthService(standby, policy=policy, hasher=FAST_HASHER, clock=clock)
    on_standby.sessions_used_elsewhere(True)  # as calamari-server sets up a standby
    on_active.add_user("alice", PASSWORD, "operator", by="test")
    token, _ = on_active.login("alice", PASSWORD)
    other, _ = on_active.login("alice", PASSWORD)
    active.writer.flush(10)
    keeper.follow()
    for _ in range(6):  # three hours of use on the active, well past the idle limit since the standby started
        now[0] += policy.session_idle_s / 4
        assert on_active.authenticate(token) is not None and on_active.authenticate(other) is not None
    assert on_standby.authenticate(token) is not None  # its use elsewhere is not seen here
    on_standby.sessions_used_elsewhere(False)  # promoted: the sessions are used here from now on
    assert on_standby.authenticate(other) is not None
    now[0] += policy.session_idle_s + 1
    assert on_standby.authenticate(other) is None  # idle here since the promotion


def test_during_a_failover_a_standby_names_no_active_server(pair):
    active, standby = pair
    lease = FakeLease()
    keeper = _keeper(standby, lease)
    lease.active_address = "http://dead:8002"
    lease.read = lambda: LeaseHolder("active-1", "http://dead:8002", 6, live=False)  # run out, not yet taken
    assert not keeper.try_promote() and keeper.active_address == ""
    app = build_app(standby, auth=AuthService(standby, hasher=FAST_HASHER), HIGH_AVAILABILITY=keeper)
    refused = app.test_client().post("/api/v2/auth/login", json={"username": "a", "password": PASSWORD})
    assert refused.status_code == 503 and refused.json["active"] is None
    assert "no server is active" in refused.json["detail"] and refused.headers["Retry-After"] == "1"


def test_the_push_stream_of_a_standby_tells_followed_events_with_their_positions(pair, capture_dir):
    active, standby = pair
    keeper = _keeper(standby, FakeLease())
    services = build_services(standby)
    hub = services.stream_hub
    sub = hub.subscribe()
    assert sub is not None
    feed_step(active, capture_steps(capture_dir)[0])
    active.writer.flush(10)
    keeper.follow()
    assert hub.settle(10)
    told = []
    while (message := sub.take(0.1)) is not None:
        told.append(message["position"])
    stored = [position for position, _ in active.store.read()]
    assert told and told == [p for p in stored if p in set(told)] and told[-1] == stored[-1]
    assert [m["position"] for m in hub.stored_after(0, 10_000)[0]] == stored
