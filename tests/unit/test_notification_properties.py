"""Properties of the outbox over random runs (channels added and deleted, alert changes handed in,
deliveries that succeed, fail for a while or for good, time passing): replaying the stored events
gives the same channels and outbox as the live state, from the events alone and from a snapshot
plus the rest; and a pending notification is sent after a restart, once."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calamari.adapters.notify import DeliveryError
from calamari.adapters.notify.secrets import SecretStore
from calamari.adapters.snapshots import load_model, write_snapshot
from calamari.domain.model import ClusterModel
from calamari.domain.notifications.notification import DELIVERED, FAILED
from calamari.service.model import ModelService, ServiceConfig
from calamari.service.notifier import Notifier

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
FSIDS = ("11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
SEVERITIES = ("critical", "warning", "info")


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


class ScriptedSender:
    """Answers deliveries from a script: "ok", "retry" (a temporary failure) or "refuse"."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.sent: list[str] = []

    def __call__(self, channel, note, secret, now) -> str:
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "ok":
            self.sent.append(note.notification_id)
            return "HTTP 200"
        raise DeliveryError(f"HTTP {'503' if outcome == 'retry' else '400'}", permanent=outcome == "refuse")


channel_op = st.tuples(st.just("channel"), st.sampled_from(["c1", "c2", "c3"]),
                       st.lists(st.sampled_from(SEVERITIES), min_size=1, max_size=3, unique=True),
                       st.sampled_from([[], [FSIDS[0]]]), st.booleans(), st.sampled_from([0, 60, 600]))
delete_op = st.tuples(st.just("delete"), st.sampled_from(["c1", "c2", "c3"]))
alert_op = st.tuples(st.just("alert"), st.sampled_from(["a1", "a2"]), st.sampled_from(SEVERITIES),
                     st.sampled_from(FSIDS), st.sampled_from(["firing", "resolved"]), st.booleans(),
                     st.integers(0, 2))
deliver_op = st.tuples(st.just("deliver"), st.lists(st.sampled_from(["ok", "retry", "refuse"]), max_size=4))
wait_op = st.tuples(st.just("wait"), st.integers(1, 900))
retry_op = st.tuples(st.just("retry"))
operations = st.lists(st.one_of(channel_op, delete_op, alert_op, deliver_op, wait_op, retry_op), min_size=1,
                      max_size=25)


def replayed_and_restored(service: ModelService) -> tuple[ClusterModel, ClusterModel]:
    """The model every stored event replays to, and the one the last snapshot and the events
    after it give."""
    replayed = ClusterModel()
    for _, event in service.store.read(after=0):
        replayed.apply(event)
    restored, _ = load_model(service.config.snapshot_dir, service.store)
    return replayed, restored


def outbox_state(model: ClusterModel) -> tuple[dict, dict]:
    return ({k: c.domain_state() for k, c in model.channels.items()},
            {k: n.domain_state() for k, n in model.notifications.items()})


def run_operations(notifier: Notifier, clock: Clock, sender: ScriptedSender, ops: list) -> None:
    for op in ops:
        if op[0] == "channel":
            _, channel_id, severities, clusters, send_resolved, repeat = op
            fields = {"url": "https://hooks.example.net/x", "severities": severities, "clusters": clusters,
                      "send_resolved": send_resolved, "repeat_interval_s": repeat}
            try:
                notifier.update_channel(channel_id, fields, "admin")
            except KeyError:
                notifier.create_channel(channel_id, "webhook", fields, None, "admin")
        elif op[0] == "delete":
            try:
                notifier.delete_channel(op[1], "admin")
            except KeyError:
                pass
        elif op[0] == "alert":
            _, alert_id, severity, cluster, state, silenced, raise_no = op
            raised = T0 + timedelta(hours=raise_no)
            notifier.alert_changed({
                "id": alert_id, "rule": "osd_down", "severity": severity, "state": state, "silenced": silenced,
                "acknowledged_by": None, "cluster": cluster, "object": None, "summary": "s", "description": "d",
                "labels": {}, "raised_at": raised.isoformat(), "updated_at": raised.isoformat(),
                "resolved_at": datetime.fromtimestamp(clock.now, UTC).isoformat() if state == "resolved" else None,
                "changes_before": []})
            notifier.process()
        elif op[0] == "retry":  # everything given up is tried again
            for note in notifier.notifications(state=FAILED):
                notifier.retry_notification(note.notification_id, "oper")
        elif op[0] == "deliver":
            sender.script = list(op[1])
            notifier.process()
        else:
            clock.now += op[1]
            notifier.process()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=operations, snapshot_at=st.integers(0, 25))
def test_replaying_the_events_gives_the_live_outbox(ops, snapshot_at):
    with tempfile.TemporaryDirectory() as data_dir:
        service = ModelService(ServiceConfig(data_dir=data_dir, event_store_url="memory://",
                                             snapshot_every_events=1_000_000))
        try:
            clock, sender = Clock(), ScriptedSender()
            notifier = Notifier(service, SecretStore(data_dir), sender=sender, clock=clock)
            run_operations(notifier, clock, sender, ops[:snapshot_at])
            assert service.writer.flush(30)
            write_snapshot(service.config.snapshot_dir, service.store.max_position(), service.model)
            run_operations(notifier, clock, sender, ops[snapshot_at:])
            assert service.writer.flush(30)
            live = outbox_state(service.model)
            replayed, restored = replayed_and_restored(service)
            assert outbox_state(replayed) == live
            assert outbox_state(restored) == live
            # every notification was sent at most once
            assert len(sender.sent) == len(set(sender.sent))
            assert {n for n, note in service.model.notifications.items() if note.state == DELIVERED} == \
                set(sender.sent)
        finally:
            service.close()


def test_a_notification_pending_at_a_stop_is_sent_after_the_restart_once(tmp_path):
    data_dir = str(tmp_path / "data")
    clock, sender = Clock(), ScriptedSender()
    service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=1_000_000))
    notifier = Notifier(service, SecretStore(data_dir), sender=sender, clock=clock)
    notifier.create_channel("c1", "webhook", {"url": "https://hooks.example.net/x"}, None, "admin")
    notifier.create_channel("c2", "webhook", {"url": "https://hooks.example.net/y"}, None, "admin")
    sender.script = ["retry", "retry"]
    run_operations(notifier, clock, sender, [("alert", "a1", "critical", FSIDS[0], "firing", False, 0)])
    assert sender.sent == []
    service.close()

    service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=1_000_000))
    try:
        sender2 = ScriptedSender()
        notifier = Notifier(service, SecretStore(data_dir), sender=sender2, clock=clock)
        assert [n.attempts for n in service.model.pending_notifications()] == [1, 1]
        clock.now += 10
        notifier.process()
        notifier.process()
        assert len(sender2.sent) == 2 and {n.channel_id for n in service.model.notifications.values()} == {"c1", "c2"}
        assert service.model.pending_notifications() == []
    finally:
        service.close()
