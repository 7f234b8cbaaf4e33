"""A real calamari-server serves 100 open push streams at once, each holding no API worker thread:
the API still answers while they are open, and every one of them gets the next event."""

from __future__ import annotations

import json

import pytest

from calamari.testing.live import ApiClient, CalamariServer
from calamari.testing.sse import open_streams, pump_until

STREAMS = 100
LIVENESS_S = 60  # bounds waits that a working server ends at once; nothing here measures speed


@pytest.fixture
def server(tmp_path):
    server = CalamariServer(tmp_path / "data", extra=["--simulate", "hosts=2,osds=6,pools=1,pgs=64,seed=3,churn=0",
                                                      "--threads", "4"])
    with server.running() as api:
        yield server, api


def test_a_hundred_open_streams_leave_the_api_answering_and_all_get_the_next_event(server):
    calamari, api = server
    from calamari.testing.live import wait_for

    fsid = wait_for(lambda: api.get("/cluster"), LIVENESS_S, "the simulated cluster")[0]["id"]
    wait_for(lambda: api.get(f"/cluster/{fsid}/osd"), LIVENESS_S, "its OSDs")
    assert api.token is not None
    streams = open_streams("127.0.0.1", calamari.api_port, api.token, STREAMS)
    try:
        pump_until(streams, lambda s: any(f["event"] == "hello" for f in s.frames), LIVENESS_S, "the hello frame")
        assert all(s.status == 200 and s.headers["content-type"].startswith("text/event-stream") for s in streams)
        # with all of them open (more than the server's 4 worker threads), the API answers
        reader = ApiClient(calamari.url, timeout=LIVENESS_S)
        reader.token = api.token
        assert reader.get(f"/cluster/{fsid}/osd/0")["id"] == 0
        assert len(reader.get(f"/cluster/{fsid}/osd")) == 6
        # the next event reaches every stream
        request_id = api.submit("PATCH", f"/cluster/{fsid}/osd/0", {"in": False})

        def got_it(stream):
            return any(f"request/{request_id}" in json.loads(f["data"])["changed"] for f in stream.changes)

        pump_until(streams, got_it, LIVENESS_S, f"the change of request {request_id}")
        # the same events in the same order on every stream, from where the last one started
        newest_start = max(int(f["id"]) for s in streams for f in s.frames if f["event"] == "hello")
        submitted = min(json.loads(f["data"])["position"] for f in streams[0].changes
                        if f"request/{request_id}" in json.loads(f["data"])["changed"])
        positions = {tuple(p for f in s.changes if newest_start < (p := json.loads(f["data"])["position"]) <= submitted)
                     for s in streams}
        assert len(positions) == 1
        assert not any(s.closed for s in streams)
    finally:
        for stream in streams:
            stream.close()


def test_calamari_server_passes_its_stream_limit_and_contact_timeout_on(monkeypatch, tmp_path):
    from calamari.service import main as server_main

    seen = {}

    class Stops:
        def __init__(self, app, host, port, threads, limits, at_once=None):
            seen["app"] = app

        def run(self):
            return None

        def close(self):
            return None

    import calamari.adapters.bus as bus_package

    class RecordedBus(bus_package.CollectorBus):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen["bus"] = self

    monkeypatch.setattr(bus_package, "CollectorBus", RecordedBus)  # the root builds it from here
    monkeypatch.setattr(server_main, "create_http_server", Stops)
    monkeypatch.setattr(server_main.gc, "freeze", lambda: None)
    monkeypatch.setattr(server_main.signal, "signal", lambda *args: None)
    assert server_main.main(["--data-dir", str(tmp_path), "--api", "127.0.0.1:0", "--bus", "tcp://127.0.0.1:0",
                             "--insecure-bus", "--log-level", "WARNING", "--http-max-streams", "300",
                             "--contact-timeout", "4.5"]) == 0
    assert seen["app"].config["STREAM_HUB"].max_subscribers == 300
    assert seen["bus"].contact_timeout_s == 4.5


@pytest.mark.parametrize("option, value", [("--http-max-streams", "0"), ("--contact-timeout", "0"),
                                           ("--contact-timeout", "soon")])
def test_calamari_server_refuses_a_bad_stream_limit_or_contact_timeout_naming_the_option(option, value, capsys):
    from calamari.service import main as server_main

    with pytest.raises(SystemExit) as exited:
        server_main.parse_args([option, value])
    assert exited.value.code == 2
    assert option in capsys.readouterr().err
