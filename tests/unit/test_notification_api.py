"""The notification API: channels (admin) created, changed and deleted, bad settings answered 400
naming the field with nothing stored, the outbox listed with its failures, and channel secrets
never in an answer, an event, a snapshot or a log line."""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from api_support import harness_fixture
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance
from test_api_access import url
from test_durable_commits import SwitchableStore

from calamari.adapters.notify.secrets import SECRETS_FILE, SecretStore
from calamari.testing.notify_receivers import HttpReceiver

api = harness_fixture()

FSID = "11111111-2222-3333-4444-555555555555"
HOOK = {"id": "hook", "kind": "webhook", "url": "https://hooks.example.net/in", "secret": "s3cret-hook-key"}
MAIL = {"id": "mail", "kind": "email", "host": "smtp.example.net", "username": "calamari",
        "from_address": "calamari@example.net", "to": ["ops@example.net"], "secret": "s3cret-smtp-password"}


def stored_count(api) -> int:
    assert api.service.writer.flush(30)
    return api.service.store.max_position()


def secrets_file(api) -> Path:
    return Path(api.service.config.data_dir) / SECRETS_FILE


def file_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def test_channels_are_created_listed_changed_and_deleted(api):
    r = api.call("POST", "notification_channel", json=HOOK)
    assert r.status_code == 201, r.json
    row = r.json
    assert row["id"] == "hook" and row["has_secret"] is True and "secret" not in row
    assert row["severities"] == ["critical", "warning", "info"] and row["changed_by"] == "admin"
    assert api.call("POST", "notification_channel", json=MAIL).status_code == 201
    assert [c["id"] for c in api.call("GET", "notification_channel").json] == ["hook", "mail"]
    r = api.call("PATCH", "notification_channel/hook", json={"severities": ["critical"], "clusters": [FSID]})
    assert r.status_code == 200 and r.json["severities"] == ["critical"] and r.json["clusters"] == [FSID]
    assert r.json["url"] == HOOK["url"] and r.json["has_secret"] is True
    r = api.call("PATCH", "notification_channel/hook", json={"secret": None})
    assert r.json["has_secret"] is False and SecretStore(api.service.config.data_dir).get("hook") is None
    assert api.call("DELETE", "notification_channel/hook").status_code == 200
    assert api.call("GET", "notification_channel/hook").status_code == 404
    assert [c["id"] for c in api.call("GET", "notification_channel").json] == ["mail"]
    # the id can be used again
    assert api.call("POST", "notification_channel", json=HOOK).status_code == 201


BAD = [
    ({**HOOK, "url": "ftp://example.net"}, "url"),
    ({**HOOK, "url": "https://u:p@example.net"}, "url"),
    ({**HOOK, "severities": ["fatal"]}, "severities.0"),
    ({**HOOK, "severities": []}, "severities"),
    ({**HOOK, "clusters": ["nope"]}, "clusters"),
    ({**HOOK, "repeat_interval_s": 10}, "repeat_interval_s"),
    ({**HOOK, "repeat_interval_s": "600"}, "repeat_interval_s"),
    ({**HOOK, "send_resolved": "yes"}, "send_resolved"),
    ({**HOOK, "secret": "x" * 5000}, "secret"),
    ({**HOOK, "secret": ""}, "secret"),
    ({**HOOK, "colour": "red"}, "colour"),
    ({**HOOK, "host": "smtp.example.net"}, "host"),
    ({**HOOK, "id": "bad id"}, "id"),
    ({**HOOK, "kind": "pager"}, "kind"),
    ({**HOOK, "has_secret": False}, "has_secret"),
    ({k: v for k, v in HOOK.items() if k != "url"}, "url"),
    ({k: v for k, v in MAIL.items() if k != "to"}, "to"),
    ({**MAIL, "to": ["not an address"]}, "to"),
    ({**MAIL, "port": 70000}, "port"),
    ({**MAIL, "security": "none"}, "security"),
    ({**MAIL, "ca_file": "relative/ca.pem"}, "ca_file"),
    ({k: v for k, v in MAIL.items() if k != "secret"}, "secret"),  # a username needs its password
]


