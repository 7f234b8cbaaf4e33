"""GET /api/v2/stream: committed events pushed in store order with the resources they changed,
resumable with Last-Event-ID, bounded per client and in number."""

import json
import time

import pytest
from api_support import Harness

from calamari.adapters.http_server import HAND_OVER
from calamari.service.stream_hub import StreamHub

FAST = {"STREAM_KEEPALIVE": 0.05, "STREAM_SECONDS": 30}


class Reader:
    """Reads an open stream's frames from the test client's response, a few at a time."""

    def __init__(self, response):
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/event-stream"
        self.response = response
        self.chunks = iter(response.response)
        self.frames = []

    def read_until(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        buffer = ""
        while time.monotonic() < deadline:
            chunk = next(self.chunks)
            buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                fields = {}
                for line in block.split("\n"):
                    if line and not line.startswith(":"):
                        key, _, value = line.partition(": ")
                        fields[key] = value
                if "data" in fields:
                    self.frames.append(fields)
            if predicate(self.frames):
                return self.frames
        raise AssertionError(f"the stream did not show it in time; got {self.frames}")

    def close(self):
        self.response.close()


def changes(frames):
    return [json.loads(f["data"]) for f in frames if f.get("event") == "change"]


def open_stream(api, user="viewer", **headers):
    return Reader(api.call("GET", "/api/v2/stream", user=user, headers=headers, buffered=False))


@pytest.fixture()
def api(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, app_options=FAST)
    yield harness
    harness.close()


def test_a_change_arrives_with_its_position_feed_entry_and_changed_resources(api):
    stream = open_stream(api)
    try:
        r = api.call("PATCH", "cluster/{fsid}/osd/0", user="oper", json={"in": False})
        assert r.status_code == 202
        request_id = r.json["request_id"]
        frames = stream.read_until(lambda fs: any(f"request/{request_id}" in c["changed"] for c in changes(fs)))
        message = next(c for c in changes(frames) if f"request/{request_id}" in c["changed"])
        frame = next(f for f in frames if f.get("event") == "change" and json.loads(f["data"]) == message)
        assert frame["id"] == str(message["position"])
        assert message["type"] == "UserRequestSubmitted"
        assert f"cluster/{api.fsid}/request/{request_id}" in message["changed"]
        # as the event feed tells it
        feed = api.call("GET", "event?page_size=5").json["results"]
        told = next(e for e in feed if e["message"] == message["event"]["message"])
        assert told["severity"] == message["event"]["severity"] and message["event"]["id"] == message["position"]
        # the store holds it at that position
        stored = dict(api.service.store.read(after=message["position"] - 1, until=message["position"]))
        assert type(stored[message["position"]]).__name__ == "UserRequestSubmitted"
    finally:
        stream.close()


def test_map_changes_name_the_osds_they_changed(api):
    stream = open_stream(api)
    try:
        api.feed("05")  # the capture taken after osd.2 went down
        frames = stream.read_until(lambda fs: any(f"cluster/{api.fsid}/osd/2" in c["changed"] for c in changes(fs)))
        down = next(c for c in changes(frames) if f"cluster/{api.fsid}/osd/2" in c["changed"] and c["type"] == "OsdMarkedDown")
        assert down["event"]["message"] == "OSD osd.2 went down" and down["event"]["severity"] == "WARNING"
        positions = [c["position"] for c in changes(frames)]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)  # store order
    finally:
        stream.close()


def test_a_resumed_stream_misses_nothing(api):
    api.token("viewer")  # the stream's login is an event too: before the positions are read
    api.token("oper")
    api.service.writer.flush(10)
    before = api.service.store.max_position()
    for pool in ("a1", "a2", "a3"):
        assert api.call("POST", "cluster/{fsid}/pool", user="oper", json={"name": pool, "pg_num": 8}).status_code == 202
    api.service.writer.flush(10)
    end = api.service.store.max_position()
    expected = [p for p, _ in api.service.store.read(after=before, until=end)]
    assert len(expected) >= 3
    stream = open_stream(api, **{"Last-Event-ID": str(before)})
    try:
        frames = stream.read_until(lambda fs: any(c["position"] == end for c in changes(fs)))
        assert [c["position"] for c in changes(frames)] == expected
        # and then live, after the stored ones, without repeats
        assert api.call("PATCH", "cluster/{fsid}/osd/0", user="oper", json={"in": False}).status_code == 202
        frames = stream.read_until(lambda fs: max(c["position"] for c in changes(fs)) > end)
        positions = [c["position"] for c in changes(frames)]
        assert positions == sorted(set(positions))
    finally:
        stream.close()


