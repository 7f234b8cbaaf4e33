"""An event the snapshot writer's shadow model cannot apply must not end its thread: a forced
snapshot is still answered (without writing a snapshot that would differ from the events)."""

from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import SnapshotWriter, newest_snapshot


class Unappliable:
    originator_id = None  # no aggregate has it: applying it fails


def test_an_event_that_cannot_be_applied_stops_snapshots_not_the_thread(tmp_path):
    directory = str(tmp_path / "snapshots")
    writer = SnapshotWriter(directory, EventStore("memory://"))
    writer.start(0)
    try:
        writer.persisted([1], [Unappliable()])
        assert writer.request().wait(5), "the snapshot writer thread died"
        assert newest_snapshot(directory) is None
    finally:
        writer.stop()