@pytest.mark.parametrize(("body", "field"), BAD)
def test_bad_settings_are_400_naming_the_field_and_nothing_is_stored(api, body, field):
    assert api.call("POST", "notification_channel", json={**HOOK, "id": "kept"}).status_code == 201
    before = (stored_count(api), file_bytes(secrets_file(api)))
    r = api.call("POST", "notification_channel", json=body)
    assert r.status_code == 400, r.json
    assert field in r.json["errors"], r.json
    update = {k: v for k, v in body.items() if k not in ("id", "kind")}
    if body.get("kind") == "webhook" and body.get("id") == "hook" and field not in ("id", "kind", "url"):
        r = api.call("PATCH", "notification_channel/kept", json=update)
        assert r.status_code == 400 and field in r.json["errors"], r.json
    assert (stored_count(api), file_bytes(secrets_file(api))) == before
    assert [c["id"] for c in api.call("GET", "notification_channel").json] == ["kept"]


def test_an_id_in_use_is_409_and_its_secret_stays(api):
    assert api.call("POST", "notification_channel", json=HOOK).status_code == 201
    r = api.call("POST", "notification_channel", json={**HOOK, "secret": "another"})
    assert r.status_code == 409 and "id" in r.json["errors"]
    assert SecretStore(api.service.config.data_dir).get("hook") == HOOK["secret"]


def test_a_change_the_store_refuses_is_503_and_leaves_the_secret_as_it_was(api):
    assert api.call("POST", "notification_channel", json=HOOK).status_code == 201
    api.service.config.durable_timeout = 5.0
    store = SwitchableStore(api.service.writer.store)
    api.service.writer.store = store
    store.failure = "database or disk is full"
    try:
        assert api.call("POST", "notification_channel", json=MAIL).status_code == 503
        assert api.call("PATCH", "notification_channel/hook", json={"secret": "new-one"}).status_code == 503
    finally:
        store.failure = None
    secrets = SecretStore(api.service.config.data_dir)
    assert secrets.get("hook") == HOOK["secret"] and secrets.get("mail") is None
    assert [c["id"] for c in api.call("GET", "notification_channel").json] == ["hook"]


def test_only_admins_manage_channels_and_operators_read_the_outbox(api):
    assert api.call("POST", "notification_channel", user="oper", json=HOOK).status_code == 403
    assert api.call("GET", "notification_channel", user="oper").status_code == 403
    assert api.call("GET", "notification", user="oper").status_code == 200
    assert api.call("GET", "notification", user="viewer").status_code == 403


def test_the_outbox_shows_failures_and_deliveries(api):
    hook = HttpReceiver(status=503)
    try:
        assert api.call("POST", "notification_channel", json={**HOOK, "url": hook.url}).status_code == 201
        r = api.call("POST", "notification_channel/hook/test")
        assert r.status_code == 202 and r.json["state"] == "pending" and r.json["reason"] == "test"
        api.services.notifier.process()
        pending = api.call("GET", "notification?state=pending", user="oper").json
        assert pending["count"] == 1
        row = pending["results"][0]
        assert row["attempts"] == 1 and row["last_error"] == "HTTP 503 Service Unavailable"
        assert row["next_attempt_at"] is not None and row["channel"] == "hook"
        one = api.call("GET", f"notification/{row['id']}", user="oper").json
        assert one["alert"]["rule"] == "test"
        events = api.call("GET", "event").json
        messages = [e["message"] for e in (events.get("results", events) if isinstance(events, dict) else events)]
        assert any("to channel 'hook' failed" in m for m in messages), messages
        assert api.call("GET", "notification?state=delivered", user="oper").json["count"] == 0
        assert api.call("GET", "notification?state=bogus", user="oper").status_code == 400
        assert api.call("GET", "notification/nope", user="oper").status_code == 404
    finally:
        hook.close()


