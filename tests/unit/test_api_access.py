"""Every route of the app against every role: a table says who may call what, and each route is
called as nobody, read-only, operator and admin. A route the table does not know fails the test,
so a new route must be given a rule (and calamari.api.access.ROUTE_ACCESS refuses it until then)."""

import pytest
from api_support import Harness, harness_fixture

ANYONE, READ_ONLY, OPERATOR, ADMIN, SELF = "anyone", "read-only", "operator", "admin", "self-or-admin"
ROLE_RANK = {READ_ONLY: 1, OPERATOR: 2, ADMIN: 3}
USERS = {READ_ONLY: "viewer", OPERATOR: "oper", ADMIN: "admin"}

C = "/api/v2/cluster/<fsid>"
EXPECTED = {
    "POST /api/v2/auth/login": ANYONE,
    "POST /api/v2/auth/logout": READ_ONLY,
    "GET /api/v2/auth/token": READ_ONLY,
    "DELETE /api/v2/auth/token/<session_id>": READ_ONLY,
    "GET /api/v2/info": READ_ONLY,
    "GET /api/v2/health/active": ANYONE,
    "GET /api/v2/openapi.json": READ_ONLY,
    "GET /api/v2/event": READ_ONLY,
    "GET /api/v2/stream": READ_ONLY,
    "GET /api/v2/request": READ_ONLY,
    "GET /api/v2/request/<request_id>": READ_ONLY,
    "POST /api/v2/request/<request_id>/cancel": OPERATOR,
    "GET /api/v2/server": READ_ONLY,
    "GET /api/v2/server/<fqdn>": READ_ONLY,
    "DELETE /api/v2/server/<fqdn>": ADMIN,
    "GET /api/v2/server/<fqdn>/event": READ_ONLY,
    "GET /api/v2/grains": READ_ONLY,
    "GET /api/v2/server/<fqdn>/grains": READ_ONLY,
    "GET /api/v2/server/<fqdn>/log": READ_ONLY,
    "GET /api/v2/server/<fqdn>/log/<path:log_path>": READ_ONLY,
    "GET /api/v2/cluster": READ_ONLY,
    f"GET {C}": READ_ONLY,
    f"DELETE {C}": ADMIN,
    f"POST {C}/cli": OPERATOR,
    f"GET {C}/config": READ_ONLY,
    f"GET {C}/config/<path:key>": READ_ONLY,
    f"GET {C}/crush_map": READ_ONLY,
    f"POST {C}/crush_map": OPERATOR,
    f"GET {C}/crush_node": READ_ONLY,
    f"POST {C}/crush_node": OPERATOR,
    f"GET {C}/crush_node/<int(signed=True):node_id>": READ_ONLY,
    f"PATCH {C}/crush_node/<int(signed=True):node_id>": OPERATOR,
    f"DELETE {C}/crush_node/<int(signed=True):node_id>": OPERATOR,
    f"GET {C}/crush_rule": READ_ONLY,
    f"POST {C}/crush_rule": OPERATOR,
    f"GET {C}/crush_rule/<int:rule_id>": READ_ONLY,
    f"PATCH {C}/crush_rule/<int:rule_id>": OPERATOR,
    f"DELETE {C}/crush_rule/<int:rule_id>": OPERATOR,
    f"GET {C}/crush_rule_set": READ_ONLY,
    f"GET {C}/crush_type": READ_ONLY,
    f"GET {C}/crush_type/<int:type_id>": READ_ONLY,
    f"GET {C}/event": READ_ONLY,
    f"GET {C}/history": READ_ONLY,
    f"GET {C}/history/timeline": READ_ONLY,
    f"GET {C}/log": READ_ONLY,
    f"GET {C}/mon": READ_ONLY,
    f"GET {C}/mon/<name>": READ_ONLY,
    f"GET {C}/mon/<name>/status": READ_ONLY,
    f"GET {C}/osd": READ_ONLY,
    f"GET {C}/osd/<int:osd_id>": READ_ONLY,
    f"PATCH {C}/osd/<int:osd_id>": OPERATOR,
    f"GET {C}/osd/<int:osd_id>/command": READ_ONLY,
    f"POST {C}/osd/<int:osd_id>/command/<command>": OPERATOR,
    f"GET {C}/osd/<int:osd_id>/stats": READ_ONLY,
    f"GET {C}/osd/command": READ_ONLY,
    f"POST {C}/osd/command/<command>": OPERATOR,
    f"GET {C}/osd_config": READ_ONLY,
    f"PATCH {C}/osd_config": OPERATOR,
    f"GET {C}/pool": READ_ONLY,
    f"POST {C}/pool": OPERATOR,
    f"GET {C}/pool/<int:pool_id>": READ_ONLY,
    f"PATCH {C}/pool/<int:pool_id>": OPERATOR,
    f"DELETE {C}/pool/<int:pool_id>": OPERATOR,
    f"GET {C}/pool/<int:pool_id>/stats": READ_ONLY,
    f"GET {C}/pool/stats": READ_ONLY,
    f"GET {C}/request": READ_ONLY,
    f"GET {C}/request/<request_id>": READ_ONLY,
    f"GET {C}/server": READ_ONLY,
    f"GET {C}/server/<fqdn>": READ_ONLY,
    f"GET {C}/stats": READ_ONLY,
    f"GET {C}/sync_object": READ_ONLY,
    f"GET {C}/sync_object/<name>": READ_ONLY,
    "GET /api/v2/key": READ_ONLY,
    "GET /api/v2/key/<key_id>": READ_ONLY,
    "PATCH /api/v2/key/<key_id>": ADMIN,
    "DELETE /api/v2/key/<key_id>": ADMIN,
    "GET /api/v2/notification_channel": ADMIN,
    "POST /api/v2/notification_channel": ADMIN,
    "GET /api/v2/notification_channel/<channel_id>": ADMIN,
    "PATCH /api/v2/notification_channel/<channel_id>": ADMIN,
    "DELETE /api/v2/notification_channel/<channel_id>": ADMIN,
    "POST /api/v2/notification_channel/<channel_id>/test": ADMIN,
    "GET /api/v2/notification": OPERATOR,
    "GET /api/v2/notification/<notification_id>": OPERATOR,
    "POST /api/v2/notification/<notification_id>/retry": OPERATOR,
    "GET /api/v2/user": ADMIN,
    "POST /api/v2/user": ADMIN,
    "GET /api/v2/user/<name>": SELF,
    "PATCH /api/v2/user/<name>": SELF,
    "DELETE /api/v2/user/<name>": ADMIN,
    "DELETE /api/v2/user/<name>/token": SELF,
    "GET /api/v2/alert": READ_ONLY,
    "GET /api/v2/alert/<alert_id>": READ_ONLY,
    "POST /api/v2/alert/<alert_id>/acknowledge": OPERATOR,
    "GET /api/v2/silence": READ_ONLY,
    "POST /api/v2/silence": OPERATOR,
    "GET /api/v2/silence/<silence_id>": READ_ONLY,
    "DELETE /api/v2/silence/<silence_id>": OPERATOR,
    "GET /api/v2/alert-rule": READ_ONLY,
    "POST /api/v2/alert-rule": OPERATOR,
    "PATCH /api/v2/alert-rule/<name>": OPERATOR,
    "GET /metrics": READ_ONLY,
    "GET /graphite/functions": READ_ONLY,
    "GET /graphite/metrics/find": READ_ONLY,
    "POST /graphite/metrics/find": READ_ONLY,
    "GET /graphite/render": READ_ONLY,
    "POST /graphite/render": READ_ONLY,
    "GET /api/v2/graphite/render": READ_ONLY,
}

