"""Benchmark: what a `calamari-ctl` run costs. Start-up of `--help` and of typical commands on a
small data dir (each a fresh process, as an admin runs it; CPU time of the process, which a busy
machine disturbs less than wall time, and wall time), the command-line layer alone (argparse:
import, the parser of every command, one parse), and a round trip over the control channel to a
running server. Figures are printed, never asserted; docs/ctl.md compares them with the libraries
considered.

    .venv/bin/python bench/bench_ctl.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from calamari.service.control import ControlServer, call_running_server  # noqa: E402
from calamari.service.model import ModelService, ServiceConfig  # noqa: E402

HOSTS = 50


def child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def figures(name: str, samples: list[float], unit: str = "ms", scale: float = 1e3) -> None:
    print(f"  {name:44s} min {min(samples) * scale:8.1f} {unit}   median {statistics.median(samples) * scale:8.1f} {unit}")


def a_data_dir(path: str) -> None:
    """Server facts of HOSTS hosts: a small store, as a test cluster's first minutes make."""
    service = ModelService(ServiceConfig(data_dir=path))
    start = datetime(2026, 11, 25, tzinfo=UTC)
    for i in range(HOSTS):
        service.on_server_facts(None, {"fqdn": f"host{i}.example.net", "hostname": f"host{i}", "kernel": "6.1",
                                       "services": []}, start + timedelta(seconds=i))
    service.writer.flush(10)
    service.close()


def start_up(data_dir: str, runs: int) -> None:
    # the module, not the console script: the same code whichever Python runs the benchmark
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    commands = {"calamari-ctl --help": ["--help"],
                f"calamari-ctl events --since {HOSTS * 2 - 5}": ["--data-dir", data_dir, "events", "--since",
                                                               str(HOSTS * 2 - 5)],
                "calamari-ctl key list": ["--data-dir", data_dir, "key", "list"]}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():  # interleaved, so that a busy spell hits all alike
            before_cpu, before = child_cpu_s(), time.perf_counter()
            subprocess.run([sys.executable, "-m", "calamari.service.ctl", *argv], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, check=True)
            wall[name].append(time.perf_counter() - before)
            cpu[name].append(child_cpu_s() - before_cpu)
    print(f"start-up, a fresh process each ({runs} runs):")
    for name in commands:
        figures(f"{name} (CPU)", cpu[name])
        figures(f"{name} (wall)", wall[name])


def in_process(name: str, work: Callable[[], object], runs: int) -> None:
    samples = []
    for _ in range(runs):
        before = time.process_time()
        work()
        samples.append(time.process_time() - before)
    figures(name, samples, "us", 1e6)


def command_line_layer(runs: int) -> None:
    code = ("import time; from calamari.service import cluster_cli, events_cli, history_cli, key_cli, "
            "snapshot_cli, user_cli\nbefore = time.process_time()\nimport argparse\n"
            "from calamari.service import ctl\nctl.build_parser().parse_args(['key', 'list'])\n"
            "print(time.process_time() - before)")
    samples = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        samples.append(float(done.stdout))
    print("the command-line layer (the command modules already imported):")
    figures("import argparse, build every parser, parse once", samples)
    from calamari.service import ctl

    in_process("build every parser, parse once (warm)", lambda: ctl.build_parser().parse_args(["key", "list"]),
               runs * 20)


def control_round_trip(runs: int) -> None:
    key_dir = tempfile.mkdtemp(prefix="bench-ctl-")
    server = ControlServer(key_dir, {"ping": lambda request: {"ok": True}})
    server.start()
    try:
        samples = []
        for _ in range(runs * 20):
            before = time.perf_counter()
            call_running_server(key_dir, {"op": "ping"})
            samples.append(time.perf_counter() - before)
    finally:
        server.stop()
        shutil.rmtree(key_dir, ignore_errors=True)
    print("control channel (loopback TCP, token line):")
    figures("one request, connect to answer (wall)", samples, "us", 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="bench-ctl-data-")
    try:
        a_data_dir(data_dir)
        start_up(data_dir, args.runs)
        command_line_layer(args.runs)
        control_round_trip(args.runs)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
