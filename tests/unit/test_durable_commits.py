"""A change that must be stored before it counts (user requests, users, logins and sessions,
collector keys, forgetting a cluster) is either stored and answered as done, or answered 503 and
gone: not in the model, not in the projections, never written later (not even once the store
works again, nor after a restart). A full disk is told quickly, with the reason; a store that
does not confirm in time is given up on, and the change withdrawn. Failures are injected at the
store adapter; tests/unit/test_full_disk_live.py fills a real disk."""

from __future__ import annotations

import copy
import sqlite3
from typing import Any

import pytest
from api_support import PASSWORD, Harness
from eventsourcing.persistence import OperationalError

from calamari.adapters.curve_keys import new_key_pair
from calamari.domain.collector_key import PENDING
from calamari.domain.login_guard import ThrottlePolicy
from calamari.domain.user import User
from calamari.service.auth import AuthPolicy
from calamari.service.collector_keys import CollectorKeyService
from calamari.service.model import ModelService, NotPersisted, ServiceConfig

DURABLE_TIMEOUT = 10.0  # the fast refusal of a full disk must not depend on it


def driver_error(message: str) -> Exception:
    """An error as the eventsourcing library raises it: sqlite3's, wrapped in its own type."""
    try:
        raise sqlite3.OperationalError(message)
    except sqlite3.OperationalError as err:
        try:
            raise OperationalError(err) from err
        except OperationalError as wrapped:
            return wrapped


