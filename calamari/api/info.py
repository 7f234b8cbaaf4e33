"""/api/v2/info: this Calamari server's version and host names."""

from __future__ import annotations

import socket

from flask import Blueprint, Response, current_app

from calamari import __version__
from calamari.api.common import doc, json_response
from calamari.api.high_availability import role_status

blueprint = Blueprint("info", __name__, url_prefix="/api/v2")


@blueprint.get("/info")
@doc("Server version and host, and its role among servers sharing one store (single, active, standby)",
     response={"type": "object", "properties": {"version": {"type": "string"}, "role": {"type": "string"},
                                                "high_availability": {"type": "object"}}},
     errors=(401,))
def info() -> Response:
    # the host's names from the same reader as /grains (a loopback fqdn is no name), where given
    read_grains = current_app.config.get("SERVER_GRAINS")
    grains = read_grains() if read_grains is not None else {}
    fqdn = grains.get("fqdn") or socket.getfqdn()
    try:
        ipaddr = socket.gethostbyname(socket.gethostname())
    except OSError:
        ipaddr = None
    status = role_status(current_app)
    return json_response({"version": __version__, "license": "LGPL-2.1", "registered": "calamari",
                          "role": status["role"], "high_availability": status,
                          "hostname": socket.gethostname(), "fqdn": fqdn, "ipaddr": ipaddr,
                          "bootstrap_url": None, "bootstrap_ubuntu": None, "bootstrap_rhel": None})
