"""`calamari-server` under tracemalloc, for bench_scale.py --tracemalloc: the same main() with the
same arguments, plus a SIGUSR1 handler that writes the top allocation sites (by line) to a file;
with --holders also what holds the memory (bench/heap_holders.py), and with --no-trace only that.

    python bench/traced_server.py --dump PATH [--top 15] [--frames 1] [--holders] [--no-trace] -- SERVER-ARGS...

The dump is written to PATH.tmp and renamed to PATH, so a reader never sees half of it. Tracing
makes the server slower and larger: figures taken meanwhile are not the server's own."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script without PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def write_top(path: str, top: int, holders: bool = False) -> None:
    lines: list[str] = []
    if tracemalloc.is_tracing():
        lines += top_sites(top)
    if holders:
        from bench.heap_holders import holders_report, server_roots

        lines += ["what holds it (deep sizes, each object counted once, under its first holder):",
                  holders_report(server_roots())]
    with open(path + ".tmp", "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def top_sites(top: int) -> list[str]:
    snapshot = tracemalloc.take_snapshot().filter_traces((
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    ))
    stats = snapshot.statistics("lineno")
    traced, peak = tracemalloc.get_traced_memory()
    lines = [f"traced now {traced / 1e6:.1f} MB, traced peak {peak / 1e6:.1f} MB, "
             f"{len(stats)} allocation sites"]
    for rank, stat in enumerate(stats[:top], 1):
        frame = stat.traceback[0]
        lines.append(f"{rank:3d}. {stat.size / 1e6:8.1f} MB {stat.count:10d} blocks  {frame.filename}:{frame.lineno}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dump", required=True, help="where SIGUSR1 writes the top allocation sites")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--frames", type=int, default=1, help="frames kept per allocation")
    parser.add_argument("--holders", action="store_true",
                        help="also the deep size of what the model, views, time series and API caches hold")
    parser.add_argument("--no-trace", action="store_true", help="no tracemalloc (with --holders: no slow-down)")
    parser.add_argument("server_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    server_args = args.server_args[1:] if args.server_args[:1] == ["--"] else args.server_args
    if not args.no_trace:
        tracemalloc.start(args.frames)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        write_top(args.dump, args.top, args.holders)

    signal.signal(signal.SIGUSR1, on_signal)
    from calamari.service.main import main as server_main

    return server_main(server_args)


if __name__ == "__main__":
    sys.exit(main())