class SwitchableStore:
    """The service's event store, whose appends fail while `failure` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failure: str | None = None
        self.attempts = 0

    def append(self, events: Any) -> list[int]:
        self.attempts += 1
        if self.failure is not None:
            raise driver_error(self.failure)
        return self.inner.append(events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def api(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, steps=("00",))
    harness.service.config.durable_timeout = DURABLE_TIMEOUT
    for user in ("admin", "oper", "viewer"):
        harness.token(user)  # logged in before the disk fills
    harness.store = SwitchableStore(harness.service.writer.store)
    harness.service.writer.store = harness.store
    yield harness
    harness.store.failure = None
    harness.close()


def model_state(service: ModelService) -> tuple[Any, ...]:
    """Everything a change could have touched: every aggregate's state, every index and map the
    model holds, and the projections."""
    model = service.model
    with service.lock:
        aggregates = {k: copy.deepcopy(a.domain_state()) for k, a in model.aggregates.items()}
        indexes = {name: copy.copy(value) for name, value in vars(model).items()
                   if isinstance(value, dict) and name != "aggregates"}
        return aggregates, indexes, service.view.as_dict()


def stored_count(service: ModelService) -> int:
    assert service.writer.flush(30)
    return service.store.max_position()


def healthy_again(api: Harness) -> None:
    api.store.failure = None
    assert api.service.writer.flush(30)


def submit_request(api: Harness) -> str:
    r = api.call("POST", "cluster/{fsid}/pool", user="oper", json={"name": "kept", "pg_num": 8})
    assert r.status_code == 202, r.json
    return r.json["request_id"]


# Each change: what to do (the harness passed), before the store fails; and the change itself.
CHANGES = {
    "create pool": (None, lambda api: api.call("POST", "cluster/{fsid}/pool", user="oper",
                                               json={"name": "new-pool", "pg_num": 8})),
    "change OSD": (None, lambda api: api.call("PATCH", "cluster/{fsid}/osd/1", user="oper",
                                              json={"reweight": 0.5})),
    "cancel request": (submit_request, lambda api: api.call("POST", f"request/{api.prepared}/cancel",
                                                            user="oper")),
    "add user": (None, lambda api: api.call("POST", "user", json={"username": "newcomer", "password": PASSWORD,
                                                                   "role": "read-only"})),
    "change role": (None, lambda api: api.call("PATCH", "user/viewer", json={"role": "operator"})),
    "change password": (None, lambda api: api.call("PATCH", "user/viewer",
                                                   json={"password": "another-long-secret-9"})),
    "delete user": (None, lambda api: api.call("DELETE", "user/viewer")),
    "login": (None, lambda api: api.app.test_client().post("/api/v2/auth/login",
                                                           json={"username": "viewer", "password": PASSWORD})),
    "logout": (None, lambda api: api.call("POST", "auth/logout", user="viewer")),
    "end a user's sessions": (None, lambda api: api.call("DELETE", "user/viewer/token")),
    "forget cluster": (None, lambda api: api.call("DELETE", "cluster/{fsid}")),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_on_a_full_disk_is_refused_at_once_and_left_nowhere(api, change):
    prepare, act = CHANGES[change]
    api.prepared = prepare(api) if prepare else None
    before_state = model_state(api.service)
    before_stored = stored_count(api.service)
    api.store.failure = "database or disk is full"

    r = act(api)

    assert r.status_code == 503, (r.status_code, r.json)
    # the reason comes from the store's error, not from giving up after durable_timeout
    assert "disk is full" in r.json["detail"] and r.json["reason"] == "the data disk is full"
    assert r.headers["Retry-After"]
    assert model_state(api.service) == before_state
    healthy_again(api)
    assert stored_count(api.service) == before_stored  # nothing of it was written later
    assert model_state(api.service) == before_state
    # the sessions of before still work
    assert api.call("GET", "info", user="viewer").status_code == 200


def test_a_refused_request_never_runs_and_can_be_made_again(api, tmp_path):
    api.store.failure = "database or disk is full"
    body = {"name": "on-full-disk", "pg_num": 8}
    r = api.call("POST", "cluster/{fsid}/pool", user="oper", json=body)
    assert r.status_code == 503
    assert api.sender.sent == []  # no command went to the cluster
    assert api.call("GET", "cluster/{fsid}/request").json["results"] == []

    healthy_again(api)
    assert api.sender.sent == []
    again = api.call("POST", "cluster/{fsid}/pool", user="oper", json=body)  # not 409: nothing is pending
    assert again.status_code == 202, again.json
    api.service.writer.flush(30)
    stored = [e for _, e in api.service.store.read() if type(e).__name__ == "UserRequestSubmitted"]
    assert [e.request_id for e in stored] == [again.json["request_id"]]

    api.close()  # a restart resumes only the request that was accepted
    restarted = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    try:
        assert [r.request_id for r in restarted.model.open_requests()] == [again.json["request_id"]]
    finally:
        restarted.close()
        api.service.close = lambda: None  # closed above: the fixture's teardown has nothing left to do


def test_a_login_on_a_full_disk_answers_503_and_works_again_once_space_returns(api):
    client = api.app.test_client()
    api.store.failure = "database or disk is full"
    refused = client.post("/api/v2/auth/login", json={"username": "oper", "password": PASSWORD})
    assert refused.status_code == 503 and "disk is full" in refused.json["detail"]
    assert "token" not in refused.json

    api.store.failure = None  # space came back; nothing restarted
    ok = client.post("/api/v2/auth/login", json={"username": "oper", "password": PASSWORD})
    assert ok.status_code == 200
    assert client.get("/api/v2/user/me", headers={"Authorization": f"Bearer {ok.json['token']}"}).status_code == 200


def test_a_read_only_store_is_told_as_such(api):
    api.store.failure = "attempt to write a readonly database"
    r = api.call("POST", "user", json={"username": "newcomer", "password": PASSWORD, "role": "read-only"})
    assert r.status_code == 503 and r.json["reason"] == "the event store is read-only"
    assert api.auth.get("newcomer") is None


def test_a_wrong_password_on_a_full_disk_is_still_a_401_and_locks(tmp_path, capture_dir):
    """Failed logins lock out in memory; a lock that cannot be stored is logged, not a 503 that
    would tell a password guesser something else."""
    policy = AuthPolicy(throttle=ThrottlePolicy(slow_after=10, lock_after=3, lock_s=900, window_s=900))
    api = Harness(str(tmp_path), capture_dir, steps=(), auth_options={"policy": policy})
    api.service.config.durable_timeout = DURABLE_TIMEOUT
    store = api.service.writer.store = SwitchableStore(api.service.writer.store)
    try:
        client = api.app.test_client()
        store.failure = "database or disk is full"
        answers = [client.post("/api/v2/auth/login", json={"username": "oper", "password": "wrong-password-1"},
                               environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code for _ in range(4)]
        assert answers == [401, 401, 401, 429]  # the third locks (in memory): the fourth waits
        store.failure = None
        locked = client.post("/api/v2/auth/login", json={"username": "oper", "password": PASSWORD},
                             environ_base={"REMOTE_ADDR": "192.0.2.8"})
        assert locked.status_code == 429
    finally:
        api.close()


def test_a_change_the_store_does_not_confirm_in_time_is_withdrawn_and_never_written(api):
    """Not a full disk but a store that keeps failing (here: locked): the caller stops waiting
    after durable_timeout, and the change is taken back from the writer, so that once the store
    works again it is not written after all."""
    api.service.config.durable_timeout = 0.5
    api.store.failure = "database is locked"
    before_state = model_state(api.service)
    before_stored = stored_count(api.service)

    r = api.call("POST", "cluster/{fsid}/pool", user="oper", json={"name": "late", "pg_num": 8})

    assert r.status_code == 503 and "in time" in r.json["detail"]
    assert model_state(api.service) == before_state
    healthy_again(api)
    assert stored_count(api.service) == before_stored
    assert model_state(api.service) == before_state
    assert api.sender.sent == []


def test_map_events_before_a_refused_change_are_still_written(api):
    """Only the durable change is dropped: cluster events queued before it wait for the store
    and are written once it works again."""
    api.store.failure = "database or disk is full"
    before_stored = stored_count(api.service)
    api.feed("02")  # a newer map (a pool created): its events wait in the writer
    waiting = api.service.writer.backlog
    assert waiting > 0
    r = api.call("POST", "user", json={"username": "newcomer", "password": PASSWORD, "role": "read-only"})
    assert r.status_code == 503
    healthy_again(api)
    assert stored_count(api.service) == before_stored + waiting
    assert api.auth.get("newcomer") is None


def test_collector_key_decisions_on_a_full_disk_are_refused_and_undone(api):
    keys = CollectorKeyService(api.service)
    public_key = new_key_pair().public_key
    keys.register("node1", public_key)
    assert api.service.writer.flush(30)
    before_state = model_state(api.service)
    api.store.failure = "database or disk is full"
    for decide in (lambda: keys.decide("node1", "accepted", "admin"), lambda: keys.delete("node1", "admin")):
        with pytest.raises(NotPersisted, match="disk is full"):
            decide()
        assert model_state(api.service) == before_state
    healthy_again(api)
    assert keys.get("node1").status == PENDING and keys.status_of(public_key) == PENDING


def test_an_error_inside_a_durable_change_undoes_what_it_made(api):
    before_state = model_state(api.service)
    before_stored = stored_count(api.service)
    with pytest.raises(RuntimeError, match="halfway"), api.service.durable() as model:
        model.submit_request("r-1", api.fsid, "oper", "create", "pool", "Creating pool x", {}, [], api.auth._now())
        model.user_event("viewer", User.UserDeleted, api.auth._now(), by="admin")
        raise RuntimeError("halfway")
    assert model_state(api.service) == before_state
    assert stored_count(api.service) == before_stored
    assert "r-1" not in api.service.model.requests and api.auth.get("viewer") is not None
