"""The `next`/`previous` links of paged lists (events, requests) are URLs a client can follow as
given: query values encoded (a `since` with `+00:00`, as the API writes times), other arguments
kept, page and page_size once."""

from urllib.parse import parse_qs, urlsplit

from api_support import harness_fixture

api = harness_fixture(steps=("00", "01", "02", "03"))


def test_following_next_and_previous_with_a_utc_offset_since(api):
    first = api.call("GET", "event?since=2000-01-01T00:00:00%2B00:00&severity=INFO&page_size=2")
    assert first.status_code == 200 and first.json["count"] > 4
    link = urlsplit(first.json["next"])
    assert parse_qs(link.query) == {"since": ["2000-01-01T00:00:00+00:00"], "severity": ["INFO"],
                                    "page_size": ["2"], "page": ["2"]}
    second = api.call("GET", f"{link.path}?{link.query}")
    assert second.status_code == 200, second.json
    assert second.json["results"] and second.json["results"][0] != first.json["results"][0]
    back = urlsplit(second.json["previous"])
    assert api.call("GET", f"{back.path}?{back.query}").json["results"] == first.json["results"]


def test_a_repeated_page_argument_appears_once_in_the_links(api):
    r = api.call("GET", "event?page=1&page=1&page_size=1")
    assert parse_qs(urlsplit(r.json["next"]).query) == {"page": ["2"], "page_size": ["1"]}
