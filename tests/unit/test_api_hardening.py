"""No secret in the event store, the data dir or the logs; security headers on every answer; body
size limit and content types; /metrics and /graphite behind a token (unless opted out)."""

import logging
import os

import pytest
from api_support import PASSWORD, Harness

from calamari.adapters.timeseries import WhisperStore
from calamari.domain.login_guard import ThrottlePolicy
from calamari.service.auth import AuthPolicy


@pytest.fixture
def api(tmp_path, capture_dir):
    harness = Harness(str(tmp_path / "var"), capture_dir,
                      app_options={"TIMESERIES": WhisperStore(str(tmp_path / "var" / "whisper"))})
    yield harness
    harness.close()


def test_no_password_or_token_in_the_event_store_the_data_dir_or_the_logs(tmp_path, capture_dir, caplog):
    caplog.set_level(logging.DEBUG)
    # no slowing down, so that the wrong passwords reach the lock-out without waiting
    policy = AuthPolicy(throttle=ThrottlePolicy(slow_after=100, lock_after=5))
    api = Harness(str(tmp_path / "var"), capture_dir, steps=(), auth_options={"policy": policy})
    try:
        session_of_secrets(api, tmp_path, caplog)
    finally:
        api.close()


def session_of_secrets(api, tmp_path, caplog):
    client = api.app.test_client()
    secrets = [PASSWORD]

    def login(username, password, address="127.0.0.1"):
        r = client.post("/api/v2/auth/login", json={"username": username, "password": password},
                        environ_base={"REMOTE_ADDR": address})
        if r.status_code == 200:
            secrets.extend([r.json["token"], r.json["csrf_token"]])
            return r.json["token"]
        return None

    admin = login("admin", PASSWORD)
    auth = {"Authorization": f"Bearer {admin}"}
    for n in range(12):  # wrong passwords, until the user and the address are locked
        wrong = f"Wrong-Password-{n}-x7q"
        secrets.append(wrong)
        login("viewer", wrong, address="198.51.100.1")
    created = "Created-Secret-5512"
    secrets.append(created)
    assert client.post("/api/v2/user", json={"username": "carol", "password": created, "role": "operator"},
                       headers=auth).status_code == 201
    carol = login("carol", created)
    changed = "Changed-Secret-8832"
    secrets.append(changed)
    assert client.patch("/api/v2/user/me", json={"password": changed, "current_password": created},
                        headers={"Authorization": f"Bearer {carol}"}).status_code == 200
    reset = "Admin-Reset-Secret-4471"
    secrets.append(reset)
    assert client.patch("/api/v2/user/carol", json={"password": reset}, headers=auth).status_code == 200
    refused = "password123"  # refused by the policy: not even its refusal may echo it
    assert client.patch("/api/v2/user/carol", json={"password": refused}, headers=auth).status_code == 400
    login("carol", reset)
    client.post("/api/v2/auth/logout", headers=auth)
    api.service.writer.flush(10)

    names = [type(e).__name__ for _, e in api.service.store.read()]
    assert {"UserTokenIssued", "UserPasswordChanged", "UserLoginLocked", "LoginAddressLocked",
            "UserTokenRevoked"} <= set(names)  # the session really happened
    decoded = "\n".join(repr(vars(e)) for _, e in api.service.store.read())
    stored = b""
    for root, _, files in os.walk(tmp_path / "var"):  # the store's files, raw, and anything else there
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                stored += f.read()
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert any("locked" in r.getMessage() for r in caplog.records)  # the logs were captured
    for secret in secrets:
        assert secret not in decoded and secret.encode() not in stored and secret not in logs, secret


def test_security_headers_on_every_kind_of_answer(api):
    token = api.token("viewer")
    auth = {"Authorization": f"Bearer {token}"}
    client = api.app.test_client()
    answers = [client.get("/api/v2/info", headers=auth), client.get("/api/v2/info"),
               client.get("/api/v2/nothing", headers=auth), client.get("/metrics", headers=auth),
               client.post("/api/v2/auth/login", json={"username": "x", "password": "y"}),
               client.get("/graphite/functions", headers=auth), client.open("/api/v2/info", method="OPTIONS")]
    for r in answers:
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'"), r
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in r.headers  # not configured


def test_hsts_and_secure_cookies_behind_a_tls_proxy(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, steps=(), app_options={"HSTS_SECONDS": 31536000, "PROXY_HOPS": 1})
    try:
        client = harness.app.test_client()
        body = {"username": "admin", "password": PASSWORD}
        plain = client.post("/api/v2/auth/login", json=body)
        assert "Strict-Transport-Security" not in plain.headers
        assert not any("Secure" in c for c in plain.headers.getlist("Set-Cookie"))
        proxied = client.post("/api/v2/auth/login", json=body,
                              headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        assert proxied.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert all("Secure" in c for c in proxied.headers.getlist("Set-Cookie"))
    finally:
        harness.close()


def test_oversized_bodies_and_wrong_content_types_get_a_reason(api):
    url = f"/api/v2/cluster/{api.fsid}/pool"
    big = b'{"name": "' + b"x" * (2 << 20) + b'", "pg_num": 8}'
    r = api.call("POST", url, data=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json["detail"]
    r = api.call("POST", url, data=b"name=p&pg_num=8", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "application/json" in r.json["detail"]
    r = api.call("POST", url, data=b'{"name": "p", "pg_num": 8', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "malformed JSON" in r.json["detail"]
    assert api.sender.sent == []


@pytest.mark.parametrize("path", ["/metrics", "/graphite/functions", "/graphite/render?target=a.b",
                                  "/graphite/metrics/find?query=*"])
def test_metrics_and_graphite_need_a_token(api, path):
    anonymous = api.app.test_client()
    assert anonymous.get(path).status_code == 401
    assert anonymous.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert anonymous.get(path, headers={"Authorization": f"Bearer {api.token('viewer')}"}).status_code == 200


def test_metrics_can_be_public_by_choice(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, steps=(), app_options={"METRICS_PUBLIC": True})
    try:
        anonymous = harness.app.test_client()
        assert anonymous.get("/metrics").status_code == 200
        assert anonymous.get("/graphite/functions").status_code == 401  # only /metrics opens
        assert anonymous.get("/api/v2/info").status_code == 401
    finally:
        harness.close()
