"""Sync objects held packed (calamari.protocol.packed, ModelState.hold/held_document): a reader
gets exactly the document that was handed in, for any document the bus can decode; what msgpack
cannot give back as it is stays unpacked; the OSD metadata and the CRUSH map are held packed and
every model reader still sees them."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from calamari.domain.model import ClusterModel
from calamari.domain.model_state import PACKED_SYNC_OBJECTS
from calamari.protocol.packed import PackedDocument, pack, unpacked
from collector.simulator.cluster import SimulatedCluster

AT = datetime(2026, 11, 30, tzinfo=UTC)

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 64 - 1)
           | st.floats(allow_nan=True) | st.text(max_size=20) | st.binary(max_size=20))
# what msgpack decodes: maps (text or integer keys, in their order), arrays, scalars
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
    st.text(max_size=8) | st.integers(min_value=-1000, max_value=1000), inner, max_size=5), max_leaves=40)


def same(a, b) -> bool:
    """Equal and of the same types throughout (1 == 1.0 == True; NaN is not equal to itself)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@settings(max_examples=300, deadline=None)
@given(documents)
def test_a_decoded_document_comes_back_exactly(document) -> None:
    held = pack(document)
    assert isinstance(held, PackedDocument)
    assert same(unpacked(held), document)
    if isinstance(document, dict | list):
        assert unpacked(held) is not unpacked(held)  # each reader gets its own copy to change


@settings(max_examples=100, deadline=None)
@given(documents)
def test_a_document_from_the_wire_comes_back_exactly(document) -> None:
    decoded = msgpack.unpackb(msgpack.packb(document, use_bin_type=True), raw=False, strict_map_key=False)
    assert same(unpacked(pack(decoded)), decoded)


class Text(str):
    pass


def test_what_msgpack_would_change_is_held_as_it_is() -> None:
    for document in ({"pools": (1, 2)}, [Text("x")], {"big": 2 ** 64}, {"f": frozenset()}):
        assert pack(document) is document
        assert unpacked(pack(document)) is document


def ingested_cluster() -> tuple[ClusterModel, SimulatedCluster, dict]:
    sim = SimulatedCluster("hosts=3,osds=9,pools=4,pgs=300,seed=3")
    sent = sim.sync_objects()
    model = ClusterModel()
    for name, (version, document) in sent.items():
        assert model.ingest(sim.fsid, name, version, copy.deepcopy(document), AT)
    model.drain()
    return model, sim, sent


def test_the_model_holds_the_large_seldom_read_maps_packed_and_gives_them_back_whole() -> None:
    model, sim, sent = ingested_cluster()
    for name, (version, document) in sent.items():
        kept = model.held[sim.fsid][name][1]
        assert isinstance(kept, PackedDocument) == (name in PACKED_SYNC_OBJECTS)
        assert model.held_document(sim.fsid, name) == (version, document)
    assert model.held_document(sim.fsid, "no such map") is None


def test_a_new_osd_takes_its_place_and_metadata_from_the_packed_maps() -> None:
    model, sim, sent = ingested_cluster()
    fsid = sim.fsid
    version, osd_map = model.held_document(fsid, "osd_map")
    osd_map = copy.deepcopy(osd_map)
    osd_map["osds"] = [e for e in osd_map["osds"] if e["osd"] != 4]
    osd_map["epoch"] = version + 1
    assert model.ingest(fsid, "osd_map", version + 1, osd_map, AT)
    removed = model.osds[fsid][4]
    assert removed.removed
    readded = copy.deepcopy(model.held_document(fsid, "osd_map")[1])
    readded["osds"] = sorted([*readded["osds"], sent["osd_map"][1]["osds"][4]],
                             key=lambda e: e["osd"])
    readded["epoch"] = version + 2
    assert model.ingest(fsid, "osd_map", version + 2, readded, AT)
    osd = model.osds[fsid][4]
    metadata = next(m for m in model.held_document(fsid, "osd_metadata")[1] if m["id"] == 4)
    assert not osd.removed and osd.metadata["hostname"] == metadata["hostname"]
    assert osd.host is not None
