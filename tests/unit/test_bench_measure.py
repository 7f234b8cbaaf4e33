"""The measuring helpers of bench/: what the scale and peer benchmarks print is only as right as
these (a /proc parser that trips over a process name, a percentile that is not a measured value,
a store size that misses the WAL would all print wrong figures without failing)."""

import gzip
import http.server
import math
import threading
import uuid
from types import SimpleNamespace

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from bench.bench_peer import Watcher
from bench.bench_scale import BUDGETS, Budget, RssBudget, backlog_drained, count_items, summary, wait_until
from bench.measure import (
    CLOCK_TICKS,
    CpuWindow,
    Timings,
    cpu_seconds_from_stat,
    growth_exponent,
    http_get,
    memory_kib_from_status,
    per_day,
    percentile,
    sqlite_row_bytes_between,
    sqlite_store_state,
    sqlite_topics_between,
    table,
)
from calamari.adapters.event_store import open_recorder
from calamari.testing.live import WaitTimeout


def stat_line(name: str, utime: int, stime: int) -> str:
    # proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime ...
    return f"4242 ({name}) S 1 4242 4242 0 -1 4194560 100 0 0 0 {utime} {stime} 0 0 20 0 9 0 1000 2000 300\n"


@given(name=st.text(alphabet=st.sampled_from("ab )(x1 "), min_size=1, max_size=15),
       utime=st.integers(0, 10**9), stime=st.integers(0, 10**9))
def test_cpu_seconds_reads_fields_14_and_15_whatever_the_command_name_holds(name, utime, stime):
    assert cpu_seconds_from_stat(stat_line(name, utime, stime)) == pytest.approx((utime + stime) / CLOCK_TICKS)


def test_memory_reads_the_resident_and_peak_sizes_and_refuses_a_status_without_them():
    status = "Name:\tpython\nVmPeak:\t  999999 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n"
    assert memory_kib_from_status(status) == {"VmRSS": 102400, "VmHWM": 204800}
    with pytest.raises(ValueError):
        memory_kib_from_status("Name:\tkthreadd\nState:\tS (sleeping)\n")


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60), st.floats(0.01, 1.0))
def test_percentile_is_a_measured_value_with_that_share_at_or_below_it(values, fraction):
    found = percentile(values, fraction)
    assert found in values
    at_or_below = sum(1 for v in values if v <= found)
    assert at_or_below >= math.ceil(fraction * len(values))
    # and it is the smallest such value: one rank lower would not cover the share
    below = sum(1 for v in values if v < found)
    assert below < math.ceil(fraction * len(values))


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        percentile([], 0.5)


@given(st.floats(-1.0, 3.0), st.floats(0.001, 1000.0))
def test_growth_exponent_recovers_the_power_between_smallest_and_largest_size(k, scale):
    sizes = [1_000, 10_000, 30_000]
    values = [scale * s ** k for s in sizes]
    assert growth_exponent(sizes, values) == pytest.approx(k, abs=1e-6)


def test_growth_exponent_skips_missing_and_zero_figures():
    assert growth_exponent([1_000, 10_000, 30_000], [2.0, None, 60.0]) == pytest.approx(1.0)
    assert growth_exponent([1_000, 10_000], [0.0, 5.0]) is None
    assert growth_exponent([1_000], [5.0]) is None


def test_cpu_window_divides_cpu_time_by_wall_time_per_process():
    now = {"wall": 100.0}
    cpu = {1: 10.0, 2: 50.0}
    window = CpuWindow({"server": 1, "collector": 2}, clock=lambda: now["wall"], read_cpu=lambda pid: cpu[pid])
    now["wall"] += 20.0
    cpu[1] += 5.0  # a quarter of a core
    cpu[2] += 30.0  # one and a half cores
    assert window.shares() == pytest.approx({"server": 0.25, "collector": 1.5})


def test_per_day_extrapolates_the_window():
    assert per_day(100, 130, 30.0) == pytest.approx(86_400)
    with pytest.raises(ValueError):
        per_day(0, 1, 0.0)


