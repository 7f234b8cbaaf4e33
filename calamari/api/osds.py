"""OSDs: list (filters, fields, pages, compact pools, ETags), detail, changes (202: a request) and scrub/deep-scrub/repair."""

from __future__ import annotations

import array
import itertools
import operator
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request

from calamari.api.answers import cacheable
from calamari.api.common import (
    ApiError,
    doc,
    json_response,
    parse_body,
    services,
    submit_plan,
)
from calamari.api.compression import RecentGzip, accepts_gzip, gzip_bytes
from calamari.api.listing import (
    LIST_HEADERS,
    PAGE_QUERY,
    choice_arg,
    etag,
    fields_arg,
    fields_query,
    gzip_bytes_response,
    in_key_order,
    json_bytes_response,
    page_args,
    page_headers,
    select,
    selectable,
    unchanged,
    values_arg,
)
from calamari.api.lookup import cluster_model, found
from calamari.api.response_schemas import ACCEPTED
from calamari.api.schemas import OSD_READ_ONLY, OsdCommandMany, OsdUpdate
from calamari.domain.documents import (
    OSD_FIELDS,
    osd_document,
    osd_pools,
    pools_by_root,
    served_pools,
    valid_osd_commands,
)
from calamari.domain.requests import OSD_COMMANDS, plan_osd_command, plan_osd_update

blueprint = Blueprint("osds", __name__, url_prefix="/api/v2/cluster/<fsid>")

OSD_SCHEMA = {"type": "object", "required": ["id", "up", "in", "reweight"],
              "properties": {"id": {"type": "integer"}, "up": {"type": "boolean"}, "in": {"type": "boolean"},
                             "reweight": {"type": "number"}, "pools": {"type": "array", "items": {"type": "integer"}},
                             "valid_commands": {"type": "array", "items": {"type": "string"}}}}
COMPACT_OSD_SCHEMA = {**OSD_SCHEMA, "properties": {
    **{k: v for k, v in OSD_SCHEMA["properties"].items() if k != "pools"},
    "pool_set": {"type": "integer", "description": "index into pool_sets: the pools the OSD serves"}}}
COMPACT_FIELDS = tuple("pool_set" if f == "pools" else f for f in OSD_FIELDS)
# `?state=`: an OSD matches if it is in any of the states named
OSD_STATES = {"up": lambda r: r["up"], "down": lambda r: not r["up"], "in": lambda r: r["in"],
              "out": lambda r: not r["in"], "up_in": lambda r: r["up"] and r["in"],
              "up_out": lambda r: r["up"] and not r["in"], "down_in": lambda r: not r["up"] and r["in"],
              "down_out": lambda r: not r["up"] and not r["in"]}
POOL_FORMS = ("full", "compact")
KEEP_GZIP_FROM = 1 << 20  # bytes: the gzip form of whole lists from this size on is kept by ETag
LIST_QUERY = {
    "pool": {"type": "integer", "description": "OSDs serving this pool"},
    "id__in[]": {"type": "array", "items": {"type": "integer"}, "description": "these OSD ids"},
    "host": {"type": "string", "description": "OSDs of these hosts (comma-separated): the server's fqdn, the "
                                              "host name of the OSD's metadata or its CRUSH host"},
    "state": {"type": "string", "description": "OSDs in any of these states (comma-separated): "
                                               + ", ".join(OSD_STATES)},
    "device_class": {"type": "string", "description": "OSDs of these device classes (comma-separated)"},
    "pools": {"type": "string", "enum": list(POOL_FORMS), "default": "full",
              "description": "full: each OSD lists its pools (Calamari's field); compact: an object "
                             "{pool_sets, osds}, each OSD naming its list by index (pool_set)"},
    "fields": fields_query(OSD_FIELDS),
    **PAGE_QUERY,
}
LIST_RESPONSE = {"oneOf": [
    {"type": "array", "items": selectable(OSD_SCHEMA)},
    {"type": "object", "required": ["pool_sets", "osds"], "description": "?pools=compact",
     "properties": {"pool_sets": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
                    "osds": {"type": "array", "items": selectable(COMPACT_OSD_SCHEMA)}}}]}


def _changes() -> int | None:
    """The model's change count (its ChangeLock's; odd while a change is being made), or None
    where the model's lock does not count (then nothing derived is kept)."""
    changes = getattr(getattr(services().service, "lock", None), "changes", None)
    return changes if isinstance(changes, int) else None


def _steady(before: int | None) -> bool:
    """Whether the model neither changed nor was being changed since its change count was read
    (`before`, read before the generations): what was derived from it meanwhile matches them."""
    return before is not None and before % 2 == 0 and _changes() == before


