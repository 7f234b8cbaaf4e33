"""Rendering a cluster's OSD rows keeps one count of OSD states per cluster: it makes no counter
per OSD (that was half the cost of a past state's rows at 10,000 OSDs), and the counts are right."""

from test_history_properties import START

from calamari.domain import projections
from calamari.domain.history import cluster_documents
from calamari.domain.model import ClusterModel
from calamari.testing.strategies import FSID, ClusterState, OsdState, osd_map


def test_one_counter_per_cluster_not_per_osd(monkeypatch):
    osds = {i: OsdState(uuid=f"00000000-0000-0000-0000-{i:012d}", up=i % 3 != 0, in_=i % 5 != 0) for i in range(60)}
    model = ClusterModel()
    model.ingest(FSID, "osd_map", 1, osd_map(ClusterState(osds=osds), epoch=1), START)
    made = []

    class CountingCounter(projections.Counter):  # type: ignore[misc]
        def __init__(self, *args, **kwargs):
            made.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(projections, "Counter", CountingCounter)
    docs = cluster_documents(model, FSID)
    assert len(made) <= 3  # a few for the cluster (its row, its counters), none per OSD
    expected = {"up_in": 0, "up_out": 0, "down_in": 0, "down_out": 0}
    for s in osds.values():
        expected[f"{'up' if s.up else 'down'}_{'in' if s.in_ else 'out'}"] += 1
    assert docs["counters"]["osd"] == {**expected, "total": 60}
