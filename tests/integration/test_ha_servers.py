"""Several calamari-server processes on one throwaway PostgreSQL (docs/high-availability.md): the
lease makes exactly one active, standbys follow the store (their models equal the active's and a
fresh replay), a change sent to a standby is refused with the active's address, a standby takes
over within the budget after kill -9, the store refuses an append under a stale epoch, and a
paused old active that wakes up writes nothing and steps down by itself."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

# the throwaway PostgreSQL server of the store tests, shared for the session
from test_postgres_store import postgres  # noqa: F401

from calamari.adapters.event_store import EventStore, unavailable_reason
from calamari.adapters.postgres_lease import PostgresLease
from calamari.domain.ids import user_request_id
from calamari.domain.model import ClusterModel
from calamari.testing.high_availability import (
    HaServer,
    add_admin,
    outcome_counts,
    store_positions,
    stored_topics_after,
    submit_anywhere,
    wait_for_active,
)
from calamari.testing.live import BIN, ApiClient, ApiError, Process, WaitTimeout

pytestmark = pytest.mark.integration
FAILOVER_BUDGET_S = 10.0
SIMULATED = "hosts=2,osds=4,pools=2"
_tables = itertools.count(1)


@pytest.fixture
def store_url(postgres) -> str:  # noqa: F811 - the fixture imported above
    return postgres.url(table=f"ha_events_{next(_tables)}")


@pytest.fixture
def start(tmp_path: Path, store_url: str) -> Iterator:
    """start(name, *options) -> a running HaServer on the test's store; all stopped at the end."""
    add_admin(store_url, tmp_path / "ctl")
    made: list[HaServer] = []

    def start_server(name: str, *extra: str) -> HaServer:
        server = HaServer(name, tmp_path / name, store_url, extra=list(extra))
        made.append(server)
        return server.start()

    yield start_server
    for server in made:
        if server.alive():
            server.resume()  # a paused one must be able to hear its SIGTERM
        server.stop()


# When a collector was last heard of is kept in memory from its heartbeats, which only the active
# server receives (docs/high-availability.md); everything else comes from stored events. The links
# to further pages name the server asked.
LIVE_ONLY = frozenset({"last_contact", "age_s", "next", "previous"})


def _without_live(value):
    if isinstance(value, dict):
        return {k: _without_live(v) for k, v in value.items() if k not in LIVE_ONLY}
    if isinstance(value, list):
        return [_without_live(v) for v in value]
    return value


def _view(client, fsid: str) -> dict:
    """What the API shows of the model: the routes every server serves from its projections."""
    return {path: _without_live(client.get(path))
            for path in (f"/cluster/{fsid}/osd", f"/cluster/{fsid}/pool", "/server", "/user", "/request?page_size=1000",
                         f"/cluster/{fsid}")}


def _same_as_active(active_client, other_client, fsid: str, timeout: float = 30) -> None:
    """The other server shows what the active shows, at the same store position."""
    deadline = time.monotonic() + timeout
    while True:
        active_view = _view(active_client, fsid)
        other_status = other_client.get("/info")["high_availability"]
        other_view = _view(other_client, fsid)
        active_again = _view(active_client, fsid)
        if active_view == active_again == other_view and other_status["lag"]["events"] == 0:
            return
        if time.monotonic() > deadline:
            differing = {path: (active_view[path], other_view[path]) for path in active_view
                         if active_view[path] != other_view[path]}
            raise AssertionError(f"the other server's model differs from the active's (lag {other_status['lag']}): "
                                 f"{str(differing)[:3000]}")
        time.sleep(0.1)


def test_the_lease_makes_one_active_and_the_standbys_follow_it(start, tmp_path):
    a = start("a", "--simulate", SIMULATED)
    assert wait_for_active([a]) is a
    b, c = start("b"), start("c")
    time.sleep(2)  # several lease attempts of each standby
    assert wait_for_active([a, b, c]) is a and b.health() == c.health() == 503
    on_a = a.client()
    assert on_a.get("/info")["role"] == "active"
    fsid = _wait_cluster(on_a)
    request_id = on_a.submit("POST", f"/cluster/{fsid}/pool", {"name": "made-on-a", "pg_num": 8})
    assert on_a.wait_request(request_id)["error"] is False

    # the token made on the active works on the standbys (the session is an event they followed)
    on_b, on_c = _with_token(b, on_a.token), _with_token(c, on_a.token)
    info = on_b.get("/info")
    assert info["role"] == "standby" and info["high_availability"]["active"] == a.base
    for other in (on_b, on_c):
        _same_as_active(on_a, other, fsid)
    assert any(p["name"] == "made-on-a" for p in on_c.get(f"/cluster/{fsid}/pool"))

    # a change sent to a standby: 503 with the active's address, and nothing of it stored
    with pytest.raises(ApiError) as refused:
        on_b.call("POST", f"/cluster/{fsid}/pool", {"name": "made-on-b", "pg_num": 8})
    assert refused.value.status == 503 and refused.value.body["active"] == a.base
    assert refused.value.body["errors"] == {"server": "standby"}
    with pytest.raises(ApiError) as login:
        b.client()
    assert login.value.status == 503

    # a fresh replay of the whole store (a new standby, no snapshot) shows the same
    d = start("d")
    _same_as_active(on_a, _with_token(d, on_a.token), fsid)
    assert not any(p["name"] == "made-on-b" for p in on_a.get(f"/cluster/{fsid}/pool"))
    positions = store_positions(a.store_url)
    assert len(positions) == len(set(positions))


