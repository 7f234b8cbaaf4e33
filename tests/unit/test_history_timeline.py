"""The history timeline: events counted per time bucket (from the store's positions, so every
event is counted once) and the cluster's health transitions, over the REST route with clear
errors for bad input."""

from datetime import UTC, datetime, timedelta

import pytest
from history_fixtures import history_client, record_history

from calamari.domain.history import bucket_edges, density, lookup_times
from calamari.service.history import History


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, capture_dir):
    return record_history(str(tmp_path_factory.mktemp("timeline")), capture_dir)


@pytest.fixture(scope="module")
def history(recorded):
    rec, _ = recorded
    return History(rec.store, rec.snapshot_dir)


@pytest.fixture(scope="module")
def client(recorded):
    rec, view = recorded
    return history_client(rec, view)


def stored(rec):
    """(position, time, event) of every stored event, read straight from the store."""
    return [(p, e.timestamp, e) for p, e in rec.store.read()]


def test_bucket_edges_split_the_span_evenly_and_end_at_stop():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    edges = bucket_edges(start, start + timedelta(hours=3), 3)
    assert edges == [start + timedelta(hours=h) for h in range(4)]
    with pytest.raises(ValueError):
        bucket_edges(start, start - timedelta(seconds=1), 2)
    with pytest.raises(ValueError):
        bucket_edges(start, start, 0)


def test_density_counts_the_positions_between_edges():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    edges = bucket_edges(start, start + timedelta(minutes=2), 2)
    # a bucket starts at its edge: positions are looked up just before it, except the last edge
    assert lookup_times(edges) == [start - timedelta(microseconds=1), edges[1] - timedelta(microseconds=1), edges[2]]
    buckets = density(edges, [4, 10, 13])
    assert [(b["count"], b["first_position"], b["last_position"]) for b in buckets] == [(6, 5, 10), (3, 11, 13)]
    assert buckets[1]["end"] == edges[2].isoformat()


@pytest.mark.parametrize("count", [1, 7, 50])
def test_every_bucket_counts_exactly_the_events_stored_in_its_span(recorded, history, count):
    rec, _ = recorded
    events = stored(rec)
    begin, finish = events[0][1], events[-1][1]
    answer = history.timeline(rec.fsid, None, None, count)
    assert len(answer["buckets"]) == count
    assert sum(b["count"] for b in answer["buckets"]) == len(events)
    for n, bucket in enumerate(answer["buckets"]):
        low, high = datetime.fromisoformat(bucket["start"]), datetime.fromisoformat(bucket["end"])
        last = n == count - 1
        assert bucket["count"] == sum(1 for _, t, _ in events if low <= t and (t < high or last and t == high))
    assert answer["from"] == begin.isoformat() and answer["to"] == finish.isoformat()
    assert answer["first"]["position"] == 1 and answer["last"]["position"] == events[-1][0]


def test_health_transitions_are_those_of_the_cluster_in_the_span(recorded, history):
    rec, _ = recorded
    events = stored(rec)
    changes = [(p, t, e) for p, t, e in events if type(e).__name__ == "HealthChanged"]
    assert len(changes) > 1, "the captures change health more than once"
    answer = history.timeline(rec.fsid, "0", None, 10)
    assert [(h["position"], h["from"], h["to"]) for h in answer["health"]] == [(p, e.previous, e.status)
                                                                            for p, _, e in changes]
    # a span starting after the first transition leaves it out
    after_first = changes[0][1] + timedelta(microseconds=1)
    later = history.timeline(rec.fsid, after_first.isoformat(), None, 10)
    assert [h["position"] for h in later["health"]] == [p for p, t, _ in changes if t >= after_first]
    assert len(later["health"]) < len(changes)
    # another cluster's transitions are not this one's
    other = history.timeline("00000000-0000-0000-0000-000000000000", None, None, 10)
    assert other["health"] == []


def test_api_timeline(client, recorded, history):
    rec, _ = recorded
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history/timeline", query_string={"buckets": "12"})
    assert r.status_code == 200
    body = r.get_json()
    assert len(body["buckets"]) == 12
    assert body["buckets"] == history.timeline(rec.fsid, None, None, 12)["buckets"]
    first_time = rec.step_times[0]
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history/timeline",
                   query_string={"from": first_time.isoformat(), "to": (first_time + timedelta(hours=1)).isoformat(),
                                 "buckets": "4"})
    assert r.status_code == 200
    assert datetime.fromisoformat(r.get_json()["buckets"][-1]["end"]) == first_time + timedelta(hours=1)


@pytest.mark.parametrize("query, field", [
    ({"buckets": "0"}, "buckets"),
    ({"buckets": "1001"}, "buckets"),
    ({"buckets": "lots"}, "buckets"),
    ({"from": "yesterday"}, "from"),
    ({"to": "99999999"}, "to"),
    ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
    ({"at": "1"}, "at"),
])
def test_api_timeline_bad_input_is_a_400_with_a_reason(client, recorded, query, field):
    rec, _ = recorded
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history/timeline", query_string=query)
    assert r.status_code == 400
    body = r.get_json()
    assert body["errors"][field] and field in body["detail"]


def test_api_timeline_unknown_cluster_is_a_404(client):
    r = client.get("/api/v2/cluster/00000000-0000-0000-0000-000000000000/history/timeline")
    assert r.status_code == 404


def test_an_empty_store_has_an_empty_timeline(tmp_path):
    from calamari.adapters.event_store import EventStore

    answer = History(EventStore("memory://"), str(tmp_path / "snapshots")).timeline("f", None, None, 10)
    assert answer["buckets"] == [] and answer["health"] == []
    assert answer["from"] is None and answer["to"] is None and answer["last"]["position"] == 0


def test_more_health_transitions_than_marked_are_said_to_be_truncated(recorded, history, monkeypatch):
    from calamari.service import history as history_module

    rec, _ = recorded
    every = history.timeline(rec.fsid, None, None, 5)["health"]
    assert len(every) > 1
    monkeypatch.setattr(history_module, "MAX_HEALTH_MARKS", 1)
    capped = history.timeline(rec.fsid, None, None, 5)
    assert capped["health"] == every[:1] and capped["health_truncated"] is True
