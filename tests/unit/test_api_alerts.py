"""The alert routes: rules listed, tuned and defined with 400s naming the bad field and nothing
stored on a bad one; alerts listed with filters, read and acknowledged; silences created, listed
and expired; roles; and a restart restoring alerts, silences and rule settings."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Harness

RULE = "api/v2/alert-rule"


@pytest.fixture
def api(tmp_path: Any, capture_dir: str) -> Any:
    harness = Harness(str(tmp_path), capture_dir)
    for user in ("admin", "oper", "viewer"):
        harness.token(user)  # logins are stored events: before any count of what a call stored
    yield harness
    harness.close()


def stored(api: Harness) -> int:
    api.service.writer.flush(10)
    return api.service.store.max_position()


def cluster_alert_rule(api: Harness, name: str = "any_health_checks") -> dict:
    """A user rule that holds at once for the captured cluster: an alert is raised by the POST."""
    r = api.call("POST", f"/{RULE}", user="oper", json={
        "name": name, "kind": "threshold", "severity": "warning", "summary": "Health checks present",
        "params": {"subject": "cluster", "field": "health_checks", "op": ">=", "value": 0}})
    assert r.status_code == 201, r.json
    return r.json


@pytest.mark.parametrize(("body", "field"), [
    ({"severity": "huge"}, "severity"),
    ({"for_seconds": -1}, "for_seconds"),
    ({"for_seconds": "5"}, "for_seconds"),
    ({"enabled": "yes"}, "enabled"),
    ({"bogus": 1}, "bogus"),
    ({"summary": ""}, "summary"),
    ({"params": {"value": "high"}}, "params.value"),
    ({"params": {"metric": "../../etc"}}, "params.metric"),
    ({"params": {"op": "~"}}, "params.op"),
    ({"params": {"nope": 1}}, "params.nope"),
])
def test_a_bad_rule_change_is_a_400_naming_the_field_and_nothing_is_stored(api: Harness, body: dict,
                                                                           field: str) -> None:
    before_rules = api.call("GET", f"/{RULE}").json
    before = stored(api)
    r = api.call("PATCH", f"/{RULE}/osd_high_apply_latency", user="oper", json=body)
    assert r.status_code == 400, r.json
    assert field in r.json["errors"], r.json
    assert api.call("GET", f"/{RULE}").json == before_rules
    assert stored(api) == before


def test_tuning_a_rule(api: Harness) -> None:
    r = api.call("PATCH", f"/{RULE}/osd_down", user="oper", json={"for_seconds": 60, "severity": "critical"})
    assert r.status_code == 200, r.json
    assert r.json["for_seconds"] == 60 and r.json["severity"] == "critical" and r.json["builtin"]
    [rule] = [x for x in api.call("GET", f"/{RULE}").json if x["name"] == "osd_down"]
    assert rule == r.json
    assert api.call("PATCH", f"/{RULE}/osd_down", user="oper", json={"for_seconds": 60}).status_code == 304
    r = api.call("PATCH", f"/{RULE}/osd_high_apply_latency", user="oper", json={"params": {"value": 250}})
    assert r.json["params"] == {"metric": "osd.*.apply_latency_ms", "op": ">", "value": 250}
    assert api.call("PATCH", f"/{RULE}/no_such_rule", user="oper", json={"enabled": False}).status_code == 404
    assert api.call("PATCH", f"/{RULE}/osd_down", user="viewer", json={"enabled": False}).status_code == 403
    assert api.call("PATCH", f"/{RULE}/osd_down", user="oper", json={}).status_code == 400


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "magic"}, "kind"),
    ({"name": "osd_down"}, "name"),
    ({"name": "Bad Name"}, "name"),
    ({"params": {"subject": "osd", "field": "size", "op": ">", "value": 1}}, "params.field"),
    ({"params": {"subject": "rack", "field": "size", "op": ">", "value": 1}}, "params.subject"),
    ({"params": {"subject": "osd", "field": "reweight", "op": ">", "value": True}}, "params.value"),
    ({"kind": "series", "params": {"metric": "osd.*.apply_latency_ms", "op": ">"}}, "params.value"),
    ({"severity": None}, "severity"),
    ({"params": {"subject": ["osd"], "field": "reweight", "op": ">", "value": 1}}, "params.subject"),
    ({"params": {"subject": "osd", "field": {"a": 1}, "op": [">"], "value": 1}}, "params.field"),
])
def test_a_bad_user_rule_is_a_400_naming_the_field(api: Harness, body: dict, field: str) -> None:
    good = {"name": "my_rule", "kind": "threshold", "severity": "warning", "summary": "s",
            "params": {"subject": "osd", "field": "reweight", "op": "<", "value": 1}}
    before = stored(api)
    r = api.call("POST", f"/{RULE}", user="oper", data=_json({**good, **body}), content_type="application/json")
    assert r.status_code == 400, r.json
    assert field in r.json["errors"], r.json
    assert stored(api) == before
    assert all(x["name"] != "my_rule" for x in api.call("GET", f"/{RULE}").json)


def _json(body: dict) -> str:
    import json
    return json.dumps(body)


def test_alerts_listed_filtered_read_and_acknowledged(api: Harness) -> None:
    cluster_alert_rule(api)
    [alert] = api.call("GET", "/api/v2/alert").json
    assert alert["rule"] == "any_health_checks" and alert["state"] == "firing" and alert["cluster"] == api.fsid
    assert alert["object"] == {"kind": "cluster", "id": api.fsid}
    assert alert["labels"]["alertname"] == "any_health_checks"
    for query, count in [("state=firing", 1), ("state=resolved", 0), ("severity=warning,critical", 1),
                         ("severity=info", 0), (f"cluster={api.fsid}", 1), ("cluster=other", 0),
                         ("object=cluster", 1), (f"object=cluster:{api.fsid}", 1), ("object=osd", 0)]:
        r = api.call("GET", f"/api/v2/alert?{query}")
        assert r.status_code == 200 and len(r.json) == count, query
        assert r.headers["X-Total-Count"] == str(count)
    for query, field in [("state=burning", "state"), ("severity=loud", "severity"), ("object=rack", "object"),
                         ("fields=nope", "fields"), ("limit=0", "limit")]:
        r = api.call("GET", f"/api/v2/alert?{query}")
        assert r.status_code == 400 and field in r.json["errors"], query
    assert api.call("GET", "/api/v2/alert?fields=id,rule").json == [{"id": alert["id"], "rule": alert["rule"]}]
    tag = api.call("GET", "/api/v2/alert").headers["ETag"]
    assert api.call("GET", "/api/v2/alert", headers={"If-None-Match": tag}).status_code == 304
    assert api.call("GET", f"/api/v2/alert/{alert['id']}").json == alert
    assert api.call("GET", "/api/v2/alert/nope").status_code == 404

    assert api.call("POST", f"/api/v2/alert/{alert['id']}/acknowledge", user="viewer").status_code == 403
    r = api.call("POST", f"/api/v2/alert/{alert['id']}/acknowledge", user="oper", json={"comment": "on it"})
    assert r.status_code == 200, r.json
    assert r.json["acknowledged_by"] == "oper" and r.json["acknowledge_comment"] == "on it"
    assert api.call("GET", "/api/v2/alert", headers={"If-None-Match": tag}).status_code == 200  # it changed
    assert api.call("POST", f"/api/v2/alert/{alert['id']}/acknowledge", user="oper").status_code == 409
    assert api.call("POST", "/api/v2/alert/nope/acknowledge", user="oper").status_code == 404
    r = api.call("POST", f"/api/v2/alert/{alert['id']}/acknowledge", user="oper", json={"comment": 5})
    assert r.status_code == 400 and "comment" in r.json["errors"]


@pytest.mark.parametrize(("body", "field"), [
    ({"matchers": []}, "matchers"),
    ({"matchers": [{"name": "1bad", "value": "x"}]}, "matchers.0.name"),
    ({"matchers": [{"name": "alertname", "value": "(a+)+$", "is_regex": True}]}, "matchers.0.value"),
    ({"matchers": [{"name": "alertname", "value": "[", "is_regex": True}]}, "matchers.0.value"),
    ({"matchers": [{"name": "alertname", "value": "((a+))+", "is_regex": True}]}, "matchers.0.value"),
    ({"matchers": [{"name": "alertname", "value": "(a|aa)+$", "is_regex": True}]}, "matchers.0.value"),
    ({"matchers": [{"name": "object_id", "value": "(\\w)\\1", "is_regex": True}]}, "matchers.0.value"),
    ({"matchers": [{"name": "alertname", "value": "x", "extra": 1}]}, "matchers.0.extra"),
    ({"matchers": [{"name": "alertname", "value": "x", "is_regex": "yes"}]}, "matchers.0.is_regex"),
    ({"matchers": [{"name": "alertname", "value": ".*", "is_regex": True}]}, "matchers"),
    ({"comment": ""}, "comment"),
    ({"ends_at": "2001-01-01T00:00:00Z", "duration_seconds": None}, "ends_at"),
    ({"ends_at": "tomorrow", "duration_seconds": None}, "ends_at"),
    ({"ends_at": "2999-01-01T00:00:00", "duration_seconds": None}, "ends_at"),
    ({"starts_at": "soon"}, "starts_at"),
    ({"starts_at": "9999-12-31T23:00:00Z"}, "starts_at"),
    ({"starts_at": "0001-01-01T00:00:00Z", "duration_seconds": None, "ends_at": "0001-01-02T00:00:00Z"},
     "starts_at"),
    ({"duration_seconds": 0}, "duration_seconds"),
    ({"duration_seconds": 10 ** 9}, "duration_seconds"),
])
def test_a_bad_silence_is_a_400_naming_the_field_and_nothing_is_stored(api: Harness, body: dict,
                                                                       field: str) -> None:
    good = {"matchers": [{"name": "alertname", "value": "osd_down"}], "comment": "maintenance",
            "duration_seconds": 3600}
    merged = {k: v for k, v in {**good, **body}.items() if v is not None}
    before = stored(api)
    r = api.call("POST", "/api/v2/silence", user="oper", json=merged)
    assert r.status_code == 400, r.json
    assert field in r.json["errors"], r.json
    assert api.call("GET", "/api/v2/silence").json == []
    assert stored(api) == before


def test_a_silence_covers_matching_alerts_until_it_is_expired(api: Harness) -> None:
    cluster_alert_rule(api)
    assert api.call("POST", "/api/v2/silence", user="viewer", json={}).status_code == 403
    r = api.call("POST", "/api/v2/silence", user="oper", json={
        "matchers": [{"name": "alertname", "value": "any_.*", "is_regex": True},
                     {"name": "cluster", "value": api.fsid}],
        "comment": "known", "duration_seconds": 600})
    assert r.status_code == 201, r.json
    silence = r.json
    assert silence["state"] == "active" and silence["created_by"] == "oper"
    [alert] = api.call("GET", "/api/v2/alert").json
    assert alert["silenced"] is True and alert["silenced_by"] == [silence["id"]]
    assert api.call("GET", "/api/v2/silence?state=active").json == [silence]
    assert api.call("GET", f"/api/v2/silence/{silence['id']}").json == silence
    r = api.call("DELETE", f"/api/v2/silence/{silence['id']}", user="oper")
    assert r.status_code == 200 and r.json["state"] == "expired" and r.json["expired_by"] == "oper"
    [alert] = api.call("GET", "/api/v2/alert").json
    assert alert["silenced"] is False
    assert api.call("DELETE", f"/api/v2/silence/{silence['id']}", user="oper").status_code == 409
    assert api.call("DELETE", "/api/v2/silence/nope", user="oper").status_code == 404


def test_a_silence_that_matches_nothing_leaves_alerts_alone(api: Harness) -> None:
    cluster_alert_rule(api)
    r = api.call("POST", "/api/v2/silence", user="oper", json={
        "matchers": [{"name": "alertname", "value": "osd_down"}], "comment": "other", "duration_seconds": 60})
    assert r.status_code == 201
    [alert] = api.call("GET", "/api/v2/alert").json
    assert alert["silenced"] is False


def test_a_restart_restores_alerts_silences_and_rule_settings(tmp_path: Any, capture_dir: str) -> None:
    api = Harness(str(tmp_path), capture_dir)
    try:
        cluster_alert_rule(api)
        api.call("PATCH", f"/{RULE}/osd_down", user="oper", json={"for_seconds": 42})
        [alert] = api.call("GET", "/api/v2/alert").json
        api.call("POST", f"/api/v2/alert/{alert['id']}/acknowledge", user="oper")
        api.call("POST", "/api/v2/silence", user="oper", json={
            "matchers": [{"name": "severity", "value": "warning"}], "comment": "c", "duration_seconds": 600})
        before = {path: api.call("GET", path).json for path in ("/api/v2/alert", "/api/v2/silence", f"/{RULE}")}
    finally:
        api.close()
    again = Harness(str(tmp_path), capture_dir, users=False)
    try:
        for path, answer in before.items():
            assert again.call("GET", path).json == answer, path
    finally:
        again.close()


def test_alert_events_are_told_in_the_event_feed_and_the_stream(api: Harness) -> None:
    from calamari.domain.event_feed import OsdServers
    from calamari.service.stream_messages import describe_event

    cluster_alert_rule(api)
    [alert] = api.call("GET", "/api/v2/alert").json
    api.call("POST", f"/api/v2/alert/{alert['id']}/acknowledge", user="oper")
    messages = [e["message"] for e in api.call("GET", "/api/v2/event?page_size=1000").json["results"]]
    assert "Alert raised: " + alert["summary"] in messages
    assert "Alert acknowledged by oper: " + alert["summary"] in messages
    assert "Alert rule any_health_checks defined (by oper)" in messages
    raised = next(e for _, e in api.service.store.read(after=0) if type(e).__name__ == "AlertRaised")
    with api.service.lock:
        told = describe_event(raised, api.service.model, OsdServers(api.service.model))
    assert told["changed"] == [f"alert/{alert['id']}"] and told["event"]["fsid"] == api.fsid


def test_the_history_diff_shows_alert_and_silence_events(api: Harness) -> None:
    api.service.writer.flush(10)
    start = api.service.store.max_position()
    cluster_alert_rule(api)
    [alert] = api.call("GET", "/api/v2/alert").json
    api.call("POST", f"/api/v2/alert/{alert['id']}/acknowledge", user="oper")
    api.call("POST", "/api/v2/silence", user="oper", json={
        "matchers": [{"name": "alertname", "value": "any_health_checks"}], "comment": "c", "duration_seconds": 60})
    api.service.writer.flush(10)
    r = api.call("GET", f"cluster/{{fsid}}/history?from={start}")
    assert r.status_code == 200, r.json
    types = r.json["summary"]["event_types"]
    for kind in ("AlertRuleDefined", "AlertRaised", "AlertAcknowledged", "SilenceCreated", "AlertSilenced"):
        assert types.get(kind) == 1, (kind, types)
    acknowledged = next(e for e in r.json["events"] if e["type"] == "AlertAcknowledged")
    assert acknowledged["by"] == "oper"  # the audit names who
