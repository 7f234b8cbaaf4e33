"""What users of the PostgreSQL event store need without loading its driver (psycopg and the
eventsourcing library's PostgreSQL module cost a tenth of a second at every start of a server
that stores in SQLite): the URL schemes, calamari's own SQLSTATEs, and URLs with the password
masked. calamari/adapters/postgres_store.py re-exports them."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
# The SQLSTATE the check raises when the lease is not held (an unused class, "CA", for calamari).
LEASE_LOST_SQLSTATE = "CA001"
# ... and the one raised for a process that writes without a lease (calamari-ctl) while a server is active
SERVER_ACTIVE_SQLSTATE = "CA002"


def mask_password(url: str) -> str:
    """The URL with its password replaced by ***, for logs and messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
