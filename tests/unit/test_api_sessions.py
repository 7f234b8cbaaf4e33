"""Sessions and logins: idle and absolute expiry, listing and ending sessions, sessions ending on
password/role changes and deletion, CSRF on cookie sessions, cookie attributes, the password
policy, throttling and lock-out of failed logins. Time comes from a fake clock."""

import time

import orjson
import pytest
from api_support import PASSWORD, Harness

from calamari.domain.login_guard import ThrottlePolicy
from calamari.service.auth import AuthPolicy


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


POLICY = AuthPolicy(session_idle_s=600, session_max_s=3600,
                    throttle=ThrottlePolicy(slow_after=3, lock_after=6, lock_s=900, window_s=900, max_delay_s=8))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def api(tmp_path, capture_dir, clock):
    harness = Harness(str(tmp_path), capture_dir, steps=(), auth_options={"clock": clock, "policy": POLICY})
    yield harness
    harness.close()


def login(api, username, password=PASSWORD, address="127.0.0.1"):
    client = api.app.test_client()
    return client.post("/api/v2/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def get(api, token, path="/api/v2/info"):
    return api.app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})


def stored_events(api):
    api.service.writer.flush(10)
    return [(type(e).__name__, vars(e)) for _, e in api.service.store.read()]


# ------------------------------------------------------------------------------------- expiry

def test_a_session_ends_after_the_idle_time(api, clock):
    token = login(api, "viewer").json["token"]
    clock.advance(590)
    assert get(api, token).status_code == 200  # used: the idle time starts again
    clock.advance(590)
    assert get(api, token).status_code == 200
    clock.advance(601)
    assert get(api, token).status_code == 401


def test_a_session_ends_after_its_lifetime_however_busy(api, clock):
    token = login(api, "viewer").json["token"]
    for _ in range(7):
        clock.advance(500)
        assert get(api, token).status_code == 200
    clock.advance(500)  # 4000 s after login
    assert get(api, token).status_code == 401
    # the next login records the end of the dead session
    login(api, "viewer")
    assert "UserTokenRevoked" in [name for name, _ in stored_events(api)]


# ------------------------------------------------------------------------------------- sessions

def test_a_user_lists_and_ends_their_own_sessions(api, clock):
    first = login(api, "oper").json["token"]
    clock.advance(1)
    second = login(api, "oper").json["token"]
    other = login(api, "viewer").json["token"]
    sessions = get(api, second, "/api/v2/auth/token").json
    assert len(sessions) == 2 and [s["current"] for s in sessions] == [False, True]
    assert all(first not in orjson.dumps(s).decode() for s in sessions)  # ids are not tokens
    viewer_session = get(api, other, "/api/v2/auth/token").json[0]["id"]
    client = api.app.test_client()
    headers = {"Authorization": f"Bearer {second}"}
    # someone else's session id is unknown to this user
    assert client.delete(f"/api/v2/auth/token/{viewer_session}", headers=headers).status_code == 404
    assert client.delete("/api/v2/auth/token/not-an-id", headers=headers).status_code == 404
    assert client.delete(f"/api/v2/auth/token/{sessions[0]['id']}", headers=headers).status_code == 200
    assert get(api, first).status_code == 401
    assert get(api, second).status_code == 200 and get(api, other).status_code == 200