@dataclass(frozen=True)
class _Served:
    """The pools the OSDs of each CRUSH root serve, at a generation of the pools and the CRUSH
    map, and the JSON of each list (one per root, shared by its OSDs' answers), written when first
    asked for."""

    generation: tuple[int, ...]
    pools: dict[str | None, list[int]]
    refs: dict[int, bytes] = field(default_factory=dict)  # id(list of pools) -> pools_ref(it)

    def pools_ref(self, pools: list[int]) -> bytes:
        """What an OSD document says of its `pools` (one of the lists in `self.pools`), in JSON."""
        written = self.refs.get(id(pools))
        if written is None:
            written = self.refs[id(pools)] = b',"pools":' + _dumps(pools)
        return written


def _served(fsid: str) -> _Served:
    """The pools served by root, kept while the pools and the CRUSH map are unchanged (an OSD's
    document lists those of its root: 1,000 pools are read and sorted once, not per answer)."""
    view = services().service.view
    kept = current_app.extensions.setdefault("calamari_osd_served", {})
    before = _changes()
    generation = view.generation(("pools", fsid), ("crush", fsid))
    found = kept.get(fsid)
    if found is not None and found.generation == generation:
        return found
    crush = cluster_model(fsid).crush
    served = _Served(generation, served_pools(pools_by_root(crush, [row for _, row in
                                                                    sorted(view.pools.get(fsid, {}).items())])))
    if _steady(before):
        if len(kept) > len(view.osds) + 16:
            kept.clear()  # clusters forgotten
        kept[fsid] = served
    return served


def _rows(fsid: str) -> dict[int, dict[str, Any]]:
    cluster_model(fsid)
    return services().service.view.osds.get(fsid, {})


def _ids_arg() -> set[int] | None:
    wanted = request.args.getlist("id__in[]") or request.args.getlist("id__in")
    if not wanted:
        return None
    try:
        return {int(i) for w in wanted for i in w.split(",") if i != ""}
    except ValueError:
        raise ApiError(400, "invalid OSD ids", {"id__in": "must be integers"}) from None


def _pool_arg(fsid: str) -> int | None:
    pool = request.args.get("pool")
    if pool is None:
        return None
    try:
        pool_id = int(pool)
    except ValueError:
        raise ApiError(400, "invalid pool id", {"pool": "must be an integer"}) from None
    if pool_id not in services().service.view.pools.get(fsid, {}):
        raise ApiError(404, f"no pool {pool_id}")
    return pool_id


def _list_generation(fsid: str) -> tuple[int, ...]:
    """The OSD documents join the OSD rows with the pools (by CRUSH root) and the servers."""
    return services().service.view.generation(("osds", fsid), ("pools", fsid), ("crush", fsid), ("osd_servers", ""))


def _list_etag(fsid: str) -> str:
    return etag(_list_generation(fsid))


@blueprint.get("/osd")
@doc("OSDs, by id; filters `?pool=`, `?id__in[]=`, `?host=`, `?state=`, `?device_class=`; `?fields=`, "
     "`?limit=&offset=`, `?pools=compact`; an ETag (If-None-Match: 304)",
     response=LIST_RESPONSE, query=LIST_QUERY, errors=(400, 401, 404), etag=True, headers=LIST_HEADERS)
