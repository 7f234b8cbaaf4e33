"""`calamari-ctl` history commands: `history --at`, `diff --from --to`, `events export` and
`events import`. Queries print what the REST API answers, as tables or as JSON (`--json`)."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, BinaryIO

import orjson

from calamari.adapters.event_export import ExportFormatError, export_line, parse_line
from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import (
    HISTORY_KEEP_ALL,
    HISTORY_SPACING,
    history_bases,
    kept_base_file,
    load_model,
    newest_snapshot,
    read_history_base,
    snapshot_path,
    write_history_base,
    write_snapshot,
)
from calamari.domain.documents import with_live_fields
from calamari.domain.model import ClusterModel
from calamari.service.ctl_data_dir import ask_running_server, service_config
from calamari.service.history import ClusterNotFound, History, HistoryError, parse_limit, parse_point
from calamari.service.model import ServiceConfig

IMPORT_BATCH = 10_000


class CtlError(Exception):
    """A user error of a command: printed as one line, exit code 2."""


def _history(args: argparse.Namespace) -> History:
    config = service_config(args)
    return History(EventStore(config.store_url), config.snapshot_dir)


def _guarded(command: Any) -> Any:
    """Turn the errors a user can cause into a message and exit code 2."""
    def run(args: argparse.Namespace) -> int:
        try:
            return int(command(args) or 0)
        except HistoryError as err:
            print(f"calamari-ctl: invalid --{err.field}: {err.reason}", file=sys.stderr)
        except (ClusterNotFound, CtlError) as err:
            print(f"calamari-ctl: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    return run


def _dump(doc: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n")
    sys.stdout.flush()


def _cluster_for(history: History, fsid: str | None, position: int) -> str:
    if fsid:
        return fsid
    clusters = history.clusters_at(position)
    if len(clusters) == 1:
        return clusters[0]
    if not clusters:
        raise CtlError(f"no cluster recorded at position {position}")
    raise CtlError(f"several clusters: choose one with --cluster ({', '.join(clusters)})")


# ---------------------------------------------------------------------- tables


def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return ["  " + line for line in lines]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return str(value)


def _where(point: dict[str, Any]) -> str:
    return f"position {point['position']} ({point['time'] or 'before the first event'})"


def format_state(doc: dict[str, Any]) -> str:
    cluster, health = doc["cluster"], doc["health"]
    out = [f"Cluster {doc['fsid']} ({cluster['name']}) at {_where(doc)}",
           f"Health: {health['status'] or 'unknown'}"]
    for code, check in sorted(health["checks"].items()):
        out.append(f"  {code} ({check['severity']}): {check['message']}")
    out.append(f"Flags: {', '.join(cluster['flags']) or '-'}")
    counts = doc["counters"]["osd"]
    out.append(f"OSDs: {counts['total']} (up+in {counts['up_in']}, up+out {counts['up_out']}, "
               f"down+in {counts['down_in']}, down+out {counts['down_out']})")
    out += table(["ID", "UP", "IN", "REWEIGHT", "HOST", "CLASS", "VERSION"],
                 [[r["id"], r["up"], r["in"], r["reweight"], r["server"], r["device_class"], r["ceph_version"]]
                  for r in doc["osd"]])
    out.append(f"Pools: {len(doc['pool'])}")
    out += table(["ID", "NAME", "TYPE", "SIZE", "MIN_SIZE", "PG_NUM", "APPLICATION"],
                 [[r["id"], r["name"], r["type"], r["size"], r["min_size"], r["pg_num"], r["application"]]
                  for r in doc["pool"]])
    out.append(f"Servers: {len(doc['server'])}")
    out += table(["FQDN", "CONTACT", "SERVICES"],
                 [[r["fqdn"], "lost" if r["contact_lost"] else "ok",
                   [f"{s['type']}.{s['id']}" for s in r["services"] if s["fsid"] == doc["fsid"]]]
                  for r in doc["server"]])
    return "\n".join(out)


def format_diff(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    out = [f"Cluster {doc['fsid']}: {_where(doc['from'])} -> {_where(doc['to'])}, {doc['event_count']} events"]
    out.append(f"OSDs with events: {len(s['osds'])}")
    if s["osds"]:
        out += table(["ID", "BEFORE", "AFTER", "CHANGES", "EVENTS"],
                     [[o["id"], o["before"], o["after"],
                       "; ".join(f"{k} {_cell(b)} -> {_cell(a)}" for k, (b, a) in o["changes"].items()),
                       ", ".join(f"{k} x{n}" for k, n in o["events"].items())] for o in s["osds"]])
    pools = s["pools"]
    out.append(f"Pools: {len(pools['created'])} created, {len(pools['deleted'])} deleted, "
               f"{len(pools['changed'])} changed")
    rows = [["created", p["id"], p["name"], ""] for p in pools["created"]]
    rows += [["deleted", p["id"], p["name"], ""] for p in pools["deleted"]]
    rows += [["changed", p["id"], p["name"],
              "; ".join(f"{k} {_cell(b)} -> {_cell(a)}" for k, (b, a) in p["changes"].items())]
             for p in pools["changed"]]
    if rows:
        out += table(["WHAT", "ID", "NAME", "CHANGES"], rows)
    flags = s["flags"]
    out.append(f"Flags: {', '.join(flags['before']) or '-'} -> {', '.join(flags['after']) or '-'}")
    if flags["changes"]:
        out += table(["POSITION", "TIME", "SET", "UNSET"],
                     [[c["position"], c["time"], c["set"], c["unset"]] for c in flags["changes"]])
    health = s["health"]
    out.append(f"Health: {health['before'] or '-'} -> {health['after'] or '-'}"
               f" (raised: {', '.join(health['checks_raised']) or '-'};"
               f" cleared: {', '.join(health['checks_cleared']) or '-'})")
    if health["transitions"]:
        out += table(["POSITION", "TIME", "FROM", "TO"],
                     [[t["position"], t["time"], t["from"], t["to"]] for t in health["transitions"]])
    out.append(f"User requests: {len(s['requests'])}")
    if s["requests"]:
        out += table(["REQUESTED", "USER", "HEADLINE", "OUTCOME", "BODY", "ERROR"],
                     [[r["requested_at"], r["username"], r["headline"], r["outcome"], r["body"], r["error_message"]]
                      for r in s["requests"]])
    out.append(f"User and role changes: {len(s['users'])}")
    if s["users"]:
        out += table(["POSITION", "TIME", "TYPE", "USER", "BY", "DATA"],
                     [[u["position"], u["time"], u["type"], u["username"], u["by"], u["data"]] for u in s["users"]])
    listed = len(doc["events"])
    out.append(f"Events: {listed} of {doc['event_count']}" + (" (raise --limit for more)" if doc["truncated"] else ""))
    if listed:
        out += table(["POSITION", "TIME", "TYPE", "OBJECT", "BY"],
                     [[e["position"], e["time"], e["type"], _object_name(e), e["by"]] for e in doc["events"]])
    return "\n".join(out)


def _object_name(record: dict[str, Any]) -> str:
    data = record["data"]
    for key in ("osd_id", "pool_id", "fqdn", "request_id", "username", "fsid"):
        if key in data:
            return f"{record['aggregate']} {data[key]}"
    return f"{record['aggregate']} {record['aggregate_id'][:8]}"


# ---------------------------------------------------------------------- history and diff


def cmd_history(args: argparse.Namespace) -> int:
    history = _history(args)
    point = history.point(args.at, "at")
    fsid = _cluster_for(history, args.cluster, point.position)
    return _show(args, history.state(fsid, args.at, with_live_fields), format_state)  # the API's documents


def cmd_diff(args: argparse.Namespace) -> int:
    history = _history(args)
    end = history.point(args.to, "to") if args.to is not None else None
    fsid = _cluster_for(history, args.cluster, end.position if end else history.end())
    return _show(args, history.diff(fsid, args.start, args.to, parse_limit(str(args.limit))), format_diff)


def _show(args: argparse.Namespace, doc: dict[str, Any], as_text: Callable[[dict[str, Any]], str]) -> int:
    """Print a document as JSON (`--json`, what the API answers) or as text."""
    if args.json:
        _dump(doc)
    else:
        print(as_text(doc))
    return 0


# ---------------------------------------------------------------------- export and import


def cmd_export(args: argparse.Namespace) -> int:
    history = _history(args)
    end = history.end()
    kept = history.kept_from()
    # a point before the kept history stands for its start: the older events are in an archive
    after = history.point(args.export_since, "since", end, clamp=True).position \
        if args.export_since is not None else kept.position if kept else 0
    until = history.point(args.until, "until", end, clamp=True).position if args.until is not None else end
    if kept is not None:
        print(f"the kept history starts after position {kept.position} ({_when(kept.time)}): older events "
              "are in the archives of `events archive`", file=sys.stderr)
    if after > until:
        raise HistoryError("since", f"is after --until (positions {after} > {until})")
    if args.output in (None, "-"):
        count = _write_events(history.store, after, until, sys.stdout.buffer)
    else:
        tmp = args.output + ".tmp"
        with open(tmp, "wb") as f:
            count = _write_events(history.store, after, until, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, args.output)  # a reader never sees half an export
    print(f"exported {count} events (positions {after + 1}..{until})", file=sys.stderr)
    return 0


def _when(time: Any) -> str:
    return time.isoformat() if time is not None else "?"


def _write_events(store: EventStore, after: int, until: int, out: BinaryIO) -> int:
    count = 0
    for position, event in store.read(after=after, until=until):
        out.write(export_line(position, event))
        count += 1
    out.flush()
    return count


def _read_events(path: str) -> Iterator[tuple[int, int, Any]]:
    """(line number, position, event) of each line; CtlError names the first bad line."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                position, event = parse_line(line)
            except ExportFormatError as err:
                raise CtlError(f"{path}:{number}: {err}") from None
            yield number, position, event


