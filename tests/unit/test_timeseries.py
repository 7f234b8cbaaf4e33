"""The whisper store and its background writer, on real whisper files."""

import logging
import os
import threading

import pytest
import whisper

from calamari.adapters.timeseries import DEFAULT_RETENTION, MetricNameError, TimeSeriesWriter, WhisperStore, metric_nodes

NOW = 1_700_002_800  # on an hour boundary, so every archive's buckets line up with it
FSID = "d6f3bd5a-5f2f-4cf7-9e8e-7a1c9f1a2b3c"


@pytest.fixture
def store(tmp_path):
    return WhisperStore(str(tmp_path / "whisper"), clock=lambda: NOW)


def minutes(count, value):
    """1-minute points ending at NOW, oldest first; value(i) gives the i-th."""
    return [(NOW - (count - i) * 60, value(i)) for i in range(count)]


def buckets(points, step, reduce):
    grouped = {}
    for ts, value in points:
        grouped.setdefault(ts - ts % step, []).append(value)
    return {ts: reduce(values) for ts, values in grouped.items()}


def mean(values):
    return sum(values) / len(values)


def known(series):
    return {ts: v for ts, v in zip(series.timestamps(), series.values, strict=True) if v is not None}


def test_files_follow_the_metric_path_and_the_documented_schema(store, tmp_path):
    store.write(f"ceph.cluster.{FSID}.pool.3.num_bytes", [(NOW - 60, 5.0)])
    path = tmp_path / "whisper" / "ceph" / "cluster" / FSID / "pool" / "3" / "num_bytes.wsp"
    info = whisper.info(str(path))
    assert [(a["secondsPerPoint"], a["points"]) for a in info["archives"]] == \
        [whisper.parseRetentionDef(d) for d in DEFAULT_RETENTION.split(",")]
    assert [a["retention"] for a in info["archives"]] == [86400, 30 * 86400, 365 * 86400]
    assert info["aggregationMethod"] == "average"
    store.write("servers.node1.network.eth0.rx_bytes", [(NOW - 60, 5.0)])
    counter = whisper.info(str(tmp_path / "whisper" / "servers" / "node1" / "network" / "eth0" / "rx_bytes.wsp"))
    assert counter["aggregationMethod"] == "last"


def test_roll_up_to_five_minutes_and_hours(store):
    metric = "servers.node1.cpu.total.idle"
    points = minutes(180, lambda i: float((i * 7) % 11))
    store.write(metric, points)

    fine = store.fetch(metric, NOW - 3600, NOW)
    assert fine.step == 60
    assert known(fine) == {ts: v for ts, v in points if ts >= fine.start}

    five = store.fetch(metric, NOW - 7 * 86400, NOW)
    assert five.step == 300
    expected_five = buckets(points, 300, mean)
    assert known(five) == pytest.approx(expected_five)

    hourly = store.fetch(metric, NOW - 60 * 86400, NOW)
    assert hourly.step == 3600
    assert known(hourly) == pytest.approx(buckets(points, 3600, mean))


def test_counters_roll_up_to_their_last_value(store):
    metric = "servers.node1.network.eth0.rx_bytes"
    points = minutes(60, lambda i: 1000.0 * i * i)
    store.write(metric, points)
    five = store.fetch(metric, NOW - 7 * 86400, NOW)
    assert known(five) == buckets(points, 300, lambda values: values[-1])


