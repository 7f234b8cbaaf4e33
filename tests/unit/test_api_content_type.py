"""Every route that takes a JSON body answers 415 for a body sent without a Content-Type or with
another one (docs/api.md), and changes nothing; the CRUSH map also takes text/plain."""

from __future__ import annotations

import re

import pytest
from api_support import harness_fixture

BODY_METHODS = {"POST", "PATCH", "PUT"}
TEXT_ROUTES = {"/api/v2/cluster/<fsid>/crush_map"}  # the map's text itself, as text/plain


api = harness_fixture(scope="module")


def json_body_routes(api) -> list[tuple[str, str]]:
    routes = []
    for rule in api.app.url_map.iter_rules():
        view = api.app.view_functions[rule.endpoint]
        if getattr(view, "_api_doc", {}).get("body") is not None:
            routes.extend((method, rule.rule) for method in sorted(rule.methods & BODY_METHODS))
    return routes


def concrete(api, rule: str) -> str:
    """The rule with its parameters filled in: the cluster, and objects that exist where it matters."""
    path = rule.replace("<fsid>", api.fsid).replace("<name>", "viewer")
    return re.sub(r"<[^>]+>", "1", path)


def test_every_json_body_route_is_found(api):
    routes = json_body_routes(api)
    assert len(routes) >= 12
    assert ("POST", "/api/v2/auth/login") in routes and ("PATCH", "/api/v2/user/<name>") in routes


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_a_body_that_is_not_sent_as_json_gets_415(api, content_type):
    token = api.token("admin")
    client = api.app.test_client()
    api.service.writer.flush(10)
    before, sent = api.service.store.max_position(), len(api.sender.sent)
    answers = {}
    for method, rule in json_body_routes(api):
        if content_type == "text/plain" and rule in TEXT_ROUTES:
            continue
        headers = {"Authorization": f"Bearer {token}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        # a body that would be valid JSON: only its declared type is wrong
        r = client.open(concrete(api, rule), method=method, data=b'{"name": "p", "pg_num": 8}', headers=headers)
        answers[(method, rule)] = (r.status_code, (r.get_json(silent=True) or {}).get("detail", ""))
    wrong = {route: answer for route, answer in answers.items()
             if answer[0] != 415 or "application/json" not in answer[1]}
    assert wrong == {}
    api.service.writer.flush(10)
    assert api.service.store.max_position() == before
    assert len(api.sender.sent) == sent


def test_the_same_bodies_sent_as_json_reach_the_routes(api):
    token = api.token("admin")
    client = api.app.test_client()
    for method, rule in json_body_routes(api):
        if rule.endswith("/auth/login"):
            continue  # a failed login would count against the address
        r = client.open(concrete(api, rule), method=method, data=b'{"unknown_field": 1}',
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert r.status_code != 415, (method, rule)


def test_the_crush_map_also_takes_its_text_as_text_plain(api):
    r = api.call("POST", "cluster/{fsid}/crush_map", user="oper", data=b"   ", content_type="text/plain")
    assert r.status_code == 400 and "crush_map" in r.json["errors"]
