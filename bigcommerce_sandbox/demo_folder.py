"""The demo's own folder, apart from the production defaults, and the sandbox store it keeps
across runs: the store's moment, its API port, the orders placed since and what was exported
to it, all in `sandbox_demo.json`."""

import json
import os
import random
import shutil
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.commands import INSTANCE_CONFIG, PROJECT_DIR
from warehouse.resource import WarehouseResource

HISTORY_DAYS = 90
CUSTOMERS = 500
NEW_ORDERS_PER_RUN = 8
# What points the project at a store and its state: the demo sets all of it for its commands.
_PROJECT_VARIABLES = ("BIGCOMMERCE_", "DUCKDB_", "DLT_", "AUDIENCE_", "DAGSTER_HOME")


class DemoError(Exception):
    """The demo cannot run as set up; the message says what to change."""


@dataclass(frozen=True)
class DemoFolder:
    """Everything the demo writes: its warehouse, queue, dlt folder, Dagster instance and the
    state of its sandbox store, in `data/demo/` (in the `BIGCOMMERCE_CDP_DATA_DIR` folder
    when that is set), never in the production defaults next to it."""

    path: Path

    @classmethod
    def from_environment(cls) -> "DemoFolder":
        data = os.environ.get("BIGCOMMERCE_CDP_DATA_DIR", str(PROJECT_DIR / "data"))
        return cls(Path(data) / "demo")

    @property
    def warehouse(self) -> Path:
        return self.path / "warehouse.duckdb"

    def warehouse_resource(self) -> WarehouseResource:
        """The demo's warehouse: its DuckDB file, or the PostgreSQL database `WAREHOUSE_URL`
        names when that is set (the demo then keeps its queue there too)."""
        url = os.environ.get("WAREHOUSE_URL", "").strip()
        return WarehouseResource(url=url) if url else WarehouseResource(path=str(self.warehouse))

    @property
    def queue(self) -> Path:
        return self.path / "export_queue.sqlite"

    @property
    def pipelines(self) -> Path:
        return self.path / "dlt"

    @property
    def dagster_home(self) -> Path:
        return self.path / "dagster_home"

    @property
    def state_file(self) -> Path:
        return self.path / "sandbox_demo.json"

    def warehouse_label(self) -> str:
        """What the state records of the warehouse it was loaded into: `duckdb` for the folder's
        own file (wherever the folder moves), the server without its password otherwise."""
        warehouse = self.warehouse_resource()
        return "duckdb" if warehouse.dialect == "duckdb" else warehouse.describe()

    def read_state(self) -> dict | None:
        """What the previous run left, or None when there is no previous run to go on from (or
        it loaded another warehouse)."""
        warehouse = self.warehouse_resource()
        if warehouse.dialect == "duckdb" and not self.warehouse.exists():
            return None
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return state if state.get("warehouse", "duckdb") == self.warehouse_label() else None

    def write_state(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state), encoding="utf-8")

    def start_afresh(self) -> None:
        """Delete what an earlier demo store left in the folder: a new store holds none of it,
        and its warehouse, queue and dlt folder would refuse the new store anyway. A PostgreSQL
        database is never emptied: one that holds a store already is refused (DemoError)."""
        warehouse = self.warehouse_resource()
        if warehouse.dialect == "postgres":
            with warehouse.connect(read_only=True) as connection:
                if connection.table_exists("meta", "store_owner"):
                    raise DemoError(
                        f"The demo starts a new store, and {warehouse.describe()} holds one "
                        "already: point WAREHOUSE_URL at an empty database (or drop and create "
                        "this one again)."
                    )
        for path in (self.warehouse, self.queue):
            for companion in (path, *path.parent.glob(f"{path.name}[-.]*")):
                companion.unlink(missing_ok=True)
        shutil.rmtree(self.pipelines, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)

    def prepare(self) -> None:
        """Create the folder and the Dagster instance's, with a copy of the committed
        dagster.yaml (one slot per pool)."""
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        if not (self.dagster_home / "dagster.yaml").exists():
            shutil.copy(INSTANCE_CONFIG, self.dagster_home)

    def env(self, store: SandboxStore, api_url: str, first_day: date) -> dict[str, str]:
        """The environment of the demo's commands: the sandbox store and this folder only."""
        kept = {k: v for k, v in os.environ.items() if not k.startswith(_PROJECT_VARIABLES)}
        return {
            **kept,
            "DAGSTER_HOME": str(self.dagster_home),
            "BIGCOMMERCE_STORE_HASH": store.store_hash,
            "BIGCOMMERCE_ACCESS_TOKEN": store.access_token,
            "BIGCOMMERCE_API_URL": api_url,
            "BIGCOMMERCE_START_DATE": first_day.isoformat(),
            "BIGCOMMERCE_CDP_DATA_DIR": str(self.path),
            "DUCKDB_PATH": str(self.warehouse),
            "AUDIENCE_QUEUE_PATH": str(self.queue),
            "DLT_PIPELINES_DIR": str(self.pipelines),
        }


def demo_store(state: dict | None, now: datetime) -> SandboxStore:
    """The demo's store as earlier runs left it (orders placed, attribute values exported),
    or a new one whose history ends at `now`."""
    store = SandboxStore(
        seed=1,
        customers=CUSTOMERS,
        orders=1500,
        products=50,
        categories=12,
        as_of=datetime.fromisoformat(state["as_of"]) if state else now,
        history_days=HISTORY_DAYS,
    )
    if state is not None:
        store.customer_attributes.restore(state["attributes"], state["attribute_values"])
        for customer_id, at in state["added_orders"]:
            _place_order(store, customer_id, at)
    return store


def first_day(store: SandboxStore) -> date:
    """The first day of the store's history: the demo's BIGCOMMERCE_START_DATE."""
    return (store.as_of - timedelta(days=HISTORY_DAYS)).date()


def place_new_orders(store: SandboxStore, state: dict | None, now: datetime) -> list[list]:
    """A few orders arrive since the previous run; returns every order placed since the first."""
    if state is None:
        return []
    added = list(state["added_orders"])
    shoppers = random.Random(len(added))
    new = [[shoppers.randint(1, CUSTOMERS), now.isoformat()] for _ in range(NEW_ORDERS_PER_RUN)]
    for customer_id, at in new:
        _place_order(store, customer_id, at)
    return added + new


def store_state(
    store: SandboxStore, api_url: str, last_day: date, added_orders: list[list], warehouse: str
) -> dict:
    """What the next run needs to serve the same store at the same address, and the warehouse
    it was loaded into (`DemoFolder.warehouse_label()`)."""
    return {
        "warehouse": warehouse,
        "as_of": store.as_of.isoformat(),
        "api_port": int(api_url.rsplit(":", 1)[1]),
        "last_day": last_day.isoformat(),
        "added_orders": added_orders,
        "attributes": store.attributes(),
        "attribute_values": store.attribute_values(),
    }


def serve(store: SandboxStore, port: int) -> SandboxServer | None:
    """The store served on `port` (0: any free port), or None, said why, if it is taken."""
    try:
        return SandboxServer(store, quota=None, port=port).start()
    except OSError as error:
        print(
            f"Cannot serve the demo store on port {port} ({error.strerror}), where the demo's "
            "UI expects it. Stop what listens there (the demo's UI?) and run this again.",
            file=sys.stderr,
        )
        return None


def _place_order(store: SandboxStore, customer_id: int, at: str) -> None:
    store.add_order(customer_id, at=datetime.fromisoformat(at), status_id=10, status="Completed")
