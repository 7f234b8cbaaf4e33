"""An answer to `?fields=` holds only the fields asked for, and the OpenAPI document says so: it
validates against the documented response schema whichever fields are asked for."""

import schemathesis
from api_support import harness_fixture
from schemathesis.specs.openapi.checks import response_schema_conformance

api = harness_fixture(steps=("00", "01", "02", "03"), scope="module")


def _routes(api):
    """(documented path, path to call, fields known) of every GET that takes `?fields=`."""
    spec = api.call("GET", "openapi.json").json
    osd = api.call("GET", f"cluster/{api.fsid}/osd").json[0]["id"]
    pool = api.call("GET", f"cluster/{api.fsid}/pool").json[0]["id"]
    fqdn = api.call("GET", "server").json[0]["fqdn"]
    fill = {"{fsid}": api.fsid, "{osd_id}": str(osd), "{pool_id}": str(pool), "{fqdn}": fqdn}
    routes = []
    for path, ops in spec["paths"].items():
        params = {p["name"]: p for p in ops.get("get", {}).get("parameters", [])}
        if "fields" not in params or "{" in path.replace("{fsid}", "").replace("{osd_id}", "").replace(
                "{pool_id}", "").replace("{fqdn}", ""):
            continue
        concrete = path
        for name, value in fill.items():
            concrete = concrete.replace(name, value)
        known = params["fields"]["schema"]["description"].split("of: ", 1)[1].split(", ")
        routes.append((path, concrete.removeprefix("/api/v2/"), known))
    return spec, routes


def test_every_fields_answer_matches_the_documented_schema(api):
    spec, routes = _routes(api)
    assert {r[0].rsplit("/", 1)[-1] for r in routes} >= {"osd", "{osd_id}", "pool", "{pool_id}", "server"}
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {api.token('viewer')}", "Accept-Encoding": "identity"}
    checked = 0
    for path, concrete, known in routes:
        operation = schema[path]["GET"]
        # each field alone (every field is required by someone's schema), and the example
        for fields in [*known, "id,up,in"]:
            if not set(fields.split(",")) <= set(known):
                continue
            case = operation.Case(path_parameters=_path_values(path, concrete), query={"fields": fields},
                                  headers=headers)
            response = case.call(app=api.app)
            assert response.status_code == 200, (concrete, fields, response.text[:300])
            body = response.json()
            items = body["results"] if isinstance(body, dict) and "results" in body else body
            for item in items if isinstance(items, list) else [items]:
                assert set(item) == set(fields.split(",")), (concrete, fields, item)
            case.validate_response(response, checks=[response_schema_conformance])
            checked += 1
    assert checked > 30


def _path_values(path, concrete):
    names = path.strip("/").split("/")
    values = ("api/v2/" + concrete).strip("/").split("/")
    return {n[1:-1]: v for n, v in zip(names, values, strict=True) if n.startswith("{")}
