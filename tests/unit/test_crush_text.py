"""CRUSH text: our rendering of `osd crush dump` is what crushtool -d prints (checked with the real
crushtool on the captured and simulated maps), and parsing it gives the same map back; bad text is
refused with the line of each problem."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from calamari.crush.model import CrushTextError
from calamari.crush.text_parse import parse_crush_text
from calamari.crush.text_render import render_crush_text
from calamari.crush.weights import weight_text
from collector.simulator import SimulatedCluster


def fixture_dumps(capture_dir):
    paths = sorted(Path(capture_dir).glob("*/osd_crush_dump.json"))
    if not paths:
        pytest.skip(f"captures not found at {capture_dir}")
    return {p.parent.name: json.loads(p.read_text()) for p in paths}


def simulator_dumps():
    sim = SimulatedCluster("hosts=4,osds=10,pools=2,pgs=64,seed=5")
    sim.execute("osd crush add-bucket", {"name": "rack1", "type": "rack"})
    sim.execute("osd crush move", {"name": "rack1", "args": ["root=default"]})
    sim.execute("osd crush move", {"name": "node0001", "args": ["rack=rack1"]})
    sim.execute("osd crush rule create-replicated", {"name": "by-rack", "root": "default", "type": "rack",
                                                     "class": "hdd"})
    return {"simulated": sim.crush_map()}


def all_dumps(capture_dir):
    return {**fixture_dumps(capture_dir), **simulator_dumps()}


def test_crushtool_compiles_our_text_and_prints_it_back_unchanged(capture_dir, tmp_path):
    if shutil.which("crushtool") is None:
        pytest.skip("crushtool is not installed (Debian: ceph-base); it is the reference for the text")
    for name, dump in all_dumps(capture_dir).items():
        text = render_crush_text(dump)
        (tmp_path / "in.txt").write_text(text)
        subprocess.run(["crushtool", "-c", str(tmp_path / "in.txt"), "-o", str(tmp_path / "map")], check=True,
                       timeout=60)
        back = subprocess.run(["crushtool", "-d", str(tmp_path / "map")], check=True, capture_output=True,
                              timeout=60, text=True).stdout
        assert back == text, name
        dumped = json.loads(subprocess.run(["crushtool", "-i", str(tmp_path / "map"), "--dump"], check=True,
                                           capture_output=True, timeout=60, text=True).stdout)
        assert render_crush_text(dumped) == text, name


def test_parsing_our_text_gives_back_the_buckets_items_weights_and_rules(capture_dir):
    for name, dump in all_dumps(capture_dir).items():
        parsed = parse_crush_text(render_crush_text(dump))
        names = {d["id"]: d["name"] for d in dump["devices"]} | {b["id"]: b["name"] for b in dump["buckets"]}
        buckets = [b for b in dump["buckets"] if "~" not in b["name"]]
        assert {b.name: (b.id, b.type_name, b.alg) for b in parsed.buckets} == {
            b["name"]: (b["id"], b["type_name"], b["alg"]) for b in buckets}, name
        for b in buckets:
            items = parsed.bucket(b["name"]).items
            assert [(i.name, f"{i.weight:.3f}") for i in items] == [
                (names[i["id"]], weight_text(i["weight"])) for i in b["items"]], name
            shadows = {x["name"].split("~")[1]: x["id"] for x in dump["buckets"] if x["name"].startswith(b["name"] + "~")}
            assert parsed.bucket(b["name"]).class_ids == shadows
        assert [(r.id, r.name, r.min_size, r.max_size, len(r.steps)) for r in parsed.rules] == [
            (r["rule_id"], r["rule_name"], r["min_size"], r["max_size"], len(r["steps"])) for r in dump["rules"]], name
        takes = [(s.item, s.item_class) for r in parsed.rules for s in r.steps if s.op == "take"]
        assert takes == [tuple((s["item_name"].split("~") + [None])[:2]) for r in dump["rules"]
                         for s in r["steps"] if s.get("op") == "take"], name
        assert [d.name for d in parsed.devices] == [d["name"] for d in dump["devices"]]


def test_weights_print_as_crushtool_prints_them():
    assert weight_text(65) == "0.001" and weight_text(0x10000 * 4) == "4.000"
    assert weight_text(256589725) == "3915.249"  # through a C float, as crushtool prints it (a double: .248)


BASE = """device 0 osd.0 class hdd
device 1 osd.1 class hdd
type 0 osd
type 1 host
type 11 root
host h1 {
\tid -2
\tid -3 class hdd
\talg straw2
\thash 0
\titem osd.0 weight 1.000
\titem osd.1
}
root default {
\tid -1
\tid -4 class hdd
\talg straw2
\thash 0
\titem h1
}
rule replicated_rule {
\tid 0
\ttype replicated
\tmin_size 1
\tmax_size 10
\tstep take default class hdd
\tstep chooseleaf firstn 0 type host
\tstep emit
}
"""


def test_a_valid_map_parses_with_resolved_weights():
    parsed = parse_crush_text(BASE)
    assert parsed.bucket("h1").weight_fixed == 2 * 0x10000
    assert parsed.bucket("default").items[0].weight_fixed == 2 * 0x10000


@pytest.mark.parametrize("change, line, reason", [
    (("item osd.1\n", "item osd.7\n"), 12, "osd.7 in bucket h1 is not a device or a bucket defined above"),
    (("\titem h1\n", "\titem h2\n"), 19, "is not a device or a bucket"),
    (("step take default class hdd", "step take nowhere"), 26, "no such bucket or device"),
    (("step take default class hdd", "step take default class ssd"), 26, "has no id for class ssd"),
    (("type 0 osd\n", "type 0 osd\ntype 1 rack\n"), 5, "type id 1 is already used"),
    (("host h1 {", "shelf h1 {"), 6, "unknown type 'shelf'"),
    (("\tid -1\n", "\tid -2\n"), 14, "bucket id -2 is already used"),
    (("root default {", "root h1 {"), 14, "the name h1 is already used"),
    (("device 1 osd.1", "device 0 osd.1"), 2, "device id 0 is already used"),
    (("type host\n\tstep emit", "type rack\n\tstep emit"), 27, "unknown type 'rack'"),
    (("\talg straw2\n\thash 0\n\titem h1", "\talg straw3\n\thash 0\n\titem h1"), 17, "unknown bucket algorithm"),
    (("\tmin_size 1\n", ""), 24, "expected 'min_size'"),
    (("\tstep emit\n}\n", "\tstep emit\n"), 28, "expected 'step' or '}', found the end"),
    (("item osd.0 weight 1.000", "item osd.0 weight heavy"), 11, "expected a weight, found 'heavy'"),
])
def test_bad_text_is_refused_naming_the_line(change, line, reason):
    text = BASE.replace(*change)
    assert text != BASE
    with pytest.raises(CrushTextError) as err:
        parse_crush_text(text)
    assert any(e.startswith(f"line {line}: ") and reason in e for e in err.value.errors), err.value.errors


def test_a_type_or_a_rule_defined_twice_is_refused():
    def errors_of(text):
        with pytest.raises(CrushTextError) as err:
            parse_crush_text(text)
        return err.value.errors

    rule = "rule {} {{\n\tid {}\n\ttype replicated\n\tmin_size 1\n\tmax_size 10\n\tstep take default\n\tstep emit\n}}\n"
    assert errors_of(BASE.replace("type 11 root\n", "type 11 root\ntype 12 root\n")) == ["line 6: type root is defined twice"]
    assert errors_of(BASE + rule.format("other", 0)) == ["line 30: rule id 0 is already used by replicated_rule"]
    assert errors_of(BASE + rule.format("replicated_rule", 1)) == ["line 30: rule replicated_rule is defined twice"]


def test_a_bucket_used_before_it_is_defined_is_refused():
    text = BASE.replace("host h1 {", "root top {\n\tid -9\n\talg straw2\n\thash 0\n\titem h1\n}\nhost h1 {")
    with pytest.raises(CrushTextError) as err:
        parse_crush_text(text)
    assert "line 10: item h1 in bucket top is defined further down" in err.value.errors[0]


def test_the_collector_compiles_text_with_crushtool_and_reports_its_line(capture_dir, tmp_path, monkeypatch):
    from collector import crush_compile

    if shutil.which("crushtool") is None:
        pytest.skip("crushtool is not installed (Debian: ceph-base)")
    dump = next(iter(fixture_dumps(capture_dir).values()))
    text = render_crush_text(dump)
    binary = crush_compile.compile_crush_text(text)
    (tmp_path / "map").write_bytes(binary)
    back = subprocess.run(["crushtool", "-d", str(tmp_path / "map")], check=True, capture_output=True, text=True)
    assert back.stdout == text
    # crushtool's own message, its temporary file's name turned into "line N"
    with pytest.raises(crush_compile.CrushCompileError, match=r"could not compile.*line \d+ error: parse error"):
        crush_compile.compile_crush_text(text.replace("alg straw2", "alg straw2 oops", 1))
    with pytest.raises(crush_compile.CrushCompileError, match="unknown bucket alg 'nonsense'"):
        crush_compile.compile_crush_text(text.replace("alg straw2", "alg nonsense", 1))
    monkeypatch.setattr(crush_compile.shutil, "which", lambda name: None)
    with pytest.raises(crush_compile.CrushCompileError, match="not installed"):
        crush_compile.compile_crush_text(text)