def test_an_admin_ends_all_sessions_of_a_user(api):
    tokens = [login(api, "viewer").json["token"] for _ in range(2)]
    admin = login(api, "admin").json["token"]
    client = api.app.test_client()
    r = client.delete("/api/v2/user/viewer/token", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200 and r.json == {"revoked": 2}
    assert all(get(api, t).status_code == 401 for t in tokens)
    assert get(api, admin).status_code == 200
    revoked = next(state for name, state in stored_events(api) if name == "UserTokensRevoked")
    assert revoked["by"] == "admin"


@pytest.mark.parametrize("change", [{"role": "operator"}, {"password": "a-new-long-secret-9"}, None])
def test_role_and_password_changes_and_deletion_end_the_users_sessions(api, change):
    victim = login(api, "viewer").json["token"]
    admin = login(api, "admin").json["token"]
    headers = {"Authorization": f"Bearer {admin}"}
    client = api.app.test_client()
    if change is None:
        assert client.delete("/api/v2/user/viewer", headers=headers).status_code == 200
    else:
        assert client.patch("/api/v2/user/viewer", json=change, headers=headers).status_code == 200
    assert get(api, victim).status_code == 401
    assert get(api, admin).status_code == 200


def test_logout_ends_the_session(api):
    token = login(api, "viewer").json["token"]
    client = api.app.test_client()
    assert client.post("/api/v2/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert get(api, token).status_code == 401


# ------------------------------------------------------------------------------------- cookies and CSRF

def test_cookie_sessions_need_the_csrf_header_for_every_change(api):
    client = api.app.test_client()
    r = client.post("/api/v2/auth/login", json={"username": "admin", "password": PASSWORD})
    csrf = r.json["csrf_token"]
    cookies = {c.split("=", 1)[0]: c for c in r.headers.getlist("Set-Cookie")}
    session = cookies["calamari_session"]
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/api/" in session
    assert "Secure" not in session  # plain HTTP and not configured
    assert "SameSite=Strict" in cookies["csrftoken"] and "HttpOnly" not in cookies["csrftoken"]
    # every unsafe method on a cookie session, with no, a wrong, and the right CSRF token
    body = {"username": "eve", "password": "eve-long-secret-1", "role": "read-only"}
    for headers in ({}, {"X-CSRFToken": "guess"}, {"X-CSRFToken": ""}):
        assert client.post("/api/v2/user", json=body, headers=headers).status_code == 403
        assert client.delete("/api/v2/user/viewer", headers=headers).status_code == 403
        assert client.patch("/api/v2/user/viewer", json={"role": "admin"}, headers=headers).status_code == 403
        assert client.delete("/api/v2/user/viewer/token", headers=headers).status_code == 403
        assert client.post("/api/v2/auth/logout", headers=headers).status_code == 403
    assert api.auth.get("eve") is None and api.auth.get("viewer").role == "read-only"
    assert client.post("/api/v2/user", json=body, headers={"X-CSRFToken": csrf}).status_code == 201


def test_cookies_are_secure_when_configured_or_behind_tls(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, steps=(), app_options={"SECURE_COOKIES": True})
    try:
        r = harness.client.post("/api/v2/auth/login", json={"username": "admin", "password": PASSWORD})
        assert all("Secure" in c for c in r.headers.getlist("Set-Cookie"))
    finally:
        harness.close()


# ------------------------------------------------------------------------------------- password policy

@pytest.mark.parametrize("password, reason", [
    ("short-1", "at least 10"),
    ("newcomer", "at least 10"),
    ("Newcomer12", "user name"),
    ("password123", "too common"),
    ("aaaaaaaaaaaa", "too common"),
])
def test_weak_passwords_are_refused_with_a_reason(api, password, reason):
    admin = login(api, "admin").json["token"]
    client = api.app.test_client()
    headers = {"Authorization": f"Bearer {admin}"}
    r = client.post("/api/v2/user", json={"username": "newcomer", "password": password}, headers=headers)
    assert r.status_code == 400 and reason in r.json["errors"]["password"]
    viewer = login(api, "viewer").json["token"]
    weak = password.replace("ewcomer", "iewer") if "ewcomer" in password.lower() else password
    r = client.patch("/api/v2/user/me", json={"password": weak, "current_password": PASSWORD},
                     headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 400 and "password" in r.json["errors"]
    assert get(api, viewer).status_code == 200  # a refused change ends no session


# ------------------------------------------------------------------------------------- throttling

def test_failed_logins_for_a_user_are_slowed_then_locked_with_an_event(api, clock):
    statuses = []
    for attempt in range(9):
        r = login(api, "viewer", f"wrong-guess-{attempt}", address=f"10.0.0.{attempt}")  # from many addresses
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1 and "detail" in r.json
            clock.advance(float(r.json["retry_after"]))
    # 3 free attempts, then each must wait (1 s, 2 s, 4 s), the 6th failure locks
    assert statuses == [401, 401, 401, 429, 401, 429, 401, 429, 401]
    locked = login(api, "viewer", PASSWORD, address="10.9.9.9")
    assert locked.status_code == 429 and "locked" in locked.json["detail"]
    assert 800 < locked.json["retry_after"] <= 900
    event = next(state for name, state in stored_events(api) if name == "UserLoginLocked")
    assert event["failures"] == 6 and event["address"] == "10.0.0.8"
    admin = login(api, "admin").json["token"]  # other users are not locked
    messages = [e["message"] for e in get(api, admin, "/api/v2/event").json["results"]]
    assert any("Logins of user 'viewer' locked" in m for m in messages)
    clock.advance(901)
    assert login(api, "viewer", PASSWORD, address="10.9.9.9").status_code == 200


def test_failed_logins_from_one_address_are_locked_whatever_the_names(api, clock):
    for attempt in range(6):
        r = login(api, f"guess{attempt}", "wrong-password-1", address="192.0.2.7")
        assert r.status_code in (401, 429)
        if r.status_code == 429:
            clock.advance(float(r.json["retry_after"]))
            assert login(api, f"guess{attempt}", "wrong-password-1", address="192.0.2.7").status_code == 401
    assert login(api, "admin", PASSWORD, address="192.0.2.7").status_code == 429
    assert login(api, "admin", PASSWORD, address="192.0.2.8").status_code == 200
    event = next(state for name, state in stored_events(api) if name == "LoginAddressLocked")
    assert event["address"] == "192.0.2.7" and event["failures"] == 6


def test_lock_outs_still_hold_after_a_restart(tmp_path, capture_dir, clock):
    options = {"clock": clock, "policy": POLICY}
    api = Harness(str(tmp_path), capture_dir, steps=(), auth_options=options)
    try:
        for attempt in range(6):  # six failures for one user, from one address: both lock
            r = login(api, "viewer", f"wrong-guess-{attempt}", address="192.0.2.9")
            if r.status_code == 429:
                clock.advance(float(r.json["retry_after"]))
                assert login(api, "viewer", f"wrong-guess-{attempt}", address="192.0.2.9").status_code == 401
        assert login(api, "viewer", address="10.0.0.1").status_code == 429
        assert login(api, "admin", address="192.0.2.9").status_code == 429
    finally:
        api.close()
    clock.advance(60)
    again = Harness(str(tmp_path), capture_dir, steps=(), auth_options=options)
    try:
        locked = login(again, "viewer", address="10.0.0.1")
        assert locked.status_code == 429 and "locked" in locked.json["detail"]
        assert 780 < locked.json["retry_after"] <= 840
        assert login(again, "admin", address="192.0.2.9").status_code == 429
        assert login(again, "admin", address="10.0.0.2").status_code == 200
        clock.advance(900)  # the locks run out as they would have without the restart
        assert login(again, "viewer", address="10.0.0.1").status_code == 200
        assert login(again, "admin", address="192.0.2.9").status_code == 200
    finally:
        again.close()


def test_a_good_login_resets_the_count_of_its_user(api, clock):
    for _ in range(2):
        for attempt in range(2):
            assert login(api, "viewer", f"wrong-{attempt}-xyz", address=f"10.1.0.{attempt}").status_code == 401
        assert login(api, "viewer", address="10.1.0.9").status_code == 200
    assert login(api, "viewer", "wrong-again-xyz", address="10.1.0.5").status_code == 401


# ------------------------------------------------------------------------- one's own password

def change_own_password(api, token, body, address="127.0.0.1"):
    return api.app.test_client().patch("/api/v2/user/me", json=body, headers={"Authorization": f"Bearer {token}"},
                                       environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize("user", ["viewer", "oper", "admin"])
def test_changing_ones_own_password_needs_the_current_one(api, user):
    token = login(api, user).json["token"]
    new = "Brand-New-Secret-77"
    r = change_own_password(api, token, {"password": new})
    assert r.status_code == 400 and "required" in r.json["errors"]["current_password"]
    r = change_own_password(api, token, {"password": new, "current_password": "Not-The-Password-1"})
    assert r.status_code == 400 and "wrong" in r.json["errors"]["current_password"]
    assert get(api, token).status_code == 200  # refused: nothing changed, the session goes on
    assert login(api, user, new).status_code == 401
    r = change_own_password(api, token, {"password": new, "current_password": PASSWORD})
    assert r.status_code == 200
    assert login(api, user, new).status_code == 200
    assert login(api, user, PASSWORD).status_code == 401


def test_an_email_change_of_ones_own_account_needs_no_password(api):
    token = login(api, "viewer").json["token"]
    assert change_own_password(api, token, {"email": "viewer@example.net"}).status_code == 200


def test_an_admin_resets_another_users_password_without_it(api):
    admin = login(api, "admin").json["token"]
    r = api.app.test_client().patch("/api/v2/user/viewer", json={"password": "Reset-By-Admin-42"},
                                    headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200
    assert login(api, "viewer", "Reset-By-Admin-42").status_code == 200


def test_wrong_current_passwords_are_throttled_and_locked_like_logins(api, clock):
    token = login(api, "viewer").json["token"]
    statuses = []
    for attempt in range(2 * POLICY.throttle.lock_after):
        if statuses.count(400) == POLICY.throttle.lock_after:
            break
        r = change_own_password(api, token, {"password": "Brand-New-Secret-77", "current_password": f"guess-{attempt}"},
                                address=f"10.1.0.{attempt}")
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            clock.advance(float(r.json["retry_after"]))
    # slowed down after 3 wrong ones, as logins are
    assert statuses[:5] == [400, 400, 400, 429, 400]
    # the guesses locked the user's logins, as failed logins do, with an event
    assert login(api, "viewer", address="10.9.9.9").status_code == 429
    assert "UserLoginLocked" in [name for name, _ in stored_events(api)]
    r = change_own_password(api, token, {"password": "Brand-New-Secret-77", "current_password": PASSWORD})
    assert r.status_code == 429  # the right one too, while locked
