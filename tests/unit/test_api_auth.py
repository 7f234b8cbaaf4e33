"""Authentication and roles: bearer tokens, cookie sessions with CSRF, 401/403, users as events."""

import orjson
import pytest
from api_support import PASSWORD, Harness, harness_fixture

api = harness_fixture(steps=("00",))


def test_every_route_but_login_needs_a_user(api):
    for path in ("info", "cluster", "cluster/{fsid}/osd", "event", "request", "openapi.json", "user"):
        r = api.client.get(f"/api/v2/{path.format(fsid=api.fsid)}")
        assert r.status_code == 401, path
        assert "detail" in r.json
    assert api.client.post("/api/v2/auth/login", json={"username": "admin", "password": "wrong-pass"}).status_code == 401
    assert api.client.post("/api/v2/auth/login", json={"username": "nobody", "password": PASSWORD}).status_code == 401
    assert api.client.get("/api/v2/info", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_roles(api):
    assert api.call("GET", "cluster/{fsid}/pool", user="viewer").status_code == 200
    r = api.call("POST", "cluster/{fsid}/pool", user="viewer", json={"name": "p", "pg_num": 8})
    assert r.status_code == 403 and api.sender.sent == []
    assert api.call("POST", "cluster/{fsid}/pool", user="oper", json={"name": "p", "pg_num": 8}).status_code == 202
    r = api.call("POST", "user", user="oper", json={"username": "eve", "password": PASSWORD})
    assert r.status_code == 403
    r = api.call("POST", "user", json={"username": "eve", "password": PASSWORD, "role": "operator"})
    assert r.status_code == 201 and r.json == {"id": "eve", "username": "eve", "email": "", "role": "operator"}
    assert api.call("POST", "user", json={"username": "eve", "password": PASSWORD}).status_code == 409
    # anyone may change their own password (which ends their sessions), not their role
    assert api.call("PATCH", "user/viewer", user="viewer", json={"role": "admin"}).status_code == 403
    new_password = {"password": "another-pass-2", "current_password": PASSWORD}
    assert api.call("PATCH", "user/me", user="viewer", json=new_password).status_code == 200
    assert api.call("GET", "info", user="viewer").status_code == 401
    login = api.client.post("/api/v2/auth/login", json={"username": "viewer", "password": "another-pass-2"})
    assert login.status_code == 200


@pytest.mark.parametrize("email, status", [
    ("eve@example.net", 201), ("", 201), ("eve\x00@example.net", 400), ("eve example@net", 400),
    ("eve", 400), ("@example.net", 400), ("eve@example.net\n", 400),
])
def test_user_email_is_empty_or_an_address(api, email, status):
    r = api.call("POST", "user", json={"username": "eve", "password": PASSWORD, "email": email})
    assert r.status_code == status, r.json
    if status == 400:
        assert "email" in r.json["errors"]
        assert api.call("GET", "user/eve").status_code == 404
    r = api.call("PATCH", "user/viewer", json={"email": email})
    assert r.status_code == (400 if status == 400 else 200), r.json


def test_cookie_session_needs_the_csrf_token_for_changes(api):
    login = api.client.post("/api/v2/auth/login", json={"username": "oper", "password": PASSWORD})
    csrf = login.json["csrf_token"]
    assert api.client.get("/api/v2/cluster").status_code == 200  # the cookie alone reads
    url = f"/api/v2/cluster/{api.fsid}/pool"
    assert api.client.post(url, json={"name": "c1", "pg_num": 8}).status_code == 403
    assert api.client.post(url, json={"name": "c1", "pg_num": 8}, headers={"X-CSRFToken": "guess"}).status_code == 403
    assert api.client.post(url, json={"name": "c1", "pg_num": 8}, headers={"X-CSRFToken": csrf}).status_code == 202
    assert api.client.post("/api/v2/auth/logout", headers={"X-CSRFToken": csrf}).status_code == 200
    assert api.client.get("/api/v2/cluster").status_code == 401


def test_logout_revokes_a_bearer_token(api):
    token = api.token("viewer")
    assert api.call("POST", "auth/logout", user="viewer").status_code == 200
    assert api.client.get("/api/v2/info", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_users_and_tokens_are_events_without_secrets_in_clear(api, tmp_path, capture_dir):
    token = api.token("admin")
    api.call("PATCH", "user/viewer", json={"role": "operator"})
    api.call("DELETE", "user/oper")
    api.service.writer.flush(10)
    records = [(type(e).__name__, vars(e)) for _, e in api.service.store.read()]
    stored = orjson.dumps([str(r) for r in records])
    assert token.encode() not in stored and PASSWORD.encode() not in stored
    names = [n for n, _ in records]
    assert names.count("UserCreated") == 3 and "UserTokenIssued" in names
    role_change = next(state for n, state in records if n == "UserRoleChanged")
    assert (role_change["role"], role_change["previous"], role_change["by"]) == ("operator", "read-only", "admin")
    assert next(state for n, state in records if n == "UserDeleted")["by"] == "admin"
    api.close()
    again = Harness(str(tmp_path), capture_dir, steps=(), users=False)
    try:
        r = again.client.get("/api/v2/user", headers={"Authorization": f"Bearer {token}"})  # token survives
        assert r.status_code == 200
        assert {u["username"]: u["role"] for u in r.json} == {"admin": "admin", "viewer": "operator"}
        events = again.client.get("/api/v2/event", headers={"Authorization": f"Bearer {token}"}).json["results"]
        assert any(e["message"] == "Role of user 'viewer' changed from read-only to operator (by admin)"
                   for e in events)
    finally:
        again.close()


def test_the_last_admin_stays(api):
    r = api.call("DELETE", "user/admin")
    assert r.status_code == 400
    r = api.call("PATCH", "user/admin", json={"role": "operator"})
    assert r.status_code == 400 and "role" in r.json["errors"]
