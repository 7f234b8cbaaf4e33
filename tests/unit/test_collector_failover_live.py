"""Two real `calamari-server`s and one `calamari-collector --simulate` given both: when the server
it talks to is killed (kill -9), the other gets the cluster and its time series within the
failover budget, the points gathered meanwhile included; when the first comes back and the second
is killed, the collector moves back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from calamari.testing.live import BIN, ApiClient, CalamariServer, Process, wait_for

FAILOVER_BUDGET_S = 10.0  # issue 18: kill -9 of the active server to the other one holding the cluster
FAILOVER_AFTER_S = 4.0  # the collector's silence before it moves on (long enough to see a gap)
STATS_INTERVAL_S = 1.0
SPEC = "hosts=2,osds=6,pools=2,pgs=64,seed=11,churn=0.2"


def _fsids(api: ApiClient) -> list[str]:
    return [cluster["id"] for cluster in api.get("/cluster")]


def _points(api: ApiClient, fsid: str, since: float) -> list[tuple[int, float]]:
    """The times of the cluster's stats points (io.read_op_per_sec) from `since`, with values."""
    answer: Any = api.get(f"/cluster/{fsid}/stats?from={int(since)}")
    return [(ts, value) for ts, value in answer["series"]["df.total_bytes"] if value is not None]


def _largest_gap(times: list[int], start: float, end: float) -> float:
    """The longest stretch of (start, end) without a point."""
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False))


@pytest.fixture
def servers(tmp_path: Path):
    pair = [CalamariServer(tmp_path / name, extra=["--whisper-retention", "1s:1h"]) for name in ("a", "b")]
    try:
        yield pair
    finally:
        for server in pair:
            server.stop()


def test_the_collector_follows_the_server_that_answers(servers: list[CalamariServer], tmp_path: Path) -> None:
    first, second = servers
    apis = [first.start(), second.start()]
    collector = Process([str(BIN / "calamari-collector"), "--simulate", SPEC, "--insecure",
                         "--server", f"{first.bus},{second.bus}", "--failover-after", str(FAILOVER_AFTER_S),
                         "--poll-interval", "0.5", "--heartbeat-interval", "1", "--stats-interval",
                         str(STATS_INTERVAL_S)], tmp_path / "collector.log")
    try:
        fsid = wait_for(lambda: next(iter(_fsids(apis[0])), None), 60, "the cluster at the first server")
        wait_for(lambda: len(_points(apis[0], fsid, time.time() - 60)) >= 2, 30, "stats at the first server")
        assert _fsids(apis[1]) == []  # one server at a time

        killed = time.time()
        assert first.process is not None
        first.process.kill9()
        osds = wait_for(lambda: apis[1].get(f"/cluster/{fsid}/osd") if fsid in _fsids(apis[1]) else None,
                        FAILOVER_BUDGET_S, "the cluster's OSDs at the second server")
        assert len(osds) == 6
        took = time.time() - killed
        assert took < FAILOVER_BUDGET_S
        # its time series go on without a gap as long as the collector's silence: the points
        # gathered while no server answered were kept and sent after the move
        until = killed + FAILOVER_AFTER_S + 3
        wait_for(lambda: any(t >= until for t, _ in _points(apis[1], fsid, killed)), 15,
                 "points after the move at the second server")
        times = [t for t, _ in _points(apis[1], fsid, killed - 5)]
        assert _largest_gap(times, killed + 1, until) <= 2 * STATS_INTERVAL_S + 0.5, (times, killed)

        apis[0] = first.start()  # the first comes back, the second is killed
        killed = time.time()
        assert second.process is not None
        second.process.kill9()
        wait_for(lambda: any(t > killed + 1 for t, _ in _points(apis[0], fsid, killed)), FAILOVER_BUDGET_S + 5,
                 "the collector's stats at the first server again")
        assert "moving to " + first.bus in collector.log_tail(100_000)
    finally:
        collector.stop()