@cacheable()
def osds(fsid: str) -> Response:
    view = services().service.view
    rows = _rows(fsid)
    ids, pool_id = _ids_arg(), _pool_arg(fsid)
    hosts = values_arg("host")
    states = choice_arg("state", tuple(OSD_STATES))
    classes = values_arg("device_class")
    form = request.args.get("pools", "full")
    if form not in POOL_FORMS:
        raise ApiError(400, "invalid query parameter pools", {"pools": f"one of {', '.join(POOL_FORMS)}"})
    fields = fields_arg(COMPACT_FIELDS if form == "compact" else OSD_FIELDS)
    offset, limit = page_args()
    before = _changes()
    generation = _list_generation(fsid)  # read before the rows: a change meanwhile makes it older, never newer
    tag = etag(generation)
    if (answer := unchanged(tag)) is not None:
        return answer
    recent = current_app.extensions.setdefault("calamari_osd_list_gzip", RecentGzip())
    zipped = recent.get(tag) if accepts_gzip() else None
    if zipped is not None:
        return gzip_bytes_response(zipped[0], {**zipped[1], "ETag": tag})
    if (ids, pool_id, states, classes, hosts, fields, offset, limit, form) == (
            None, None, None, None, None, None, 0, None, "full"):  # the whole list, as most clients ask
        whole = _whole_list(fsid, generation, before)
        headers = page_headers(len(whole.rows), 0, None)
        if accepts_gzip() and whole.size >= KEEP_GZIP_FROM:
            zipped_body = gzip_bytes(whole.parts)
            recent.put(tag, zipped_body, headers)
            return gzip_bytes_response(zipped_body, {**headers, "ETag": tag})
        return json_bytes_response(whole.parts, tag, headers, ends=whole.ends)

    served = _served(fsid)
    osd_servers = view.osd_servers
    selected = in_key_order(rows, ids)  # a copy: the ingest thread may add OSDs meanwhile
    if pool_id is not None:
        selected = [r for r in selected if pool_id in osd_pools(r, served.pools)]
    if states is not None:
        tests = [OSD_STATES[s] for s in states]
        selected = [r for r in selected if any(t(r) for t in tests)]
    if classes is not None:
        wanted_classes = set(classes)
        selected = [r for r in selected if r["device_class"] in wanted_classes]
    if hosts is not None:
        wanted_hosts = set(hosts)
        selected = [r for r in selected if not wanted_hosts.isdisjoint(
            (osd_servers.get((fsid, r["id"])), r["server"], r["crush_host"]))]
    page = selected[offset:] if limit is None else selected[offset:offset + limit]
    headers = page_headers(len(selected), offset, limit)
    if fields is not None:
        return json_bytes_response(_dumps(_some_fields(fsid, page, served.pools, fields, form)), tag, headers)
    parts, pool_sets = _documents_json(fsid, page, served, osd_servers, compact=form == "compact")
    if form == "compact":
        parts = [b'{"pool_sets":' + _dumps(pool_sets) + b',"osds":', *parts, b"}"]
    if accepts_gzip() and sum(len(part) for part in parts) >= KEEP_GZIP_FROM:
        zipped_body = gzip_bytes(parts)
        recent.put(tag, zipped_body, headers)
        return gzip_bytes_response(zipped_body, {**headers, "ETag": tag})
    return json_bytes_response(parts, tag, headers)


def _some_fields(fsid: str, page: list[dict[str, Any]], served: dict[str | None, list[int]],
                 fields: tuple[str, ...], form: str) -> Any:
    """The `fields` of the OSD documents of `page`, in the list's `form`."""
    if form == "full" and _ROW_FIELDS.issuperset(fields):  # the row alone has them: no document to join
        return [{f: r[f] for f in fields} for r in page]
    osd_servers = services().service.view.osd_servers
    server_fqdns = {r["id"]: fqdn for r in page if (fqdn := osd_servers.get((fsid, r["id"]))) is not None}
    if form == "full":
        return [select(osd_document(r, served, server_fqdns), fields) for r in page]
    # compact: each distinct pool list once, an OSD names its own by index
    set_index: dict[int, int] = {}
    pool_sets = []
    documents = []
    for r in page:
        document = osd_document(r, served, server_fqdns)
        pools = document.pop("pools")
        index = set_index.get(id(pools))
        if index is None:
            index = set_index[id(pools)] = len(pool_sets)
            pool_sets.append(pools)
        document["pool_set"] = index
        documents.append(select(document, fields))
    return {"pool_sets": pool_sets if "pool_set" in fields else [], "osds": documents}


# An OSD document's JSON is kept in two pieces around its pools, which are the same list for all
# OSDs of a CRUSH root (1,000 ids with 1,000 pools): the list is written once, and an OSD's own
# pieces again only when its row (replaced on every change) or its server changed.
_BEFORE_POOLS = OSD_FIELDS[:OSD_FIELDS.index("pools")]
_AFTER_POOLS = OSD_FIELDS[OSD_FIELDS.index("pools") + 1:]
# the fields an OSD document takes from its row as they are (its `server` is the server's fqdn)
_ROW_FIELDS = frozenset(_BEFORE_POOLS) - {"server"}
# An answer lists each OSD as three parts, the list's comma after the last: (before its pools,
# its pools, after them + ","). The pieces after the pools differ only by the OSD's commands, so
# the few with a comma are kept by value.
_WITH_COMMA: dict[bytes, bytes] = {}


def _with_comma(after: bytes) -> bytes:
    found = _WITH_COMMA.get(after)
    if found is None:
        if len(_WITH_COMMA) > 64:
            _WITH_COMMA.clear()
        found = _WITH_COMMA[after] = after + b","
    return found


def _kept_pieces() -> dict[tuple[str, int], tuple[Any, ...]]:
    """(fsid, OSD id) -> (its row, its server's fqdn, its JSON before and after its pools)."""
    return current_app.extensions.setdefault("calamari_osd_json", {})  # type: ignore[no-any-return]


