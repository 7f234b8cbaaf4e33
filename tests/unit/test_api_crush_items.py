"""A CRUSH bucket's items through the API, against the simulator: the commands a PATCH or POST of
`items` sends, the simulator running them as Ceph does, completion only when a CRUSH map shows every
change, the OSD list following a move, and every refusal with its field."""

from datetime import UTC, datetime

import pytest
from api_support import Harness

from collector.simulator import SimulatedCluster

DEFAULT, NODE0, NODE1, NODE2 = -1, -3, -5, -7  # the simulator's bucket ids: root, then one host per machine
FOUR_TIB = 4.0  # every simulated OSD's CRUSH weight


class SimApi:
    """An API whose commands a simulated cluster runs: `run()` executes what was sent and feeds the
    maps that result, as the collector would."""

    def __init__(self, data_dir: str) -> None:
        # hosts node0000: osd.0, osd.1; node0001: osd.2, osd.3; node0002: osd.4, osd.5
        self.sim = SimulatedCluster("hosts=3,osds=6,pools=2,pgs=64,seed=3")
        self.api = Harness(data_dir, "", steps=())
        self.api.fsid = self.sim.fsid
        self.answered = 0
        self.feed()

    def feed(self, *names: str) -> None:
        for name, (version, data) in self.sim.sync_objects().items():
            if not names or name in names:
                self.api.service.on_sync_object(self.sim.fsid, name, version, data, datetime.now(UTC), host="node0000")

    def answer(self) -> None:
        """Run every command sent so far on the simulator and report its result (which may send
        the request's next command); no map is fed."""
        while self.answered < len(self.api.sender.sent):
            _, command_id, prefix, args, _ = self.api.sender.sent[self.answered]
            rc, out, err = self.sim.execute(prefix, args)
            self.api.service.on_command_result(command_id, rc, out, err, datetime.now(UTC))
            self.answered += 1

    def run(self) -> None:
        self.answer()
        self.feed()

    def call(self, method: str, path: str, body: dict | None = None):
        return self.api.call(method, f"cluster/{{fsid}}/{path}", user="oper", json=body)

    def submit(self, method: str, path: str, body: dict) -> str:
        r = self.call(method, path, body)
        assert r.status_code == 202, r.json
        return r.json["request_id"]

    def sent(self) -> list[tuple[str, dict]]:
        return [(s[2], s[3]) for s in self.api.sender.sent]

    def node(self, node_id: int) -> dict:
        r = self.call("GET", f"crush_node/{node_id}")
        assert r.status_code == 200, r.json
        return r.json

    def osd(self, osd_id: int) -> dict:
        return self.call("GET", f"osd/{osd_id}").json

    def request(self, request_id: str) -> dict:
        return self.api.request(request_id)


@pytest.fixture
def c(tmp_path):
    sim_api = SimApi(str(tmp_path))
    yield sim_api
    sim_api.api.close()


def ids(node: dict) -> list[int]:
    return [i["id"] for i in node["items"]]


def test_an_osd_moved_between_hosts_completes_when_the_crush_map_shows_it(c):
    assert c.osd(1)["crush_node_ancestry"] == ["default", "node0000"] and c.osd(1)["server"] == "node0000"
    request_id = c.submit("PATCH", f"crush_node/{NODE1}", {"items": [*c.node(NODE1)["items"], {"id": 1}]})
    assert c.sent() == [("osd crush move", {"name": "osd.1", "args": ["host=node0001"]})]
    c.answer()
    c.feed("osd_map")  # the OSD map's new epoch is not the CRUSH map that shows the move
    req = c.request(request_id)
    assert req["state"] == "executing" and "CRUSH map" in req["status"]
    assert req["headline"] == "Changing the items of CRUSH node 'node0001' (moving in osd.1)"
    c.feed()
    req = c.request(request_id)
    assert req["state"] == "complete" and req["error"] is False
    assert ids(c.node(NODE1)) == [2, 3, 1] and ids(c.node(NODE0)) == [0]
    osd = c.osd(1)
    assert osd["crush_node_ancestry"] == ["default", "node0001"] and osd["crush_weight"] == FOUR_TIB
    assert osd["server"] == "node0001"  # the simulated disk went to that machine


