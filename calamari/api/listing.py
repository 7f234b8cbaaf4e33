"""What the list routes share: paging (`?limit=&offset=`, the total in `X-Total-Count`, the
neighbouring pages in `Link`), field selection (`?fields=`), filters with several values, and
ETags from the ReadModel's change counters (`If-None-Match` -> 304 without rendering anything)."""

from __future__ import annotations

import bisect
import hashlib
import io
import itertools
import secrets
from collections.abc import Collection, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Response, request
from werkzeug.wsgi import wrap_file

from calamari.api.common import ApiError
from calamari.api.compression import accepts_gzip, add_vary_accept_encoding, gzip_answer

MAX_LIMIT = 10_000  # a page at most; without `limit` a list is answered whole
MAX_OFFSET = 1_000_000_000
MAX_FILTER_VALUES = 100  # values of one filter (`?state=up,out`), and names in `?fields=`
# From this size on an answer not to be compressed is handed to the HTTP server as a file to read
# from as it sends: handed a string, waitress first copies all beyond its outbuf_overflow (1 MB)
# into a temporary file, which cost a 45 MB OSD list some 40-60 ms and a copy of it.
HAND_AS_FILE_FROM = 1 << 20
_FILE_BLOCK = 256 * 1024
# A restarted server counts changes from zero again: its ETags must never equal an earlier
# process's, or a client could be told "not modified" about a different state.
_PROCESS = secrets.token_bytes(8)

PAGE_QUERY: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
              "description": "at most this many items (the total is in X-Total-Count)"},
    "offset": {"type": "integer", "minimum": 0, "description": "skip this many items first"},
}
LIST_HEADERS: dict[str, dict[str, Any]] = {
    "X-Total-Count": {"description": "items matching the filters, whatever the page",
                      "schema": {"type": "integer"}},
    "Link": {"description": "rel=\"next\" and rel=\"prev\" pages when `limit` is given", "schema": {"type": "string"}},
}


def fields_query(known: Iterable[str]) -> dict[str, Any]:
    """The OpenAPI description of `?fields=` for documents with the fields `known`."""
    return {"type": "string", "description": "comma-separated fields to answer, of: " + ", ".join(known),
            "example": "id,up,in"}


def selectable(document: dict[str, Any]) -> dict[str, Any]:
    """The schema of a document that `?fields=` may trim: the same properties, none of them
    required (without `?fields=` every one is there; with it, only those asked for)."""
    schema = {key: value for key, value in document.items() if key != "required"}
    schema["description"] = (document.get("description", "") + " " if document.get("description") else "") + \
        "Every field unless `?fields=` names some: then only those."
    return schema


def values_arg(name: str) -> list[str] | None:
    """The values of a query argument given as `a,b` or repeated (`?x=a&x=b`); None when absent."""
    raw = request.args.getlist(name)
    if not raw:
        return None
    values = [v.strip() for item in raw for v in item.split(",")]
    if len(values) > MAX_FILTER_VALUES:
        raise ApiError(400, f"invalid query parameter {name}", {name: f"at most {MAX_FILTER_VALUES} values"})
    if any(v == "" for v in values):
        raise ApiError(400, f"invalid query parameter {name}", {name: "empty value"})
    return values


def choice_arg(name: str, allowed: Collection[str]) -> set[str] | None:
    """The values of `name`, each one of `allowed`; 400 naming the others."""
    values = values_arg(name)
    if values is None:
        return None
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ApiError(400, f"invalid query parameter {name}",
                       {name: f"unknown value {unknown[0][:100]!r}; one of {', '.join(allowed)}"})
    return set(values)


def fields_arg(known: Sequence[str]) -> tuple[str, ...] | None:
    """The fields asked for with `?fields=`, in the documents' order; None for all of them."""
    values = values_arg("fields")
    if values is None:
        return None
    wanted = set(values)
    unknown = sorted(wanted.difference(known))
    if unknown:
        raise ApiError(400, "invalid query parameter fields",
                       {"fields": f"unknown field {unknown[0][:100]!r}; known: {', '.join(known)}"})
    return tuple(f for f in known if f in wanted)


def in_key_order(rows: dict[Any, dict[str, Any]], keys: Iterable[Any] | None = None) -> list[dict[str, Any]]:
    """The rows (of `keys`, default all), in key order: a stable order for pages. A copy, and
    safe while the ingest thread adds or drops rows."""
    return [row for key in sorted(list(rows) if keys is None else keys) if (row := rows.get(key)) is not None]


