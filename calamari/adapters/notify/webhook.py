"""Webhook channels: the notification as JSON, POSTed to the channel's URL.

Headers (docs/notifications.md tells a receiver how to check them):
- `X-Calamari-Notification-Id` and `Idempotency-Key`: the notification's id. A delivery whose
  answer was not recorded before a crash is sent again with the same id: drop repeats of an id.
- `X-Calamari-Timestamp`: when it was sent (Unix seconds).
- `X-Calamari-Signature: sha256=<hex>`: with a secret set, HMAC-SHA256 keyed with the secret over
  `<timestamp>.` followed by the body's bytes, so a receiver can check the sender and reject
  replays of old messages.

A 2xx answer is a delivery. Redirects are not followed (a POST would turn into a GET). 4xx
answers other than 408 and 429 are permanent failures; the rest are retried."""

from __future__ import annotations

import hashlib
import hmac
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import orjson

from calamari import __version__
from calamari.adapters.notify import DeliveryError

TIMEOUT_S = 10.0
RETRIED_4XX = (408, 425, 429)
SIGNATURE_HEADER = "X-Calamari-Signature"
TIMESTAMP_HEADER = "X-Calamari-Timestamp"
ID_HEADER = "X-Calamari-Notification-Id"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The value of X-Calamari-Signature for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx then ends as an HTTPError


def _opener(ca_file: str | None) -> urllib.request.OpenerDirector:
    """No redirects; https checked against the system's CAs, or those of `ca_file`."""
    handlers: list[Any] = [_NoRedirects]
    if ca_file is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_file)))
    return urllib.request.build_opener(*handlers)


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_S,
              ca_file: str | None = None) -> str:
    """POST `body` as JSON; what a 2xx answer said ("HTTP 200"), else DeliveryError."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": f"calamari/{__version__}", **headers})
    try:
        with _opener(ca_file).open(request, timeout=timeout) as answer:
            answer.read(64 * 1024)
            return f"HTTP {answer.status}"
    except urllib.error.HTTPError as err:
        permanent = 400 <= err.code < 500 and err.code not in RETRIED_4XX
        raise DeliveryError(f"HTTP {err.code} {err.reason}", permanent) from None
    except urllib.error.URLError as err:
        raise DeliveryError(f"cannot reach {_origin(url)}: {err.reason}") from None
    except (OSError, ValueError) as err:  # timeouts, resets, a malformed answer
        raise DeliveryError(f"{_origin(url)}: {type(err).__name__}: {err}") from None


def _origin(url: str) -> str:
    """Scheme, host and port only: a path or query may carry the receiver's token (as Slack's
    webhook URLs do), and errors go to events, the log and the event feed."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def send(url: str, secret: str | None, notification_id: str, message: dict[str, Any], sent_at_unix: float,
         ca_file: str | None = None) -> str:
    """POST the webhook body `message`, signed when the channel has a secret."""
    body = orjson.dumps(message)
    timestamp = str(int(sent_at_unix))
    headers = {ID_HEADER: notification_id, "Idempotency-Key": notification_id, TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return post_json(url, body, headers, ca_file=ca_file)
