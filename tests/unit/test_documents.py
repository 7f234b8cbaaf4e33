"""The documents of a cluster are shaped once (calamari.domain.documents): the history of the
newest state, which `calamari-ctl history` prints, shows what the live routes answer."""

import orjson
import pytest
from api_support import Harness

from calamari.domain.documents import with_live_fields
from calamari.service.history import History

# Fields only the live routes have: the collector's contact, kept in memory, not in events.
LIVE_ONLY = ("last_contact", "age_s")


@pytest.mark.parametrize("steps", [("00", "01", "02"), ("00", "01", "02", "03", "04", "05", "06")])
def test_the_newest_past_state_is_what_the_live_routes_answer(tmp_path, capture_dir, steps):
    api = Harness(str(tmp_path), capture_dir, steps=steps)
    try:
        api.service.writer.flush(30)
        history = History(api.service.store, api.service.config.snapshot_dir)
        past = orjson.loads(orjson.dumps(history.state(api.fsid, str(history.end()), with_live_fields)))
        live = {name: api.call("GET", f"cluster/{{fsid}}/{name}").json for name in ("osd", "pool", "server")}
        cluster = api.call("GET", "cluster/{fsid}").json
    finally:
        api.close()
    assert past["osd"] == live["osd"] and len(live["osd"]) >= 3
    assert any(osd["pools"] for osd in live["osd"])  # the joined fields are there, not only the rows
    assert past["pool"] == live["pool"]
    assert past["server"] == live["server"]
    assert past["cluster"] == {k: v for k, v in cluster.items() if k not in LIVE_ONLY}
