"""POST cluster/<fsid>/crush_map on input and states that must not end in a 500: weights that
overflow to infinity, and a server that has restored its CRUSH aggregate from events but not yet
received the collector's map (just after a restart)."""

import pytest
from test_api_crush_map import get_text, sim_api_fixture  # noqa: F401 - the sim_api fixture

from calamari.crush.model import CrushTextError
from calamari.crush.text_parse import parse_crush_text

OVERFLOWING = ("device 0 osd.0\ntype 0 osd\ntype 1 host\n"
               "host h {\n\tid -1\n\talg straw2\n\thash 0\n\titem osd.0 weight WEIGHT\n}\n")


@pytest.mark.parametrize("weight", ["1e999", "-1e999"])
def test_a_weight_that_is_not_a_finite_number_is_a_reason_not_a_crash(weight):
    with pytest.raises(CrushTextError) as caught:
        parse_crush_text(OVERFLOWING.replace("WEIGHT", weight))
    assert caught.value.errors[0].startswith("line 8:")


def test_a_bucket_items_infinite_weight_is_refused_too():
    text = OVERFLOWING.replace("WEIGHT", "1") + "root r {\n\tid -2\n\talg straw2\n\thash 0\n\titem h weight 1e400\n}\n"
    with pytest.raises(CrushTextError):
        parse_crush_text(text)


def test_post_with_an_infinite_weight_is_400(sim_api):
    api = sim_api.api
    text = get_text(api).replace("\titem osd.1 weight 4.000", "\titem osd.1 weight 1e999", 1)
    r = api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": text})
    assert r.status_code == 400, r.json
    assert api.sender.sent == []


def test_post_before_the_crush_map_came_again_after_a_restart_is_503(sim_api):
    api = sim_api.api
    text = get_text(api)
    # a restarted server holds the CRUSH aggregate (from its events) but no map until the collector resends
    del api.service.model.held[api.fsid]["crush_map"]
    r = api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": text})
    assert r.status_code == 503, r.json
    assert api.sender.sent == []


def test_the_text_is_parsed_without_holding_the_models_lock(sim_api, monkeypatch):
    import threading

    import calamari.domain.requests.crush_map as planning

    api = sim_api.api
    text = get_text(api)
    lock_free = []

    def parse_and_look(source):
        # from another thread: could ingest take the lock while the text is parsed?
        probe = threading.Thread(target=lambda: lock_free.append(api.service.lock.acquire(timeout=0.5)
                                                                 and (api.service.lock.release() or True)))
        probe.start()
        probe.join()
        return parse_crush_text(source)

    monkeypatch.setattr(planning, "parse_crush_text", parse_and_look)
    assert api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": text}).status_code == 202
    assert lock_free == [True]


def test_a_map_bad_on_every_line_lists_a_bounded_number_of_reasons(sim_api):
    api = sim_api.api
    text = get_text(api)
    start = text.index("# devices")
    bad = text[:start] + "device 0 osd.0\n" * 5000 + text[start:]
    r = api.call("POST", "cluster/{fsid}/crush_map", json={"crush_map": bad})
    assert r.status_code == 400
    assert 1 < len(r.json["errors"]) <= 101 and "more problems" in r.json["errors"]["more"]
