"""Reading a SQLite store: the same events, in the same order, as the library's own reads, for
any range, batch size and topic filter; each aggregate id is parsed once per batch read."""

from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_history_properties import START, histories, record

from calamari.adapters.event_store import EventStore
from calamari.domain.model import ClusterModel
from calamari.testing.strategies import FSID, ClusterState, OsdState, osd_map


def library_read(store, after, until, topics):
    notes = store.recorder.select_notifications(after, 1_000_000, stop=until, topics=topics, inclusive_of_start=False)
    return [(n.id, store.mapper.to_domain_event(n)) for n in notes]


def as_records(found):
    return [(p, type(e), e.originator_id, e.originator_version, vars(e)) for p, e in found]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(histories, st.data())
def test_sqlite_reads_equal_the_librarys(tmp_path_factory, history, data):
    states, gaps, _ = history
    _, events = record(states, gaps)
    store = EventStore(f"sqlite:///{tmp_path_factory.mktemp('reads')}/events.db")
    store.append(events)
    end = store.max_position()
    after = data.draw(st.integers(0, end))
    until = data.draw(st.none() | st.integers(after, end))
    batch = data.draw(st.integers(1, 7))
    topics = data.draw(st.sampled_from([(), tuple(sorted({n.topic for n in store.recorder.select_notifications(
        0, 1_000_000)}))[:1]]))
    assert as_records(store.read(after, until, batch=batch, topics=topics)) == \
        as_records(library_read(store, after, until, topics))
    store.close()


def test_an_aggregate_id_is_parsed_once_per_batch(tmp_path, monkeypatch):
    store = EventStore(f"sqlite:///{tmp_path}/events.db")
    model = ClusterModel()
    state = ClusterState(osds={0: OsdState(uuid="00000000-0000-0000-0000-000000000001")})
    for epoch in range(1, 21):
        state = replace(state, osds={0: replace(state.osds[0], up=epoch % 2 == 1)})
        model.ingest(FSID, "osd_map", epoch, osd_map(state, epoch=epoch), START + timedelta(seconds=epoch))
    store.append(model.drain())
    parsed = []
    real = store.recorder.convert_originator_id
    monkeypatch.setattr(store.recorder, "convert_originator_id", lambda text: parsed.append(text) or real(text))
    found = list(store.read())
    aggregates = {e.originator_id for _, e in found}
    assert len(found) > 2 * len(aggregates)
    assert len(parsed) == len(aggregates)
