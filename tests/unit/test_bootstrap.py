"""The composition root builds each part once and hands it on: the app gets the services it is
given, the executor sends through the bus, and a start that fails part-way leaves nothing running."""

import os
import threading

import pytest
from test_server_shutdown import open_files_under

from calamari.api.app import create_app
from calamari.bootstrap import build_app, build_server, build_services
from calamari.service import main as server_main
from calamari.service.collector_keys import CollectorKeyService
from calamari.service.model import ModelService, ServiceConfig


class FakeBus:
    def send_command(self, *args, **kwargs) -> bool:
        return False

    def send_host_command(self, *args, **kwargs) -> bool:
        return False


@pytest.fixture
def service(tmp_path):
    svc = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    yield svc
    svc.close()


def test_the_app_uses_the_services_it_is_given(service):
    services = build_services(service)
    keys = CollectorKeyService(service)
    listeners = len(service.listeners)
    app = create_app(services, COLLECTOR_KEYS=keys)
    assert app.config["CALAMARI"] is services and app.config["SERVICE"] is service
    assert app.config["STREAM_HUB"] is services.stream_hub and app.config["COLLECTOR_KEYS"] is keys
    assert len(service.listeners) == listeners  # it attached nothing of its own


def test_build_app_sends_requests_through_the_bus(service):
    bus = FakeBus()
    app = build_app(service, bus=bus)
    executor = app.config["CALAMARI"].executor
    try:
        assert executor.send == bus.send_command and executor.send_to_host == bus.send_host_command
        assert service.command_result_handler == executor.on_command_result
    finally:
        executor.stop()


def test_a_start_that_fails_part_way_stops_what_it_started(tmp_path, monkeypatch):
    monkeypatch.setattr(server_main.signal, "signal", lambda *args: None)
    before = set(threading.enumerate())
    data_dir = str(tmp_path / "var")
    with pytest.raises(Exception):  # noqa: B017 - ZeroMQ's own error for an endpoint it cannot bind
        server_main.main(["--data-dir", data_dir, "--api", "127.0.0.1:0", "--bus", "no-such-transport://x",
                          "--insecure-bus", "--log-level", "WARNING"])
    left = [t.name for t in set(threading.enumerate()) - before
            if t.is_alive() and t.name != "event-feed-history"]
    assert left == []
    assert open_files_under(os.path.realpath(data_dir)) == []


def test_alerting_stops_before_the_notifier_it_tells(tmp_path):
    """The notifier consumes what alerting tells it: stopping the producer first means no alert
    change is handed to a notifier already stopped (its queue would only be re-read at the next start)."""
    args = server_main.parse_args(["--data-dir", str(tmp_path / "var"), "--api", "127.0.0.1:0",
                                   "--bus", "tcp://127.0.0.1:0", "--insecure-bus"])
    server = build_server(args)
    stopped: list[str] = []
    services = server.services
    for name, part in (("alerting", services.alerting), ("notifier", services.notifier)):
        def stop(*a, _stop=part.stop, _name=name, **k):
            stopped.append(_name)
            return _stop(*a, **k)
        part.stop = stop
    server.stop()
    assert stopped == ["alerting", "notifier"]
