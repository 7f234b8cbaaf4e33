"""History snapshots: the server writes one every 5,000 events and keeps them for the last
million, compressed; a past state built from any of them is the fold of the events; snapshots
written by older versions (format 2, uncompressed) still load."""

import os
import zlib
from datetime import timedelta

from test_history_properties import START, states_of

from calamari.adapters import snapshots
from calamari.adapters.codec import pack, unpack
from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import SnapshotWriter, encode_aggregates, load_model, load_snapshot, snapshot_path
from calamari.domain.history import cluster_documents
from calamari.domain.model import ClusterModel
from calamari.domain.osd import Osd
from calamari.service.history import History
from calamari.service.model import ServiceConfig
from calamari.testing.strategies import FSID, ClusterState, OsdState, osd_map

SPACING = 5_000  # docs/history.md, "Cost"
COVERED = 1_000_000


def flapping(flaps: int) -> tuple[EventStore, list]:
    """A one-OSD cluster, then its OSD marked down and up `flaps` times (events made as the
    benchmarks make them: through the aggregate, without a map each)."""
    model, store = ClusterModel(), EventStore("memory://")
    state = ClusterState(osds={0: OsdState(uuid="00000000-0000-0000-0000-000000000001")})
    model.ingest(FSID, "osd_map", 1, osd_map(state, epoch=1), START)
    events = model.drain()
    osd = model.osds[FSID][0]
    for epoch in range(2, flaps + 2):
        osd.emit(Osd.OsdMarkedDown if osd.up else Osd.OsdMarkedUp, START + timedelta(seconds=epoch), epoch=epoch)
        events.append(osd.pending_events.pop())
    store.append(events)
    return store, events


def test_the_server_writes_a_snapshot_every_5000_events(tmp_path):
    assert ServiceConfig(data_dir=str(tmp_path)).snapshot_every_events == SPACING
    store, events = flapping(3 * SPACING + 10)
    writer = SnapshotWriter(str(tmp_path), store, every_seconds=3600)  # the default count only
    writer.start(0)
    try:
        for first in range(0, len(events), 500):  # as the event writer hands batches over
            batch = events[first:first + 500]
            writer.persisted(list(range(first + 1, first + 1 + len(batch))), batch)
        writer.request().wait(60)
    finally:
        writer.stop()
    written = sorted(p for p, _ in snapshots._snapshots(str(tmp_path)))
    assert len(events) >= 3 * SPACING
    # no position is more than SPACING events past the snapshot before it
    assert all(b - a <= SPACING for a, b in zip([0, *written], written, strict=False)), written
    fold = ClusterModel()
    history, replayed = History(store, str(tmp_path)), History(store, "/nonexistent")
    for n, event in enumerate(events, 1):
        fold.apply(event)
        if n in written or n % 997 == 0:
            model, reached = load_model(str(tmp_path), store, until=n)
            assert reached == n and states_of(model) == states_of(fold)
    for n in (written[0], written[1] + 1, len(events) - 3):
        assert history.state(FSID, str(n)) == replayed.state(FSID, str(n))
        assert history.state(FSID, str(n))["osd"] == cluster_documents(_fold(events[:n]), FSID)["osd"]


def _fold(events):
    model = ClusterModel()
    for event in events:
        model.apply(event)
    return model


def test_the_kept_snapshots_cover_the_last_million_events_every_5000(tmp_path):
    directory = str(tmp_path)
    end = COVERED + 7 * SPACING
    for position in range(SPACING, end + 1, SPACING):  # a snapshot of an empty model: cheap
        snapshots.write_snapshot(directory, position, ClusterModel())
    kept = sorted(p for p, _ in snapshots._snapshots(directory))
    assert kept[0] > 0 and len(kept) <= snapshots.HISTORY_KEEP + snapshots.KEEP  # disk stays bounded
    assert kept[0] <= end - COVERED
    assert all(b - a <= SPACING for a, b in zip(kept, kept[1:], strict=False))


def test_snapshots_are_written_compressed_and_checked(tmp_path):
    store, events = flapping(40)
    model = _fold(events)
    path = snapshots.write_snapshot(str(tmp_path), len(events), model)
    with open(path, "rb") as f:
        header, body = f.read().split(b"\n", 1)
    assert header.startswith(b"calamari-snapshot 3 sha256 ")
    doc = unpack(zlib.decompress(body))
    assert doc["format"] == 3 and doc["position"] == len(events)
    assert states_of(load_snapshot(path, len(events))) == states_of(model)


def test_a_snapshot_of_format_2_still_loads(tmp_path):
    """As versions before compression wrote them: the msgpack body as it is."""
    import hashlib

    store, events = flapping(40)
    model = _fold(events[:30])
    body = pack({"format": 2, "position": 30, "aggregates": encode_aggregates(model.aggregates.values()),
                 "reflected": model.reflected})
    path = snapshot_path(str(tmp_path), 30)
    with open(path, "wb") as f:
        f.write(b"calamari-snapshot 2 sha256 " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    loaded, reached = load_model(str(tmp_path), store)
    assert reached == len(events) and states_of(loaded) == states_of(_fold(events))
    assert os.path.exists(path)  # loaded, not set aside
    assert states_of(load_snapshot(path, 30)) == states_of(model)


def test_an_import_writes_snapshots_as_the_server_spaces_them():
    from calamari.service import ctl

    args = ctl.build_parser().parse_args(["--data-dir", "/nonexistent", "events", "import", "x.jsonl"])
    assert args.snapshot_every == SPACING
