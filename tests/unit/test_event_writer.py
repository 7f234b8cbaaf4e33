"""flush() waits for everything submitted, including a batch the writer thread has already taken
from the queue and is still writing."""

import contextlib
import threading

from eventsourcing.persistence import OperationalError
from support import step_events

from calamari.adapters.event_store import EventStore
from calamari.adapters.event_writer import EventWriter
from calamari.testing.captures import capture_steps


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

    def let_go(self) -> None:
        self.release.set()


@contextlib.contextmanager
def writing_to(store):
    """A started EventWriter on `store`; on leaving, the store lets every append through and the
    writer is stopped."""
    writer = EventWriter(store)  # type: ignore[arg-type]
    writer.start()
    try:
        yield writer
    finally:
        store.let_go()
        writer.stop()


def test_flush_waits_for_the_batch_being_written(capture_dir):
    events = step_events(capture_steps(capture_dir)[0])
    store = SlowStore()
    with writing_to(store) as writer:
        writer.submit(events)
        assert store.entered.wait(10)  # the batch has left the queue and is being written
        assert writer.flush(0.2) is False  # not written yet: flush must not claim it is
        store.release.set()
        assert writer.flush(10) is True
        assert store.inner.max_position() == len(events)


class FullDisk:
    """An event store that fails as SQLite does on a full disk until `space()` is called."""

    def __init__(self) -> None:
        self.inner = EventStore("memory://")
        self.full = True

    def append(self, events):
        if self.full:
            raise OperationalError("database or disk is full")
        return self.inner.append(events)

    def let_go(self) -> None:
        self.full = False


def some_events(capture_dir, count):
    events = step_events(capture_steps(capture_dir)[0])
    assert len(events) >= count
    return events[:count]


def test_a_durable_submission_behind_a_failing_batch_is_refused_and_flush_still_waits_for_the_batch(capture_dir):
    events = some_events(capture_dir, 6)
    store = FullDisk()
    with writing_to(store) as writer:
        writer.submit(events[:4])  # map events: retried until the disk has space
        durable = writer.submit(events[4:], durable=True)
        assert durable.wait(10) and durable.error is not None
        assert durable.error.reason == "the data disk is full"
        assert writer.flush(0.3) is False  # the map events are not written yet
        store.full = False
        assert writer.flush(10) is True
        assert [vars(e) for _, e in store.inner.read()] == [vars(e) for e in events[:4]]
        assert writer.backlog == 0


def test_withdrawing_a_submission_being_written_waits_for_the_outcome(capture_dir):
    events = some_events(capture_dir, 3)
    store = SlowStore()
    with writing_to(store) as writer:
        sub = writer.submit(events, durable=True)
        assert store.entered.wait(10)
        answer: list[bool] = []
        withdrawing = threading.Thread(target=lambda: answer.append(writer.withdraw(sub)))
        withdrawing.start()
        withdrawing.join(0.3)
        assert answer == []  # the append under way decides
        store.release.set()
        withdrawing.join(10)
        assert answer == [False] and sub.error is None  # it was stored: not withdrawn
        assert store.inner.max_position() == 3


def test_a_queued_submission_withdrawn_is_never_written(capture_dir):
    events = some_events(capture_dir, 5)
    store = SlowStore()
    with writing_to(store) as writer:
        writer.submit(events[:2])
        assert store.entered.wait(10)  # the first batch is being written; the next one waits in the queue
        queued = writer.submit(events[2:], durable=True)
        assert writer.withdraw(queued) is True and queued.error is not None
        store.release.set()
        assert writer.flush(10)
        assert store.inner.max_position() == 2


class DriverError(Exception):
    """Stands in for psycopg's errors, which carry the SQLSTATE code."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def chained(cause: BaseException) -> Exception:
    """`cause` wrapped as the eventsourcing library wraps its driver's errors."""
    try:
        raise cause
    except BaseException as err:
        try:
            raise OperationalError(str(err)) from err
        except OperationalError as wrapped:
            return wrapped


def test_failures_that_retrying_soon_will_not_fix_are_told_apart():
    import errno
    import sqlite3

    from calamari.adapters.event_store import unavailable_reason

    assert unavailable_reason(chained(OSError(errno.ENOSPC, "No space left on device"))) == "the data disk is full"
    assert unavailable_reason(chained(OSError(errno.EROFS, "Read-only"))) == \
        "the data directory is on a read-only file system"
    assert unavailable_reason(chained(sqlite3.OperationalError("database or disk is full"))) == "the data disk is full"
    assert unavailable_reason(chained(sqlite3.OperationalError("attempt to write a readonly database"))) == \
        "the event store is read-only"
    assert unavailable_reason(chained(DriverError("53100"))).startswith("the PostgreSQL server has run out of disk")
    assert unavailable_reason(chained(DriverError("08006"))) == "the PostgreSQL server cannot be reached"
    assert unavailable_reason(chained(sqlite3.OperationalError("database is locked"))) is None
    assert unavailable_reason(chained(DriverError("23505"))) is None  # a unique violation: a bug, not the disk
    assert unavailable_reason(ValueError("nothing to do with storage")) is None