def test_a_new_host_is_made_with_an_osd_moved_in_and_reweighted(c):
    request_id = c.submit("POST", "crush_node", {"name": "h-new", "bucket_type": "host", "parent": "default",
                                                 "items": [{"id": 4, "weight": 2.5, "pos": 0}]})
    c.run()
    assert c.sent() == [("osd crush add-bucket", {"name": "h-new", "type": "host"}),
                        ("osd crush move", {"name": "h-new", "args": ["root=default"]}),
                        ("osd crush move", {"name": "osd.4", "args": ["host=h-new"]}),
                        ("osd crush reweight", {"name": "osd.4", "weight": 2.5})]
    req = c.request(request_id)
    assert req["state"] == "complete" and req["error"] is False, req
    assert req["headline"] == "Creating CRUSH host 'h-new' (moving in osd.4; reweighting osd.4 to 2.5)"
    new = next(n for n in c.call("GET", "crush_node").json if n["name"] == "h-new")
    assert new["items"] == [{"id": 4, "weight": 2.5, "pos": 0}] and new["weight"] == 2.5
    osd = c.osd(4)
    assert osd["crush_node_ancestry"] == ["default", "h-new"] and osd["crush_weight"] == 2.5
    assert osd["server"] == "node0002"  # a new CRUSH bucket is no machine: the OSD stays on its own


def test_an_item_is_reweighted_and_the_items_get_shows_round_trip_unchanged(c):
    items = c.node(NODE1)["items"]
    assert c.call("PATCH", f"crush_node/{NODE1}", {"items": items}).status_code == 304
    assert c.call("PATCH", f"crush_node/{NODE1}", {"items": [{"id": 3}, {"id": 2}]}).status_code == 304  # order
    request_id = c.submit("PATCH", f"crush_node/{NODE1}", {"items": [items[0], {**items[1], "weight": 1.25}]})
    assert c.sent() == [("osd crush reweight", {"name": "osd.3", "weight": 1.25})]
    c.run()
    assert c.request(request_id)["state"] == "complete"
    assert c.node(NODE1)["items"][1] == {"id": 3, "weight": 1.25, "pos": 1}
    assert c.node(NODE1)["weight"] == FOUR_TIB + 1.25
    assert c.osd(3)["crush_weight"] == 1.25


def test_a_host_is_moved_under_a_rack_by_the_racks_items_and_an_empty_bucket_unlinked(c):
    c.submit("POST", "crush_node", {"name": "rack1", "bucket_type": "rack", "parent": "default"})
    c.submit("POST", "crush_node", {"name": "empty-host", "bucket_type": "host"})
    c.run()
    rack = next(n for n in c.call("GET", "crush_node").json if n["name"] == "rack1")
    empty = next(n for n in c.call("GET", "crush_node").json if n["name"] == "empty-host")
    c.submit("PATCH", f"crush_node/{rack['id']}",
             {"items": [{"id": NODE2, "weight": c.node(NODE2)["weight"]}, {"id": empty["id"]}]})
    c.run()
    assert ids(c.node(rack["id"])) == [NODE2, empty["id"]]
    assert c.osd(5)["crush_node_ancestry"] == ["default", "rack1", "node0002"]
    request_id = c.submit("PATCH", f"crush_node/{rack['id']}", {"items": [{"id": NODE2}]})
    assert c.sent()[-1] == ("osd crush unlink", {"name": "empty-host", "ancestor": "rack1"})
    c.run()
    assert c.request(request_id)["state"] == "complete"
    assert ids(c.node(rack["id"])) == [NODE2] and ids(c.node(empty["id"])) == []


