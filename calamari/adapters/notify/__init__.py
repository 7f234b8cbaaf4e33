"""Sending notifications: `webhook` (HTTP POST signed with HMAC-SHA256), `smtp` (e-mail with
STARTTLS or TLS and AUTH), `alertmanager` (Prometheus Alertmanager's v2 API), and `secrets`
(the channels' secrets, in a file of the data dir). Each sender returns what the receiver
answered, or raises DeliveryError (`permanent`: trying again will not help)."""

from __future__ import annotations


class DeliveryError(Exception):
    """A delivery failed; the message says why (never a secret). `permanent`: the receiver
    refused it in a way a retry will not change (e.g. HTTP 400)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