def _osd_pieces(fsid: str, row: dict[str, Any], fqdn: str | None, served: dict[str | None, list[int]],
                pieces_by_osd: dict[tuple[str, int], tuple[Any, ...]]) -> tuple[bytes, bytes]:
    """An OSD document's JSON before and after its pools, kept while its row and server stay."""
    key = (fsid, row["id"])
    pieces = pieces_by_osd.get(key)
    if pieces is None or pieces[0] is not row or pieces[1] != fqdn:
        document = osd_document(row, served, {row["id"]: fqdn} if fqdn is not None else {})
        pieces = (row, fqdn, _dumps({f: document[f] for f in _BEFORE_POOLS})[:-1],
                  b"," + _dumps({f: document[f] for f in _AFTER_POOLS})[1:])
        pieces_by_osd[key] = pieces
    return pieces[2], pieces[3]


def _forget_removed_pieces(pieces_by_osd: dict[tuple[str, int], tuple[Any, ...]]) -> None:
    if len(pieces_by_osd) > 2 * sum(len(rows) for rows in list(services().service.view.osds.values())) + 1000:
        pieces_by_osd.clear()  # OSDs removed, clusters forgotten: start again


def _documents_json(fsid: str, page: list[dict[str, Any]], served: _Served,
                    osd_servers: dict[tuple[str, int], str], compact: bool) -> tuple[list[bytes], list[list[int]]]:
    """The JSON list of the OSD documents of `page` (compact: `pool_set` indexes into the pool
    lists returned) in parts, byte for byte what orjson writes for `osd_document`'s dicts: "[",
    three per OSD (see _with_comma), the last one ending in "]"."""
    pool_refs: dict[int, bytes] = {}  # id(pool list) -> what the documents say in its place
    pool_sets: list[list[int]] = []
    pieces_by_osd = _kept_pieces()
    parts = [b"["]
    for row in page:
        fqdn = osd_servers.get((fsid, row["id"]))
        pieces = pieces_by_osd.get((fsid, row["id"]))  # _osd_pieces, its kept case inline: it runs per OSD
        before, after = (pieces[2], pieces[3]) if pieces is not None and pieces[0] is row and pieces[1] == fqdn \
            else _osd_pieces(fsid, row, fqdn, served.pools, pieces_by_osd)
        pools = osd_pools(row, served.pools)
        ref = pool_refs.get(id(pools))
        if ref is None:
            if compact:
                ref = b',"pool_set":' + str(len(pool_sets)).encode()
                pool_sets.append(pools)
            else:
                ref = served.pools_ref(pools)
            pool_refs[id(pools)] = ref
        parts += (before, ref, _WITH_COMMA.get(after) or _with_comma(after))
    _end_list(parts)
    _forget_removed_pieces(pieces_by_osd)
    return parts, pool_sets


def _end_list(parts: list[bytes]) -> None:
    """The last OSD's parts end the list: its comma becomes the list's "]"."""
    if len(parts) > 1:
        parts[-1] = parts[-1][:-1] + b"]"
    else:
        parts.append(b"]")


@dataclass(frozen=True)
class _WholeList:
    """The full list of a cluster's OSDs (Calamari's form, no filter, no page) in parts, at a
    generation of the OSD list's ETag; the next one is made from it, again only for the OSDs
    whose row or server changed."""

    generation: tuple[int, ...]
    served: _Served
    rows: list[dict[str, Any]]  # the rows rendered, in id order
    parts: list[bytes]  # as _documents_json makes them
    lengths: array.array  # type: ignore[type-arg]  # of each part: measuring 30,000 parts takes milliseconds
    ends: array.array  # type: ignore[type-arg]  # the offset after each part, for the HTTP server

    @property
    def size(self) -> int:
        return self.ends[-1] if self.ends else 0


