"""JSON body validation per request through a Flask test client: a PATCH of a pool (PoolUpdate,
partial fields), valid and invalid, with our parse_body and, where they are importable,
flask-openapi3's and spectree's decorator paths configured to answer our error shape. A bare route
reading the body gives the cost of Flask and the test client alone. CPU time; prints figures and
the answers to edge cases; asserts nothing."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from calamari.api.common import ApiError, json_response, parse_body, validation_errors
from calamari.api.schemas import POOL_UPDATE_READ_ONLY, PoolUpdate

try:
    import flask_openapi3
except ImportError:  # not a dependency: compared where it is installed
    flask_openapi3 = None
try:
    import spectree
except ImportError:
    spectree = None

URL = "/api/v2/cluster/abc/pool/3"
VALID = b'{"size": 3, "min_size": 2, "pg_autoscale_mode": "on"}'
INVALID = b'{"size": 0, "hashpspool": "yes", "color": "red"}'
EDGE_CASES = {
    "no Content-Type": (VALID, None),
    "text/plain": (VALID, "text/plain"),
    "malformed JSON": (b'{"size": ', "application/json"),
    "empty body": (b"", "application/json"),
    "read-only field": (b'{"id": 4}', "application/json"),
    "JSON string": (b'"{\\"size\\": 3}"', "application/json"),
}


def ours_app() -> Flask:
    app = Flask("ours")
    app.register_error_handler(ApiError, lambda err: err.response())

    @app.patch("/api/v2/cluster/<fsid>/pool/<int:pool_id>")
    def patch(fsid: str, pool_id: int) -> Response:
        body = parse_body(PoolUpdate, read_only=POOL_UPDATE_READ_ONLY).model_dump(exclude_none=True)
        return json_response(body, 202)

    return app


def bare_app() -> Flask:
    app = Flask("bare")

    @app.patch("/api/v2/cluster/<fsid>/pool/<int:pool_id>")
    def patch(fsid: str, pool_id: int) -> Response:
        return json_response({"n": len(request.get_data())}, 202)

    return app


def our_shape(err: Any) -> Response:
    return json_response({"detail": "invalid input", "errors": validation_errors(err)}, 400)


def flask_openapi3_app() -> Flask:
    app = flask_openapi3.OpenAPI("fo3", validation_error_status=400, validation_error_callback=our_shape)

    @app.patch("/api/v2/cluster/<fsid>/pool/<int:pool_id>", responses={202: None})
    def patch(body: PoolUpdate) -> Response:
        return json_response(body.model_dump(exclude_none=True), 202)

    return app


def spectree_app() -> Flask:
    app = Flask("spectree")

    def before(req: Any, resp: Any, err: Any, instance: Any, adapter: Any = None) -> None:
        if err is not None:  # rewrite its error list into ours
            resp.set_data(json_response({"detail": "invalid input", "errors": validation_errors(err)}).get_data())

    spec = spectree.SpecTree("flask", app=app, validation_error_status=400, before=before, annotations=True)

    @app.patch("/api/v2/cluster/<fsid>/pool/<int:pool_id>")
    @spec.validate(json=PoolUpdate)
    def patch(fsid: str, pool_id: int, json: PoolUpdate) -> Response:
        return json_response(json.model_dump(exclude_none=True), 202)

    return app


def cpu_per_request(app: Flask, body: bytes, n: int, rounds: int = 3) -> tuple[float, int]:
    """The best of `rounds` runs of n requests: the machine is shared, the minimum is the least disturbed."""
    client = app.test_client()
    for _ in range(min(n, 500)):  # warm-up: first requests pay for imports and caches
        client.patch(URL, data=body, content_type="application/json")
    status, best = 0, float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(n):
            status = client.patch(URL, data=body, content_type="application/json").status_code
        best = min(best, (time.process_time() - start) / n * 1e6)
    return best, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    n = parser.parse_args().requests
    apps: dict[str, Callable[[], Flask]] = {"bare Flask (no validation)": bare_app, "ours (parse_body)": ours_app}
    if flask_openapi3 is not None:
        apps[f"flask-openapi3 {flask_openapi3.__version__}"] = flask_openapi3_app
    if spectree is not None:
        from importlib.metadata import version
        apps[f"spectree {version('spectree')}"] = spectree_app
    print(f"PATCH {URL} with PoolUpdate, {n:,} requests each, best of 3, CPU µs per request")
    for name, make in apps.items():
        app = make()
        valid_us, valid_status = cpu_per_request(app, VALID, n)
        invalid_us, invalid_status = cpu_per_request(app, INVALID, n)
        print(f"  {name:30} valid {valid_us:7.1f} µs ({valid_status})   invalid {invalid_us:7.1f} µs ({invalid_status})")
    print("edge cases (status, body):")
    for name, make in apps.items():
        if name.startswith("bare"):
            continue
        client = make().test_client()
        print(f"  {name}")
        for case, (body, content_type) in EDGE_CASES.items():
            answer = client.patch(URL, data=body, content_type=content_type)
            print(f"    {case:18} {answer.status_code} {answer.get_data(as_text=True).strip()[:110]}")


if __name__ == "__main__":
    main()
