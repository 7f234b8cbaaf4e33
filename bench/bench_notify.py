"""Time from `Notifier.alert_changed()` to a local webhook receiver having the notification: the
model service over a SQLite event store in a temporary data dir, its notifier thread running,
a signed webhook channel (and optionally more channels routed the same alert). Each alert is a
new one, so each is routed, written to the outbox durably, sent and recorded as delivered.
Prints the median, p90, p99 and maximum; asserts nothing (the issue's budget: 1 s plus the
rule's threshold, which is the alerting service's part).

`python bench/bench_notify.py [--alerts 200] [--channels 1] [--gap-ms 20]`"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calamari.bootstrap import build_services  # noqa: E402
from calamari.service.model import ModelService, ServiceConfig  # noqa: E402
from calamari.testing.notify_receivers import HttpReceiver  # noqa: E402


def alert(number: int) -> dict:
    now = datetime.now(UTC).isoformat()
    return {"id": f"bench-{number}", "rule": "osd_down", "severity": "critical", "state": "firing",
            "silenced": False, "acknowledged_by": None, "cluster": None, "object": {"kind": "osd", "id": str(number)},
            "summary": f"OSD {number} is down", "description": "bench", "labels": {}, "raised_at": now,
            "updated_at": now, "resolved_at": None,
            "changes_before": [{"when": now, "severity": "INFO", "message": "OSD flags: set noout"}] * 20}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--channels", type=int, default=1, help="webhook channels the alerts go to")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between alerts")
    args = parser.parse_args()
    receivers = [HttpReceiver() for _ in range(args.channels)]
    with tempfile.TemporaryDirectory() as data_dir:
        service = ModelService(ServiceConfig(data_dir=data_dir, snapshot_every_events=1_000_000))
        services = build_services(service)
        notifier = services.notifier
        try:
            for index, receiver in enumerate(receivers):
                notifier.create_channel(f"hook{index}", "webhook", {"url": receiver.url, "repeat_interval_s": 0},
                                        "bench-secret", "bench")
            notifier.start()
            handed: dict[str, float] = {}
            for number in range(args.alerts):
                doc = alert(number)
                handed[doc["id"]] = time.monotonic()
                notifier.alert_changed(doc)
                time.sleep(args.gap_ms / 1000)
            for receiver in receivers:
                receiver.wait_for(args.alerts, timeout=60 + args.alerts)
        finally:
            notifier.stop()
            service.close()
            for receiver in receivers:
                receiver.close()
    latencies = [(item.at - handed[item.json()["alert"]["id"]]) * 1000 for r in receivers for item in r.received]
    print(f"alert_changed() -> webhook received, {args.alerts} alerts x {args.channels} channel(s), "
          f"{args.gap_ms:g} ms apart, SQLite event store:")
    print(f"  median {statistics.median(latencies):7.1f} ms")
    print(f"  p90    {percentile(latencies, 0.90):7.1f} ms")
    print(f"  p99    {percentile(latencies, 0.99):7.1f} ms")
    print(f"  max    {max(latencies):7.1f} ms")


if __name__ == "__main__":
    main()