def stored(topic: str, size: int) -> StoredEvent:
    return StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic=topic, state=b"x" * size)


def test_store_state_sees_committed_events_still_in_the_wal_and_counts_their_pages(tmp_path):
    path = tmp_path / "events.db"
    recorder = open_recorder(f"sqlite:///{path}")
    assert sqlite_store_state(path).position == 0
    recorder.insert_events([stored("calamari.domain.osd:Osd.MarkedDown", 50) for _ in range(30)])
    first = sqlite_store_state(path)
    assert first.position == 30
    assert (tmp_path / "events.db-wal").stat().st_size > 0  # not checkpointed: the pages are in the WAL
    recorder.insert_events([stored("calamari.domain.server:Server.FactsChanged", 4000) for _ in range(25)])
    second = sqlite_store_state(path)
    assert second.position == 55
    assert second.used_bytes - first.used_bytes >= 25 * 4000  # the new rows' pages, wherever they are
    assert sqlite_topics_between(path, 0, 55) == [("calamari.domain.osd:Osd.MarkedDown", 30),
                                                   ("calamari.domain.server:Server.FactsChanged", 25)]
    assert sqlite_topics_between(path, 30, 55) == [("calamari.domain.server:Server.FactsChanged", 25)]
    rows = sqlite_row_bytes_between(path, 30, 55)
    row = 8 + len("calamari.domain.server:Server.FactsChanged") + 4000  # version, topic, state
    assert 25 * (row + 32) <= rows <= 25 * (row + 36)  # and the id: 32 hex digits or 36 with dashes


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b'{"osds": [' + b",".join(b'{"id": %d, "up": true}' % i for i in range(500)) + b"]}"

    def do_GET(self):  # noqa: N802 (the base class's name)
        if self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.end_headers()
            return
        packed = "gzip" in (self.headers.get("Accept-Encoding") or "")
        payload = gzip.compress(self.body) if packed else self.body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("ETag", '"v1"')
        if packed:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_get_counts_the_bytes_as_sent_and_reports_encoding_and_etag(http_server):
    plain = http_get(f"{http_server}/osd?x=1", {"Accept-Encoding": "identity"})
    assert (plain.status, plain.wire_bytes, plain.encoding, plain.etag) == (200, len(_Handler.body), "identity", '"v1"')
    packed = http_get(f"{http_server}/osd", {"Accept-Encoding": "gzip"})
    assert packed.encoding == "gzip"
    assert packed.wire_bytes == len(gzip.compress(_Handler.body)) < plain.wire_bytes
    assert gzip.decompress(packed.body) == _Handler.body  # left as sent, not decoded
    unchanged = http_get(f"{http_server}/osd", {"If-None-Match": '"v1"'})
    assert (unchanged.status, unchanged.wire_bytes) == (304, 0)


def test_timings_summarise_what_was_seen(http_server):
    samples = Timings()
    samples.add(http_get(http_server, {"Accept-Encoding": "gzip"}))
    samples.add(http_get(http_server, {"Accept-Encoding": "identity"}))
    samples.add(http_get(http_server, {"If-None-Match": '"v1"'}))
    summary_row = samples.summary()
    assert summary_row["n"] == 3
    assert summary_row["encoding"] == "mixed"
    assert summary_row["status"] == "200/304"
    assert summary_row["median_ms"] == pytest.approx(sorted(samples.seconds)[1] * 1000, abs=1e-3)


def test_budgets_hold_at_ten_thousand_and_scale_only_upwards():
    osd_list = Budget(60.0)
    assert [osd_list.at(n) for n in (1_000, 10_000, 30_000)] == [60.0, 60.0, 180.0]
    assert Budget(2.0, scales=False).at(30_000) == 2.0
    rss = RssBudget(400.0)
    assert rss.at(1_000) == pytest.approx(150.0)
    assert rss.at(10_000) == pytest.approx(400.0)
    assert rss.at(5_500) == pytest.approx(275.0)
    assert BUDGETS["server RSS MB (idle)"].at(1_000) == pytest.approx(150.0)


