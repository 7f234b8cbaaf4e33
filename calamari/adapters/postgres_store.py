"""The PostgreSQL side of the event store: URL parsing, opening the eventsourcing library's
PostgreSQL application recorder, and inserting events under given positions (for imports).

Positions are the table's `notification_id` (a bigserial). The library takes an EXCLUSIVE lock on
the table in every inserting transaction, so ids are handed out in commit order: a reader that
has seen position N will never later find a new event below N. A transaction that fails after
drawing ids leaves a gap (sequences are not transactional): positions are strictly increasing
but, unlike SQLite, not always consecutive."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier, Literal

from calamari.adapters.postgres_names import LEASE_LOST_SQLSTATE, SCHEMES, SERVER_ACTIVE_SQLSTATE, mask_password

DEFAULT_TABLE = "calamari_events"
DEFAULT_POOL_SIZE = 4
DEFAULT_CONNECT_TIMEOUT = 10.0
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_OPTIONS = ("table", "schema", "pool_size", "connect_timeout", "host")
# A transaction of ours never waits on its client: one that does belongs to a process that was
# paused or hung mid-append, and must not keep the table and lease locks from the next active server.
IDLE_IN_TRANSACTION_S = 2.0


LEASE_NAME = "active"


def lease_table(events_table: str) -> str:
    return f"{events_table}_lease"


def check_function(events_table: str) -> str:
    return f"{events_table}_check_lease"


def offline_check_function(events_table: str) -> str:
    return f"{events_table}_check_no_lease"


def lease_setup_statements(schema: str, events_table: str) -> list[Composed]:
    """The lease table, its one row and the check appends call (idempotent)."""
    table = SQL("{}.{}").format(Identifier(schema), Identifier(lease_table(events_table)))
    function = SQL("{}.{}").format(Identifier(schema), Identifier(check_function(events_table)))
    return [
        SQL("CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, holder text NOT NULL, address text NOT NULL, "
            "epoch bigint NOT NULL, expires_at timestamptz NOT NULL)").format(table),
        SQL("INSERT INTO {} VALUES ({}, '', '', 0, '-infinity') ON CONFLICT DO NOTHING").format(
            table, Literal(LEASE_NAME)),
        SQL("CREATE OR REPLACE FUNCTION {function}(p_holder text, p_epoch bigint) RETURNS void AS $$ "
            "BEGIN "
            "PERFORM 1 FROM {table} WHERE name = {name} AND holder = p_holder AND epoch = p_epoch "
            "AND expires_at > clock_timestamp() FOR SHARE; "
            "IF NOT FOUND THEN RAISE EXCEPTION 'the active lease (epoch %) is not held by %: append refused', "
            "p_epoch, p_holder USING ERRCODE = {code}; END IF; "
            "END $$ LANGUAGE plpgsql").format(function=function, table=table, name=Literal(LEASE_NAME),
                                              code=Literal(LEASE_LOST_SQLSTATE)),
        SQL("CREATE OR REPLACE FUNCTION {function}() RETURNS void AS $$ "
            "BEGIN "
            "PERFORM 1 FROM {table} WHERE name = {name} AND expires_at > clock_timestamp() FOR SHARE; "
            "IF FOUND THEN RAISE EXCEPTION 'a calamari-server is active on this event store: append refused' "
            "USING ERRCODE = {code}; END IF; "
            "END $$ LANGUAGE plpgsql").format(
                function=SQL("{}.{}").format(Identifier(schema), Identifier(offline_check_function(events_table))),
                table=table, name=Literal(LEASE_NAME), code=Literal(SERVER_ACTIVE_SQLSTATE)),
    ]


class FencedPostgresRecorder(PostgresApplicationRecorder):
    """The library's recorder, whose appends can be fenced by the active server's lease
    (adapters/postgres_lease.py): once `lease_holder` is set, every inserting transaction first
    calls the lease check with this server's epoch (-1 while it holds none), in the same
    transaction and before the table lock, so an append by a server that is not the active one
    fails and stores nothing. Without a holder (calamari-ctl writing directly) an append is
    refused while any server holds the lease: the change must go through that server."""

    lease_holder: str | None = None  # set when several servers share the store
    lease_epoch: int | None = None  # the epoch held, None on a standby

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        check_lease(self, curs)
        super()._insert_events(curs, stored_events, **kwargs)


def check_lease(recorder: PostgresApplicationRecorder, cursor: Any) -> None:
    """In an inserting transaction: the lease check of `recorder`'s holder, or for a process
    without one, that no server holds the lease."""
    schema, table = Identifier(recorder.datastore.schema), recorder.events_table_name
    holder = getattr(recorder, "lease_holder", None)
    if holder is None:
        cursor.execute(SQL("SELECT {}.{}()").format(schema, Identifier(offline_check_function(table))))
        return
    epoch = getattr(recorder, "lease_epoch", None)
    cursor.execute(SQL("SELECT {}.{}(%s, %s)").format(schema, Identifier(check_function(table))),
                   (holder, -1 if epoch is None else epoch))


class PostgresUrlError(ValueError):
    pass


class PostgresUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class PostgresUrl:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    table: str = DEFAULT_TABLE
    schema: str = "public"
    pool_size: int | None = None  # None: what the caller asks for
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    @property
    def where(self) -> str:
        """Server, database and table, without credentials."""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname} table {self.schema}.{self.table}"


def parse_postgres_url(url: str) -> PostgresUrl:
    """`postgresql://USER[:PASS]@HOST[:PORT]/DBNAME[?table=T&schema=S&pool_size=N&connect_timeout=S]`;
    `host=/socket/dir` in the query selects a Unix socket. Messages never contain the password."""
    shown = mask_password(url)
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError as err:
        raise PostgresUrlError(f"malformed event store URL {shown!r}: {err}") from None
    if parts.scheme not in SCHEMES:
        raise PostgresUrlError(f"{shown!r} is not a postgresql:// URL")
    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _OPTIONS:
            raise PostgresUrlError(f"unknown option {key!r} in {shown!r} (known: {', '.join(_OPTIONS)})")
        options[key] = value
    host = options.get("host") or unquote(parts.hostname or "")
    user = unquote(parts.username or "")
    dbname = unquote(parts.path.lstrip("/"))
    missing = [what for what, value in (("host", host), ("user", user), ("database name", dbname)) if not value]
    if missing:
        raise PostgresUrlError(f"event store URL {shown!r} lacks the {', '.join(missing)} "
                               "(postgresql://USER:PASS@HOST:PORT/DBNAME)")
    table, schema = options.get("table", DEFAULT_TABLE), options.get("schema", "public")
    for what, name in (("table", table), ("schema", schema)):
        # the library appends "_notification_id_idx" to the table name for its index
        limit = 63 - len("_notification_id_idx") if what == "table" else 63
        if not _IDENTIFIER.match(name) or len(name) > limit:
            raise PostgresUrlError(f"{what} {name!r} in {shown!r} must be letters, digits and _ "
                                   f"(at most {limit}), not starting with a digit")
    try:
        pool_size = int(options["pool_size"]) if "pool_size" in options else None
        connect_timeout = float(options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
    except ValueError:
        raise PostgresUrlError(f"pool_size and connect_timeout in {shown!r} must be numbers") from None
    if (pool_size is not None and pool_size < 1) or not 0 < connect_timeout <= 600:
        raise PostgresUrlError(f"pool_size must be at least 1 and connect_timeout in (0, 600] in {shown!r}")
    return PostgresUrl(host=host, port=port, user=user, password=unquote(parts.password or ""), dbname=dbname,
                       table=table, schema=schema, pool_size=pool_size, connect_timeout=connect_timeout)


def _without_password(message: str, password: str) -> str:
    return message.replace(password, "***") if password else message


def open_postgres_recorder(url: str, pool_size: int | None = None) -> FencedPostgresRecorder:
    """Connect, create the table if needed, and return the recorder. The pool keeps two connections
    and grows to `pool_size` (the URL's pool_size wins): size it for the threads that read and
    write at once."""
    target = parse_postgres_url(url)
    size = max(2, target.pool_size or pool_size or DEFAULT_POOL_SIZE)
    # One plain connection first: the pool would only say "couldn't get a connection", this one
    # says why (refused, unknown host, bad password, no such database).
    try:
        psycopg.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                        dbname=target.dbname, connect_timeout=max(1, round(target.connect_timeout))).close()
    except psycopg.Error as err:
        reason = " ".join(str(err).split())
        raise PostgresUnavailable(f"cannot connect to PostgreSQL {target.where}: "
                                  f"{_without_password(reason, target.password)}") from None
    datastore = PostgresDatastore(target.dbname, target.host, target.port, target.user, target.password,
                                  connect_timeout=target.connect_timeout, pool_size=2, max_overflow=size - 2,
                                  schema=target.schema,
                                  idle_in_transaction_session_timeout=IDLE_IN_TRANSACTION_S)
    # No pool_open_timeout: with it the library waits for a full pool on every checkout, which
    # blocks while other threads hold connections and races between threads.
    try:
        recorder = FencedPostgresRecorder(datastore, events_table_name=target.table)
        recorder.create_table()
        for statement in lease_setup_statements(target.schema, target.table):
            _execute_retrying(recorder, statement)
    except (PersistenceError, psycopg.Error) as err:
        datastore.close()
        reason = " ".join(str(err).split())
        raise PostgresUnavailable(f"cannot use PostgreSQL {target.where}: "
                                  f"{_without_password(reason, target.password)}") from None
    return recorder


def _execute_retrying(recorder: PostgresApplicationRecorder, statement: Any) -> None:
    """A setup statement; servers starting at once may collide on it ("tuple concurrently
    updated"), so it is tried again."""
    for attempt in range(3):
        try:
            with recorder.datastore.transaction(commit=True) as cursor:
                cursor.execute(statement)
            return
        except (PersistenceError, psycopg.Error):
            if attempt == 2:
                raise
            time.sleep(0.2)


class PositionsTaken(RuntimeError):
    pass


def insert_at_positions(recorder: PostgresApplicationRecorder, stored: Sequence[StoredEvent],
                        positions: Sequence[int]) -> None:
    """Insert events under the given (increasing) positions in one transaction, refusing if the
    table already reaches the first of them; the id sequence then continues after the last."""
    schema = Identifier(recorder.datastore.schema)
    table = Identifier(recorder.events_table_name)
    columns: list[list[Any]] = [[s.originator_id for s in stored], [s.originator_version for s in stored],
                                [s.topic for s in stored], [s.state for s in stored], list(positions)]
    with recorder.datastore.transaction(commit=True) as cursor:
        # the same lock the library's inserts take: no append can interleave with this batch
        check_lease(recorder, cursor)
        cursor.execute(SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(schema, table))
        cursor.execute(SQL("SELECT COALESCE(MAX(notification_id), 0) AS max FROM {}.{}").format(schema, table))
        row = cursor.fetchone()
        newest = row["max"] if row else 0
        if newest >= positions[0]:
            raise PositionsTaken(f"the store already reaches position {newest}, at or after {positions[0]}")
        cursor.execute(SQL("INSERT INTO {}.{} (originator_id, originator_version, topic, state, notification_id) "
                           "SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[], %s::bigint[])"
                           ).format(schema, table), columns)
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                       (f'"{recorder.datastore.schema}"."{recorder.events_table_name}"', positions[-1]))


def min_position(recorder: PostgresApplicationRecorder) -> int:
    """The oldest stored notification id (0: the table is empty)."""
    table = SQL("{}.{}").format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(SQL("SELECT COALESCE(MIN(notification_id), 0) AS min FROM {}").format(table))
        row = cursor.fetchone()
        return int(row["min"]) if row else 0


def delete_through(recorder: PostgresApplicationRecorder, position: int) -> int:
    """Delete the events at or before `position` in one transaction; returns how many."""
    table = SQL("{}.{}").format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with recorder.datastore.transaction(commit=True) as cursor:
        # the lock inserts take: nothing is appended while the oldest events go
        cursor.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
        cursor.execute(SQL("DELETE FROM {} WHERE notification_id <= %s").format(table), (position,))
        return int(cursor.rowcount)
