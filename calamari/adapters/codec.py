"""msgpack encoding of events and snapshots: datetimes and UUIDs as extension types, so that what
is decoded equals what was encoded (lists stay lists, maps keep int keys)."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgpack
from eventsourcing.persistence import Transcoder

EXT_DATETIME = 1
EXT_UUID = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        # whole microseconds since the epoch: exact, unlike a float timestamp
        return msgpack.ExtType(EXT_DATETIME, msgpack.packb((obj - _EPOCH) // _MICROSECOND))
    if isinstance(obj, UUID):
        return msgpack.ExtType(EXT_UUID, obj.bytes)
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == EXT_DATETIME:
        return _EPOCH + timedelta(microseconds=msgpack.unpackb(data))
    if code == EXT_UUID:
        return UUID(bytes=data)
    return msgpack.ExtType(code, data)


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_default, use_bin_type=True)


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)


class MsgpackTranscoder(Transcoder):
    """The event-sourcing library's transcoder interface over msgpack."""

    def encode(self, obj: Any) -> bytes:
        return pack(obj)

    def decode(self, data: bytes) -> Any:
        return unpack(data)


def to_json_safe(obj: Any) -> Any:
    """A plain-JSON view of decoded event state (for `calamari-ctl events` and the API)."""
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, UUID):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json_safe(v) for v in obj]
    return obj
