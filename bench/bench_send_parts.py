"""The cost of sending a large answer of many parts (shaped like the OSD list at 10,000 OSDs: 30,000
parts, 45 MB, a 4 kB pools list shared by every OSD) through the API's HTTP server: the server
process's CPU per answer and the wall time to the last byte, with the parts sent as they are
(sendmsg, calamari.adapters.http_parts) and, for comparison, read through waitress's own file
wrapper as before. The server runs in its own process (a bare Flask app answering with
`json_bytes_response`), so its CPU is read from /proc apart from the client's.

    python bench/bench_send_parts.py [--requests 20] [--osds 10000] [--pools 1000]

Prints figures; asserts nothing. The machine's other load shows in the wall times: compare the
CPU column."""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script without PYTHONPATH
    sys.path.insert(0, str(HERE.parent))


def serve(mode: str, osds: int, pools: int) -> None:
    from flask import Flask
    from waitress.buffers import ReadOnlyFileBasedBuffer

    from calamari.adapters import http_hand_over
    from calamari.adapters.http_server import ConnectionLimits, create_http_server
    from calamari.api.listing import json_bytes_response

    if mode == "file":  # waitress's own wrapper: the answer read through the file in chunks
        http_hand_over.file_wrapper = lambda file, block_size=32768: ReadOnlyFileBasedBuffer(file, block_size)
    shared = b',"pools":[' + b",".join(str(i).encode() for i in range(pools)) + b"]"
    parts = [b"["]
    for i in range(osds):
        parts += [b'{"id":%d,"uuid":"%s"' % (i, b"x" * 800), shared, b',"valid_commands":[]},']
    parts[-1] = parts[-1][:-1] + b"]"
    app = Flask(__name__)

    @app.get("/list")
    def answer():  # type: ignore[no-untyped-def]
        return json_bytes_response(parts, '"t"')

    server = create_http_server(app, "127.0.0.1", 0, threads=2, limits=ConnectionLimits())
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()  # ends with its parent
    print(server.effective_port, flush=True)
    server.run()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(mode: str, args: argparse.Namespace) -> str:
    server = subprocess.Popen([sys.executable, __file__, "--serve", mode, "--osds", str(args.osds), "--pools",
                               str(args.pools)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())

        def get() -> int:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                connection.request("GET", "/list")
                return len(connection.getresponse().read())
            finally:
                connection.close()

        size = get()  # warm-up
        before = cpu_seconds(server.pid)
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            get()
            times.append((time.perf_counter() - started) * 1000)
        cpu = (cpu_seconds(server.pid) - before) / args.requests * 1000
        return (f"{mode:<6} {size / 1e6:.1f} MB: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms; "
                f"server CPU per answer {cpu:.1f} ms; load average {os.getloadavg()[0]:.1f}")
    finally:
        server.kill()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--osds", type=int, default=10_000)
    parser.add_argument("--pools", type=int, default=1_000)
    parser.add_argument("--serve", choices=("parts", "file"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.osds, args.pools)
        return 0
    for mode in ("file", "parts", "file", "parts"):  # alternated: the machine's load falls on both
        print(measure(mode, args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
