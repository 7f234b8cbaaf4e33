"""The Flask application factory. Each resource family lives in its own blueprint module under
calamari/api/ and is registered here; handlers only translate HTTP to the service and back."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Flask, Response

from calamari import __version__


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status=status,
                    mimetype="application/json")


def create_app(service: Any, **options: Any) -> Flask:
    app = Flask("calamari")
    app.config["SERVICE"] = service
    app.config.update(options)

    @app.get("/api/v2/info")
    def info() -> Response:
        import socket

        return json_response({"version": __version__, "hostname": socket.gethostname(),
                              "fqdn": socket.getfqdn()})

    @app.get("/api/v2/cluster")
    def clusters() -> Response:
        view = service.view
        return json_response([{"id": c["id"], "name": c["name"], "update_time": c["update_time"]}
                              for c in view.clusters.values()])

    @app.get("/api/v2/cluster/<fsid>/osd")
    def osds(fsid: str) -> Response:
        rows = service.view.osds.get(fsid)
        if rows is None:
            return json_response({"detail": f"no cluster {fsid}"}, 404)
        return json_response(list(rows.values()))

    return app
