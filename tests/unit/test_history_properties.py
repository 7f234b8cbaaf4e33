"""Properties of history over random map sequences (ingested through ClusterModel): the state at
every position N, built from the nearest snapshot plus the tail, equals the fold of the first N
events; times map to the last position at or before them; a diff's summary agrees with the states
at its two ends."""

import tempfile
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import load_model, write_snapshot
from calamari.domain.history import cluster_documents
from calamari.domain.model import ClusterModel
from calamari.domain.projections import osd_state_key
from calamari.service.history import History
from calamari.testing.captures import content_hash
from calamari.testing.strategies import FSID, cluster_states, health_detail, osd_map, pg_summary

START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def record(states, gaps):
    """Ingest the states as successive maps; returns the store and the events in order."""
    model, store, events = ClusterModel(), EventStore("memory://"), []
    at = START
    for i, (state, gap) in enumerate(zip(states, gaps, strict=False)):
        at += timedelta(seconds=gap)  # a gap of 0: two maps in the same second
        health = health_detail(state)
        model.ingest(FSID, "osd_map", i + 1, osd_map(state, epoch=i + 1), at)
        model.ingest(FSID, "health", content_hash(health), health, at)
        model.ingest(FSID, "pg_summary", i + 1, pg_summary(state, version=i + 1), at)
        batch = model.drain()
        store.append(batch)
        events += batch
    return store, events


def states_of(model):
    return {k: a.domain_state() for k, a in model.aggregates.items()}


histories = st.tuples(
    st.lists(cluster_states(max_osds=6, max_pools=3), min_size=1, max_size=6),
    st.lists(st.integers(0, 30), min_size=6, max_size=6),
    st.sets(st.integers(1, 150), max_size=6),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories)
def test_state_at_every_position_is_the_fold_of_the_first_n_events(history):
    states, gaps, snapshot_at = history
    store, events = record(states, gaps)
    with tempfile.TemporaryDirectory() as snapshots:
        fold = ClusterModel()
        for position, event in enumerate(events, 1):
            fold.apply(event)
            if position in snapshot_at:
                write_snapshot(snapshots, position, fold)
        fold = ClusterModel()
        queries = History(store, snapshots)
        for n in range(len(events) + 1):
            if n:
                fold.apply(events[n - 1])
            rebuilt, reached = load_model(snapshots, store, until=n)
            assert reached == n
            assert states_of(rebuilt) == states_of(fold)
            docs = cluster_documents(fold, FSID)
            if docs is None:
                assert n == 0
            else:
                assert queries.state(FSID, str(n)) == {"fsid": FSID, "at": str(n), "position": n,
                                                       "time": events[n - 1].timestamp.isoformat(), "kept_from": None, **docs}


@settings(max_examples=25, deadline=None)
@given(histories, st.lists(st.integers(-5, 200), min_size=1, max_size=8))
def test_a_time_maps_to_the_last_position_at_or_before_it(history, offsets):
    states, gaps, _ = history
    store, events = record(states, gaps)
    queries = History(store, "/nonexistent")
    for offset in offsets:
        when = START + timedelta(seconds=offset)
        expected = max((p for p, e in enumerate(events, 1) if e.timestamp <= when), default=0)
        assert queries.position_at(when) == expected


@settings(max_examples=25, deadline=None)
@given(histories, st.data())
def test_diff_summary_agrees_with_the_states_at_both_ends(history, data):
    states, gaps, _ = history
    store, events = record(states, gaps)
    queries = History(store, "/nonexistent")
    end = len(events)
    start = data.draw(st.integers(1, end))
    stop = data.draw(st.integers(start, end))
    before = queries.state(FSID, str(start))
    after = queries.state(FSID, str(stop))
    diff = queries.diff(FSID, str(start), str(stop))
    assert diff["event_count"] == stop - start  # one cluster: every event is its own
    summary = diff["summary"]
    osds_before = {r["id"]: r for r in before["osd"]}
    osds_after = {r["id"]: r for r in after["osd"]}
    for osd in summary["osds"]:
        assert osd["after"] == (osd_state_key(osds_after[osd["id"]]) if osd["id"] in osds_after else None)
        assert osd["before"] == (osd_state_key(osds_before[osd["id"]]) if osd["id"] in osds_before else None)
    changed = {i for i in osds_after if osds_before.get(i, {}) | {"epoch": 0} != osds_after[i] | {"epoch": 0}}
    assert changed <= {o["id"] for o in summary["osds"]}
    pools_before = {r["id"] for r in before["pool"]}
    pools_after = {r["id"] for r in after["pool"]}
    created = {p["id"] for p in summary["pools"]["created"]}
    deleted = {p["id"] for p in summary["pools"]["deleted"]}
    assert pools_after - pools_before <= created and pools_before - pools_after <= deleted
    flags = summary["flags"]
    assert (flags["before"], flags["after"]) == (before["cluster"]["flags"], after["cluster"]["flags"])
    assert set(flags["after"]) == (set(flags["before"]) | set(flags["set"])) - set(flags["unset"])
    health = summary["health"]
    assert (health["before"], health["after"]) == (before["health"]["status"], after["health"]["status"])
    if health["transitions"]:
        assert health["transitions"][-1]["to"] == health["after"]
