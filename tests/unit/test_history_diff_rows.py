"""A diff renders rows only for what its span touches (the cluster, the OSDs and pools with
events), and its summary is the one whole-cluster documents at both ends give."""

from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_history_properties import START, histories, record

from calamari.adapters.event_store import EventStore
from calamari.domain import history as domain_history
from calamari.domain import projections
from calamari.domain.history import ChangeSummary, belongs, cluster_documents, serves
from calamari.domain.model import ClusterModel
from calamari.domain.server import Server
from calamari.service.history import History
from calamari.testing.strategies import FSID, ClusterState, OsdState, osd_map


def summary_from_whole_documents(events, start, stop):
    """The summary as built from every row of the cluster at both ends."""
    model = ClusterModel()
    for event in events[:start]:
        model.apply(event)
    summary = ChangeSummary(FSID, cluster_documents(model, FSID))
    for position, event in enumerate(events[start:stop], start + 1):
        prior = model.aggregates.get(event.originator_id)
        served = isinstance(prior, Server) and serves(prior, FSID)
        model.apply(event)
        agg = model.aggregates[event.originator_id]
        if served or belongs(agg, FSID):
            summary.add(position, event, agg)
    return summary.finish(cluster_documents(model, FSID))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories, st.data())
def test_the_summary_is_that_of_whole_documents_at_both_ends(history, data):
    states, gaps, _ = history
    store, events = record(states, gaps)
    end = len(events)
    start = data.draw(st.integers(1, end))
    stop = data.draw(st.integers(start, end))
    diff = History(store, "/nonexistent").diff(FSID, str(start), str(stop))
    assert diff["summary"] == summary_from_whole_documents(events, start, stop)


def test_a_diff_renders_the_rows_of_the_osds_it_touches_only(monkeypatch):
    osds = {i: OsdState(uuid=f"00000000-0000-0000-0000-{i:012d}") for i in range(200)}
    state = ClusterState(osds=osds)
    model, store = ClusterModel(), EventStore("memory://")
    model.ingest(FSID, "osd_map", 1, osd_map(state, epoch=1), START)
    store.append(model.drain())
    start = store.max_position()
    flapped = replace(state, osds={**osds, 7: replace(osds[7], up=False)})
    model.ingest(FSID, "osd_map", 2, osd_map(flapped, epoch=2), START + timedelta(seconds=1))
    store.append(model.drain())
    history = History(store, "/nonexistent")
    history.model_at(start)  # the model at the start is not what is counted
    rendered = []
    real = projections.osd_row
    for module in (projections, domain_history):  # whichever renders the rows
        monkeypatch.setattr(module, "osd_row", lambda osd: rendered.append(osd.osd_id) or real(osd), raising=False)
    diff = history.diff(FSID, str(start), None)
    assert [o["id"] for o in diff["summary"]["osds"]] == [7]
    assert diff["summary"]["osds"][0]["before"] != diff["summary"]["osds"][0]["after"]
    assert sorted(rendered) == [7, 7]  # before and after, not every OSD twice
