"""GET/POST cluster/<fsid>/crush_map against the simulator: the text form, a replaced map that
completes only when a newer CRUSH map shows it, 400 naming bad lines, 409 beside another CRUSH
change, and Ceph's refusal when the map changed since it was read."""

from datetime import UTC, datetime

import pytest
from api_support import Harness

from collector.simulator import SimulatedCluster


class SimulatedApi:
    """The API's service fed by a simulated cluster; the commands it sends run on the simulator."""

    def __init__(self, data_dir: str, capture_dir: str) -> None:
        self.sim = SimulatedCluster("hosts=3,osds=6,pools=2,pgs=64,seed=3")
        self.api = Harness(data_dir, capture_dir, steps=())
        self.api.fsid = self.sim.fsid
        self.sync()

    def sync(self) -> None:
        for name, (version, data) in self.sim.sync_objects().items():
            self.api.service.on_sync_object(self.sim.fsid, name, version, data, datetime.now(UTC), host="node0000")

    def run_sent(self) -> None:
        """Run every command sent so far on the simulator, report results, then the new maps."""
        for _, command_id, prefix, args, target in list(self.api.sender.sent):
            rc, out, err = self.sim.execute(prefix, args, target, input=self.api.sender.inputs.get(command_id))
            self.api.service.on_command_result(command_id, rc, out, err, datetime.now(UTC))
        self.api.sender.sent.clear()
        self.sync()


@pytest.fixture(name="sim_api")  # also the fixture of the other CRUSH map tests, which import it
def sim_api_fixture(tmp_path, capture_dir):
    harness = SimulatedApi(str(tmp_path), capture_dir)
    yield harness
    harness.api.close()


def get_text(api) -> str:
    r = api.call("GET", "cluster/{fsid}/crush_map")
    assert r.status_code == 200 and isinstance(r.json, str), r.json
    return r.json


NEW_RACK = "rack rack9 {\n\tid -40\n\talg straw2\n\thash 0\n}\n"


def test_get_is_the_text_and_format_json_the_dump(sim_api):
    api = sim_api.api
    text = get_text(api)
    assert text.startswith("# begin crush map\n") and text.endswith("# end crush map\n")
    assert "\titem osd.0 weight 4.000\n" in text and "device 0 osd.0 class hdd\n" in text
    assert api.call("GET", "cluster/{fsid}/crush_map?format=json").json == sim_api.sim.crush_map()
    assert api.call("GET", "cluster/{fsid}/crush_map?format=xml").status_code == 400


@pytest.mark.parametrize("as_plain_text", [False, True])
def test_a_changed_weight_and_a_new_bucket_complete_and_show(sim_api, as_plain_text):
    api = sim_api.api
    before = sim_api.sim.crush_version
    text = get_text(api).replace("\titem osd.0 weight 4.000", "\titem osd.0 weight 2.500")
    # the rack goes under the root, defined before it (crushtool reads no forward references)
    text = text.replace("root default {", NEW_RACK + "root default {").replace(
        "\titem node0002 weight 8.000\n", "\titem node0002 weight 8.000\n\titem rack9 weight 0.000\n")
    if as_plain_text:
        r = api.call("POST", "cluster/{fsid}/crush_map", user="oper", data=text, content_type="text/plain")
    else:
        r = api.call("POST", "cluster/{fsid}/crush_map", user="oper", json={"crush_map": text})
    assert r.status_code == 202, r.json
    request_id = r.json["request_id"]
    (_, command_id, prefix, args, _), = api.sender.sent
    assert (prefix, args) == ("osd setcrushmap", {"prior_version": before})
    assert api.sender.inputs[command_id] == text
    assert api.request(request_id)["state"] != "complete"
    sim_api.run_sent()
    req = api.request(request_id)
    assert req["state"] == "complete" and req["error"] is False, req
    assert sim_api.sim.crush_version == before + 1
    shown = get_text(api)
    assert "\titem osd.0 weight 2.500\n" in shown and "rack rack9 {" in shown and "\titem rack9 weight" in shown
    nodes = {n["name"]: n for n in api.call("GET", "cluster/{fsid}/crush_node").json}
    assert nodes["rack9"]["bucket_type"] == "rack"


def test_a_weight_only_change_waits_for_a_newer_crush_map(sim_api):
    api = sim_api.api
    text = get_text(api).replace("\titem osd.3 weight 4.000", "\titem osd.3 weight 1.000")
    request_id = api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": text}).json["request_id"]
    (_, command_id, *_), = api.sender.sent
    api.service.on_command_result(command_id, 0, "", "8", datetime.now(UTC))  # the map has not come yet
    assert api.request(request_id)["state"] == "executing"  # the held map has the same names, but is older
    sim_api.sim.execute("osd setcrushmap", {}, input=text)
    sim_api.sync()
    assert api.request(request_id)["state"] == "complete"


def test_bad_text_is_400_naming_each_line(sim_api):
    api = sim_api.api
    text = get_text(api)
    lines = text.splitlines()
    number = next(i for i, line in enumerate(lines, start=1) if line == "\titem osd.1 weight 4.000")
    bad = text.replace("\titem osd.1 weight 4.000", "\titem osd.99 weight 4.000").replace(
        "step take default", "step take nowhere")
    r = api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": bad})
    assert r.status_code == 400, r.json
    assert "is not a device or a bucket" in r.json["errors"][f"line {number}"]
    assert any("step take nowhere" in reason for reason in r.json["errors"].values())
    assert api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": "rule {"}).status_code == 400
    assert api.call("POST", "cluster/{fsid}/crush_map", json={"map": text}).json["errors"] == {
        "crush_map": "Field required", "map": "unknown field"}
    assert api.call("POST", "cluster/{fsid}/crush_map", user="viewer", json={"crush_map": text}).status_code == 403
    assert api.sender.sent == []


def test_a_map_without_a_rule_pools_use_is_409(sim_api):
    api = sim_api.api
    text = get_text(api)
    start = text.index("rule replicated_rule {")
    r = api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": text[:start] + text[text.index("}", start) + 2:]})
    assert r.status_code == 409 and "uses CRUSH rule id 0" in r.json["errors"]["pool rbd"], r.json


def test_409_beside_another_crush_change_either_way(sim_api):
    api = sim_api.api
    text = get_text(api)
    assert api.call("POST", "cluster/{fsid}/crush_node", json={"name": "r1", "bucket_type": "rack"}).status_code == 202
    assert api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": text}).status_code == 409
    sim_api.run_sent()
    assert api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": get_text(api)}).status_code == 202
    r = api.call("PATCH", "cluster/{fsid}/crush_rule/1", json={"name": "ec-other"})
    assert r.status_code == 409, r.json


def test_a_stale_prior_version_fails_with_cephs_message(sim_api):
    api = sim_api.api
    text = get_text(api)
    request_id = api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": text}).json["request_id"]
    current = sim_api.sim.crush_version
    sim_api.sim.execute("osd crush add-bucket", {"name": "meanwhile", "type": "rack"})  # someone else changed it
    sim_api.run_sent()
    req = api.request(request_id)
    assert req["state"] == "complete" and req["error"] is True
    assert req["error_message"] == f"prior_version {current} != crush version {current + 1}"
