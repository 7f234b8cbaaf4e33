"""Pool names follow Ceph's monitor: `osd pool create` and `osd pool rename` refuse an empty name
and names beginning with '.' (Ceph answers them with success and does nothing, so such a request
would never complete); a leading '-' is accepted. Refusals are 400s naming the field, before
anything is sent."""

from __future__ import annotations

import pytest
from api_support import harness_fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calamari.domain.requests import RequestRejected, plan_pool_create, plan_pool_update

DOT_NAMES = [".", "..", "...", ".mgr", ".rgw.root", ".-", "._x"]
ACCEPTED_NAMES = ["-", "--", "-weird", "_", "a.b", "a..b", "x.", "p-1_2.3"]
POOL_NAME_CHARS = st.text(alphabet="abcXYZ019_.-", min_size=1, max_size=30)


api = harness_fixture(scope="module")


@pytest.mark.parametrize("name", DOT_NAMES)
def test_creating_a_pool_named_with_a_leading_dot_is_refused(api, name):
    sent = len(api.sender.sent)
    r = api.call("POST", "cluster/{fsid}/pool", user="oper", json={"name": name, "pg_num": 8})
    assert r.status_code == 400, r.json
    assert "'.'" in r.json["errors"]["name"]
    assert len(api.sender.sent) == sent


@pytest.mark.parametrize("name", DOT_NAMES)
def test_renaming_a_pool_to_a_leading_dot_is_refused(api, name):
    sent = len(api.sender.sent)
    r = api.call("PATCH", "cluster/{fsid}/pool/2", user="oper", json={"name": name})
    assert r.status_code == 400, r.json
    assert "'.'" in r.json["errors"]["name"]
    assert len(api.sender.sent) == sent


@pytest.mark.parametrize("name", ACCEPTED_NAMES)
def test_names_ceph_accepts_are_planned(api, name):
    model = api.service.model
    plan = plan_pool_create(model, api.fsid, {"name": name, "pg_num": 8})
    assert plan.commands[0]["prefix"] == "osd pool create" and plan.commands[0]["args"]["pool"] == name
    plan = plan_pool_update(model, api.fsid, 2, {"name": name})
    assert plan is not None and plan.commands[-1]["prefix"] == "osd pool rename"
    assert plan.commands[-1]["args"]["destpool"] == name


@pytest.mark.parametrize("name", ["", "a b", "a/b", "é", "x" * 101])
def test_names_outside_calamaris_characters_are_refused_naming_the_field(api, name):
    r = api.call("POST", "cluster/{fsid}/pool", user="oper", json={"name": name, "pg_num": 8})
    assert r.status_code == 400 and "name" in r.json["errors"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=POOL_NAME_CHARS)
def test_a_name_is_refused_exactly_when_ceph_refuses_it(api, name):
    model = api.service.model
    in_use = {p.name for p in model.pools.get(api.fsid, {}).values()}
    for plan in (lambda: plan_pool_create(model, api.fsid, {"name": name, "pg_num": 8}),
                 lambda: plan_pool_update(model, api.fsid, 2, {"name": name})):
        try:
            plan()
            refused = None
        except RequestRejected as err:
            refused = err
        if name.startswith("."):
            assert refused is not None and refused.status == 400 and "name" in refused.errors
        elif name not in in_use:
            assert refused is None or "name" not in refused.errors
