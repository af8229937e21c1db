"""Helpers for the fault drills: the documented CLI in a subprocess and a SIGKILL at a chosen
moment, raw tables in a form two loads can be compared in, and a search of files for a secret."""

import base64
import binascii
import gzip
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.commands import materialize
from helpers.extraction import LAST_DAY
from helpers.store import AS_OF
from warehouse.connection import WarehouseConnection
from warehouse.resource import WarehouseResource

PROJECT_DIR = Path(__file__).resolve().parents[2]
# README "Tables": the primary key of every raw table; nested tables hang off these.
PRIMARY_KEYS = {
    "customers": "id",
    "subscribers": "id",
    "orders": "id",
    "order_products": "id",
    "order_transactions": "id",
    "products": "id",
    "categories": "category_id",
    "store": "id",
}
# dlt's row ids are random per load; rows are compared by the path they stand for instead.
_ROW_IDS = ("_dlt_id", "_dlt_parent_id", "_dlt_root_id")
KILL_DEADLINE_SECONDS = 180
# A few days of history: each daily partition costs the CLI a planned and a materialisation
# event per table in the instance, so a short range keeps a run about its data.
DRILL_DAYS = 3
DRILL_FIRST_DAY = (AS_OF - timedelta(days=DRILL_DAYS + 1)).date().isoformat()
LOAD_SELECTION = (
    "group:bigcommerce",
    "--partition-range",
    f"{DRILL_FIRST_DAY}...{LAST_DAY}",
)


def drill_store(**sizes: int) -> SandboxStore:
    """A deterministic store whose records span the DRILL_DAYS before AS_OF."""
    return SandboxStore(
        seed=7,
        **{"customers": 40, "orders": 120, "products": 12, "categories": 6, **sizes},
        as_of=AS_OF,
        history_days=DRILL_DAYS,
    )


def with_bytecode(env: dict[str, str], folder: Path) -> dict[str, str]:
    """The environment with compiled bytecode kept in `folder`. Where PYTHONDONTWRITEBYTECODE
    is set, every process would otherwise compile Dagster and dlt anew, seconds per start."""
    kept = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**kept, "PYTHONPYCACHEPREFIX": str(folder)}


def cli_env(
    tmp_path: Path,
    store: SandboxStore,
    server: SandboxServer,
    *,
    bytecode: Path,
    instance_config: bool = False,
    warehouse_url: str | None = None,
) -> dict[str, str]:
    """Variables for the documented commands, every file under tmp_path (and the warehouse in
    the PostgreSQL database `warehouse_url` names, when given).

    Args:
        bytecode: where processes keep compiled bytecode (see `with_bytecode`).
        instance_config: give the fresh DAGSTER_HOME a copy of the committed dagster.yaml (one
            slot per pool); otherwise it is empty, as in tests/test_definitions.py.
    """
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (tmp_path / "home").mkdir(exist_ok=True)
    if instance_config:
        shutil.copy(PROJECT_DIR / "data" / "dagster_home" / "dagster.yaml", home)
    inherited = ("BIGCOMMERCE_", "DUCKDB_", "DLT_", "AUDIENCE_", "DAGSTER_", "WAREHOUSE_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    return {
        **({"WAREHOUSE_URL": warehouse_url} if warehouse_url else {}),
        **with_bytecode(keep, bytecode),
        "HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(home),
        "BIGCOMMERCE_STORE_HASH": store.store_hash,
        "BIGCOMMERCE_ACCESS_TOKEN": store.access_token,
        "BIGCOMMERCE_API_URL": server.url,
        "BIGCOMMERCE_START_DATE": DRILL_FIRST_DAY,
        "DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "DLT_PIPELINES_DIR": str(tmp_path / "dlt"),
        "AUDIENCE_QUEUE_PATH": str(tmp_path / "queue.sqlite"),
    }


def run_cli(env: dict[str, str], *selection: str) -> subprocess.CompletedProcess[str]:
    """Run the documented command to its end, capturing what it prints."""
    return materialize(env, *selection, cwd=env["HOME"])


@contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A process run from `log`'s folder, writing its output to `log`; killed on the way out if
    still running."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, cwd=log.parent, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def kill_when(process: subprocess.Popen, reached: Callable[[], bool]) -> None:
    """SIGKILL the process as soon as `reached()` holds; it must still be running by then."""
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    while not reached():
        assert process.poll() is None, "the process ended before the kill point"
        assert time.monotonic() < deadline, "the kill point was never reached"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def _warehouse(where: Path | WarehouseResource) -> WarehouseResource:
    return where if isinstance(where, WarehouseResource) else WarehouseResource(path=str(where))


def raw_table_names(db: WarehouseConnection) -> list[str]:
    """Tables of the `bigcommerce` schema without dlt's own, parents before nested tables."""
    names = db.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'bigcommerce' and not starts_with(table_name, '_dlt')"
    ).fetchall()
    return sorted((name for (name,) in names), key=lambda name: (name.count("__"), name))


def raw_tables(warehouse: Path | WarehouseResource) -> dict[str, Counter[tuple]]:
    """Every raw table (of a DuckDB file or a warehouse) as a multiset of rows; `_dlt_load_id`
    left out and dlt's random row ids replaced by what they stand for
    (`orders:7/orders__coupons[0]`), so two loads compare."""
    paths: dict[str, str] = {}
    tables: dict[str, Counter[tuple]] = {}
    with _warehouse(warehouse).connect(read_only=True) as db:
        for name in raw_table_names(db):
            cursor = db.execute(f'select * from bigcommerce."{name}"')
            columns = [column[0] for column in cursor.description]  # type: ignore[attr-defined]
            records = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            for record in records:
                if name in PRIMARY_KEYS:
                    path = f"{name}:{record[PRIMARY_KEYS[name]]}"
                else:
                    parent = paths.get(record["_dlt_parent_id"], "orphan")
                    path = f"{parent}/{name}[{record['_dlt_list_idx']}]"
                paths[record["_dlt_id"]] = path
            tables[name] = Counter(_comparable(record, paths) for record in records)
    return tables


