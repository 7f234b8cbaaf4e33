"""Alertmanager channels: Prometheus Alertmanager's v2 API, `POST <url>/api/v2/alerts` with a list
of one alert (labels, annotations, startsAt, endsAt), so its routing, grouping, inhibition and
silences apply. With a secret, it is sent as a bearer token (an Alertmanager behind a proxy)."""

from __future__ import annotations

from typing import Any

import orjson

from calamari.adapters.notify.webhook import ID_HEADER, post_json

API_PATH = "/api/v2/alerts"


def alerts_url(base_url: str) -> str:
    return base_url.rstrip("/") + API_PATH


def send(base_url: str, secret: str | None, notification_id: str, alert: dict[str, Any],
         ca_file: str | None = None) -> str:
    headers = {ID_HEADER: notification_id}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    return post_json(alerts_url(base_url), orjson.dumps([alert]), headers, ca_file=ca_file)