def _whole_list(fsid: str, generation: tuple[int, ...], before: int | None) -> _WholeList:
    """The whole OSD list of `fsid` at `generation` (the ETag's, read after the model's change
    count `before`): kept while nothing in it changes, and after a change made again from the
    kept one (a new one: a kept list may be being sent)."""
    view = services().service.view
    kept_lists = current_app.extensions.setdefault("calamari_osd_whole_list", {})
    kept: _WholeList | None = kept_lists.get(fsid)
    if kept is not None and kept.generation == generation:
        return kept
    served = _served(fsid)
    rows = in_key_order(_rows(fsid))
    osd_servers = view.osd_servers
    if (kept is None or kept.served is not served or len(kept.rows) != len(rows)
            or kept.generation[3:] != generation[3:]):  # other pools, OSDs added or removed, servers moved
        parts, _ = _documents_json(fsid, rows, served, osd_servers, compact=False)
        lengths = array.array("q", map(len, parts))
    else:
        parts, lengths = list(kept.parts), array.array("q", kept.lengths)
        last = len(rows) - 1
        pieces_by_osd = _kept_pieces()
        for i in itertools.compress(itertools.count(), map(operator.is_not, rows, kept.rows)):
            row = rows[i]
            pieces = _osd_pieces(fsid, row, osd_servers.get((fsid, row["id"])), served.pools, pieces_by_osd)
            ref = served.pools_ref(osd_pools(row, served.pools))
            after = pieces[1] + b"]" if i == last else _with_comma(pieces[1])
            at = 1 + 3 * i
            parts[at:at + 3] = (pieces[0], ref, after)
            lengths[at:at + 3] = array.array("q", (len(pieces[0]), len(ref), len(after)))
    whole = _WholeList(generation, served, rows, parts, lengths, array.array("q", itertools.accumulate(lengths)))
    if _steady(before):
        if len(kept_lists) > len(view.osds) + 16:
            kept_lists.clear()  # clusters forgotten
        kept_lists[fsid] = whole
    return whole


def _dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def _osd(fsid: str, osd_id: int) -> dict[str, Any]:
    return found(_rows(fsid).get(osd_id), f"no OSD {osd_id} in cluster {fsid}")


@blueprint.get("/osd/<int:osd_id>")
@doc("One OSD; `?fields=`; an ETag (If-None-Match: 304)", response=selectable(OSD_SCHEMA),
     query={"fields": fields_query(OSD_FIELDS)}, errors=(400, 401, 404), etag=True)
@cacheable()
def osd(fsid: str, osd_id: int) -> Response:
    fields = fields_arg(OSD_FIELDS)
    tag = _list_etag(fsid)
    row = _osd(fsid, osd_id)
    if (answer := unchanged(tag)) is not None:
        return answer
    fqdn = services().service.view.osd_servers.get((fsid, osd_id)) or None
    served = _served(fsid)
    if fields is None:  # the document's kept pieces around its root's pools
        before, after = _osd_pieces(fsid, row, fqdn, served.pools, _kept_pieces())
        return json_bytes_response(before + served.pools_ref(osd_pools(row, served.pools)) + after, tag)
    document = osd_document(row, served.pools, {osd_id: fqdn} if fqdn else {})
    return json_bytes_response(_dumps(select(document, fields)), tag)


@blueprint.patch("/osd/<int:osd_id>")
@doc("Mark an OSD down, in or out, or reweight it (202: a request)", body=OsdUpdate, status=202, response=ACCEPTED,
     errors=(400, 401, 403, 404, 409))
def patch_osd(fsid: str, osd_id: int) -> Response:
    body = parse_body(OsdUpdate, read_only=OSD_READ_ONLY).model_dump(by_alias=True, exclude_none=True)
    return submit_plan(fsid, plan_osd_update, osd_id, body)


@blueprint.get("/osd/command")
@doc("Commands implemented for OSDs", response={"type": "array", "items": {"type": "string"}}, errors=(401, 404))
def osd_commands(fsid: str) -> Response:
    cluster_model(fsid)
    return json_response(list(OSD_COMMANDS))


@blueprint.get("/osd/<int:osd_id>/command")
@doc("The commands valid for an OSD now", response={"type": "object"}, errors=(401, 404))
def osd_valid_commands(fsid: str, osd_id: int) -> Response:
    row = _osd(fsid, osd_id)
    return json_response({str(osd_id): {"valid_commands": valid_osd_commands(row)}})


def _run(fsid: str, ids: list[int], command: str) -> Response:
    return submit_plan(fsid, plan_osd_command, ids, command)


@blueprint.post("/osd/<int:osd_id>/command/<command>")
@doc("Run scrub, deep_scrub or repair on one OSD (202: a request)", status=202, response=ACCEPTED,
     errors=(400, 401, 403, 404, 409))
def run_osd_command(fsid: str, osd_id: int, command: str) -> Response:
    _osd(fsid, osd_id)
    return _run(fsid, [osd_id], command)


@blueprint.post("/osd/command/<command>")
@doc("Run scrub, deep_scrub or repair on several OSDs (202: a request)", body=OsdCommandMany, status=202,
     response=ACCEPTED, errors=(400, 401, 403, 404, 409))
def run_osds_command(fsid: str, command: str) -> Response:
    body = parse_body(OsdCommandMany)
    return _run(fsid, sorted(set(body.ids)), command)
