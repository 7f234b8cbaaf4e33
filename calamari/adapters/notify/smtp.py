"""E-mail channels: SMTP with STARTTLS (or TLS from the start, or neither) and AUTH, through the
standard library's smtplib. The server's certificate is checked against the system's CAs, or the
channel's `ca_file`. A notification's id is its Message-ID (and X-Calamari-Notification-Id), so a
message sent again after a crash can be recognised. 5xx answers are permanent failures."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from calamari.adapters.notify import DeliveryError

TIMEOUT_S = 20.0


def build_message(settings: dict[str, Any], notification_id: str, subject: str, text: str,
                  sent_at_unix: float) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings["from_address"]
    message["To"] = ", ".join(settings["to"])
    message["Subject"] = subject
    message["Date"] = formatdate(sent_at_unix, usegmt=True)
    message["Message-ID"] = f"<{notification_id}@calamari>"
    message["X-Calamari-Notification-Id"] = notification_id
    message.set_content(text)
    return message


def _tls_context(settings: dict[str, Any]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.get("ca_file"))


def send(settings: dict[str, Any], password: str | None, message: EmailMessage) -> str:
    """Send `message` through the channel's SMTP server; what it answered, else DeliveryError."""
    host, port, security = settings["host"], settings["port"], settings["security"]
    try:
        context = _tls_context(settings) if security != "none" else None
        if security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_S, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=TIMEOUT_S)
        with client:
            client.ehlo()
            if security == "starttls":
                if not client.has_extn("starttls"):
                    raise DeliveryError(f"{host}:{port} does not offer STARTTLS")
                client.starttls(context=context)
                client.ehlo()
            if settings.get("username"):
                client.login(settings["username"], password or "")
            refused = client.send_message(message)
        if refused:
            return f"accepted, but refused for {', '.join(sorted(refused))}"
        return "250 accepted"
    except DeliveryError:
        raise
    except smtplib.SMTPRecipientsRefused as err:
        raise DeliveryError(f"{host}:{port} refused every recipient: {', '.join(sorted(err.recipients))}",
                            permanent=True) from None
    except smtplib.SMTPResponseException as err:
        reply = err.smtp_error.decode(errors="replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
        raise DeliveryError(f"{host}:{port} answered {err.smtp_code} {reply}", permanent=err.smtp_code >= 500) \
            from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as err:
        raise DeliveryError(f"{host}:{port}: {type(err).__name__}: {err}") from None