def test_a_bad_resume_position_is_a_400_and_a_login_is_needed(api):
    r = api.call("GET", "/api/v2/stream", headers={"Last-Event-ID": "x1"})
    assert r.status_code == 400 and "Last-Event-ID" in r.json["errors"]
    assert api.app.test_client().get("/api/v2/stream").status_code == 401


def test_open_streams_are_limited(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, app_options={**FAST, "STREAM_LIMIT": 2})
    try:
        first, second = open_stream(harness), open_stream(harness)
        refused = harness.call("GET", "/api/v2/stream", user="viewer")
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "30" and "detail" in refused.json
        first.close()  # a closed stream frees its place
        third = open_stream(harness)
        third.close()
        second.close()
    finally:
        harness.close()


def test_a_slow_subscriber_is_cut_off_and_never_blocks_the_writer(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, app_options=FAST)
    try:
        hub = StreamHub(harness.service, max_subscribers=2, queue_size=2)
        hub.attach()
        slow = hub.subscribe()
        for osd in (0, 1, 2):  # more events than the queue holds, nobody reading
            assert harness.call("PATCH", f"cluster/{{fsid}}/osd/{osd}", user="oper", json={"in": False}).status_code == 202
        harness.service.writer.flush(10)
        assert hub.settle(10)
        assert slow.cut.is_set() and hub.cut_off == 1 and hub.open_streams == 0
        assert slow.queue.qsize() == 2  # what it had is kept; the rest it reads from the store on resume
        # the writer went on: everything is stored
        assert harness.call("GET", "request?page_size=10").json["count"] == 3
    finally:
        harness.close()


def test_a_stream_ends_after_its_lifetime(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, app_options={**FAST, "STREAM_SECONDS": 0.2})
    try:
        response = harness.call("GET", "/api/v2/stream", user="viewer", buffered=False)
        started = time.monotonic()
        body = b"".join(c if isinstance(c, bytes) else c.encode() for c in response.response)
        assert time.monotonic() - started < 5
        assert body.startswith(b"retry: ")
        assert harness.app.config["STREAM_HUB"].open_streams == 0
    finally:
        harness.close()


def test_a_new_stream_says_where_it_starts(api):
    api.token("viewer")  # the login is an event too: before the position is read
    api.service.writer.flush(10)
    start = api.service.store.max_position()
    stream = open_stream(api)
    try:
        frames = stream.read_until(lambda fs: any(f.get("event") == "hello" for f in fs))
        hello = next(f for f in frames if f.get("event") == "hello")
        assert hello["id"] == str(start) and json.loads(hello["data"]) == {"position": start}
    finally:
        stream.close()


class FakeAnswer:
    """A pushed answer's stand-in: what was pushed, whether the client reads (unsent stays 0)."""

    def __init__(self, reading: bool = True) -> None:
        self.data = b""
        self.reading = reading
        self.unsent = 0
        self.ended = self.was_cut = False
        self.closed_by_client = False

    def push(self, data):
        if self.ended or self.was_cut or self.closed_by_client:
            return None
        self.data += data
        if not self.reading:
            self.unsent += len(data)
        return self.unsent

    def wake(self):
        pass

    def end(self):
        self.ended = True

    def cut(self):
        self.was_cut = True


def wait_until(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.01)


def pushed_frames(data: bytes):
    frames = []
    for block in data.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":"))
        if "data" in fields:
            frames.append(fields)
    return frames