def _wait_cluster(client) -> str:
    deadline = time.monotonic() + 60
    while True:
        clusters = client.get("/cluster")
        if clusters and client.get(f"/cluster/{clusters[0]['id']}/pool"):
            return str(clusters[0]["id"])
        if time.monotonic() > deadline:
            raise WaitTimeout("the simulated cluster did not report")
        time.sleep(0.2)


def _with_token(server: HaServer, token: str | None) -> ApiClient:
    client = ApiClient(server.url)
    client.token = token
    return client


def test_a_standby_takes_over_within_the_budget_after_kill_9(start, tmp_path):
    a = start("a")
    assert wait_for_active([a]) is a
    b = start("b")
    on_a = a.client()
    on_a.call("POST", "/user", {"username": "before", "password": "a-long-password-1", "role": "read-only"})
    # calamari-ctl writing to the store directly, past the active server: refused by the store
    direct = subprocess.run([str(BIN / "calamari-ctl"), "--data-dir", str(tmp_path / "ctl"), "--event-store",
                             a.store_url, "user", "add", "sideways", "--role", "admin"], input="a-long-password-1\n",
                            text=True, capture_output=True, timeout=60)
    assert direct.returncode == 2 and "active on this event store" in direct.stderr, direct.stderr
    assert "sideways" not in {u["username"] for u in on_a.get("/user")}
    a.kill9()
    killed = time.monotonic()
    assert wait_for_active([b], timeout=FAILOVER_BUDGET_S + 5) is b
    took = time.monotonic() - killed
    assert took <= FAILOVER_BUDGET_S, f"the standby took {took:.1f} s to become active"
    on_b = b.client()  # a login is a write: it works on the new active
    on_b.call("POST", "/user", {"username": "after", "password": "a-long-password-1", "role": "read-only"})
    names = {u["username"] for u in on_b.get("/user")}
    assert {"before", "after"} <= names
    positions = store_positions(b.store_url)
    assert len(positions) == len(set(positions))


def test_a_paused_old_active_writes_nothing_after_it_wakes_and_steps_down(start):
    # a: the active, with a simulated cluster in-process that keeps making events
    a = start("a", "--simulate", SIMULATED)
    assert wait_for_active([a]) is a
    b = start("b", "--contact-timeout", "600")  # b makes no event of its own but what is asked
    on_a = a.client()
    _wait_cluster(on_a)
    a.pause()
    try:
        assert wait_for_active([b], timeout=FAILOVER_BUDGET_S + 5) is b
        taken_over_at = max(store_positions(b.store_url))
        on_b = b.client()  # a session: a write by the new active
    finally:
        a.resume()
    # a wakes up with maps, heartbeats and commands of its simulated cluster queued: none may be stored
    deadline = time.monotonic() + 30
    while a.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not a.alive(), "the old active did not step down"
    assert a.process is not None and a.process.proc.returncode == 3
    on_b.call("POST", "/user", {"username": "after", "password": "a-long-password-1", "role": "read-only"})
    after = stored_topics_after(b.store_url, taken_over_at)
    assert after and all(topic.startswith("calamari.domain.user:") for _, topic in after), after
    assert "not the active one" in a.log() or "lost the active lease" in a.log()
    assert b.is_active()