def test_no_secret_in_answers_events_snapshots_or_logs(api, caplog):
    caplog.set_level(logging.DEBUG)
    hook = HttpReceiver(status=lambda item: 500 if len(hook.received) == 1 else 200)
    secrets = {"hook": "hook-secret-Zq81", "mail": "mail-secret-Xr42", "am": "am-token-Wv93",
               "hook2": "hook-secret-second-Pt55"}
    answers = []
    try:
        answers.append(api.call("POST", "notification_channel", json={**HOOK, "url": hook.url,
                                                                      "secret": secrets["hook"]}))
        answers.append(api.call("POST", "notification_channel", json={**MAIL, "host": "127.0.0.1", "port": 1,
                                                                      "secret": secrets["mail"]}))
        answers.append(api.call("POST", "notification_channel", json={"id": "am", "kind": "alertmanager",
                                                                      "url": hook.url, "secret": secrets["am"]}))
        answers.append(api.call("PATCH", "notification_channel/hook", json={"secret": secrets["hook2"]}))
        answers.append(api.call("POST", "notification_channel", json={**HOOK, "url": hook.url,
                                                                      "secret": secrets["hook"]}))  # 409
        answers.append(api.call("POST", "notification_channel", json={**HOOK, "id": "x", "url": "ftp://a",
                                                                      "secret": secrets["hook"]}))  # 400
        for channel in ("hook", "mail", "am"):
            answers.append(api.call("POST", f"notification_channel/{channel}/test"))
        notifier = api.services.notifier
        for _ in range(3):
            notifier.process()
            notifier.clock = lambda: datetime.now(UTC).timestamp() + 3600  # past every back-off
        assert any(item.headers.get("x-calamari-signature") for item in hook.received)
        assert any(item.headers.get("authorization") == f"Bearer {secrets['am']}" for item in hook.received)
        # every GET route of the app (the stream aside: it never ends), and the channels' own
        gets = sorted(rule.rule for rule in api.app.url_map.iter_rules()
                      if "GET" in rule.methods and rule.rule != "/api/v2/stream")
        answers.extend(api.call("GET", url(api, rule)) for rule in gets)
        for path in ("notification_channel/hook", "notification_channel/mail", "notification_channel/am"):
            answers.append(api.call("GET", path))
        answers.extend(api.call("GET", f"notification/{row['id']}")
                       for row in api.call("GET", "notification").json["results"])
        assert api.service.snapshot() is not None
    finally:
        hook.close()
    data_dir = Path(api.service.config.data_dir)
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and p.name != SECRETS_FILE)
    stored += b"".join(repr(vars(event)).encode() for _, event in api.service.store.read(after=0))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert len(answers) > 60 and sum(a.status_code == 200 for a in answers) > 40
    for secret in secrets.values():
        for answer in answers:
            assert secret.encode() not in answer.data, (secret, answer.request.path)
        assert secret.encode() not in stored and secret not in logged
    assert stat.S_IMODE(os.stat(data_dir / SECRETS_FILE).st_mode) == 0o600
    assert SecretStore(str(data_dir)).get("hook") == secrets["hook2"]


def test_a_notification_given_up_is_tried_again_on_request(api):
    hook = HttpReceiver(status=404)
    try:
        assert api.call("POST", "notification_channel", json={**HOOK, "url": hook.url}).status_code == 201
        note = api.call("POST", "notification_channel/hook/test").json
        api.services.notifier.process()
        row = api.call("GET", f"notification/{note['id']}").json
        assert row["state"] == "failed" and row["last_error"] == "HTTP 404 Not Found" and row["next_attempt_at"] is None
        hook.status = 200  # the receiver is fixed
        api.services.notifier.process()
        assert len(hook.received) == 1  # given up stays given up
        r = api.call("POST", f"notification/{note['id']}/retry", user="oper")
        assert r.status_code == 202 and r.json["state"] == "pending" and r.json["retried_by"] == "oper"
        assert api.call("POST", f"notification/{note['id']}/retry", user="oper").status_code == 409
        api.services.notifier.process()
        row = api.call("GET", f"notification/{note['id']}").json
        assert row["state"] == "delivered" and row["attempts"] == 2 and len(hook.received) == 2
        assert api.call("POST", f"notification/{note['id']}/retry", user="oper").status_code == 409
        assert api.call("POST", "notification/nope/retry", user="oper").status_code == 404
    finally:
        hook.close()


def test_fuzzing_the_notification_routes_as_an_admin_finds_no_server_error(api):
    hook = HttpReceiver()
    try:
        assert api.call("POST", "notification_channel", json={**HOOK, "url": hook.url}).status_code == 201
        note = api.call("POST", "notification_channel/hook/test").json
        spec = api.call("GET", "openapi.json").json
        spec["paths"] = {p: ops for p, ops in spec["paths"].items() if "/notification" in p}
        for ops in spec["paths"].values():
            for op in ops.values():
                for param in op.get("parameters", []):
                    if param["name"] == "channel_id":
                        param["schema"] = {"type": "string", "enum": ["hook", "no-such-channel"]}
                    if param["name"] == "notification_id":
                        param["schema"] = {"type": "string", "enum": [note["id"], "no-such-notification"]}
        schema = schemathesis.openapi.from_dict(spec)
        token = api.token("admin")
        failures, calls = [], []

        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}",
                            "Accept-Encoding": "identity"}
            response = case.call(app=api.app)
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:200]))
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except Exception as err:
                failures.append((case.method, case.formatted_path, response.status_code, str(err)[:300]))

        for result in schema.get_all_operations():
            operation = result.ok()
            given(case=operation.as_strategy())(run)()
        assert failures == []
        assert any(c == 400 for c in calls) and any(c in (200, 201, 202) for c in calls)
    finally:
        hook.close()
