"""flush() waits for everything submitted, including a batch the writer thread has already taken
from the queue and is still writing."""

import threading

from calamari.adapters.event_store import EventStore
from calamari.adapters.event_writer import EventWriter


class SlowStore:
    """An event store whose append waits until the test lets it finish."""

    def __init__(self) -> None:
        self.inner = EventStore("memory://")
        self.entered = threading.Event()
        self.release = threading.Event()

    def append(self, events):
        self.entered.set()
        assert self.release.wait(10)
        return self.inner.append(events)


def test_flush_waits_for_the_batch_being_written(capture_dir):
    from calamari.domain.model import ClusterModel
    from calamari.testing.captures import capture_steps, captured_at, sync_objects

    model = ClusterModel()
    fsid, objects = sync_objects(capture_steps(capture_dir)[0])
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, captured_at(capture_steps(capture_dir)[0]))
    events = model.drain()

    store = SlowStore()
    writer = EventWriter(store)  # type: ignore[arg-type]
    writer.start()
    try:
        writer.submit(events)
        assert store.entered.wait(10)  # the batch has left the queue and is being written
        assert writer.flush(0.2) is False  # not written yet: flush must not claim it is
        store.release.set()
        assert writer.flush(10) is True
        assert store.inner.max_position() == len(events)
    finally:
        store.release.set()
        writer.stop()