def weird_map(c) -> tuple[int, int]:
    """A row under a rack: Ceph allows it, and it lets a child be its own bucket's ancestor without
    breaking the type order."""
    for name, type_name in (("outer-rack", "rack"), ("inner-row", "row")):
        c.sim.execute("osd crush add-bucket", {"name": name, "type": type_name})
    c.sim.execute("osd crush move", {"name": "inner-row", "args": ["rack=outer-rack"]})
    c.feed()
    nodes = {n["name"]: n["id"] for n in c.call("GET", "crush_node").json}
    return nodes["outer-rack"], nodes["inner-row"]


@pytest.mark.parametrize("node_id, items, field, reason", [
    (NODE1, [{"id": 2}, {"id": 3}, {"id": 99}], "items.2.id", "no OSD 99"),
    (NODE1, [{"id": 2}, {"id": 3}, {"id": -99}], "items.2.id", "no CRUSH node -99"),
    (NODE1, [{"id": 2}, {"id": 3}, {"id": 2}], "items.2.id", "listed twice"),
    (DEFAULT, [{"id": NODE0}, {"id": NODE1}, {"id": NODE2}, {"id": DEFAULT}], "items.3.id", "cannot hold itself"),
    (NODE1, [{"id": 2}, {"id": 3}, {"id": NODE0}], "items.2.id", "a host cannot go under a host"),
    (NODE1, [{"id": 2}, {"id": 3}, {"id": DEFAULT}], "items.2.id", "a root cannot go under a host"),
    (NODE1, [{"id": 2, "weight": -1.0}, {"id": 3}], "items.0.weight", "greater than or equal to 0"),
    (NODE1, [{"id": 2, "weight": 5000.0}, {"id": 3}], "items.0.weight", "less than or equal to 1000"),
    (NODE1, [{"id": 2, "weight": 0.000001}, {"id": 3}], "items.0.weight", "smallest step"),
    (NODE1, [{"id": 2, "weight": "heavy"}, {"id": 3}], "items.0.weight", "valid number"),
    (DEFAULT, [{"id": NODE0, "weight": 1.0}, {"id": NODE1}, {"id": NODE2}], "items.0.weight", "sum of its items"),
    (NODE1, [{"id": 2}, {"id": 3}, {"id": 1, "position": 2}], "items.2.position", "unknown field"),
])
def test_invalid_items_are_400_with_the_field(c, node_id, items, field, reason):
    r = c.call("PATCH", f"crush_node/{node_id}", {"items": items})
    assert r.status_code == 400, r.json
    assert reason in r.json["errors"][field], r.json
    assert c.sent() == []


def test_a_bucket_is_not_placed_under_its_own_descendant(c):
    outer, inner = weird_map(c)
    r = c.call("PATCH", f"crush_node/{inner}", {"items": [{"id": outer}]})
    assert r.status_code == 400 and "own descendant" in r.json["errors"]["items.0.id"]
    r = c.call("POST", "crush_node", {"name": "z", "bucket_type": "datacenter", "parent": inner,
                                      "items": [{"id": outer}]})
    assert r.status_code == 400 and "own descendant" in r.json["errors"]["items.0.id"]
    assert c.sent() == []


def test_every_bad_item_and_field_is_told_at_once(c):
    r = c.call("PATCH", f"crush_node/{NODE1}", {"parent": "nowhere", "items": [{"id": 77}, {"id": NODE0}]})
    assert r.status_code == 400
    assert set(r.json["errors"]) == {"parent", "items.0.id", "items.1.id"}


