"""Time from `Notifier.alert_changed()` to a local webhook receiver having the notification: the
model service over a SQLite event store in a temporary data dir, its notifier thread running,
a signed webhook channel (and optionally more channels routed the same alert). Each alert is a
new one, so each is routed, written to the outbox durably, sent and recorded as delivered.
Prints the median, p90, p99 and maximum; asserts nothing (the issue's budget: 1 s plus the
rule's threshold, which is the alerting service's part).

With `--through-server`, the whole way instead: a real `calamari-server` process and a
`calamari-collector --simulate` in a process of its own; the OSD-down rule's threshold set
through the API (`--threshold`, default 0 s) and a signed webhook channel added through it; each
sample marks another OSD down through the API and waits for the webhook to receive its alert.
Two figures: from the change as the collector saw it (the OsdMarkedDown event's time, carried in
the alert's changes before it) and from the API request that made the change (which includes the
command's way to the simulated cluster).

`python bench/bench_notify.py [--alerts 200] [--channels 1] [--gap-ms 20]`
`python bench/bench_notify.py --through-server [--samples 30] [--threshold 0] [--osds 200]`"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calamari.bootstrap import build_services  # noqa: E402
from calamari.service.model import ModelService, ServiceConfig  # noqa: E402
from calamari.testing.live import BIN, CalamariServer, Process, plain_bus_options, wait_for  # noqa: E402
from calamari.testing.notify_receivers import HttpReceiver, Received, verify_webhook  # noqa: E402

HOOK_SECRET = "bench-secret"


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


def report(title: str, latencies: list[float]) -> None:
    print(title)
    print(f"  median {statistics.median(latencies):7.1f} ms")
    print(f"  p90    {percentile(latencies, 0.90):7.1f} ms")
    print(f"  p99    {percentile(latencies, 0.99):7.1f} ms")
    print(f"  max    {max(latencies):7.1f} ms")


def osd_down_alert(receiver: HttpReceiver, osd: int, start: int) -> Received | None:
    """The first firing osd_down notification of `osd` the receiver got after its `start`th request."""
    for item in list(receiver.received)[start:]:
        body = item.json()
        alert = body["alert"]
        if body["reason"] == "firing" and alert["rule"] == "osd_down" and alert["object"] == {"kind": "osd",
                                                                                             "id": str(osd)}:
            return item
    return None


def change_time(alert: dict[str, Any], osd: int) -> datetime | None:
    """When the collector saw the OSD go down: the newest OsdMarkedDown of it before the alert."""
    times = [datetime.fromisoformat(c["time"]) for c in alert.get("changes_before") or []
             if c.get("type") == "OsdMarkedDown" and c.get("object") == {"kind": "osd", "id": str(osd)}]
    return max(times) if times else None


def through_server(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    receiver = HttpReceiver()
    server = CalamariServer(base / "data")
    collector: Process | None = None
    from_change: list[float] = []
    from_request: list[float] = []
    try:
        api = server.start()
        spec = f"hosts={max(1, args.osds // 20)},osds={args.osds},pools=2,pgs={args.osds * 4}"
        collector = Process([str(BIN / "calamari-collector"), "--server", server.bus, "--simulate", spec,
                             *plain_bus_options("calamari-collector")], base / "collector.log")
        fsid = wait_for(lambda: api.get("/cluster"), 120, "the simulated cluster")[0]["id"]
        wait_for(lambda: len(api.get(f"/cluster/{fsid}/osd")) == args.osds, 120, "the OSDs in the API")
        api.call("PATCH", "/alert-rule/osd_down", {"for_seconds": args.threshold})
        if args.threshold > 0:  # an OSD marked down stays down (the simulator's daemons reassert themselves)
            api.wait_request(api.submit("PATCH", f"/cluster/{fsid}/osd_config", {"noup": True}))
        api.call("POST", "/notification_channel", {"id": "hook", "kind": "webhook", "url": receiver.url,
                                                   "secret": HOOK_SECRET, "repeat_interval_s": 0})
        for sample in range(args.samples):
            osd = sample % args.osds
            wait_for(lambda osd=osd: api.get(f"/cluster/{fsid}/osd/{osd}")["up"], 60, f"osd.{osd} up")
            start = len(receiver.received)
            requested_wall, requested = time.time(), time.monotonic()
            api.submit("PATCH", f"/cluster/{fsid}/osd/{osd}", {"up": False})
            item = wait_for(lambda osd=osd, start=start: osd_down_alert(receiver, osd, start),
                            30 + args.threshold, f"the alert of osd.{osd}", interval=0.005)
            assert verify_webhook(HOOK_SECRET, item)
            received_wall = requested_wall + (item.at - requested)
            from_request.append((item.at - requested) * 1000)
            seen = change_time(item.json()["alert"], osd)
            if seen is not None:
                from_change.append((received_wall - seen.timestamp()) * 1000)
    finally:
        if collector is not None:
            collector.stop()
        server.stop()
        receiver.close()
        shutil.rmtree(base, ignore_errors=True)
    print(f"calamari-server + calamari-collector --simulate (own processes), {args.osds} OSDs, OSD-down rule "
          f"threshold {args.threshold:g} s, one signed webhook; {args.samples} OSDs marked down through the API "
          f"(budget: 1 s + the threshold = {1000 + args.threshold * 1000:.0f} ms):")
    if from_change:
        report(f"the change seen by the collector -> webhook received ({len(from_change)} samples):", from_change)
        if args.threshold > 0:
            report("  of which beyond the threshold:", [value - args.threshold * 1000 for value in from_change])
    report("the API request making the change -> webhook received:", from_request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--channels", type=int, default=1, help="webhook channels the alerts go to")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between alerts")
    parser.add_argument("--through-server", action="store_true",
                        help="a real server and a simulated collector process, changes made through the API")
    parser.add_argument("--samples", type=int, default=30, help="--through-server: OSDs marked down")
    parser.add_argument("--threshold", type=float, default=0.0, help="--through-server: the OSD-down rule's for_seconds")
    parser.add_argument("--osds", type=int, default=200, help="--through-server: the simulated cluster's OSDs")
    args = parser.parse_args()
    if args.through_server:
        through_server(args)
        return
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
    report(f"alert_changed() -> webhook received, {args.alerts} alerts x {args.channels} channel(s), "
           f"{args.gap_ms:g} ms apart, SQLite event store:", latencies)


if __name__ == "__main__":
    main()
