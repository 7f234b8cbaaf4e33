"""Fuzzing every route in-process: as an admin (no server error anywhere), as a read-only user
against every change route (no server error and no change: the event store grows by login events
only and nothing is sent to the cluster), and malformed or mistyped bodies on every route that
takes one. Random and mutated collector frames are fuzzed in test_bus_fuzz.py."""

import random

import schemathesis
from api_support import harness_fixture
from hypothesis import HealthCheck, given, settings

LOGIN_EVENTS = {"UserTokenIssued", "UserTokenRevoked", "UserTokensRevoked"}
# Routes that end the caller's own sessions: fuzzing them would log the fuzzer out.
SESSION_ENDING = ("/auth/logout", "/user/{name}/token")  # (random session ids name no session)


api = harness_fixture(steps=("00", "01"), scope="module", timeseries=True)


def schema_for(api, names=("nobody", "oper")):
    spec = api.call("GET", "openapi.json").json
    for ops in spec["paths"].values():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param["name"] == "fsid":
                    param["schema"] = {"type": "string", "enum": [api.fsid, "no-such-cluster"]}
                if param["name"] == "name":  # never the fuzzing users ("me", admin, viewer)
                    param["schema"] = {"type": "string", "enum": list(names)}
    return schemathesis.openapi.from_dict(spec)


def fuzz(api, user, keep, max_examples):
    token = api.token(user)
    failures, calls = [], []

    @settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call(app=api.app)
        calls.append((case.method, case.path, response.status_code))
        if response.status_code >= 500:
            failures.append((case.method, case.formatted_path, response.status_code, response.text[:200]))

    for result in schema_for(api).get_all_operations():
        operation = result.ok()
        if keep(operation.method.upper(), operation.path):
            given(case=operation.as_strategy())(run)()
    return failures, calls


def test_fuzzing_every_route_as_an_admin_finds_no_server_error(api):
    def keep(method, path):
        return not path.endswith(SESSION_ENDING) and not path.endswith("/cancel")

    failures, calls = fuzz(api, "admin", keep, max_examples=4)
    assert failures == []
    assert len({(m, p) for m, p, _ in calls}) > 60  # every route was reached
    assert [c for c in calls if c[2] == 401 and not c[1].endswith("/login")] == []  # as the admin all along


def test_fuzzing_change_routes_as_read_only_changes_nothing(api):
    api.service.writer.flush(10)
    before, sent = api.service.store.max_position(), len(api.sender.sent)

    def keep(method, path):
        return method not in ("GET", "HEAD") and not path.endswith(SESSION_ENDING) and "/auth/login" not in path

    failures, calls = fuzz(api, "viewer", keep, max_examples=6)
    assert failures == []
    statuses = {s for _, p, s in calls if not p.startswith("/graphite")}
    assert statuses <= {400, 403, 404, 405, 413, 415}, statuses  # refused, by role or for the input
    assert 403 in statuses
    api.service.writer.flush(10)
    new = [type(e).__name__ for _, e in api.service.store.read(after=before)]
    assert set(new) <= LOGIN_EVENTS, set(new) - LOGIN_EVENTS
    assert len(api.sender.sent) == sent


BAD_BODIES = [b"{", b"[]", b"null", b'"text"', b'{"a": ', b"\xff\xfe\x00", b"[" * 5000 + b"]" * 5000,
              b'{"name": ' + b"1" * 5000 + b"}", b'{"pg_num": 1e999}', b"{}" * 3]
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", "application/json; charset=latin-1", None]


def test_malformed_bodies_and_wrong_content_types_get_4xx_with_a_reason(api):
    rng = random.Random(7)
    bodies = BAD_BODIES + [rng.randbytes(rng.randrange(1, 300)) for _ in range(5)]
    routes = [(method, rule.rule) for rule in api.app.url_map.iter_rules()
              for method in rule.methods - {"GET", "HEAD", "OPTIONS"}]
    token = api.token("admin")
    client = api.app.test_client()
    seen, sent = set(), len(api.sender.sent)
    for method, rule in routes:
        if rule.endswith(("/auth/logout", "/token")):
            continue
        path = (rule.replace("<fsid>", api.fsid).replace("<int:osd_id>", "0").replace("<int:pool_id>", "99999")
                .replace("<command>", "no-such-command").replace("<name>", "nobody").replace("<key_id>", "k")
                .replace("<request_id>", "r").replace("<session_id>", "0" * 16))
        for body in bodies:
            headers = {"Authorization": f"Bearer {token}"}
            content_type = rng.choice(CONTENT_TYPES)
            if content_type:
                headers["Content-Type"] = content_type
            r = client.open(path, method=method, data=body, headers=headers)
            assert 400 <= r.status_code < 500 or rule.startswith("/graphite"), (method, rule, body[:40], r.status_code)
            assert r.status_code < 500, (method, rule, body[:40], r.status_code, r.data[:200])
            if r.status_code >= 400:
                assert "detail" in r.get_json(), (method, rule)
            seen.add(r.status_code)
    assert {400, 415} <= seen
    assert len(api.sender.sent) == sent
