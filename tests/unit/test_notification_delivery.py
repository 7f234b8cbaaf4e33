"""Notifications delivered to real local receivers: a webhook receiver checking the HMAC signature,
an SMTP server requiring STARTTLS and AUTH (aiosmtpd, throwaway certificate), an Alertmanager
receiver checking the v2 API's JSON shape. Failures are retried with back-off (a clock the test
moves), permanent ones given up, and everything is recorded in the outbox."""

from __future__ import annotations

import email
import os
from datetime import UTC, datetime, timedelta

import pytest
from test_durable_commits import SwitchableStore

from calamari.adapters.notify.secrets import SecretStore
from calamari.bootstrap import build_services
from calamari.domain.notifications.notification import CANCELLED, DELIVERED, FAILED, PENDING
from calamari.service.control import notify_handlers
from calamari.service.model import ModelService, NotPersisted, ServiceConfig
from calamari.service.notifier import Notifier
from calamari.testing.notify_receivers import (
    AlertmanagerReceiver,
    HttpReceiver,
    SmtpReceiver,
    throwaway_certificate,
    verify_webhook,
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
FSID = "11111111-2222-3333-4444-555555555555"
SECRET = "hmac-key-\u00e9-7f3a"


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def alert_doc(**changes):
    doc = {"id": "alert-1", "rule": "osd_down", "severity": "critical", "state": "firing", "silenced": False,
           "acknowledged_by": None, "cluster": FSID, "object": {"kind": "osd", "id": "3"},
           "summary": "OSD 3 is down", "description": "osd.3 has been down for 5 minutes",
           "labels": {"osd": "3"}, "raised_at": T0.isoformat(), "updated_at": T0.isoformat(), "resolved_at": None,
           "changes_before": [{"when": "2026-11-30T08:57:00+00:00", "severity": "INFO",
                               "message": "OSD flags: set noout", "by": "oper"}]}
    doc.update(changes)
    return doc


@pytest.fixture
def setup(tmp_path):
    service = ModelService(ServiceConfig(data_dir=str(tmp_path / "data"), snapshot_every_events=1_000_000))
    clock = Clock()
    notifier = Notifier(service, SecretStore(service.config.data_dir), clock=clock)
    receivers = []
    yield service, notifier, clock, receivers
    for receiver in receivers:
        receiver.close()
    service.close()


def webhook_channel(notifier, receivers, status=200, secret=None) -> HttpReceiver:
    """A receiver answering `status`, closed after the test, behind a webhook channel "hook"."""
    hook = HttpReceiver(status=status)
    receivers.append(hook)
    notifier.create_channel("hook", "webhook", {"url": hook.url}, secret, "admin")
    return hook


def run(notifier, clock, passes=3):
    for _ in range(passes):
        notifier.process()


def test_a_webhook_gets_a_signed_firing_and_resolved_notification(setup):
    service, notifier, clock, receivers = setup
    hook = HttpReceiver()
    receivers.append(hook)
    notifier.create_channel("hook", "webhook", {"url": hook.url + "/in?token=t"}, SECRET, "admin")
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    first = hook.wait_for(1)[0]
    assert verify_webhook(SECRET, first)
    assert not verify_webhook("another key", first)
    body = first.json()
    assert body["reason"] == "firing" and body["alert"]["id"] == "alert-1"
    assert body["alert"]["changes_before"][0]["message"] == "OSD flags: set noout"
    assert first.headers["x-calamari-notification-id"] == body["notification_id"] == first.headers["idempotency-key"]
    clock.advance(300)
    notifier.alert_changed(alert_doc(state="resolved", resolved_at=(T0 + timedelta(minutes=5)).isoformat()))
    run(notifier, clock)
    second = hook.wait_for(2)[1]
    assert second.json()["reason"] == "resolved" and verify_webhook(SECRET, second)
    assert second.json()["notification_id"] != body["notification_id"]
    assert [n.state for n in notifier.notifications()] == [DELIVERED, DELIVERED]
    assert len(hook.received) == 2


def test_email_over_starttls_with_auth(setup, tmp_path):
    service, notifier, clock, receivers = setup
    smtp = SmtpReceiver(tmp_path, "calamari", "smtp-password-1")
    receivers.append(smtp)
    notifier.create_channel("mail", "email", {
        "host": "127.0.0.1", "port": smtp.port, "security": "starttls", "username": "calamari",
        "from_address": "calamari@example.net", "to": ["ops@example.net", "oncall@example.net"],
        "ca_file": str(smtp.cert)}, "smtp-password-1", "admin")
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    assert len(smtp.messages) == 1
    mail_from, rcpt, content = smtp.messages[0]
    assert mail_from == "calamari@example.net" and rcpt == ["ops@example.net", "oncall@example.net"]
    message = email.message_from_bytes(content)
    note = notifier.notifications()[0]
    assert message["Message-ID"] == f"<{note.notification_id}@calamari>"
    assert "FIRING critical: OSD 3 is down" in message["Subject"]
    assert "OSD flags: set noout" in message.get_payload(decode=True).decode()
    assert note.state == DELIVERED and smtp.failed_logins == 0


def test_email_with_a_wrong_password_fails_for_good_and_says_why(setup, tmp_path):
    service, notifier, clock, receivers = setup
    smtp = SmtpReceiver(tmp_path, "calamari", "right-password")
    receivers.append(smtp)
    notifier.create_channel("mail", "email", {
        "host": "127.0.0.1", "port": smtp.port, "username": "calamari", "from_address": "calamari@example.net",
        "to": ["ops@example.net"], "ca_file": str(smtp.cert)}, "wrong-password", "admin")
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    note = notifier.notifications()[0]
    assert note.state == FAILED and "535" in note.last_error and "wrong-password" not in note.last_error
    # smtplib tries each mechanism the server offers (PLAIN, LOGIN) in the one attempt
    assert note.attempts == 1 and smtp.messages == [] and smtp.failed_logins >= 1


def test_email_refuses_a_certificate_it_was_not_told_to_trust(setup, tmp_path):
    service, notifier, clock, receivers = setup
    smtp = SmtpReceiver(tmp_path, "calamari", "pw")
    receivers.append(smtp)
    notifier.create_channel("mail", "email", {
        "host": "127.0.0.1", "port": smtp.port, "username": "calamari", "from_address": "calamari@example.net",
        "to": ["ops@example.net"]}, "pw", "admin")
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    note = notifier.notifications()[0]
    assert note.state == PENDING and note.attempts == 1 and "CERTIFICATE_VERIFY_FAILED" in note.last_error
    assert smtp.messages == []


def test_alertmanager_gets_a_v2_alert_it_accepts(setup):
    service, notifier, clock, receivers = setup
    am = AlertmanagerReceiver()
    receivers.append(am)
    notifier.create_channel("am", "alertmanager", {"url": am.url}, None, "admin")
    notifier.alert_changed(alert_doc(labels={"osd": "3", "host-name": "node1"}))
    run(notifier, clock)
    item = am.wait_for(1)[0]
    assert item.answered == 200, item
    (sent,) = item.json()
    assert sent["labels"] == {"osd": "3", "host_name": "node1", "alertname": "osd_down", "severity": "critical",
                              "calamari_alert_id": "alert-1", "cluster": FSID, "object_kind": "osd",
                              "object_id": "3"}
    assert sent["startsAt"] == T0.isoformat() and sent["annotations"]["summary"] == "OSD 3 is down"
    assert notifier.notifications()[0].state == DELIVERED
    # a firing alert is sent again every repeat interval, which keeps it alive in Alertmanager
    clock.advance(300)
    run(notifier, clock)
    assert len(am.wait_for(2)) == 2 and am.received[1].answered == 200
    (repeat,) = am.received[1].json()
    assert repeat["labels"] == sent["labels"] and repeat["startsAt"] == sent["startsAt"]
    assert datetime.fromisoformat(repeat["endsAt"]) - datetime.fromisoformat(sent["endsAt"]) == timedelta(seconds=300)


def test_failures_are_retried_with_back_off_until_the_receiver_takes_it(setup):
    service, notifier, clock, receivers = setup
    answers = iter([503, 500, 200])
    hook = webhook_channel(notifier, receivers, status=lambda item: next(answers))
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    note = notifier.notifications()[0]
    assert (note.state, note.attempts, note.last_error) == (PENDING, 1, "HTTP 503 Service Unavailable")
    assert note.due == T0 + timedelta(seconds=5)
    run(notifier, clock)  # not due yet
    assert len(hook.received) == 1
    clock.advance(5)
    run(notifier, clock)
    assert (note.attempts, note.due) == (2, T0 + timedelta(seconds=15))
    clock.advance(10)
    run(notifier, clock)
    assert note.state == DELIVERED and note.attempts == 3 and len(hook.received) == 3
    ids = {item.headers["x-calamari-notification-id"] for item in hook.received}
    assert ids == {note.notification_id}  # the same idempotency key on every attempt


def test_a_permanent_refusal_is_given_up_at_once_and_an_unreachable_receiver_is_retried(setup):
    service, notifier, clock, receivers = setup
    hook = HttpReceiver(status=400)
    receivers.append(hook)
    dead = HttpReceiver()
    dead_url = dead.url
    dead.close()
    notifier.create_channel("bad", "webhook", {"url": hook.url}, None, "admin")
    # a path may be the receiver's token (Slack's are): errors name the host and port only
    notifier.create_channel("gone", "webhook", {"url": dead_url + "/services/T0/B0/path-token-Q9?key=query-token-R7"},
                            None, "admin")
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    by_channel = {n.channel_id: n for n in notifier.notifications()}
    assert by_channel["bad"].state == FAILED and by_channel["bad"].last_error.startswith("HTTP 400")
    assert by_channel["gone"].state == PENDING and by_channel["gone"].last_error.startswith(f"cannot reach {dead_url}:")
    assert "path-token" not in by_channel["gone"].last_error and "query-token" not in by_channel["gone"].last_error


def test_deleting_a_channel_cancels_what_it_had_to_send(setup):
    service, notifier, clock, receivers = setup
    hook = webhook_channel(notifier, receivers, status=503, secret=SECRET)
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    assert notifier.delete_channel("hook", "admin") == 1
    assert notifier.notifications()[0].state == CANCELLED
    assert SecretStore(service.config.data_dir).get("hook") is None
    clock.advance(3600)
    run(notifier, clock)
    assert len(hook.received) == 1


def test_silenced_alerts_are_not_notified(setup):
    service, notifier, clock, receivers = setup
    hook = webhook_channel(notifier, receivers)
    notifier.alert_changed(alert_doc(silenced=True))
    notifier.alert_changed(alert_doc(silenced=True, state="resolved", resolved_at=T0.isoformat()))
    run(notifier, clock)
    assert notifier.notifications() == [] and hook.received == []


def test_the_worker_thread_delivers_on_its_own(tmp_path):
    service = ModelService(ServiceConfig(data_dir=str(tmp_path / "data"), snapshot_every_events=1_000_000))
    hook = HttpReceiver()
    services = build_services(service)
    try:
        services.notifier.create_channel("hook", "webhook", {"url": hook.url}, None, "admin")
        services.notifier.start()
        services.notifier.alert_changed(alert_doc())
        assert hook.wait_for(1)[0].json()["alert"]["id"] == "alert-1"
    finally:
        services.notifier.stop()
        hook.close()
        service.close()


def test_alerts_handed_in_again_at_the_start_are_queued_once(setup):
    service, notifier, clock, receivers = setup
    hook = webhook_channel(notifier, receivers)
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    # a restarted server: the alerting service hands in its alerts as they are now
    again = Notifier(service, SecretStore(service.config.data_dir), clock=clock,
                     alert_source=lambda: [alert_doc(), alert_doc(id="alert-2")])
    again.start()
    try:
        received = hook.wait_for(2)
    finally:
        again.stop()
    assert sorted(item.json()["alert"]["id"] for item in received) == ["alert-1", "alert-2"]
    assert len(again.notifications()) == 2


def test_a_receiver_that_does_not_answer_delays_only_its_own_channel(setup):
    service, notifier, clock, receivers = setup
    slow, fast = HttpReceiver(), HttpReceiver()
    receivers += [slow, fast]
    slow.hold.clear()  # takes the request, answers only when told
    notifier.create_channel("slow", "webhook", {"url": slow.url}, None, "admin")
    notifier.create_channel("fast", "webhook", {"url": fast.url}, None, "admin")
    notifier.start()
    try:
        notifier.alert_changed(alert_doc())
        slow.wait_for(1)
        notifier.alert_changed(alert_doc(id="alert-2"))
        assert [item.json()["alert"]["id"] for item in fast.wait_for(2)] == ["alert-1", "alert-2"]
        assert len(slow.received) == 1  # its second waits for the first: one at a time, in order
        slow.hold.set()
        assert [item.json()["alert"]["id"] for item in slow.wait_for(2)] == ["alert-1", "alert-2"]
    finally:
        notifier.stop()


def test_a_resolved_notification_never_overtakes_its_firing_one_waiting_for_a_retry(setup):
    service, notifier, clock, receivers = setup
    answers = iter([503, 200, 200])
    hook = webhook_channel(notifier, receivers, status=lambda item: next(answers))
    notifier.alert_changed(alert_doc())
    run(notifier, clock)  # the firing one failed: retried in 5 s
    clock.advance(1)
    notifier.alert_changed(alert_doc(state="resolved", resolved_at=(T0 + timedelta(seconds=1)).isoformat()))
    run(notifier, clock)
    assert len(hook.received) == 1  # the resolved one waits behind the firing one
    clock.advance(5)
    run(notifier, clock)
    assert [item.json()["reason"] for item in hook.received] == ["firing", "firing", "resolved"]
    assert [item.answered for item in hook.received] == [503, 200, 200]


def test_a_malformed_alert_document_is_refused_with_a_log_line_naming_the_field(setup, caplog):
    service, notifier, clock, receivers = setup
    hook = webhook_channel(notifier, receivers)
    notifier.alert_changed(alert_doc(severity="fatal"))
    notifier.alert_changed("not a document")
    run(notifier, clock)
    assert notifier.rejected == 2 and notifier.notifications() == [] and hook.received == []
    assert "severity: one of critical, warning, info" in caplog.text
    handle = notify_handlers(notifier)["notify_alert"]
    assert handle({"op": "notify_alert", "alert": alert_doc(raised_at="later")}) == \
        {"ok": False, "status": 400, "error": "raised_at: an ISO 8601 time"}
    assert handle({"op": "notify_alert", "alert": alert_doc()}) == {"ok": True}
    run(notifier, clock)
    assert len(hook.wait_for(1)) == 1


def test_an_alert_handed_in_while_the_store_refuses_changes_is_routed_once_it_takes_them(setup):
    service, notifier, clock, receivers = setup
    hook = webhook_channel(notifier, receivers)
    service.config.durable_timeout = 5.0
    store = SwitchableStore(service.writer.store)
    service.writer.store = store
    store.failure = "database or disk is full"
    notifier.alert_changed(alert_doc())
    with pytest.raises(NotPersisted):
        notifier.process()
    assert notifier.notifications() == [] and hook.received == []
    store.failure = None
    run(notifier, clock)
    assert [item.json()["alert"]["id"] for item in hook.wait_for(1)] == ["alert-1"]
    assert [n.state for n in notifier.notifications()] == [DELIVERED]


def test_a_channel_whose_secret_file_is_lost_sends_nothing_unsigned(setup):
    service, notifier, clock, receivers = setup
    hook = webhook_channel(notifier, receivers, secret=SECRET)
    os.remove(notifier.secrets.path)  # e.g. a data dir restored without it
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    note = notifier.notifications()[0]
    assert note.state == PENDING and "secret of channel hook is missing" in note.last_error
    assert hook.received == []
    notifier.update_channel("hook", {}, "admin", secret_given=True, secret=SECRET)
    clock.advance(5)
    run(notifier, clock)
    assert verify_webhook(SECRET, hook.wait_for(1)[0]) and note.state == DELIVERED


# aiosmtpd's AUTH-without-STARTTLS warning: here the connection is TLS from its first byte
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_over_tls_from_the_start(setup, tmp_path):
    service, notifier, clock, receivers = setup
    smtp = SmtpReceiver(tmp_path, "calamari", "smtps-password", implicit_tls=True)
    receivers.append(smtp)
    notifier.create_channel("mail", "email", {
        "host": "127.0.0.1", "port": smtp.port, "security": "tls", "username": "calamari",
        "from_address": "calamari@example.net", "to": ["ops@example.net"], "ca_file": str(smtp.cert)},
        "smtps-password", "admin")
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    assert notifier.notifications()[0].state == DELIVERED and len(smtp.messages) == 1


def test_https_receivers_are_checked_against_the_channels_ca_file(setup, tmp_path):
    service, notifier, clock, receivers = setup
    certificate = throwaway_certificate(tmp_path)
    hook, am = HttpReceiver(certificate=certificate), AlertmanagerReceiver(certificate=certificate)
    receivers += [hook, am]
    notifier.create_channel("trusting", "webhook", {"url": hook.url, "ca_file": str(certificate[0])}, None, "admin")
    notifier.create_channel("am", "alertmanager", {"url": am.url, "ca_file": str(certificate[0])}, None, "admin")
    notifier.create_channel("system-cas", "webhook", {"url": hook.url}, None, "admin")
    notifier.alert_changed(alert_doc())
    run(notifier, clock)
    states = {n.channel_id: n for n in notifier.notifications()}
    assert states["trusting"].state == DELIVERED and states["am"].state == DELIVERED
    assert states["system-cas"].state == PENDING and "CERTIFICATE_VERIFY_FAILED" in states["system-cas"].last_error
    assert len(hook.received) == 1 and am.received[0].answered == 200


def test_beyond_the_queue_limit_the_oldest_alert_documents_are_dropped_and_logged(setup, caplog, monkeypatch):
    service, notifier, clock, receivers = setup
    monkeypatch.setattr("calamari.service.notifier.MAX_QUEUED_ALERTS", 3)
    webhook_channel(notifier, receivers)
    for number in range(5):
        notifier.alert_changed(alert_doc(id=f"alert-{number}"))
    run(notifier, clock)
    assert notifier.dropped == 2 and "the oldest dropped (1 so far)" in caplog.text
    assert sorted(n.alert_id for n in notifier.notifications()) == ["alert-2", "alert-3", "alert-4"]
