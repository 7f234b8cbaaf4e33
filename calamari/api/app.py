"""The Flask application factory. Each resource family lives in its own blueprint module under
calamari/api/ (listed in BLUEPRINT_MODULES, each exposing `blueprint`); handlers only translate
HTTP to the services and back. Authentication is checked here, before any handler runs."""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from calamari.api import access, compression, console
from calamari.api.common import ApiError, json_response, not_stored_response
from calamari.domain.event_feed import EventFeed
from calamari.domain.requests import RequestRejected
from calamari.service.auth import AuthService
from calamari.service.model import NotPersisted
from calamari.service.requests import RequestExecutor

__all__ = ["BLUEPRINT_MODULES", "Services", "create_app", "json_response"]

log = logging.getLogger(__name__)

# Modules with a `blueprint` to register; other parts append theirs (e.g. "calamari.api.graphite").
BLUEPRINT_MODULES: list[str] = [
    "calamari.api.auth",
    "calamari.api.info",  # /api/v2/info
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
    "calamari.api.prometheus",  # /metrics
    "calamari.api.stats",  # /api/v2/cluster/<fsid>/…/stats
    "calamari.api.history",  # /api/v2/cluster/<fsid>/history
    "calamari.api.keys",  # /api/v2/key: collector keys
    "calamari.api.stream",  # /api/v2/stream: committed events pushed as Server-Sent Events
]


class Services:
    """What the handlers use: the model service, users, the request executor, the event feed."""

    def __init__(self, service: Any, auth: AuthService | None = None, executor: RequestExecutor | None = None,
                 feed: EventFeed | None = None, load_feed_events: int = 200_000) -> None:
        self.service = service
        self.auth = auth or AuthService(service)
        self.executor = executor or getattr(service, "executor", None) or RequestExecutor(service)
        service.executor = self.executor
        self.feed_history_told = threading.Event()  # set once the feed has told the stored past
        if feed is None:
            feed = EventFeed()
            _attach_feed(feed, service, load_feed_events, self.feed_history_told)
        else:
            self.feed_history_told.set()
        self.feed = feed


def _attach_feed(feed: EventFeed, service: Any, newest: int, told: threading.Event) -> None:
    """Follow live commits from now on, and tell the newest stored events (what happened before)
    from a background thread, so that a restart does not wait for them. The live feed starts
    under the service lock with the writer drained, so no event is told twice or missed."""
    with service.lock:
        service.writer.flush(service.config.durable_timeout)
        end = service.store.max_position()
        feed.next_id = end + 1  # older entries are numbered by their store positions
        service.listeners.append(feed.add)

    def tell_older() -> None:
        try:
            feed.add_older(list(service.store.read(after=max(0, end - newest), until=end)), service.model)
        except Exception:  # the feed is a convenience; the store stays the record
            if getattr(service, "closed", False):
                return  # shut down while reading: nothing is lost, the feed goes with the process
            logging.getLogger(__name__).exception("could not read the event feed's history")
        finally:
            told.set()

    threading.Thread(target=tell_older, name="event-feed-history", daemon=True).start()


def create_app(service: Any, services: Services | None = None, **options: Any) -> Flask:
    """`service` is the ModelService; `services` (built if not given) adds users, requests, events."""
    app = Flask("calamari", static_folder=None)  # no files to serve
    app.config["SERVICE"] = service
    app.config["CALAMARI"] = services = services or Services(
        service, auth=AuthService(service, policy=options.get("AUTH_POLICY")))
    app.config.update(options)
    bus = options.get("BUS")
    if bus is not None and services.executor.send is None:
        # commands of user requests go to the collectors over the bus; resume unfinished ones
        services.executor.send = bus.send_command
        services.executor.start()
    if bus is not None and services.executor.send_to_host is None:
        services.executor.send_to_host = bus.send_host_command  # the servers' log routes

    console.install(app, options.get("CONSOLE_DIR"))  # the web console's files at /, in front of the API
    access.install(app)  # authentication, roles per route, security headers, size limit
    compression.install(app)  # gzip when the client accepts it

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
    return app
