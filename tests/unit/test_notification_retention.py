"""Retention of the outbox: finished notifications (delivered, given up, cancelled) older than the
retention leave the live model, an alert's all together; pending ones and those of a firing alert
never do; an alert change handed in again after its notifications left queues nothing; over random
runs with retirements a replay and a snapshot give the live outbox and nothing is sent twice."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_notification_properties import (
    FSIDS,
    T0,
    Clock,
    ScriptedSender,
    operations,
    outbox_state,
    replayed_and_restored,
    run_operations,
)

from calamari.adapters.notify.secrets import SecretStore
from calamari.adapters.snapshots import write_snapshot
from calamari.domain.notifications.notification import CANCELLED, DELIVERED, FAILED, PENDING
from calamari.service.model import ModelService, ServiceConfig
from calamari.service.notifier import Notifier

DAY = 86400


def alert(alert_id: str, state: str, clock: Clock, raised: datetime = T0) -> dict[str, Any]:
    now = (T0 + timedelta(minutes=1)).isoformat()  # an alert's resolution time never changes
    return {"id": alert_id, "rule": "osd_down", "severity": "critical", "state": state, "silenced": False,
            "acknowledged_by": None, "cluster": FSIDS[0], "object": None, "summary": "s", "description": "d",
            "labels": {}, "raised_at": raised.isoformat(), "updated_at": now,
            "resolved_at": now if state == "resolved" else None, "changes_before": []}


@pytest.fixture
def outbox(tmp_path: Any) -> Any:
    data_dir = str(tmp_path)
    service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=1_000_000))
    clock, sender = Clock(), ScriptedSender()
    notifier = Notifier(service, SecretStore(data_dir), sender=sender, clock=clock, retention=timedelta(days=7))
    for channel in ("c1", "c2"):
        notifier.create_channel(channel, "webhook", {"url": f"https://hooks.example.net/{channel}",
                                                     "send_resolved": True, "repeat_interval_s": 0}, None, "admin")
    yield service, notifier, clock, sender
    service.close()


def hand_in(notifier: Notifier, doc: dict[str, Any]) -> None:
    notifier.alert_changed(doc)
    notifier.process()


def test_finished_notifications_past_the_retention_leave_an_alerts_together(outbox):
    service, notifier, clock, sender = outbox
    hand_in(notifier, alert("a1", "firing", clock))
    hand_in(notifier, alert("a1", "resolved", clock))  # delivered: firing and resolved on 2 channels
    sender.script = ["refuse"]
    hand_in(notifier, alert("a2", "firing", clock))  # one given up, the other delivered
    hand_in(notifier, alert("a2", "resolved", clock))
    sender.script = ["retry"] * 10
    hand_in(notifier, alert("a3", "firing", clock))  # pending, retried
    hand_in(notifier, alert("a3", "resolved", clock))
    notifier.delete_channel("c2", "admin")  # a3's c2 notifications cancelled
    model = service.model
    states = {n.state for n in model.notifications.values()}
    assert {DELIVERED, FAILED, CANCELLED, PENDING} <= states
    clock.now += 6 * DAY
    assert notifier.retire() == 0
    clock.now += 2 * DAY
    a3 = {i for i, n in model.notifications.items() if n.alert_id == "a3"}
    others = len(model.notifications) - len(a3)
    assert others == 8 and notifier.retire() == others
    assert set(model.notifications) == a3  # a3 still has one pending: none of its leave
    assert model.pending_notifications() and all(n.alert_id == "a3" for n in model.pending_notifications())
    gone = next(iter(i for i in sender.sent if i not in a3))
    assert notifier.retired(gone) == datetime.fromtimestamp(clock.now, UTC)
    assert [n.notification_id for n in notifier.notifications()] == sorted(
        a3, key=lambda i: (model.notifications[i].queued_at, i), reverse=True)


def test_a_firing_alerts_notifications_stay_and_nothing_is_queued_again(outbox):
    service, notifier, clock, sender = outbox
    hand_in(notifier, alert("a1", "firing", clock))
    hand_in(notifier, alert("a2", "firing", clock))
    hand_in(notifier, alert("a2", "resolved", clock))
    clock.now += 30 * DAY
    # a1 fires on (the notifier knows it, as the alerting service told it)
    assert notifier.retire() == 4
    assert {n.alert_id for n in service.model.notifications.values()} == {"a1"}
    sent = list(sender.sent)
    # the alerts handed in again (as at a restart): a2's notifications left, none is queued again
    hand_in(notifier, alert("a2", "resolved", clock))
    hand_in(notifier, alert("a1", "firing", clock))
    assert sender.sent == sent and {n.alert_id for n in service.model.notifications.values()} == {"a1"}


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=operations, retire_at=st.lists(st.integers(0, 25), max_size=3), snapshot_at=st.integers(0, 25),
       keep_s=st.sampled_from([60, 3600, DAY]))
def test_replaying_the_events_with_retirements_gives_the_live_outbox(ops, retire_at, snapshot_at, keep_s):
    with tempfile.TemporaryDirectory() as data_dir:
        service = ModelService(ServiceConfig(data_dir=data_dir, event_store_url="memory://",
                                             snapshot_every_events=1_000_000))
        try:
            clock, sender = Clock(), ScriptedSender()
            notifier = Notifier(service, SecretStore(data_dir), sender=sender, clock=clock,
                                retention=timedelta(seconds=keep_s))
            for i, op in enumerate(ops):
                if i == snapshot_at:
                    assert service.writer.flush(30)
                    write_snapshot(service.config.snapshot_dir, service.store.max_position(), service.model)
                if i in retire_at:
                    clock.now += keep_s
                    pending = {n.notification_id for n in service.model.pending_notifications()}
                    firing = set(notifier._firing)
                    notifier.retire()
                    # nothing pending nor any of a firing alert leaves
                    assert pending <= set(service.model.notifications)
                    assert all(n.notification_id in service.model.notifications
                               for n in list(service.model.notifications.values()) if n.alert_id in firing)
                run_operations(notifier, clock, sender, [op])
            assert service.writer.flush(30)
            live = outbox_state(service.model)
            retention = service.model.outbox_retention
            replayed, restored = replayed_and_restored(service)
            assert outbox_state(replayed) == live
            assert outbox_state(restored) == live
            assert (restored.outbox_retention.domain_state() if restored.outbox_retention else None) == (
                retention.domain_state() if retention else None)
            assert len(sender.sent) == len(set(sender.sent))  # nothing sent twice
        finally:
            service.close()


def test_a_pass_in_steps_retires_all_and_skips_what_changed_since_it_looked(outbox, monkeypatch):
    import calamari.service.notifier as notifier_module
    from calamari.domain.notifications.retention import notifications_due, retire_notifications

    service, notifier, clock, sender = outbox
    for i in range(5):
        hand_in(notifier, alert(f"a{i}", "firing", clock))
        hand_in(notifier, alert(f"a{i}", "resolved", clock))
    sender.script = ["refuse"]
    hand_in(notifier, alert("gave-up", "firing", clock))
    model = service.model
    clock.now += 8 * DAY
    now = datetime.fromtimestamp(clock.now, UTC)
    groups = notifications_due(model, now - timedelta(days=7))
    assert len(groups) == 6 and all(len({model.notifications[i].alert_id for i in g}) == 1 for g in groups)
    failed = next(n for n in model.notifications.values() if n.state == FAILED)
    notifier.retry_notification(failed.notification_id, "oper")  # pending again since the look
    left = {i for i, n in model.notifications.items() if n.alert_id == "gave-up"}
    with service.durable() as m:
        assert retire_notifications(m, timedelta(days=7), now, groups=groups) == 20
    assert set(model.notifications) == left

    for i in range(5):  # many more: retired in steps of whole alerts' groups
        hand_in(notifier, alert(f"b{i}", "firing", clock))
        hand_in(notifier, alert(f"b{i}", "resolved", clock))
    clock.now += 8 * DAY
    stepped: list[int] = []
    monkeypatch.setattr(notifier_module, "RETIRE_STEP", 4)
    real = notifier_module.retire_notifications
    monkeypatch.setattr(notifier_module, "retire_notifications",
                        lambda *a, **k: stepped.append(len(a[4])) or real(*a, **k))
    assert notifier.retire() == 20 and stepped == [1] * 5  # each alert's 4 (2 channels x 2) a step
    assert set(model.notifications) == left


def test_the_push_stream_names_the_notifications_a_retirement_took_away(outbox):
    from calamari.domain.event_feed import OsdServers
    from calamari.domain.notifications.retention import OutboxRetention
    from calamari.service.stream_messages import describe_event

    service, notifier, clock, sender = outbox
    committed: list[Any] = []
    service.listeners.append(lambda events, model: committed.extend(events))
    hand_in(notifier, alert("a1", "firing", clock))
    hand_in(notifier, alert("a1", "resolved", clock))
    sent = set(service.model.notifications)
    clock.now += 8 * DAY
    assert notifier.retire() == len(sent) == 4
    retirements = [e for e in committed if isinstance(e, OutboxRetention.NotificationsRetired)]
    told = [path for e in retirements for path in describe_event(e, service.model, OsdServers(service.model))["changed"]]
    assert sorted(told) == sorted(f"notification/{i}" for i in sent)
