"""The pure part of notifications: channel settings checked field by field, which channels an alert
change goes to and why, repeats, back-off, and what the messages say."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from calamari.domain.model import ClusterModel
from calamari.domain.notifications import messages, outbox
from calamari.domain.notifications.channel import ChannelError, check_channel_id, check_settings
from calamari.domain.notifications.notification import FIRING, REPEAT, RESOLVED
from calamari.domain.notifications.routing import (
    MAX_ALERT_BYTES,
    AlertDocumentError,
    RetryPolicy,
    check_alert,
    for_repeat,
    plan_for_change,
    repeats_due,
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
FSID_A = "11111111-2222-3333-4444-555555555555"
FSID_B = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def alert(**changes):
    doc = {"id": "a1", "rule": "osd_down", "severity": "critical", "state": "firing", "silenced": False,
           "acknowledged_by": None, "cluster": FSID_A, "object": {"kind": "osd", "id": "3"},
           "summary": "OSD 3 down", "description": "osd.3 is down", "labels": {"osd": "3"},
           "raised_at": T0.isoformat(), "updated_at": T0.isoformat(), "resolved_at": None, "changes_before": []}
    doc.update(changes)
    return check_alert(doc)


def model_with(*channels):
    model = ClusterModel()
    for channel_id, kind, fields in channels:
        outbox.create_channel(model, channel_id, kind, check_settings(kind, fields, False), False, "admin", T0)
    model.drain()
    return model


def queue_all(model, planned, doc):
    for plan in planned:
        outbox.queue_notification(model, plan, doc, T0)
    model.drain()


WEBHOOK = {"url": "https://hooks.example.net/calamari"}


@pytest.mark.parametrize(("kind", "fields", "field"), [
    ("webhook", {}, "url"),
    ("webhook", {"url": "ftp://example.net/x"}, "url"),
    ("webhook", {"url": "https://user:pw@example.net/x"}, "url"),
    ("webhook", {"url": "https://example.net:99999/x"}, "url"),
    ("webhook", {"url": "https:///nohost"}, "url"),
    ("webhook", {**WEBHOOK, "severities": []}, "severities"),
    ("webhook", {**WEBHOOK, "severities": ["fatal"]}, "severities"),
    ("webhook", {**WEBHOOK, "severities": ["info", "info"]}, "severities"),
    ("webhook", {**WEBHOOK, "clusters": ["not-an-fsid"]}, "clusters"),
    ("webhook", {**WEBHOOK, "repeat_interval_s": 5}, "repeat_interval_s"),
    ("webhook", {**WEBHOOK, "repeat_interval_s": True}, "repeat_interval_s"),
    ("webhook", {**WEBHOOK, "send_resolved": "yes"}, "send_resolved"),
    ("webhook", {**WEBHOOK, "host": "smtp.example.net"}, "host"),
    ("alertmanager", {"url": "am.example.net:9093"}, "url"),
    ("email", {"host": "smtp.example.net", "from_address": "c@example.net"}, "to"),
    ("email", {"host": "bad host", "from_address": "c@example.net", "to": ["o@example.net"]}, "host"),
    ("email", {"host": "smtp.example.net", "port": 0, "from_address": "c@example.net", "to": ["o@example.net"]},
     "port"),
    ("email", {"host": "smtp.example.net", "from_address": "no-at-sign", "to": ["o@example.net"]}, "from_address"),
    ("email", {"host": "smtp.example.net", "from_address": "c@example.net", "to": ["a@b\r\nBcc: x@y"]}, "to"),
    ("email", {"host": "smtp.example.net", "from_address": "c@example.net", "to": ["o@example.net"],
               "security": "ssl3"}, "security"),
    ("email", {"host": "smtp.example.net", "from_address": "c@example.net", "to": ["o@example.net"],
               "username": "calamari"}, "secret"),
    ("email", {"host": "smtp.example.net", "from_address": "c@example.net", "to": ["o@example.net"],
               "ca_file": "relative.pem"}, "ca_file"),
    ("pager", {}, "kind"),
])
def test_each_bad_setting_is_named(kind, fields, field):
    with pytest.raises(ChannelError) as err:
        check_settings(kind, fields, has_secret=False)
    assert err.value.field == field


def test_a_password_over_plain_smtp_is_refused():
    fields = {"host": "smtp.example.net", "from_address": "c@example.net", "to": ["o@example.net"],
              "username": "calamari", "security": "none"}
    with pytest.raises(ChannelError) as err:
        check_settings("email", fields, has_secret=True)
    assert err.value.field == "security"


def test_defaults_fill_in_and_an_update_keeps_what_it_does_not_name():
    settings = check_settings("webhook", WEBHOOK, False)
    assert settings["severities"] == ["critical", "warning", "info"] and settings["send_resolved"] is True
    changed = check_settings("webhook", {"severities": ["critical"]}, False, previous=settings)
    assert changed == {**settings, "severities": ["critical"]}
    assert check_settings("alertmanager", {"url": "http://am:9093"}, False)["repeat_interval_s"] == 300


@pytest.mark.parametrize("bad", ["", "-x", "a b", "x" * 65, "a/b", None])
def test_channel_ids_are_checked(bad):
    with pytest.raises(ChannelError):
        check_channel_id(bad)


@pytest.mark.parametrize(("changes", "field"), [
    ({"id": ""}, "id"), ({"severity": "fatal"}, "severity"), ({"state": "open"}, "state"),
    ({"raised_at": "yesterday"}, "raised_at"), ({"raised_at": "2026-11-30T09:00:00"}, "raised_at"),
    ({"state": "resolved"}, "resolved_at"), ({"labels": {"a": 1}}, "labels"), ({"silenced": "no"}, "silenced"),
    ({"object": {"kind": 3}}, "object"),
])
def test_malformed_alert_documents_are_refused_naming_the_field(changes, field):
    with pytest.raises(AlertDocumentError) as err:
        alert(**changes)
    assert err.value.field == field


def test_routing_by_severity_and_cluster():
    model = model_with(("all", "webhook", WEBHOOK),
                       ("critical-a", "webhook", {**WEBHOOK, "severities": ["critical"], "clusters": [FSID_A]}),
                       ("warnings", "webhook", {**WEBHOOK, "severities": ["warning"]}),
                       ("off", "webhook", {**WEBHOOK, "enabled": False}),
                       ("cluster-b", "webhook", {**WEBHOOK, "clusters": [FSID_B]}))
    queued = model.notifications.__contains__
    channels = model.channels.values()
    assert {p.channel_id for p in plan_for_change(alert(), channels, queued)} == {"all", "critical-a"}
    assert {p.channel_id for p in plan_for_change(alert(severity="warning"), channels, queued)} == {"all", "warnings"}
    assert {p.channel_id for p in plan_for_change(alert(cluster=FSID_B), channels, queued)} == {"all", "cluster-b"}
    assert plan_for_change(alert(silenced=True), channels, queued) == []


def test_a_change_handed_in_twice_is_queued_once_and_resolved_follows_a_sent_firing():
    model = model_with(("hook", "webhook", WEBHOOK), ("quiet", "webhook", {**WEBHOOK, "send_resolved": False}))
    firing = alert()
    planned = plan_for_change(firing, model.channels.values(), model.notifications.__contains__)
    assert [p.reason for p in planned] == [FIRING, FIRING]
    queue_all(model, planned, firing)
    assert plan_for_change(firing, model.channels.values(), model.notifications.__contains__) == []
    resolved = alert(state="resolved", resolved_at=(T0 + timedelta(minutes=5)).isoformat())
    planned = plan_for_change(resolved, model.channels.values(), model.notifications.__contains__)
    assert [(p.channel_id, p.reason) for p in planned] == [("hook", RESOLVED)]
    # an alert resolved before any channel was told of it: nobody hears of it
    other = alert(id="a2", state="resolved", resolved_at=T0.isoformat())
    assert plan_for_change(other, model.channels.values(), model.notifications.__contains__) == []


def test_a_new_raise_of_the_same_alert_is_a_new_notification():
    model = model_with(("hook", "webhook", WEBHOOK))
    queue_all(model, plan_for_change(alert(), model.channels.values(), model.notifications.__contains__), alert())
    again = alert(raised_at=(T0 + timedelta(hours=1)).isoformat())
    assert len(plan_for_change(again, model.channels.values(), model.notifications.__contains__)) == 1


def test_repeats_fall_due_every_interval_once_and_not_when_acknowledged_or_silenced():
    model = model_with(("hook", "webhook", {**WEBHOOK, "repeat_interval_s": 600}),
                       ("never", "webhook", {**WEBHOOK, "repeat_interval_s": 0}))
    doc = alert()
    queued = model.notifications.__contains__
    queue_all(model, plan_for_change(doc, model.channels.values(), queued), doc)
    assert repeats_due(doc, model.channels.values(), queued, T0 + timedelta(seconds=599)) == []
    due = repeats_due(doc, model.channels.values(), queued, T0 + timedelta(seconds=600))
    assert [(p.channel_id, p.reason) for p in due] == [("hook", REPEAT)]
    queue_all(model, due, doc)
    assert repeats_due(doc, model.channels.values(), queued, T0 + timedelta(seconds=1100)) == []
    # three intervals missed (the server was down): one repeat, not three
    late = repeats_due(doc, model.channels.values(), queued, T0 + timedelta(seconds=2500))
    assert len(late) == 1
    later = T0 + timedelta(seconds=4000)
    assert repeats_due(alert(acknowledged_by="oper"), model.channels.values(), queued, later) == []
    assert repeats_due(alert(silenced=True), model.channels.values(), queued, later) == []


def test_back_off_doubles_to_its_cap_and_gives_up():
    policy = RetryPolicy(first_s=5, cap_s=60, give_up_after_s=3600)
    delays = [(policy.retry_at(n, T0, T0, False) - T0).total_seconds() for n in range(1, 7)]
    assert delays == [5, 10, 20, 40, 60, 60]
    assert policy.retry_at(1, T0, T0, permanent=True) is None
    assert policy.retry_at(9, T0, T0 + timedelta(seconds=3600), False) is None


def test_messages_tell_the_alert_and_what_changed_before_it():
    changes = [{"when": "2026-11-30T08:58:00+00:00", "severity": "INFO", "message": "OSD flags: set noout",
                "by": "oper"}]
    doc = alert(changes_before=changes)
    text = messages.email_text("n1", FIRING, doc)
    assert "OSD 3 down" in text and "set noout" in text and "(by oper)" in text and FSID_A in text
    subject = messages.email_subject(FIRING, alert(summary="a\r\nBcc: evil@example.net"))
    assert "\n" not in subject and "\r" not in subject
    am = messages.alertmanager_alert("n1", FIRING, alert(labels={"9bad-name": "x"}), 60, T0)
    assert am["labels"]["alertname"] == "osd_down" and am["labels"]["_9bad_name"] == "x"
    assert am["startsAt"] == T0.isoformat() and am["endsAt"] == (T0 + timedelta(seconds=240)).isoformat()
    resolved = alert(state="resolved", resolved_at=(T0 + timedelta(minutes=1)).isoformat())
    assert messages.alertmanager_alert("n1", RESOLVED, resolved, 60, T0)["endsAt"] == resolved["resolved_at"]


def test_an_alert_document_is_copied_in_json_types():
    original = {**alert(), "changes_before": [{"when": T0, "message": "set noout", "osds": {3}}]}
    doc = check_alert(original)
    original["changes_before"].append({"message": "later"})  # the caller's own copy changes later
    assert doc["changes_before"] == [{"when": str(T0), "message": "set noout", "osds": "{3}"}]
    with pytest.raises(AlertDocumentError) as err:
        check_alert({**alert(), "extra": {(1, 2): 3}})
    assert err.value.field == "(alert)"


def test_a_large_alert_keeps_its_newest_changes_and_a_huge_one_is_refused():
    changes = [{"when": T0.isoformat(), "message": f"change {i} " + "x" * 200} for i in range(5000)]
    doc = check_alert(alert(changes_before=changes))
    kept = doc["changes_before"]
    assert 0 < len(kept) < 5000 and doc["changes_left_out"] == 5000 - len(kept)
    assert kept[-1]["message"].startswith("change 4999 ") and kept == changes[-len(kept):]
    assert len(json.dumps(doc).encode()) <= MAX_ALERT_BYTES
    assert "changes_left_out" not in check_alert(alert(changes_before=changes[:10]))
    with pytest.raises(AlertDocumentError):
        check_alert(alert(description="y" * (MAX_ALERT_BYTES + 1)))


def test_the_text_says_how_many_changes_were_left_out():
    changes = [{"when": T0.isoformat(), "message": f"change {i}"} for i in range(60)]
    text = messages.email_text("n1", FIRING, alert(changes_before=changes, changes_left_out=7))
    assert "(17 earlier changes left out)" in text and "change 59" in text and "change 9\n" not in text


def test_a_repeat_carries_the_newest_changes_only():
    changes = [{"when": T0.isoformat(), "message": f"change {i}"} for i in range(30)]
    repeat = for_repeat(alert(changes_before=changes, changes_left_out=5))
    assert repeat["changes_before"] == changes[-20:] and repeat["changes_left_out"] == 15
    few = alert(changes_before=changes[:3])
    assert for_repeat(few) == few