def _fold(model: ClusterModel, event: Any, where: str) -> None:
    """Apply one imported event, refusing what would not replay (unknown object, versions out of
    order, a second creation)."""
    from eventsourcing.domain import Aggregate

    known = model.aggregates.get(event.originator_id)
    if isinstance(event, Aggregate.Created):
        if known is not None:
            raise CtlError(f"{where}: {type(event).__name__} for an object that already exists")
        if event.originator_version != 1:
            raise CtlError(f"{where}: a creation must have aggregate_version 1")
    elif known is None:
        raise CtlError(f"{where}: {type(event).__name__} for an object not created before")
    elif event.originator_version != known.version + 1:
        raise CtlError(f"{where}: aggregate_version {event.originator_version} does not follow "
                       f"{known.version}")
    try:
        model.apply(event)
    except Exception as err:  # a malformed state fails in the event's own apply
        raise CtlError(f"{where}: does not apply: {type(err).__name__}: {err}") from None


def cmd_import(args: argparse.Namespace) -> int:
    config = service_config(args)
    if args.snapshot_every < 1:
        raise HistoryError("snapshot-every", "must be a positive number of events")
    if not os.path.isfile(args.file):
        raise CtlError(f"no file {args.file!r}")
    url = config.store_url
    if url.startswith("sqlite://"):
        db_path = os.path.abspath(url[len("sqlite://"):])
        opened = EventStore(url) if os.path.exists(db_path) else None  # no empty file before the checks
    elif url.startswith("memory:"):
        raise CtlError(f"import needs a stored event store (sqlite:///... or postgresql://...), not {url!r}")
    else:
        opened = EventStore(url)  # PostgreSQL: the table is created if missing, empty
    existing = opened.max_position() if opened is not None else 0
    # PostgreSQL stores each event under its exported position, so an export with gaps (which a
    # PostgreSQL store can have) imports as it was; SQLite numbers consecutively.
    keeps_gaps = opened is not None and opened.is_postgres
    if existing and not args.append:
        raise CtlError(f"{_store_name(config)} already has {existing} events; refusing to import into it "
                       "(use --append to add events that continue them)")
    if not existing and newest_snapshot(config.snapshot_dir) is not None:
        raise CtlError(f"{config.snapshot_dir} holds snapshots but the store has no events; "
                       "import into an empty data dir")
    store = opened if existing else None

    def base() -> ClusterModel:
        return load_model(config.snapshot_dir, store)[0] if store is not None else ClusterModel()

    # Pass 1: every line is checked, and replayed, before anything is written.
    model, previous, count = base(), existing, 0
    for number, position, event in _read_events(args.file):
        if position <= previous or (position != previous + 1 and not keeps_gaps):
            raise CtlError(f"{args.file}:{number}: position {position}, expected {previous + 1} "
                           + ("(an export must start at position 1)" if previous == 0
                              else "(an appended export must continue the stored events)" if previous == existing
                              else "(positions must increase one by one)" if not keeps_gaps
                              else "(positions must increase)"))
        _fold(model, event, f"{args.file}:{number}")
        previous, count = position, count + 1
    if not count:
        raise CtlError(f"{args.file}: no events")

    # Pass 2: store in batches, with snapshots as the server would write them.
    os.makedirs(config.data_dir, exist_ok=True)
    store = store or opened or EventStore(url)
    model, batch, positions = base(), [], []
    since_snapshot = 0
    for _, position, event in _read_events(args.file):
        model.apply(event)
        batch.append(event)
        positions.append(position)
        since_snapshot += 1
        if len(batch) >= IMPORT_BATCH:
            store.append_at(batch, positions)
            if since_snapshot >= args.snapshot_every:
                write_snapshot(config.snapshot_dir, positions[-1], model, HISTORY_KEEP_ALL)
                since_snapshot = 0
            batch, positions = [], []
    if batch:
        store.append_at(batch, positions)
    write_snapshot(config.snapshot_dir, store.max_position(), model, HISTORY_KEEP_ALL)
    print(f"imported {count} events (positions {existing + 1}..{previous})", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- archive (retention)


class _Steps:
    """The points between the steps of an archive; tests make one of them fail, as a crash there would."""

    def reached(self, step: str) -> None:
        """Called after each step: `archive-written`, `base-written`, `events-removed`."""


ARCHIVE_STEPS = _Steps()


def cmd_archive(args: argparse.Namespace) -> int:
    """Move the events before --before out of the store into an export file, keeping a history
    base (the model at the last moved event) so the server and history queries start from it.
    Each step leaves a state that loses nothing: the archive is written and verified before the
    base, and the base before the events are removed (one transaction)."""
    config = service_config(args)
    before = parse_point(args.before, "before")
    if config.store_url.startswith("memory:"):
        raise CtlError("archive needs a stored event store (sqlite:///... or postgresql://...)")
    if ask_running_server(args, {"op": "ping"}, timeout=5.0) is not None:
        raise CtlError("the server is running on this data dir: stop it first (an archive removes events "
                       "the running server's history queries and snapshots rely on)")
    target = os.path.abspath(args.to)
    if os.path.exists(target):
        raise CtlError(f"{args.to} exists: archive to a new file")
    if not os.path.isdir(os.path.dirname(target)):
        raise CtlError(f"no directory {os.path.dirname(target)!r} for {args.to}")
    store = EventStore(config.store_url)
    history = History(store, config.snapshot_dir)
    end = store.max_position()
    kept = history.kept_from()
    first = kept.position if kept else 0
    if isinstance(before, int):
        cut = before - 1  # the events at positions before it
    else:
        cut = history.position_at(before - timedelta(microseconds=1), end, first)  # strictly older
    cut = min(cut, end - 1)  # the newest event stays: it numbers the next ones
    if kept is not None:
        _remove_before(config.snapshot_dir, first)  # what an interrupted run may have left
    if cut <= first:
        why = f" after position {first}, where the kept history starts" if kept else ""
        print(f"nothing to archive: no stored event before {args.before}{why} (the newest event is always kept)",
              file=sys.stderr)
        return 0

    # 1. the archive, written beside its name and verified before it takes it
    tmp = target + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds password hashes
    with os.fdopen(fd, "wb") as f:
        count = _write_events(store, first, cut, f)
        os.fsync(f.fileno())
    model = read_history_base(kept_base_file(config.snapshot_dir, store)[1], first)[0] if kept else ClusterModel()
    cut_time = _verify_archive(tmp, store, first, cut, model)
    os.replace(tmp, target)
    _sync_directory_of(target)
    ARCHIVE_STEPS.reached("archive-written")

    # 2. the history base: the model at the cut, folded from the archive itself
    write_history_base(config.snapshot_dir, cut, model, cut_time)
    ARCHIVE_STEPS.reached("base-written")

    # 3. the archived events leave the store, all at once
    removed = store.delete_through(cut)
    ARCHIVE_STEPS.reached("events-removed")

    # 4. what only served the archived past: older bases, snapshots before the cut, free pages
    _remove_before(config.snapshot_dir, cut)
    store.compact()
    print(f"archived {count} events (positions {first + 1}..{cut}, up to {cut_time.isoformat()}) to {args.to}; "
          f"{removed} removed from the store; the kept history starts at position {cut}", file=sys.stderr)
    return 0


def _verify_archive(path: str, store: EventStore, after: int, until: int, model: ClusterModel) -> Any:
    """Read the written archive back: every line must be the stored event's exact export line,
    parse back into an event that exports to it again, and fold onto `model` (which ends as the
    model at `until`). Returns the time of the last event."""
    stored = store.read(after=after, until=until)
    last_time = None
    for number, position, event in _read_events(path):
        expected = next(stored, None)
        if expected is None or expected[0] != position:
            raise CtlError(f"{path}:{number}: the archive does not match the store (position {position}); "
                           "nothing was removed")
        line = export_line(position, event)
        if line != export_line(*expected):
            raise CtlError(f"{path}:{number}: the archived event at position {position} does not read back as "
                           "stored; nothing was removed")
        _fold(model, event, f"{path}:{number}")
        last_time = event.timestamp
    if next(stored, None) is not None or last_time is None:
        raise CtlError(f"{path}: the archive misses events of the store; nothing was removed")
    return last_time


def _remove_before(directory: str, position: int) -> None:
    """Remove the history bases and snapshots before `position`, where the kept history starts:
    no model can be built from them any more (the events after them are archived)."""
    for found, path in history_bases(directory):
        if found < position:
            os.remove(path)
    for path in glob.glob(os.path.join(directory, "snapshot-*.msgpack")):
        digits = os.path.basename(path)[len("snapshot-"):-len(".msgpack")]
        if digits.isdigit() and int(digits) < position and path == snapshot_path(directory, int(digits)):
            os.remove(path)


def _sync_directory_of(path: str) -> None:
    fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _store_name(config: ServiceConfig) -> str:
    """The store, named for messages (a PostgreSQL URL without its password)."""
    if config.event_store_url is None:
        return config.data_dir
    from calamari.adapters.postgres_store import mask_password

    return mask_password(config.event_store_url)


# ---------------------------------------------------------------------- parsers


def add_commands(sub: argparse._SubParsersAction, events: argparse.ArgumentParser) -> None:
    """Register the history commands on calamari-ctl's sub-parsers, and `export` and `import` on
    the `events` command's parser."""
    hist = sub.add_parser("history", help="the cluster as it was at a time or event position")
    hist.add_argument("--at", required=True, help="ISO 8601 time (UTC unless a zone is given) or event position")
    hist.add_argument("--cluster", default=None, help="fsid (needed when there are several clusters)")
    hist.add_argument("--json", action="store_true", help="print the API's JSON document")
    hist.set_defaults(func=_guarded(cmd_history))

    diff = sub.add_parser("diff", help="events and a summary of what changed between two times")
    diff.add_argument("--from", dest="start", required=True, help="time or event position")
    diff.add_argument("--to", default=None, help="time or event position (default: now)")
    diff.add_argument("--cluster", default=None, help="fsid (needed when there are several clusters)")
    diff.add_argument("--limit", type=int, default=1000, help="list at most this many events (default 1000)")
    diff.add_argument("--json", action="store_true", help="print the API's JSON document")
    diff.set_defaults(func=_guarded(cmd_diff))

    actions = events.add_subparsers(dest="events_action", required=False)
    export = actions.add_parser("export", help="write events as JSON lines that `events import` reads back")
    export.add_argument("--since", dest="export_since", default=None,
                        help="only events after this position or time")
    export.add_argument("--until", default=None, help="only events up to this position or time")
    export.add_argument("--output", "-o", default=None, help="file to write (default: standard output)")
    export.set_defaults(func=_guarded(cmd_export))
    imp = actions.add_parser("import", help="rebuild a data dir from an export file")
    imp.add_argument("file", help="a file written by `events export`")
    imp.add_argument("--append", action="store_true",
                     help="add to a data dir that has events (the file must continue them exactly)")
    imp.add_argument("--snapshot-every", type=int, default=HISTORY_SPACING,
                     help=f"write a snapshot every N events (default {HISTORY_SPACING:,}, as the server does)")
    imp.set_defaults(func=_guarded(cmd_import), creates_data_dir=True)
    arch = actions.add_parser(
        "archive", help="move events older than a time into an export file; history then starts there")
    arch.add_argument("--before", required=True,
                      help="ISO 8601 time (UTC unless a zone is given): events older than it are archived "
                           "(or an event position: the events before it)")
    arch.add_argument("--to", required=True, help="the archive file to write (must not exist)")
    arch.set_defaults(func=_guarded(cmd_archive))