def test_summary_prints_each_budget_beside_its_figure_and_the_growth():
    runs = [SimpleNamespace(size=1_000, figures={"OSD list median ms": 10.0, "events/day": 50_000.0}),
            SimpleNamespace(size=10_000, figures={"OSD list median ms": 100.0, "events/day": 150_000.0})]
    text = summary(runs)
    osd_row = next(line for line in text.splitlines() if line.startswith("OSD list median ms"))
    assert "10.0 (≤60 ok)" in osd_row and "100.0 (≤60 OVER)" in osd_row and osd_row.rstrip().endswith("1.00")
    events_row = next(line for line in text.splitlines() if line.startswith("events/day"))
    assert "50,000 (≤100,000 ok)" in events_row and "150,000 (≤100,000 OVER)" in events_row


def test_count_items_reads_arrays_and_pages_and_refuses_anything_else():
    assert count_items([{"id": 1}, {"id": 2}]) == 2
    assert count_items({"count": 9, "results": [{"id": 1}]}) == 1
    with pytest.raises(ValueError):
        count_items({"detail": "no cluster"})


def test_table_aligns_columns():
    lines = table(["name", "value"], [["a", 1], ["longer", 22]]).splitlines()
    assert lines[0] == "name    value"
    assert lines[2] == "a           1"
    assert lines[3] == "longer     22"


def test_watcher_stops_at_the_first_answer_that_shows_the_change_and_gives_up_at_its_timeout():
    answers = iter([False, RuntimeError("503"), False, True, True])

    def shows():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    watcher = Watcher(shows, interval=0.001, timeout=30)
    watcher.start()
    watcher.join()
    assert watcher.polls == 4 and watcher.seen is not None and isinstance(watcher.error, RuntimeError)
    never = Watcher(lambda: False, interval=0.001, timeout=0.05)
    never.start()
    never.join()
    assert never.seen is None and never.polls >= 1


def test_the_store_counts_as_settled_once_its_rate_stops_falling():
    draining = [20003, 13708, 2292, 0, 567, 433, 1000, 0, 1000, 168]  # 2-s windows after a first view
    assert not backlog_drained(draining, 5)
    assert backlog_drained(draining + [832, 0, 800, 200, 0], 5)  # bursty host facts, the same rate
    assert backlog_drained([0] * 10, 5)  # nothing written at all
    assert not backlog_drained([0] * 9, 5)  # not yet two blocks to compare
    assert not backlog_drained([50_000] * 5 + [20_000] * 5, 5)  # still falling


class _FakeProcess:
    def __init__(self, lives_for: int) -> None:
        self.checks, self.lives_for = 0, lives_for
        self.argv = ["/venv/bin/calamari-collector", "--simulate", "osds=10"]

    def alive(self) -> bool:
        self.checks += 1
        return self.checks <= self.lives_for

    def log_tail(self) -> str:
        return "Traceback: MemoryError"


def test_wait_until_treats_errors_as_not_yet_but_stops_at_once_when_a_watched_process_exits():
    answers = iter([ConnectionRefusedError(), None, "fsid"])

    def condition():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_until(condition, 30, "the cluster", (_FakeProcess(lives_for=100), None), interval=0.001) == "fsid"
    dying = _FakeProcess(lives_for=2)
    with pytest.raises(RuntimeError, match="calamari-collector exited while waiting for the OSD list") as exc:
        wait_until(lambda: False, 3600, "the OSD list", (dying,), interval=0.001)
    assert "MemoryError" in str(exc.value) and dying.checks == 3  # no waiting out the hour
    with pytest.raises(WaitTimeout, match="ConnectionRefusedError"):
        wait_until(lambda: (_ for _ in ()).throw(ConnectionRefusedError()), 0.01, "the API", interval=0.001)
