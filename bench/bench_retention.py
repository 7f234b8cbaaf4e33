"""What retirement of old alerts and notifications saves: the deep size of one alert (with its
changes before it) and of one notification (which carries the alert's document), then a model of
`--alerts` resolved alerts and `--notifications` finished notifications: its deep size, its
snapshot's size and the time to decode it (the restart's share), before and after a retirement
pass, and the pass's CPU time (and that of a pass finding nothing, the hourly cost).

    .venv/bin/python bench/bench_retention.py [--alerts 10000] [--notifications 50000] [--changes 20]

Pure domain (no store, no threads): the pass's events are made and dropped. Prints figures;
nothing is asserted."""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.heap_holders import deep_size
from bench.measure import human_bytes
from calamari.adapters.snapshots import decode_snapshot, encode_snapshot
from calamari.domain.alerts import lifecycle
from calamari.domain.alerts.alert import Alert, alert_document, alert_labels
from calamari.domain.alerts.retention import alerts_due, retire_alerts, silences_due
from calamari.domain.model import ClusterModel
from calamari.domain.notifications import outbox
from calamari.domain.notifications.notification import notification_key
from calamari.domain.notifications.retention import notifications_due, retire_notifications
from calamari.domain.notifications.routing import Planned, check_alert

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FSID = "11111111-2222-3333-4444-555555555555"
STEP = 1000  # ids retired per step, as the services do (RETIRE_STEP)


def changes(n: int, osd: int, at: datetime) -> list[dict[str, Any]]:
    """`n` entries as RecentChanges.before gives them (an OSD's flaps, a pool's settings)."""
    return [{"time": (at - timedelta(seconds=30 * (n - i))).isoformat(), "type": "OsdMarkedDown",
             "cluster": FSID, "object": {"kind": "osd", "id": str(osd)}, "user": None,
             "message": f"osd.{osd} went down (heartbeat missed {i})"} for i in range(n)]


def one_alert(model: ClusterModel, i: int, n_changes: int) -> Alert:
    at = T0 + timedelta(seconds=60 * i)
    obj = {"kind": "osd", "id": str(i % 10_000)}
    key = f"osd_down|{FSID}|osd|{obj['id']}"
    alert = lifecycle.raise_alert(model, f"alert-{i:06d}", "osd_down", key, "warning", FSID, obj,
                                  f"OSD osd.{obj['id']} is down", "An OSD has been down for 5 minutes.",
                                  alert_labels("osd_down", "warning", FSID, obj), changes(n_changes, i, at), at)
    model.emit(alert, Alert.AlertResolved, at + timedelta(minutes=10), reason="the condition no longer holds")
    return alert


def build(alerts: int, notifications: int, n_changes: int) -> ClusterModel:
    model = ClusterModel()
    channels = max(1, math.ceil(notifications / max(1, alerts * 2)))  # firing + resolved per channel
    for c in range(channels):
        outbox.create_channel(model, f"hook{c}", "webhook", {"url": f"https://hooks.example.net/{c}",
                                                             "send_resolved": True}, False, "admin", T0)
    made = 0
    for i in range(alerts):
        alert = one_alert(model, i, n_changes)
        doc = alert_document(alert)
        for reason, when in (("firing", alert.raised_at), ("resolved", alert.resolved_at)):
            for c in range(channels):
                if made >= notifications:
                    break
                checked = check_alert({**doc, "state": reason})  # a copy, as the notifier stores it
                plan = Planned(notification_key(alert.alert_id, f"hook{c}", reason, when.isoformat()), f"hook{c}",
                               reason)
                note = outbox.queue_notification(model, plan, checked, when)
                outbox.delivered(model, note, "HTTP 200", when + timedelta(seconds=1))
                made += 1
        if i % 1000 == 0:
            model.drain()
    model.drain()
    return model


def model_size(model: ClusterModel) -> int:
    return deep_size([model.aggregates, model.alerts, model.alert_index, model.notifications, model.silences],
                     set())[0]


def snapshot_figures(model: ClusterModel) -> tuple[int, float]:
    data = encode_snapshot(1, model)
    start = time.process_time()
    decode_snapshot(data, 1)
    return len(data), time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--notifications", type=int, default=50_000)
    parser.add_argument("--changes", type=int, default=20, help="changes recorded before each alert (at most 100)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")

    for n in (0, 20, 100):
        probe = build(1, 1, n)
        alert = next(iter(probe.alerts.values()))
        note = next(iter(probe.notifications.values()))
        print(f"one alert with {n:3d} changes before it: {human_bytes(deep_size(alert, set())[0])} "
              f"(its document as JSON {human_bytes(len(json.dumps(alert_document(alert))))}); "
              f"one notification of it: {human_bytes(deep_size(note, set())[0])}")

    started = time.process_time()
    model = build(args.alerts, args.notifications, args.changes)
    gc.collect()
    print(f"model of {len(model.alerts):,} resolved alerts ({args.changes} changes each) and "
          f"{len(model.notifications):,} delivered notifications built in {time.process_time() - started:.1f} s CPU")
    before_size = model_size(model)
    before_snapshot, before_decode = snapshot_figures(model)

    now = T0 + timedelta(seconds=60 * args.alerts) + timedelta(days=40)
    alert_keep, note_keep = timedelta(days=30), timedelta(days=7)
    # as the services run it: find what is due (one look under the lock), then retire it in steps
    # of about STEP ids, each its own hold of the lock and its own stored change
    start = time.process_time()
    alerts, silences = alerts_due(model, now - alert_keep), silences_due(model, now - alert_keep)
    groups = notifications_due(model, now - note_keep)
    look_cpu = time.process_time() - start
    steps: list[float] = []
    events = retired_alerts = retired_notes = 0
    for first in range(0, len(alerts), STEP):
        step_start = time.process_time()
        retired_alerts += retire_alerts(model, alert_keep, now, alerts[first:first + STEP], silences[first:first + STEP])[0]
        events += len(model.drain())
        steps.append(time.process_time() - step_start)
    for first in range(0, len(groups), STEP // 4):
        step_start = time.process_time()
        retired_notes += retire_notifications(model, note_keep, now, (), groups[first:first + STEP // 4])
        events += len(model.drain())
        steps.append(time.process_time() - step_start)
    pass_cpu = time.process_time() - start
    gc.collect()
    after_size = model_size(model)
    after_snapshot, after_decode = snapshot_figures(model)
    start = time.process_time()
    retire_alerts(model, alert_keep, now)
    retire_notifications(model, note_keep, now)
    idle_cpu = time.process_time() - start

    print(f"retirement pass: {retired_alerts:,} alerts, {retired_notes:,} notifications in {events} events, "
          f"{pass_cpu * 1000:.0f} ms CPU (finding them {look_cpu * 1000:.0f} ms, then {len(steps)} steps, the "
          f"longest {max(steps, default=0) * 1000:.1f} ms, median {statistics.median(steps or [0]) * 1000:.1f} ms); "
          f"a pass finding nothing: {idle_cpu * 1000:.1f} ms CPU")
    print(f"model (alerts, notifications, their indexes), deep size: {human_bytes(before_size)} before, "
          f"{human_bytes(after_size)} after")
    print(f"snapshot: {human_bytes(before_snapshot)} before, {human_bytes(after_snapshot)} after; decoding it "
          f"{before_decode * 1000:.0f} ms CPU before, {after_decode * 1000:.0f} ms after")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