def test_the_store_refuses_an_append_under_a_stale_epoch(store_url):
    first, second = EventStore(store_url), EventStore(store_url)
    lease_1 = PostgresLease(store_url, "one", "http://one", 1.0)
    lease_2 = PostgresLease(store_url, "two", "http://two", 1.0)
    try:
        first.fence_with_lease("one")
        second.fence_with_lease("two")
        assert lease_1.try_acquire() == 1 and lease_2.try_acquire() is None
        first.lease_epoch = lease_1.epoch
        assert first.append(_user_events("u1")) == [1]
        with pytest.raises(Exception) as standby_append:
            second.append(_user_events("u2"))  # a standby: no epoch
        assert unavailable_reason(standby_append.value) is not None
        time.sleep(1.2)  # the first holder pauses past its lease; the second takes it
        assert lease_2.try_acquire() == 2
        second.lease_epoch = lease_2.epoch
        with pytest.raises(Exception) as stale:
            first.append(_user_events("u3"))
        assert "not the active one" in (unavailable_reason(stale.value) or "")
        assert not lease_1.renew() and not lease_1.held_locally()
        assert second.append(_user_events("u4")) == [2]
        assert [position for position, _ in first.read()] == [1, 2]
    finally:
        lease_1.close()
        lease_2.close()
        first.close()
        second.close()


def _user_events(name: str) -> list:
    model = ClusterModel()
    model.add_user(name, "admin", "hash", "", "test", datetime.now(UTC))
    return model.drain()


def test_kill_9_of_the_active_five_times_while_a_client_creates_pools(start, tmp_path):
    """The issue's test: three servers and a simulated collector given all three; the active is
    killed five times in a row (and restarted, as a supervisor would, to come back as a standby)
    while a client keeps creating pools through whichever server accepts them. Every request
    answered 202 ends complete exactly once, no position is stored twice, and every server, and
    a fresh replay, shows the same."""
    servers = [start(name) for name in ("a", "b", "c")]
    active = wait_for_active(servers)
    collector = Process([str(BIN / "calamari-collector"), "--simulate", "hosts=3,osds=30,pools=1", "--insecure",
                         "--server", ",".join(s.bus for s in servers), "--failover-after", "2",
                         "--heartbeat-interval", "1"], tmp_path / "collector.log")
    try:
        token = active.client().token
        fsid = _wait_cluster(_with_token(active, token))
        accepted: dict[str, str] = {}  # request id -> pool name
        stop = threading.Event()
        errors: list[BaseException] = []

        def create_pools() -> None:
            for number in itertools.count():
                if stop.is_set():
                    return
                name = f"pool-{number}"
                try:
                    request_id, _ = submit_anywhere(servers, token, f"/cluster/{fsid}/pool",
                                                    {"name": name, "pg_num": 4}, timeout=60)
                except BaseException as err:  # reported by the main thread
                    errors.append(err)
                    return
                if request_id is not None:
                    accepted[request_id] = name
                time.sleep(0.3)

        client = threading.Thread(target=create_pools, name="pool-creator", daemon=True)
        client.start()
        failovers = []
        for _ in range(5):
            before = len(accepted)
            deadline = time.monotonic() + 60
            while len(accepted) < before + 2 and time.monotonic() < deadline and not errors:
                time.sleep(0.1)
            assert not errors, errors
            active.kill9()
            killed = time.monotonic()
            active = wait_for_active([s for s in servers if s is not active], timeout=FAILOVER_BUDGET_S + 10)
            failovers.append(time.monotonic() - killed)
            killed_server = next(s for s in servers if not s.alive())
            killed_server.start()  # restarted by its supervisor: a standby now
        deadline = time.monotonic() + 60
        while len(accepted) < 12 and not errors and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        client.join(90)
        assert not errors, errors
        assert max(failovers) <= FAILOVER_BUDGET_S, failovers
        assert len(accepted) >= 12, f"only {len(accepted)} pools accepted"

        reader = _with_token(active, token)
        for request_id in accepted:
            row = reader.wait_request(request_id, timeout=120)
            assert row["error"] is False, row
        counts = outcome_counts(active.store_url)
        assert all(counts.get(str(user_request_id(r))) == 1 for r in accepted), counts
        positions = store_positions(active.store_url)
        assert len(positions) == len(set(positions))
        names = {p["name"] for p in reader.get(f"/cluster/{fsid}/pool")}
        assert set(accepted.values()) <= names
        for other in servers:
            if other is not active:
                _same_as_active(reader, _with_token(other, token), fsid)
        fresh = start("fresh")
        _same_as_active(reader, _with_token(fresh, token), fsid)
    finally:
        collector.stop()


def test_a_standby_is_woken_by_each_append(store_url):
    writer, lease = EventStore(store_url), PostgresLease(store_url, "standby", "http://standby", 5.0)
    try:
        assert lease.wait_for_appends(0.05) is False  # listening from now on; nothing appended
        writer.append(_user_events("woken"))
        assert lease.wait_for_appends(5.0) is True  # (False had it waited the 5 s out)
        assert lease.wait_for_appends(0.05) is False  # one notification, taken once
    finally:
        lease.close()
        writer.close()