# Path parameters that name nothing (or nothing harmful): an allowed call then ends in 400/404,
# never in a change, so that every role can call every route in turn.
PARAMS = {"osd_id": "0", "pool_id": "99999", "node_id": "-1", "rule_id": "0", "type_id": "0", "key": "x",
          "name": "nobody", "fqdn": "no-such-host", "request_id": "no-such-request", "command": "no-such-command",
          "key_id": "no-such-key", "session_id": "0" * 16, "log_path": "ceph/ceph.log",
          "channel_id": "no-such-channel", "notification_id": "no-such-notification",
          "alert_id": "no-such-alert", "silence_id": "no-such-silence"}


api = harness_fixture(scope="module", timeseries=True)


def app_routes(app):
    return {f"{method} {rule.rule}" for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def url(api, rule, name=None):
    path = rule.replace("<fsid>", api.fsid)
    path = path.replace("<int(signed=True):node_id>", PARAMS["node_id"])
    for param, value in PARAMS.items():
        value = name if (param == "name" and name) else value
        for form in (f"<{param}>", f"<int:{param}>", f"<path:{param}>"):
            path = path.replace(form, value)
    assert "<" not in path, path
    return path


def test_every_route_has_a_rule_in_the_table(api):
    routes = app_routes(api.app)
    assert routes - EXPECTED.keys() == set(), "routes without an access rule: add them to EXPECTED and ROUTE_ACCESS"
    assert EXPECTED.keys() - routes == set(), "rules for routes that no longer exist"


def test_nobody_gets_anything_but_login(api):
    anonymous = api.app.test_client()  # no cookie of an earlier login
    for route, level in EXPECTED.items():
        method, rule = route.split(" ", 1)
        r = anonymous.open(url(api, rule), method=method, json={})
        if level == ANYONE and method == "GET":
            assert r.status_code == 200, route  # the health check a load balancer asks, no login
        elif level == ANYONE:
            assert r.status_code == 400, route  # the empty body, not a refusal
        else:
            assert r.status_code == 401 and "detail" in r.json, route


@pytest.mark.parametrize("role", [READ_ONLY, OPERATOR, ADMIN])
def test_each_role_is_refused_exactly_what_the_table_says(api, role):
    user = USERS[role]
    for route, level in sorted(EXPECTED.items()):
        if level == ANYONE:
            continue
        method, rule = route.split(" ", 1)
        for name in (["me", "nobody"] if level == SELF else [None]):
            path = url(api, rule, name)
            if route == f"DELETE {C}":  # forgetting the cluster would end the other calls' target
                path = path.replace(api.fsid, "00000000-0000-4000-8000-000000000000")
            r = api.call(method, path, user=user, json={})
            if level == SELF:
                refused = name == "nobody" and role != ADMIN
            else:
                refused = ROLE_RANK[role] < ROLE_RANK[level]
            if refused:
                assert r.status_code == 403, (role, route, r.status_code, r.json)
                assert "detail" in r.json
            else:
                assert r.status_code not in (401, 403) and r.status_code < 500, (role, route, r.status_code, r.data)
            if route in ("POST /api/v2/auth/logout", "DELETE /api/v2/user/<name>/token") and not refused:
                api.tokens.pop(user)  # that call ended the session: log in again
    # nothing reached the cluster and no user changed
    assert api.sender.sent == []
    assert {u.username: u.role for u in api.auth.users()} == {"admin": "admin", "oper": "operator",
                                                             "viewer": "read-only"}


def test_unknown_routes_need_a_login_before_they_are_404(api):
    anonymous = api.app.test_client()
    assert anonymous.get("/api/v2/no-such-thing").status_code == 401
    assert anonymous.get("/graphite/no-such-thing").status_code == 401  # other paths are the console's (public)
    assert api.call("GET", "/api/v2/no-such-thing", user="viewer").status_code == 404
    assert api.call("PUT", "/api/v2/info", user="viewer").status_code == 405


def test_a_route_without_a_rule_is_refused_to_everyone(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, steps=())
    try:
        harness.app.add_url_rule("/api/v2/new-thing", "new_thing", lambda: {"secret": 1})
        r = harness.call("GET", "/api/v2/new-thing", user="admin")
        assert r.status_code == 403 and "no access rule" in r.json["detail"]
    finally:
        harness.close()


def test_other_authorization_schemes_are_refused_with_a_reason(api):
    r = api.app.test_client().get("/api/v2/info", headers={"Authorization": "Basic YWRtaW46eA=="})
    assert r.status_code == 401 and "Bearer" in r.json["detail"]
    token = api.token("viewer")
    assert api.client.get("/api/v2/info", headers={"Authorization": f"bearer {token}"}).status_code == 200