def select(document: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    return document if fields is None else {f: document[f] for f in fields}


def page_args() -> tuple[int, int | None]:
    """(offset, limit) from `?offset=&limit=`; limit None for the whole list."""
    offset = _int_arg("offset", 0, MAX_OFFSET)
    limit = _int_arg("limit", 1, MAX_LIMIT)
    return offset or 0, limit


def _int_arg(name: str, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
        raise ApiError(400, f"invalid query parameter {name}", {name: f"must be an integer between {low} and {high}"})
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, f"invalid query parameter {name}", {name: f"must be between {low} and {high}"})
    return value


# ---------------------------------------------------------------------------- ETags

def etag(*parts: Any) -> str:
    """A weak ETag for this route and query string (they shape the answer) and `parts`: change
    counters read *before* the rows are (a change in between then only costs a later 200).
    Weak: the gzip and identity encodings of one answer share it."""
    key = orjson.dumps([request.path, request.query_string.decode("latin-1"), parts], default=str)
    return 'W/"' + hashlib.blake2b(key, digest_size=12, key=_PROCESS).hexdigest() + '"'


def unchanged(tag: str) -> Response | None:
    """304 with the ETag when the client's If-None-Match names `tag` (or `*`), else None."""
    if request.if_none_match and request.if_none_match.contains_weak(tag[3:-1]):
        return Response(status=304, headers={"ETag": tag})
    return None


def json_bytes_response(body: bytes | Sequence[bytes], tag: str | None = None,
                        headers: dict[str, str] | None = None, ends: Sequence[int] | None = None) -> Response:
    """A JSON answer of `body`, or of the concatenation of the parts `body` lists (which a large
    answer not to be compressed is read from as it is sent, never joined into one buffer; `ends`:
    the offset after each part, when known: 30,000 parts take milliseconds to measure)."""
    parts = [body] if isinstance(body, bytes) else body
    size = (ends[-1] if ends else 0) if ends is not None else sum(map(len, parts))
    if size >= HAND_AS_FILE_FROM and not accepts_gzip():
        response = Response(wrap_file(request.environ, JoinedParts(parts, ends), _FILE_BLOCK),
                            mimetype="application/json", headers=headers, direct_passthrough=True)
        response.content_length = size
        response.vary.add("Accept-Encoding")  # as the compression hook would (it leaves this one alone)
    else:
        response = Response(b"".join(parts), mimetype="application/json", headers=headers)
    if tag is not None:
        response.headers["ETag"] = tag
    return response


def gzip_bytes_response(zipped: bytes, headers: dict[str, str]) -> Response:
    """A JSON answer already in gzip form (`compression.gzip_answer`); from HAND_AS_FILE_FROM on
    handed to the HTTP server as a file of one part, as json_bytes_response does: handed bytes,
    waitress copies all beyond 1 MB into a temporary file, which slowed the next request too."""
    if len(zipped) < HAND_AS_FILE_FROM:
        return gzip_answer(zipped, headers)
    response = Response(wrap_file(request.environ, JoinedParts([zipped]), _FILE_BLOCK), mimetype="application/json",
                        headers=headers, direct_passthrough=True)
    response.content_length = len(zipped)
    response.headers["Content-Encoding"] = "gzip"
    add_vary_accept_encoding(response)
    return response


def page_headers(total: int, offset: int, limit: int | None) -> dict[str, str]:
    """X-Total-Count, and the Link header (RFC 8288) to the next and previous pages."""
    headers = {"X-Total-Count": str(total)}
    if limit is None:
        return headers
    links = []
    if offset + limit < total:
        links.append(f'<{_page_url(offset + limit, limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{_page_url(max(0, offset - limit), limit)}>; rel="prev"')
    if links:
        headers["Link"] = ", ".join(links)
    return headers


def _page_url(offset: int, limit: int) -> str:
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("offset", "limit")]
    return request.base_url + "?" + urlencode([*kept, ("offset", str(offset)), ("limit", str(limit))])


def plain_list(items: list[Any], tag: str | None, fields: tuple[str, ...] | None = None) -> Response:
    """A page of `items` (documents) as Calamari's plain JSON list, with the paging headers."""
    offset, limit = page_args()
    page = items[offset:] if limit is None else items[offset:offset + limit]
    body = orjson.dumps([select(item, fields) for item in page] if fields is not None else page,
                        option=orjson.OPT_NON_STR_KEYS)
    return json_bytes_response(body, tag, page_headers(len(items), offset, limit))


class JoinedParts(io.RawIOBase):
    """A read-only, seekable file over the concatenation of `parts` (kept as they are). A server
    that knows `parts` sends them as they are, without reading the file (the API's own server:
    calamari.adapters.http_parts)."""

    def __init__(self, parts: Sequence[bytes], ends: Sequence[int] | None = None) -> None:
        super().__init__()
        self.parts = self._parts = parts
        self._ended = ends
        self._size = (ends[-1] if ends else 0) if ends is not None else sum(map(len, parts))
        self._position = 0

    @property
    def ends(self) -> Sequence[int]:
        """The offset after each part (given, or counted when first asked for)."""
        if self._ended is None:
            self._ended = list(itertools.accumulate(map(len, self._parts)))
        return self._ended

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        start = self._position
        end = self._size if size is None or size < 0 else min(self._size, start + size)
        if start >= end:
            return b""
        first = bisect.bisect_right(self.ends, start)
        chunks = []
        index = first
        while index < len(self._parts) and (self.ends[index] - len(self._parts[index])) < end:
            part_start = self.ends[index] - len(self._parts[index])
            chunks.append(self._parts[index][max(0, start - part_start):end - part_start])
            index += 1
        self._position = end
        return b"".join(chunks)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
