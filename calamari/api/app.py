"""The Flask application factory. Each resource family lives in its own blueprint module under
calamari/api/ (listed in BLUEPRINT_MODULES, each exposing `blueprint`); handlers only translate
HTTP to the services and back. Authentication is checked here, before any handler runs."""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from calamari.api import access, compression, console, high_availability, maps_coming
from calamari.api.answers import AnswerCache
from calamari.api.common import ApiError, json_response, not_stored_response
from calamari.domain.event_feed import EventFeed
from calamari.domain.requests import RequestRejected
from calamari.service.auth import AuthService
from calamari.service.model import NotPersisted
from calamari.service.requests import RequestExecutor
from calamari.service.stream_hub import StreamHub

__all__ = ["BLUEPRINT_MODULES", "Services", "create_app", "json_response"]

log = logging.getLogger(__name__)

# Modules with a `blueprint` to register; other parts append theirs (e.g. "calamari.api.graphite").
BLUEPRINT_MODULES: list[str] = [
    "calamari.api.auth",
    "calamari.api.info",  # /api/v2/info
    "calamari.api.high_availability",  # /api/v2/health/active: 200 on the server that accepts changes
    "calamari.api.clusters",  # /api/v2/cluster[/<fsid>]; the next ones are /api/v2/cluster/<fsid>/…
    "calamari.api.monitors",
    "calamari.api.crush_rules",
    "calamari.api.crush_nodes",
    "calamari.api.crush_types",
    "calamari.api.crush_map",
    "calamari.api.cluster_config",
    "calamari.api.sync_objects",
    "calamari.api.cluster_log",
    "calamari.api.osd_flags",
    "calamari.api.cli",
    "calamari.api.osds",
    "calamari.api.pools",
    "calamari.api.servers",
    "calamari.api.requests",
    "calamari.api.events",
    "calamari.api.openapi",
    "calamari.api.graphite",  # /graphite/*: render, metrics/find, functions
    "calamari.api.graphite_console",  # /api/v2/graphite/render: the same, where the console's cookie goes
    "calamari.api.prometheus",  # /metrics
    "calamari.api.stats",  # /api/v2/cluster/<fsid>/…/stats
    "calamari.api.history",  # /api/v2/cluster/<fsid>/history
    "calamari.api.keys",  # /api/v2/key: collector keys
    "calamari.api.stream",  # /api/v2/stream: committed events pushed as Server-Sent Events
    "calamari.api.notifications",  # /api/v2/notification_channel, /api/v2/notification: the outbox
    "calamari.api.alerts",  # /api/v2/alert, /api/v2/silence, /api/v2/alert-rule
]


@dataclass
class Services:
    """What the handlers use, built by the composition root (calamari/bootstrap.py): the model
    service, users, the request executor, the event feed and the push stream's hub."""

    service: Any
    auth: AuthService
    executor: RequestExecutor
    feed: EventFeed
    feed_history_told: threading.Event  # set once the feed has told the stored past
    stream_hub: StreamHub
    notifier: Any = None  # calamari.service.notifier.Notifier: channels and the outbox
    alerting: Any = None  # calamari.service.alerting.AlertingService
    stored_past: Any = None  # calamari.service.stored_past.StoredPast: the feed's and alerting's start-up read


def create_app(services: Services, **options: Any) -> Flask:
    """The API over `services`; `options` are app settings (COLLECTOR_KEYS, TIMESERIES, the
    security settings of docs/security.md, …)."""
    app = Flask("calamari", static_folder=None)  # no files to serve
    app.config["SERVICE"] = services.service
    app.config["CALAMARI"] = services
    app.config["STREAM_HUB"] = services.stream_hub
    app.config.update(options)

    console.install(app, options.get("CONSOLE_DIR"))  # the web console's files at /, in front of the API
    access.install(app)  # authentication, roles per route, security headers, size limit
    high_availability.install(app)  # a standby refuses changes, naming the active server
    compression.install(app)  # gzip when the client accepts it
    maps_coming.install(app)  # a read of a cluster waits for the maps ceph-mgr announced

    @app.errorhandler(ApiError)
    def api_error(err: ApiError) -> Response:
        return err.response()

    @app.errorhandler(RequestRejected)
    def rejected(err: RequestRejected) -> Response:
        return ApiError.from_rejected(err).response()

    @app.errorhandler(NotPersisted)
    def not_stored(err: NotPersisted) -> Response:
        return not_stored_response(err)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        response = json_response({"detail": err.description or err.name}, err.code or 500)
        if err.code == 405 and hasattr(err, "valid_methods") and err.valid_methods:
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response({"detail": "internal error; the server log has the details"}, 500)

    for name in BLUEPRINT_MODULES:
        app.register_blueprint(importlib.import_module(name).blueprint)
    lock = getattr(services.service, "lock", None)
    if hasattr(lock, "changes"):  # the model's ChangeLock: kept answers are valid while its count stays
        coming = getattr(services.service, "maps_coming", None)
        AnswerCache(app, lambda: lock.changes, held=coming.pending if coming is not None else None).install()
    return app
