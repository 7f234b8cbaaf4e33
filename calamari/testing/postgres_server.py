"""A throwaway PostgreSQL server in a temporary directory, for tests and benchmarks: initdb,
pg_ctl start on 127.0.0.1 with a free port and a private socket directory, pg_ctl stop.

PostgreSQL refuses to run as root, so as root the commands run as the `postgres` user (or
`nobody`) through runuser, and the directory is handed to that user."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field

import psycopg

SEARCH = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/usr/pgsql-*/bin")


def find_bin_dir() -> str | None:
    """The directory holding initdb and pg_ctl (newest version first), or None."""
    candidates = sorted((d for pattern in SEARCH for d in glob.glob(pattern)), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(os.path.dirname(on_path))
    for directory in candidates:
        if all(os.access(os.path.join(directory, tool), os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_as() -> str | None:
    """Who runs the server when we are root: a system user that exists."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


@dataclass
class PostgresServer:
    bin_dir: str
    user: str = "calamari"
    password: str = "s3cret-pw"
    port: int = 0
    directory: str = ""
    durable: bool = False  # fsync and synchronous commit as in production (for benchmarks)
    _as: str | None = field(default=None, repr=False)

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [os.path.join(self.bin_dir, tool), *args]
        return ["runuser", "-u", self._as, "--", *command] if self._as else command

    def start(self) -> PostgresServer:
        self._as = _run_as()
        self.directory = tempfile.mkdtemp(prefix="calamari-pg-")
        if self._as:
            entry = pwd.getpwnam(self._as)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        data, sockets = os.path.join(self.directory, "data"), os.path.join(self.directory, "sock")
        password_file = os.path.join(self.directory, "pw")
        with open(password_file, "w") as f:
            f.write(self.password)
        os.makedirs(sockets)
        if self._as:
            for path in (sockets, password_file):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(self._command("initdb", "-D", data, "-U", self.user, f"--pwfile={password_file}",
                                     "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"),
                       check=True, capture_output=True, timeout=120)
        self.port = _free_port()
        # fsync off: a test server's data is thrown away; it keeps the tests quick on slow disks
        options = f"-h 127.0.0.1 -p {self.port} -k {sockets}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off"
        subprocess.run(self._command("pg_ctl", "-D", data, "-o", options, "-l", os.path.join(self.directory, "log"),
                                     "-w", "-t", "60", "start"), check=True, capture_output=True, timeout=90)
        return self

    def url(self, dbname: str = "postgres", **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return (f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{dbname}"
                + (f"?{query}" if query else ""))

    def create_database(self, name: str) -> str:
        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if not self.directory:
            return
        try:
            subprocess.run(self._command("pg_ctl", "-D", os.path.join(self.directory, "data"), "-m", "immediate",
                                         "-w", "stop"), check=False, capture_output=True, timeout=60)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = ""
