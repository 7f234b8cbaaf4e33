"""Numbers in query strings that str.isdigit() accepts but int() refuses (superscripts, more digits
than Python converts) and times too far out to answer: each is a 400 naming the parameter, never
a 500."""

import pytest
from api_support import harness_fixture

HUGE = "1" * 5000  # more digits than int() converts
SUPERSCRIPT = "\u00b2"  # '²': isdigit() but not a number to int()
FAR = "-99999999999999999999y"  # a time beyond any 64-bit number of seconds


api = harness_fixture(scope="module", timeseries=True)


@pytest.mark.parametrize("query", [
    "history?from=0&limit={}",
    "stats?max_points={}",
    "stats?from={}",
    "stats?until={}",
    "pool/stats?from={}",
    "/graphite/render?target=servers.*&maxDataPoints={}",
    "/graphite/render?target=servers.*&from={}",
    "/graphite/render?target=scale(servers.*,{})",
])
@pytest.mark.parametrize("value", [HUGE, SUPERSCRIPT, FAR, f"now{FAR}"])
def test_malformed_numbers_are_a_bad_request(api, query, value):
    path = query.format(value)
    url = path if path.startswith("/") else f"/api/v2/cluster/{api.fsid}/{path}"
    r = api.client.get(url, headers={"Authorization": f"Bearer {api.token()}"})
    assert r.status_code == 400, r.data[:300]
