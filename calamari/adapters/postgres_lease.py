"""The active server's lease in PostgreSQL, for several calamari-server processes on one event
store (docs/high-availability.md): one row beside the events table, `<table>_lease`, holding who
is active, the address it serves the API on, an epoch (the fencing token) and when it expires.

All times are the database's (`clock_timestamp()`), so the servers' clocks never have to agree.
Taking the lease bumps the epoch; every append checks, in its own transaction, that the epoch it
was given is still the live one (`<table>_check_lease`, with the lease row locked FOR SHARE, so a
take-over waits for an append under way and every append after it is refused). A server whose
lease expired while nobody else took it renews under a new epoch: nobody wrote in between."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.sql import SQL, Composed, Identifier, Literal

from calamari.adapters.postgres_store import LEASE_NAME, lease_setup_statements, lease_table, parse_postgres_url


class LeaseError(RuntimeError):
    """The lease table could not be read or written (the database is unreachable)."""


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    address: str
    epoch: int
    live: bool  # not expired (by the database's clock)


class PostgresLease:
    """Take, renew, release and read the lease, on a connection of its own (never the event
    store's pool, so that a busy writer cannot delay a renewal)."""

    def __init__(self, url: str, holder: str, address: str, ttl_s: float) -> None:
        if not holder:
            raise ValueError("a lease holder needs a name")
        if not 1.0 <= ttl_s <= 600.0:
            raise ValueError("the lease time must be between 1 and 600 seconds")
        self.target = parse_postgres_url(url)
        self.holder = holder
        self.address = address
        self.ttl_s = ttl_s
        self.epoch: int | None = None  # the epoch held, None when not active
        # monotonic time until which the lease is certainly still ours: counted from before the
        # statement that set the expiry, so it ends no later than the database's expiry
        self.valid_until = 0.0
        self._conn: psycopg.Connection[Any] | None = None
        self._listening = False  # LISTEN on the events table's channel on the current connection
        self._table = SQL("{}.{}").format(Identifier(self.target.schema),
                                          Identifier(lease_table(self.target.table)))

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            t = self.target
            try:
                self._conn = psycopg.connect(host=t.host, port=t.port, user=t.user, password=t.password,
                                             dbname=t.dbname, connect_timeout=max(1, round(min(t.connect_timeout,
                                                                                               self.ttl_s))),
                                             autocommit=True)
            except psycopg.Error as err:
                raise LeaseError(f"cannot reach PostgreSQL {t.where} for the lease: "
                                 f"{type(err).__name__}") from None
            self._listening = False
            # a statement must not outlive the lease it is about
            self._conn.execute(SQL("SET statement_timeout = {}").format(Literal(int(self.ttl_s * 1000))))
        return self._conn

    def _execute(self, statement: Composed, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self._connection().execute(statement, params or None)
            return cursor.fetchall() if cursor.description else []
        except psycopg.Error as err:
            self.close()
            raise LeaseError(f"lease statement failed: {' '.join(str(err).split())}") from None

    def setup(self) -> None:
        for statement in lease_setup_statements(self.target.schema, self.target.table):
            for attempt in range(3):
                try:
                    self._execute(statement)
                    break
                except LeaseError:
                    # two servers creating the table or function at once: one of them fails
                    if attempt == 2:
                        raise
                    time.sleep(0.2)

    def read(self) -> LeaseHolder:
        rows = self._execute(SQL("SELECT holder, address, epoch, expires_at > clock_timestamp() FROM {} "
                                 "WHERE name = %s").format(self._table), (LEASE_NAME,))
        if not rows:
            return LeaseHolder("", "", 0, False)
        holder, address, epoch, live = rows[0]
        return LeaseHolder(holder, address, int(epoch), bool(live))

    def try_acquire(self) -> int | None:
        """Take the lease if it has expired (or is this holder's own, from before a restart): the
        new epoch, or None while another server holds it."""
        started = time.monotonic()
        rows = self._execute(SQL("UPDATE {} SET holder = %s, address = %s, epoch = epoch + 1, "
                                 "expires_at = clock_timestamp() + %s * interval '1 second' "
                                 "WHERE name = %s AND (expires_at <= clock_timestamp() OR holder = %s) "
                                 "RETURNING epoch").format(self._table),
                             (self.holder, self.address, self.ttl_s, LEASE_NAME, self.holder))
        if not rows:
            return None
        self.epoch = int(rows[0][0])
        self.valid_until = started + self.ttl_s
        return self.epoch

    def renew(self) -> bool:
        """Extend the lease held. If it expired and nobody took it (the epoch is still ours, so
        nobody wrote since), it is renewed under the next epoch. False: it was lost."""
        if self.epoch is None:
            return False
        started = time.monotonic()
        rows = self._execute(SQL("UPDATE {} SET expires_at = clock_timestamp() + %s * interval '1 second', "
                                 "epoch = CASE WHEN expires_at > clock_timestamp() THEN epoch ELSE epoch + 1 END "
                                 "WHERE name = %s AND holder = %s AND epoch = %s RETURNING epoch"
                                 ).format(self._table), (self.ttl_s, LEASE_NAME, self.holder, self.epoch))
        if not rows:
            self.epoch = None
            self.valid_until = 0.0
            return False
        self.epoch = int(rows[0][0])
        self.valid_until = started + self.ttl_s
        return True

    def wait_for_appends(self, timeout: float) -> bool:
        """Wait at most `timeout` s for an append to be committed (the library's recorder sends a
        NOTIFY on the events table's channel in every inserting transaction): True when one was.
        A standby follows the store at once instead of at its next poll."""
        try:
            conn = self._connection()
            if not self._listening:
                conn.execute(SQL("LISTEN {}").format(Identifier(self.target.table)))
                self._listening = True
            return bool(list(conn.notifies(timeout=timeout, stop_after=1)))
        except psycopg.Error as err:
            self.close()
            raise LeaseError(f"waiting for appends failed: {' '.join(str(err).split())}") from None

    def held_locally(self) -> bool:
        """Whether the lease is certainly still ours now, without asking the database (a
        process that was paused longer than the lease time is told so by its own clock)."""
        return self.epoch is not None and time.monotonic() < self.valid_until

    def release(self) -> None:
        """Give the lease up at a clean stop, so that a standby takes over at once."""
        if self.epoch is None:
            return
        try:
            self._execute(SQL("UPDATE {} SET expires_at = '-infinity' WHERE name = %s AND holder = %s AND epoch = %s"
                              ).format(self._table), (LEASE_NAME, self.holder, self.epoch))
        finally:
            self.epoch = None
            self.valid_until = 0.0

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