def table_differences(
    expected: dict[str, Counter[tuple]], actual: dict[str, Counter[tuple]]
) -> dict[str, str]:
    """Per table, how the rows differ (with one example each way); empty when equal."""
    differences = {}
    for name in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(name, Counter()), actual.get(name, Counter())
        missing, extra = want - got, got - want
        if missing or extra:
            differences[name] = (
                f"{sum(missing.values())} rows missing, e.g. {next(iter(missing), None)}; "
                f"{sum(extra.values())} rows extra, e.g. {next(iter(extra), None)}"
            )
    return differences


def duplicated_keys(warehouse: Path | WarehouseResource) -> dict[str, list[tuple]]:
    """Keys held by more than one row: the primary key of a table, (parent, index) of a nested
    one. Empty when nothing is duplicated."""
    duplicated = {}
    with _warehouse(warehouse).connect(read_only=True) as db:
        for name in raw_table_names(db):
            key = PRIMARY_KEYS.get(name, "_dlt_parent_id, _dlt_list_idx")
            found = db.execute(
                f'select {key}, count(*) from bigcommerce."{name}" group by {key} '
                "having count(*) > 1"
            ).fetchall()
            if found:
                duplicated[name] = found
    return duplicated


def _comparable(record: dict[str, Any], paths: dict[str, str]) -> tuple:
    return tuple(
        sorted(
            (column, paths.get(value, "orphan") if column in _ROW_IDS else _frozen(value))
            for column, value in record.items()
            if column != "_dlt_load_id"
        )
    )


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    return value


def secret_locations(roots: Iterable[Path], secret: str) -> list[str]:
    """Every file under `roots` that holds `secret`: in its bytes, gzipped, or in a cell of a
    SQLite or DuckDB database, also when the cell is zlib-compressed or base64 of that (as
    Dagster's snapshots and dlt's stored state are)."""
    found = []
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            content = path.read_bytes()
            if _holds(content, secret):
                found.append(str(path))
            elif content.startswith(b"SQLite format 3\x00") and _sqlite_holds(path, secret):
                found.append(f"{path} (in a database cell)")
            elif content[8:12] == b"DUCK" and _duckdb_holds(path, secret):
                found.append(f"{path} (in a database cell)")
    return found


def _holds(value: bytes | str | None, secret: str) -> bool:
    """Whether a value holds the secret as it is, gzipped, zlib-compressed or in base64."""
    if value is None:
        return False
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if secret.encode() in raw:
        return True
    for decoded in _decodings(raw):
        if secret.encode() in decoded:
            return True
    return False


def _decodings(raw: bytes) -> Iterator[bytes]:
    candidates = [raw]
    try:
        candidates.append(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        pass
    for candidate in candidates:
        for expand in (gzip.decompress, zlib.decompress):
            try:
                yield expand(candidate)
            except (OSError, EOFError, zlib.error):
                continue


def _sqlite_holds(path: Path, secret: str) -> bool:
    """Whether any cell of a SQLite file (read from a copy with its WAL) holds the secret."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        shutil.copy(path, copy)
        for suffix in ("-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                shutil.copy(f"{path}{suffix}", f"{copy}{suffix}")
        connection = sqlite3.connect(copy)
        try:
            tables = connection.execute("select name from sqlite_master where type = 'table'")
            for (table,) in tables.fetchall():
                for row in connection.execute(f'select * from "{table}"'):
                    if any(_holds(cell, secret) for cell in row if isinstance(cell, str | bytes)):
                        return True
        finally:
            connection.close()
    return False


def _duckdb_holds(path: Path, secret: str) -> bool:
    """Whether any cell of any table of a DuckDB file holds the secret (DuckDB compresses
    strings on disk, so the file's bytes alone prove nothing)."""
    with duckdb.connect(str(path), read_only=True) as db:
        tables = db.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            for row in db.execute(f'select * from "{schema}"."{table}"').fetchall():
                if any(_holds(str(cell), secret) for cell in row if cell is not None):
                    return True
    return False


# The export asset of one job in a process of its own, so a drill can SIGKILL it mid-send.
_EXPORT_PROCESS = """
import sys
import dagster as dg
from audience_jobs.assets import ExportQueueResource, build_export_assets
from audience_jobs.jobs import ExportJob
from bigcommerce_assets.resources import BigCommerceResource

api_url, store_hash, token, queue_path, job_id, audience = sys.argv[1:]
job = ExportJob(id=job_id, audience=audience)
dg.materialize(
    build_export_assets([job])[1:],
    resources={
        "bigcommerce": BigCommerceResource(
            store_hash=store_hash, access_token=token, api_url=api_url
        ),
        "export_queue": ExportQueueResource(path=queue_path),
    },
    instance=dg.DagsterInstance.ephemeral(),
)
"""


def export_command(
    server: SandboxServer, store: SandboxStore, queue: Path, job_id: str, audience: str
) -> list[str]:
    """A process that sends one job's queued changes from the queue file, and nothing else."""
    return [
        sys.executable,
        "-c",
        _EXPORT_PROCESS,
        server.url,
        store.store_hash,
        store.access_token,
        str(queue),
        job_id,
        audience,
    ]