def test_leaving_an_osd_in_no_bucket_is_409_unless_it_is_placed_elsewhere(c):
    r = c.call("PATCH", f"crush_node/{NODE1}", {"items": [{"id": 2}]})
    assert r.status_code == 409
    assert "osd.3" in r.json["errors"]["items"] and "no bucket" in r.json["errors"]["items"]
    r = c.call("PATCH", f"crush_node/{DEFAULT}", {"items": [{"id": NODE0}, {"id": NODE1}]})
    assert r.status_code == 409 and "node0002" in r.json["errors"]["items"]  # its OSDs would get no data
    assert c.sent() == []
    # linked in a second bucket too, an OSD may leave this one
    c.sim.execute("osd crush add-bucket", {"name": "spare", "type": "host"})
    c.feed()
    spare = next(n["id"] for n in c.call("GET", "crush_node").json if n["name"] == "spare")
    # the simulator links an OSD once; a CRUSH map from Ceph may hold it twice (osd crush add)
    version, data = c.api.service.model.held_document(c.sim.fsid, "crush_map")
    edited = {**data, "buckets": [({**b, "items": [*b["items"], {"id": 3, "weight": 0x40000, "pos": 0}]}
                                   if b["id"] == spare else b) for b in data["buckets"]]}
    c.api.service.on_sync_object(c.sim.fsid, "crush_map", version + 1, edited, datetime.now(UTC), host="node0000")
    c.submit("PATCH", f"crush_node/{NODE1}", {"items": [{"id": 2}]})
    assert c.sent() == [("osd crush unlink", {"name": "osd.3", "ancestor": "node0001"})]


def test_crush_requests_on_the_same_nodes_are_409_while_one_runs(c):
    running = c.submit("PATCH", f"crush_node/{NODE1}", {"items": [{"id": 2}, {"id": 3}, {"id": 1}]})
    for path, body in ((f"crush_node/{NODE0}", {"items": [{"id": 0}, {"id": 1, "weight": 1.0}]}),  # the source
                       (f"crush_node/{NODE2}", {"items": [{"id": 4}, {"id": 5}, {"id": 1}]}),  # the same OSD
                       (f"crush_node/{NODE1}", {"name": "renamed"})):  # the same bucket
        r = c.call("PATCH", path, body)
        assert r.status_code == 409, (path, r.json)
        assert r.json["errors"]["request"] == running
    c.submit("PATCH", f"crush_node/{NODE2}", {"items": [{"id": 4, "weight": 3.0}, {"id": 5}]})  # unrelated
    c.run()
    assert c.request(running)["state"] == "complete"
    c.submit("PATCH", f"crush_node/{NODE0}", {"items": [{"id": 0}, {"id": 1}]})  # moves it back


def test_a_failed_move_fails_the_request_with_cephs_message(c):
    request_id = c.submit("PATCH", f"crush_node/{NODE1}", {"items": [{"id": 2}, {"id": 3}, {"id": 1}]})
    _, command_id, *_ = c.api.sender.sent[0]  # as Ceph answers when the OSD was purged meanwhile
    c.api.service.on_command_result(command_id, -2, "", "item osd.1 does not exist", datetime.now(UTC))
    req = c.request(request_id)
    assert req["error"] is True and "does not exist" in req["error_message"]


def test_a_read_only_user_cannot_set_items(c):
    r = c.api.call("PATCH", f"cluster/{{fsid}}/crush_node/{NODE1}", user="viewer", json={"items": [{"id": 2}]})
    assert r.status_code == 403


def test_the_items_check_needs_every_move_unlink_and_weight():
    from calamari.domain.requests import expectation_met

    crush = {"buckets": [{"id": -5, "name": "h", "items": [{"id": 2, "weight": 0x10000}, {"id": 3, "weight": 0x8000}]},
                         {"id": -6, "name": "h~hdd", "items": []}]}
    check = {"check": "crush_items", "id": -5, "present": [2, 3], "absent": [4], "weights": [[3, 0x8000]]}
    assert expectation_met([check], crush)
    assert expectation_met([{**check, "weights": [[3, 0x8001]]}], crush)  # within the monitor's truncation
    assert not expectation_met([{**check, "weights": [[3, 0x8002]]}], crush)
    assert not expectation_met([{**check, "present": [2, 3, 1]}], crush)
    assert not expectation_met([{**check, "absent": [2]}], crush)
    by_name = {k: v for k, v in check.items() if k != "id"}
    assert expectation_met([{**by_name, "name": "h"}], crush)
    assert not expectation_met([{**by_name, "name": "h-new"}], crush)
    assert not expectation_met([{**check, "id": -7}], crush)
