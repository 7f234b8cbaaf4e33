"""What holds the server's memory: for bench/traced_server.py, the deep size of each part of the
objects that hold the model, the read model, the held sync objects, the time series' newest
points and the caches of the API, each object counted once (under the first holder that
reaches it, in the order below), so the figures add up and a second copy shows as its own line.

What only a running function holds (a thread's local variables, e.g. the batch the time-series
writer is writing) shows under "everything else", by the type of its containers.
Only the objects' own sizes (sys.getsizeof) are summed: the allocator's overhead and free memory
kept by it are not in them (compare with the RSS)."""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Iterable, Iterator
from typing import Any

# Shared by every holder and never the holders' own: not counted.
_SKIPPED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
            types.CodeType, types.FrameType)


def deep_size(root: Any, seen: set[int]) -> tuple[int, int]:
    """(bytes, objects) reachable from `root` not already in `seen` (which this adds them to)."""
    total = count = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIPPED):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        count += 1
        stack.extend(gc.get_referents(obj))
    return total, count


def tracked_objects() -> list[Any]:
    """Every object gc tracks, those gc.freeze() set aside too (calamari-server freezes its
    restored model; gc.get_objects() leaves frozen objects out): they are unfrozen for the look
    and frozen again, with whatever else is alive now, as the server's own freeze would."""
    frozen = gc.get_freeze_count()
    if frozen:
        gc.unfreeze()
    try:
        return gc.get_objects()
    finally:
        if frozen:
            gc.freeze()


def instances(type_name: str) -> list[Any]:
    """Every live object whose class is named `type_name` (gc tracks instances of Python classes)."""
    return [obj for obj in tracked_objects() if type(obj).__name__ == type_name and not isinstance(obj, type)]


def _parts(name: str, obj: Any) -> Iterator[tuple[str, Any]]:
    """`obj`'s attributes as (label, value); dicts of sync objects by kind, one line each."""
    for attr, value in sorted(vars(obj).items(), key=lambda kv: kv[0] != "held"):
        if attr == "held" and isinstance(value, dict):
            for fsid, by_name in value.items():
                for sync_name, held in by_name.items():
                    yield f"{name}.held[{fsid[:8]}][{sync_name}]", held
        else:
            yield f"{name}.{attr}", value


def holders_report(roots: Iterable[tuple[str, Any]], top: int = 40) -> str:
    """Deep sizes of the roots' parts, largest first, then the rest of the heap gc tracks."""
    gc.collect()
    roots = list(roots)
    seen: set[int] = set()
    seen.add(id(seen))  # the walk's own bookkeeping is not the server's
    rows: list[tuple[int, int, str]] = []
    seen.add(id(rows))
    for name, obj in roots:
        for label, value in _parts(name, obj):
            size, count = deep_size(value, seen)
            rows.append((size, count, label))
    rest = rest_count = 0
    by_type: dict[str, list[int]] = {}
    seen.add(id(by_type))
    for obj in tracked_objects():
        size, count = deep_size(obj, seen)
        rest += size
        rest_count += count
        if size:
            sums = by_type.setdefault(_type_name(obj), [0, 0, 0])
            sums[0] += size
            sums[1] += count
            sums[2] += 1
    rows.sort(reverse=True)
    lines = [f"{size / 1e6:8.1f} MB {count:10d} objects  {label}" for size, count, label in rows[:top]]
    lines.append(f"{sum(r[0] for r in rows[top:]) / 1e6:8.1f} MB in {len(rows) - top if len(rows) > top else 0} "
                 "smaller parts")
    lines.append(f"{rest / 1e6:8.1f} MB {rest_count:10d} objects  everything else gc reaches, by the type of "
                 "the first object reaching it:")
    for name, (size, count, tops) in sorted(by_type.items(), key=lambda kv: -kv[1][0])[:top // 2]:
        lines.append(f"{size / 1e6:8.1f} MB {count:10d} objects  from {tops} {name}")
    return "\n".join(lines)


def _type_name(obj: Any) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def server_roots() -> list[tuple[str, Any]]:
    """The server's big holders, in the order they are counted: the live model first (what
    it shares with the others is counted there), then the read model, the snapshot writer's
    shadow model, the time series and the API's caches."""
    roots: list[tuple[str, Any]] = []
    states = instances("ClusterModel") or instances("ModelState")
    for number, state in enumerate(states):
        roots.append((f"model{number}", state))
    for number, view in enumerate(instances("ReadModel")):
        roots.append((f"view{number}", view))
    for number, store in enumerate(instances("WhisperStore")):
        roots.append((f"timeseries{number}", store))
    for type_name in ("MetricsRenderer", "ModelService", "SnapshotWriter", "EventWriter", "EventFeed", "StreamHub",
                      "CollectorBus", "TimeSeriesWriter", "RequestExecutor", "AuthService"):
        for number, obj in enumerate(instances(type_name)):
            roots.append((f"{type_name}{number}", obj))
    for number, app in enumerate(instances("Flask")):
        roots.append((f"app{number}.extensions", types.SimpleNamespace(**{
            str(k): v for k, v in app.extensions.items()})))
    return roots


if __name__ == "__main__":  # pragma: no cover - used through traced_server.py
    print(holders_report(server_roots()), file=sys.stdout)
