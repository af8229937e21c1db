"""A real PostgreSQL server for the tests, started from Debian's binaries in a temporary folder.

Debian's `initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres`
user. The server listens on 127.0.0.1 with a password for `cdp`, so the tests exercise the
same login a team's server asks for; each test gets a database of its own.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

BIN_ROOT = Path("/usr/lib/postgresql")
USER = "cdp"
PASSWORD = "pg-secret-9c41e7"  # the tests search logs and files for it


@dataclass(frozen=True)
class PostgresServer:
    """A running server: `url(database)` reaches a database on it as `cdp`."""

    host: str
    port: int
    folder: Path

    def url(self, database: str, *, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@{self.host}:{self.port}/{database}"

    def create_database(self, *, template: str | None = None) -> str:
        """A new database, empty or a copy of the database `template` (a URL) names; returns its
        URL. Nothing may be connected to the template."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        copy = f" template {template.rsplit('/', 1)[1]}" if template else ""
        connection = psycopg2.connect(self.url("postgres"))
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"create database {name} owner {USER}{copy}")
        connection.close()
        return self.url(name)


def binaries() -> Path | None:
    """The newest installed server's bin folder, None when PostgreSQL is not installed."""
    versions = sorted(BIN_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway server; stop it and delete its files afterwards."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/run).")
    folder = Path(tempfile.mkdtemp(prefix="pgtest-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    password_file = folder / "password"
    password_file.write_text(PASSWORD)
    if as_postgres:
        shutil.chown(password_file, "postgres", "postgres")
    data = folder / "data"
    _run(
        [
            *as_postgres,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "-A",
            "scram-sha-256",
            f"--pwfile={password_file}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]
    )
    options = (
        f"-k {folder} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    pg_ctl = [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-w"]
    _run([*pg_ctl, "-l", str(folder / "server.log"), "-o", options, "start"])
    try:
        yield PostgresServer("127.0.0.1", port, folder)
    finally:
        _run([*pg_ctl, "-m", "immediate", "stop"])
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, cwd="/")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dump_database(url: str) -> str:
    """Everything a database holds, as `pg_dump` writes it: schema and rows, as text."""
    bin_dir = binaries()
    assert bin_dir is not None
    dumped = subprocess.run(
        [str(bin_dir / "pg_dump"), f"--dbname={url}"], check=True, capture_output=True
    )
    return dumped.stdout.decode("utf-8", "replace")