def test_a_handed_over_stream_is_written_by_the_hub_opening_first_then_live_with_keep_alives(api):
    hook_calls = []

    def hand_over(on_close):
        hook_calls.append(on_close)
        return answer

    answer = FakeAnswer()
    hub = api.app.config["STREAM_HUB"]
    response = api.call("GET", "/api/v2/stream", user="viewer", buffered=False, environ_base={HAND_OVER: hand_over})
    assert response.status_code == 200
    assert b"".join(response.response) == b""  # nothing on the worker thread: the hub writes
    response.close()
    assert len(hook_calls) == 1 and hub.open_streams == 1  # closing the WSGI body does not end it
    assert hub.settle(10)
    assert answer.data.startswith(b"retry: ") and b"event: hello" in answer.data
    r = api.call("PATCH", "cluster/{fsid}/osd/0", user="oper", json={"in": False})
    request_id = r.json["request_id"]
    wait_until(lambda: f"request/{request_id}".encode() in answer.data, "the change pushed")
    changes_pushed = [json.loads(f["data"]) for f in pushed_frames(answer.data) if f.get("event") == "change"]
    assert [c["position"] for c in changes_pushed] == sorted({c["position"] for c in changes_pushed})
    wait_until(lambda: answer.data.endswith(b": keep-alive\n\n"), "a keep-alive on a quiet stream")
    hook_calls[0]()  # the connection closed
    wait_until(lambda: hub.open_streams == 0, "the closed stream to leave the hub")


def test_a_handed_over_stream_ends_after_its_lifetime(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, app_options={**FAST, "STREAM_SECONDS": 0.3})
    try:
        answer = FakeAnswer()
        response = harness.call("GET", "/api/v2/stream", user="viewer", buffered=False,
                                environ_base={HAND_OVER: lambda on_close: answer})
        b"".join(response.response)
        response.close()
        hub = harness.app.config["STREAM_HUB"]
        wait_until(lambda: answer.ended, "the end of the stream's lifetime")
        assert hub.open_streams == 0 and not answer.was_cut
    finally:
        harness.close()


def test_a_pushed_stream_whose_client_lags_is_cut_off_and_never_blocks_the_writer(tmp_path, capture_dir):
    harness = Harness(str(tmp_path), capture_dir, app_options={**FAST, "STREAM_UNSENT": 600})
    try:
        hub = harness.app.config["STREAM_HUB"]
        lagging, reading = FakeAnswer(reading=False), FakeAnswer()
        for answer in (lagging, reading):
            sub = hub.subscribe(keepalive=60)
            sub.sent = harness.service.store.max_position()
            hub.hand_over(sub, answer, b": a long opening, never a sign of lagging\n\n" * 50)
        assert hub.settle(10) and not lagging.was_cut  # its opening alone is over the bound
        for osd in (0, 1, 2):
            assert harness.call("PATCH", f"cluster/{{fsid}}/osd/{osd}", user="oper", json={"in": False}).status_code == 202
        harness.service.writer.flush(10)
        assert hub.settle(10)
        assert lagging.was_cut and hub.cut_off == 1 and hub.open_streams == 1
        assert not reading.was_cut and len(pushed_frames(reading.data)) >= 3
        assert harness.call("GET", "request?page_size=10").json["count"] == 3  # the writer went on
    finally:
        harness.close()


def test_an_event_stored_before_its_listeners_ran_is_sent_described_and_nothing_is_kept_for_it(api):
    """Durable changes may reach listeners only once they are stored: the hub then hears of the
    events from the writer first. The stream still tells them as the feed does, and the hub keeps
    no description for them afterwards (it would never be taken)."""
    assert api.call("PATCH", "cluster/{fsid}/osd/0", user="oper", json={"in": False}).status_code == 202
    api.service.writer.flush(10)
    stored = list(api.service.store.read(after=0, until=api.service.store.max_position()))[-3:]
    positions, events = [p for p, _ in stored], [e for _, e in stored]
    hub = StreamHub(api.service, encode=lambda m: json.dumps(m).encode())
    sub = hub.subscribe()
    hub.persisted(positions, events)  # stored first ...
    with api.service.lock:
        hub.committed(events, api.service.model)  # ... then told to the listeners
    assert hub.settle(10)
    assert hub.held_descriptions == 0
    told = [sub.take(1) for _ in events]
    assert [m["position"] for m in told] == positions
    assert [m["type"] for m in told] == [type(e).__name__ for e in events]
    with api.service.lock:
        model = api.service.model
        from calamari.domain.event_feed import OsdServers
        from calamari.service.stream_hub import describe_event, positioned
        expected = [positioned(p, describe_event(e, model, OsdServers(model))) for p, e in stored]
    assert told == expected
