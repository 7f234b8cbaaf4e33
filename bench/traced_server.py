"""`calamari-server` under tracemalloc, for bench_scale.py --tracemalloc: the same main() with the
same arguments, plus a SIGUSR1 handler that writes the top allocation sites (by line) to a file.

    python bench/traced_server.py --dump PATH [--top 15] [--frames 1] -- SERVER-ARGS...

The dump is written to PATH.tmp and renamed to PATH, so a reader never sees half of it. Tracing
makes the server slower and larger: figures taken meanwhile are not the server's own."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tracemalloc
from types import FrameType


def write_top(path: str, top: int) -> None:
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
    with open(path + ".tmp", "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dump", required=True, help="where SIGUSR1 writes the top allocation sites")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--frames", type=int, default=1, help="frames kept per allocation")
    parser.add_argument("server_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    server_args = args.server_args[1:] if args.server_args[:1] == ["--"] else args.server_args
    tracemalloc.start(args.frames)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        write_top(args.dump, args.top)

    signal.signal(signal.SIGUSR1, on_signal)
    from calamari.service.main import main as server_main

    return server_main(server_args)


if __name__ == "__main__":
    sys.exit(main())
