"""Time-series figures: points/s written through the batched writer (new files, then existing
ones), and the render time of a one-week query over 1,000 series (plain and summed).

    .venv/bin/python bench/bench_timeseries.py [--series 1000] [--days 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

from flask import Flask

from calamari.adapters.timeseries import TimeSeriesWriter, WhisperStore
from calamari.api import graphite


def write_rate(store: WhisperStore, series: int, points_per_series: int, end: int, per_message: int = 500) -> float:
    """Points/s from stats_sink to whisper, messages shaped like the collector's."""
    writer = TimeSeriesWriter(store)
    messages, current = [], []
    for minute in range(points_per_series):
        ts = end - (points_per_series - minute) * 60
        for i in range(series):
            current.append([f"servers.host{i:04d}.cpu.total.idle", ts, 50.0 + (i + minute) % 40])
            if len(current) == per_message:
                messages.append(current)
                current = []
    if current:
        messages.append(current)
    writer.start()
    started = time.perf_counter()
    for points in messages:
        while writer.pending.full():
            time.sleep(0.001)
        writer.stats_sink(None, "bench", points)
    writer.flush(600)
    elapsed = time.perf_counter() - started
    writer.stop()
    assert writer.written == series * points_per_series, (writer.written, writer.rejected, writer.dropped)
    return writer.written / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="bench-timeseries-")
    try:
        now = int(time.time())
        store = WhisperStore(root)
        print(f"write, new files:      {write_rate(store, args.series, 10, now - 600):>10,.0f} points/s "
              f"({args.series} series x 10 points, file creation included)")
        print(f"write, existing files: {write_rate(store, args.series, 10, now):>10,.0f} points/s "
              f"({args.series} series x 10 points)")

        # a week of 5-minute history per series, written straight into the files
        started = time.perf_counter()
        history = args.days * 288
        for i in range(args.series):
            store.write(f"servers.host{i:04d}.cpu.total.idle",
                        [(now - k * 300, 50.0 + (i + k) % 40) for k in range(1, history + 1)], now)
        print(f"history fill:          {args.series * history / (time.perf_counter() - started):>10,.0f} points/s "
              f"(update_many, {history} points per file)")

        app = Flask("bench")
        app.config["TIMESERIES"] = store
        app.register_blueprint(graphite.blueprint)
        client = app.test_client()
        for label, target in (("render 1,000 series", "servers.*.cpu.total.idle"),
                              ("render sumSeries of 1,000", "sumSeries(servers.*.cpu.total.idle)")):
            times, size = [], 0
            for _ in range(5):
                started = time.perf_counter()
                response = client.get("/graphite/render", query_string={
                    "target": target, "from": f"-{args.days}d", "format": "json"})
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.get_data(as_text=True)[:200]
                size = len(response.get_data())
            body = response.get_json()
            print(f"{label + ', ' + str(args.days) + ' days:':<34} median {statistics.median(times) * 1000:8.1f} ms "
                  f"(min {min(times) * 1000:.1f} ms; {len(body)} series x {len(body[0]['datapoints'])} points, "
                  f"{size / 1e6:.1f} MB JSON)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
