"""A request whose commands no bus frame (or whose body no stored event) can carry is refused with a
400 before anything is stored: stored, it would block the event writer behind an event it can never
write and fail only once sent. A command the bus cannot encode fails its request with the reason."""

import pytest
from api_support import harness_fixture

from calamari.adapters.bus import CollectorBus
from calamari.domain.requests import Plan, RequestRejected, command
from calamari.service.requests import RequestExecutor

BEYOND_64_BITS = [1 << 64, -(1 << 63) - 1, 99999999999999999999999]


api = harness_fixture(steps=("00",))


def stored_requests(api) -> int:
    api.service.writer.flush(10)
    return sum(1 for _, e in api.service.store.read() if type(e).__name__ == "UserRequestSubmitted")


@pytest.mark.parametrize("value", BEYOND_64_BITS)
@pytest.mark.parametrize("where", ["args", "body"])
def test_a_plan_beyond_64_bits_is_refused_before_it_is_stored(api, value, where):
    before = stored_requests(api)
    args = {"id": value, "weight": 0.5} if where == "args" else {"id": 1, "weight": 0.5}
    body = {"id": value} if where == "body" else {"id": 1}
    plan = Plan("update", "Reweighting", ["osd:1"], [command("osd reweight", **args)], [], body)
    with pytest.raises(RequestRejected) as err:
        api.executor.submit(api.fsid, "admin", plan)
    assert err.value.status == 400 and "cannot be sent" in err.value.detail
    assert api.sender.sent == [] and not api.service.model.requests
    # the writer is not blocked: the next request is stored and sent
    good = Plan("update", "Reweighting", ["osd:1"], [command("osd reweight", id=1, weight=0.5)], [], {"id": 1})
    request_id = api.executor.submit(api.fsid, "admin", good)
    assert stored_requests(api) == before + 1 and api.request(request_id)["state"] != "complete"
    assert [s[2] for s in api.sender.sent] == ["osd reweight"]


def test_a_command_the_bus_cannot_encode_fails_its_request_with_the_reason(api):
    bus = CollectorBus(api.service, "tcp://127.0.0.1:0")
    # a collector of this cluster has said hello (its session, as the bus keeps it)
    bus.peers.said_hello(bus.peers.session(b"collector-1"), api.fsid, "node1", "0.1.0")
    with pytest.raises(ValueError, match="cannot be encoded"):
        bus.send_command(api.fsid, "r-1", "osd reweight", {"id": 1 << 70, "weight": 0.5})

    executor = RequestExecutor(api.service, send=bus.send_command)
    plan = Plan("update", "Reweighting", ["osd:1"], [command("osd reweight", id=1, weight=0.5)], [], {"id": 1})
    request_id = executor.submit(api.fsid, "admin", plan)
    assert api.request(request_id)["state"] != "complete"  # sent: the bus took it
    # a request stored before this check existed (e.g. resumed after an upgrade) fails when sent
    with api.service.lock:
        api.service.model.requests[request_id].commands[0]["args"]["id"] = 1 << 70
    executor._send(request_id, 0, give_up=0)
    req = api.request(request_id)
    assert req["state"] == "complete" and req["error"] is True and "cannot be encoded" in req["error_message"]