def test_gaps_stay_empty(store):
    metric = f"ceph.cluster.{FSID}.osd.0.kb_used"
    points = [p for p in minutes(60, lambda i: 100.0 + i) if not 20 <= (p[0] - (NOW - 3600)) // 60 < 30]
    store.write(metric, points)
    series = store.fetch(metric, NOW - 3600, NOW)
    values = dict(zip(series.timestamps(), series.values, strict=True))
    gap = [NOW - 3600 + i * 60 for i in range(20, 30)]
    assert all(values[ts] is None for ts in gap)
    assert known(series) == {ts: v for ts, v in points if ts >= series.start}  # `from` itself is excluded


def test_old_points_go_to_the_archive_that_still_covers_them(store):
    metric = "servers.node1.loadavg.1"
    two_days_ago = NOW - 2 * 86400
    store.write(metric, [(two_days_ago, 3.5), (NOW - 2 * 365 * 86400, 9.0)])  # the second is beyond a year
    assert known(store.fetch(metric, NOW - 3 * 86400, NOW)) == {two_days_ago - two_days_ago % 300: 3.5}
    assert known(store.fetch(metric, NOW - 3600, NOW)) == {}


def test_find_and_fetch_with_globs_and_alternatives(store):
    for host in ("alpha", "beta", "gamma"):
        for name in ("cpu.total.idle", "memory.used", "network.eth0.rx_bytes", "network.eth1.rx_bytes"):
            store.write(f"servers.{host}.{name}", [(NOW - 60, 1.0)])
    assert [n.path for n in store.find("servers.*")] == ["servers.alpha", "servers.beta", "servers.gamma"]
    assert all(n.branch and not n.leaf for n in store.find("servers.*"))
    [leaf] = store.find("servers.alpha.memory.used")
    assert leaf.leaf and not leaf.branch and leaf.name == "used"
    assert [s.name for s in store.fetch_pattern("servers.{alpha,gamma}.memory.used", NOW - 600, NOW)] == \
        ["servers.alpha.memory.used", "servers.gamma.memory.used"]
    assert len(store.fetch_pattern("servers.*.network.eth[01].rx_bytes", NOW - 600, NOW)) == 6
    assert [n.path for n in store.find("servers.?eta.*")] == \
        ["servers.beta.cpu", "servers.beta.memory", "servers.beta.network"]
    assert store.find("servers.nobody.*") == []
    assert store.fetch("servers.nobody.memory.used", NOW - 600, NOW) is None


def test_a_node_can_be_both_metric_and_folder(store):
    store.write("a.b", [(NOW - 60, 1.0)])
    store.write("a.b.c", [(NOW - 60, 2.0)])
    [node] = store.find("a.*")
    assert node.leaf and node.branch


@pytest.mark.parametrize("name, reason", [
    ("servers..x", "empty node"), ("servers.x.", "empty node"), (".servers", "empty node"),
    ("servers/../../etc.passwd", "characters"), ("servers.a*b", "characters"), ("", "empty"),
    ("servers.x y", "characters"), ("a." * 40 + "b", "more than"),
])
def test_unsafe_names_are_refused(name, reason):
    with pytest.raises(MetricNameError, match=reason):
        metric_nodes(name)


def test_writer_only_enqueues_then_writes_in_batches(store, tmp_path):
    writer = TimeSeriesWriter(store)
    points = [[f"servers.node{h}.cpu.total.idle", NOW - 120 + 60 * k, 50.0 + h + k] for h in range(3) for k in range(2)]
    writer.stats_sink(FSID, "node0", points)
    assert writer.pending.qsize() == 1 and not os.path.exists(tmp_path / "whisper" / "servers")
    writer.start()
    try:
        writer.stats_sink(FSID, "node0", [[f"ceph.cluster.{FSID}.df.total_used_bytes", NOW - 60, 7.0]])
        assert writer.flush(10)
    finally:
        writer.stop()
    assert writer.written == 7 and writer.rejected == 0
    assert known(store.fetch("servers.node2.cpu.total.idle", NOW - 600, NOW)) == {NOW - 120: 52.0, NOW - 60: 53.0}
    assert store.latest[f"ceph.cluster.{FSID}.df.total_used_bytes"] == (NOW - 60, 7.0)
    assert store.latest["servers.node1.cpu.total.idle"] == (NOW - 60, 52.0)


def test_writer_rejects_bad_points_with_a_logged_reason(store, tmp_path, caplog):
    writer = TimeSeriesWriter(store)
    other = "0" * 8 + "-0000-0000-0000-" + "0" * 12
    with caplog.at_level(logging.WARNING):
        written = writer.write_batch([(FSID, "evil", [
            ["servers.x.y", NOW - 60, 1.0],
            ["../../outside", NOW - 60, 1.0],
            ["servers/etc.passwd", NOW - 60, 1.0],
            ["servers..z", NOW - 60, 1.0],
            ["servers.x.nan", NOW - 60, float("nan")],
            ["servers.x.neg", -5, 1.0],
            [f"ceph.cluster.{other}.df.total_bytes", NOW - 60, 1.0],
            ["too", "short"],
        ])])
    assert written == 1 and writer.rejected == 7
    log = caplog.text
    for reason in ("empty node", "characters other than", "finite", "negative timestamp", "another fsid",
                   "[metric, timestamp, value]"):
        assert reason in log
    assert sorted(os.listdir(tmp_path)) == ["whisper"]
    assert sorted(os.listdir(tmp_path / "whisper")) == ["servers"]


def test_a_full_queue_drops_new_points_and_counts_them(store):
    writer = TimeSeriesWriter(store, max_pending=1)
    writer.stats_sink(FSID, "a", [["servers.a.x", NOW, 1.0]])
    writer.stats_sink(FSID, "a", [["servers.a.x", NOW, 2.0], ["servers.a.y", NOW, 2.0]])
    assert writer.dropped == 2 and writer.pending.qsize() == 1


def test_a_corrupt_file_is_reported_and_kept(store, tmp_path, caplog):
    path = tmp_path / "whisper" / "servers" / "a" / "broken.wsp"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not whisper")
    writer = TimeSeriesWriter(store)
    with caplog.at_level(logging.WARNING):
        assert writer.write_batch([(FSID, "a", [["servers.a.broken", NOW - 60, 1.0], ["servers.a.ok", NOW - 60, 2.0]])]) == 1
        assert store.fetch("servers.a.broken", NOW - 600, NOW) is None
    assert writer.failed == 1 and path.read_bytes() == b"not whisper"
    assert "servers/a/broken.wsp" in caplog.text


def test_a_timestamp_beyond_whisper_is_rejected_and_the_batch_is_written(store, caplog):
    writer = TimeSeriesWriter(store)
    with caplog.at_level(logging.WARNING):
        written = writer.write_batch([(FSID, "evil", [["servers.a.far", 2**40, 1.0]]),
                                      (FSID, "good", [["servers.b.x", NOW - 60, 3.0]])])
    assert written == 1 and writer.rejected == 1
    assert "timestamp" in caplog.text
    assert known(store.fetch("servers.b.x", NOW - 600, NOW)) == {NOW - 60: 3.0}


def test_the_points_waiting_are_bounded_whatever_the_number_of_messages(store):
    writer = TimeSeriesWriter(store, max_pending_points=5)
    batch = [[f"servers.a.m{i}", NOW - 60, float(i)] for i in range(3)]
    writer.stats_sink(FSID, "a", batch)
    writer.stats_sink(FSID, "a", batch[:2])
    writer.stats_sink(FSID, "a", batch)  # 3 more would make 8 waiting
    writer.stats_sink(FSID, "a", batch[:1])  # 1 more would make 6
    assert writer.pending.qsize() == 2 and writer.pending_points == 5 and writer.dropped == 4
    writer.start()
    try:
        assert writer.flush()
    finally:
        writer.stop()
    assert writer.pending_points == 0 and writer.written == 5
    big = [[f"servers.a.m{i}", NOW - 60, 1.0] for i in range(9)]
    writer.stats_sink(FSID, "a", big)  # more than the bound, but nothing waits: taken
    assert writer.pending.qsize() == 1 and writer.pending_points == 9


def test_points_in_the_batch_being_written_still_count_against_the_bound(store):
    writer = TimeSeriesWriter(store, max_pending_points=4)
    in_hand, release = threading.Event(), threading.Event()
    write_batch = writer.write_batch

    def slow_write(messages):
        in_hand.set()
        release.wait(30)
        return write_batch(messages)

    writer.write_batch = slow_write
    batch = [[f"servers.a.m{i}", NOW - 60, float(i)] for i in range(3)]
    writer.stats_sink(FSID, "a", batch)
    writer.start()
    try:
        assert in_hand.wait(30)  # taken off the queue, not yet written
        assert writer.pending.qsize() == 0 and writer.pending_points == 3
        writer.stats_sink(FSID, "a", batch[:2])  # 5 > 4: refused while the 3 are in hand
        assert writer.dropped == 2
        release.set()
        assert writer.flush()
    finally:
        release.set()
        writer.stop()
    assert writer.pending_points == 0 and writer.written == 3


class CountingUpdates:
    """whisper.update_many, counting the calls per file."""

    def __init__(self, monkeypatch):
        self.calls: dict[str, int] = {}
        real = whisper.update_many

        def update_many(path, points, now=None):
            self.calls[os.path.basename(path)] = self.calls.get(os.path.basename(path), 0) + 1
            return real(path, points, now)

        monkeypatch.setattr(whisper, "update_many", update_many)


def test_points_of_the_open_slot_are_written_once_when_it_closes(tmp_path, monkeypatch):
    clock = {"now": NOW + 5}
    store = WhisperStore(str(tmp_path / "whisper"), clock=lambda: clock["now"])
    updates = CountingUpdates(monkeypatch)
    writer = TimeSeriesWriter(store)
    for second in (5, 15, 25, 35):  # a report every 10 s, all in the minute starting at NOW
        clock["now"] = NOW + second
        assert writer.write_batch([(FSID, "a", [["servers.a.x", NOW + second, float(second)],
                                                ["servers.a.y", NOW + second, 2.0 * second]])]) == 2
    assert updates.calls == {}
    assert store.latest["servers.a.x"] == (NOW + 35, 35.0)
    clock["now"] = NOW + 65  # the next report, in the next minute: the held ones are written first
    writer.write_batch([(FSID, "a", [["servers.a.x", NOW + 65, 1.0]])])
    assert updates.calls == {"x.wsp": 1, "y.wsp": 1}
    assert known(store.fetch("servers.a.y", NOW - 60, NOW + 65)) == {NOW: 70.0}
    # the superseded ones count as written; the newest, held in its open slot, not yet
    assert writer.written == 8 and writer.failed == 0 and store.held == {"servers.a.x": (NOW + 65, 1.0)}


def test_a_read_answers_with_the_held_point(tmp_path):
    clock = {"now": NOW + 30}
    store = WhisperStore(str(tmp_path / "whisper"), clock=lambda: clock["now"])
    writer = TimeSeriesWriter(store)
    writer.write_batch([(FSID, "a", [["servers.a.x", NOW - 60, 1.0], ["servers.a.x", NOW + 20, 4.0],
                                     ["servers.a.new", NOW + 25, 9.0]])])
    assert [node.path for node in store.find("servers.a.*")] == ["servers.a.new", "servers.a.x"]
    assert known(store.fetch("servers.a.x", NOW - 120, NOW + 30)) == {NOW - 60: 1.0, NOW: 4.0}
    series = store.fetch_pattern("servers.a.new", NOW - 120, NOW + 30)
    assert [known(s) for s in series] == [{NOW: 9.0}]
    assert writer.written == 3 and not store.held


def test_the_writer_thread_writes_the_held_points_once_their_slot_closed(tmp_path):
    clock = {"now": time_now()}
    store = WhisperStore(str(tmp_path / "whisper"), retention="1s:1h,1m:1d", clock=lambda: clock["now"])
    writer = TimeSeriesWriter(store)
    now = int(clock["now"])
    writer.start()
    try:
        writer.stats_sink(None, "a", [["servers.a.x", now, 5.0]])
        path = tmp_path / "whisper" / "servers" / "a" / "x.wsp"
        deadline = time_now() + 30
        while time_now() < deadline and not (path.exists() and whisper.fetch(str(path), now - 5, now + 1,
                                                                              now=now + 1)[1].count(5.0)):
            clock["now"] = time_now()
            threading.Event().wait(0.05)
        # no message after the first: the thread wrote it when its 1-second slot closed
        assert whisper.fetch(str(path), now - 5, now + 1, now=now + 1)[1].count(5.0) == 1
        assert writer.written == 1
    finally:
        writer.stop()


def time_now():
    import time
    return time.time()


@pytest.mark.parametrize("pattern", ["ceph.cluster.*.osd.*.apply_latency_ms", "ceph.cluster.f00d.osd.{1,3}.*",
                                     "servers.*.cpu.total.idle", "ceph.cluster.f00d.osd.2.commit_latency_ms"])
def test_the_newest_values_from_memory_are_those_the_files_give(tmp_path, monkeypatch, pattern):
    clock = {"now": NOW - 900}
    store = WhisperStore(str(tmp_path / "whisper"), clock=lambda: clock["now"])
    writer = TimeSeriesWriter(store)
    base = "ceph.cluster.f00d.osd"
    for step in range(0, 900, 10):  # reports every 10 s for 15 minutes; OSD 3 stops reporting early
        clock["now"] = NOW - 900 + step
        ts = clock["now"]
        points = [[f"{base}.{osd}.{name}", ts, float(osd * 1000 + step + len(name))]
                  for osd in range(1, 4) if osd != 3 or step < 400
                  for name in ("apply_latency_ms", "commit_latency_ms")]
        points.append(["servers.a.cpu.total.idle", ts, 50.0 + step % 7])
        writer.write_batch([("f00d", "a", points)])
    clock["now"] = NOW + 5
    from_files = WhisperStore(str(tmp_path / "whisper"), clock=lambda: NOW + 5)  # just started: reads files
    writer.write_held()
    expected = from_files.newest(pattern, 300)
    assert expected  # something to compare
    monkeypatch.setattr(whisper, "fetch", lambda *a, **k: pytest.fail("a file was read"))
    assert store.newest(pattern, 300) == expected


def test_a_file_removed_by_hand_is_made_again_on_the_next_write(store, tmp_path):
    import shutil
    store.write("servers.a.x", [(NOW - 120, 1.0)])
    shutil.rmtree(tmp_path / "whisper" / "servers")
    store.write("servers.a.x", [(NOW - 60, 2.0)])
    assert known(store.fetch("servers.a.x", NOW - 600, NOW)) == {NOW - 60: 2.0}


def test_a_metric_new_since_the_last_read_of_a_pattern_is_in_the_next(tmp_path):
    store = WhisperStore(str(tmp_path / "whisper"), clock=lambda: NOW)
    store.started = NOW - 3600  # up for an hour: read from memory
    writer = TimeSeriesWriter(store)
    writer.write_batch([(FSID, "a", [[f"ceph.cluster.{FSID}.osd.1.apply_latency_ms", NOW - 60, 3.0]])])
    pattern = f"ceph.cluster.{FSID}.osd.*.apply_latency_ms"
    assert store.newest(pattern, 300) == [(f"ceph.cluster.{FSID}.osd.1.apply_latency_ms", 3.0)]
    writer.write_batch([(FSID, "a", [[f"ceph.cluster.{FSID}.osd.2.apply_latency_ms", NOW - 60, 4.0],
                                     [f"ceph.cluster.{FSID}.osd.1.apply_latency_ms", NOW - 30, 5.0]])])
    assert store.newest(pattern, 300) == [(f"ceph.cluster.{FSID}.osd.1.apply_latency_ms", 5.0),
                                          (f"ceph.cluster.{FSID}.osd.2.apply_latency_ms", 4.0)]
