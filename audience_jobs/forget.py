"""`forget_people`: the right to be forgotten, for people named by email hash or customer id.

The request names people by the SHA-256 of their trimmed, lower-cased email, so the request,
its run config and the suppression list never hold an address. One op, in this order:
1. the people join the suppression list first, so a load that starts meanwhile drops them;
2. their customer and subscriber rows leave the raw tables, their orders stay with every
   personal field emptied (revenue totals keep them) and belong to no profile, and their
   profiles, audience memberships and membership history go;
3. the values every export job wrote for them are deleted in the store, and the export queue
   forgets them;
4. no copy stays behind: the DuckDB file is rewritten (PostgreSQL's tables are rewritten with
   VACUUM FULL), and dlt's finished load packages, which keep raw rows, are deleted.
Each step can run again: a second run over the same people finishes what a failed one left.
"""

import hashlib
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from pydantic import Field

from audience_jobs.assets import ExportQueueResource
from audience_jobs.attribute_values import delete_attribute_values, exported_attribute_ids
from audience_jobs.jobs import ExportJob
from audience_jobs.queue_store import QueueCompactionError
from audience_jobs.reconcile import claimed_client
from bigcommerce_assets.client import BigCommerceError
from bigcommerce_assets.deleted_records import RAW_SCHEMA, add_left_out, delete_records
from bigcommerce_assets.personal_data import child_erasure_sql, order_erasure_sql
from bigcommerce_assets.resources import PIPELINE_NAME, BigCommerceResource, DltRunnerResource
from dbt_like_sql.erasure import remove_profiles
from warehouse.compaction import (
    WarehouseCompactionError,
    empty_tables,
    rewrite_duckdb_file,
    vacuum_full,
)
from warehouse.connection import WarehouseConnection
from warehouse.resource import WarehousePools, WarehouseResource
from warehouse.suppressions import add_suppressions, email_sha256

JOB_NAME = "forget_people"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# dlt's staging dataset: the rows of the last merge wait there until the next one.
STAGING_SCHEMA = f"{RAW_SCHEMA}_staging"


class ForgetConfig(dg.Config):
    """Who to forget. Give each email as the SHA-256 of its trimmed, lower-cased form (the
    README shows a command that computes it), so the address is never stored."""

    email_sha256: list[str] = Field(
        default=[], description="Hex SHA-256 of each trimmed, lower-cased email."
    )
    customer_ids: list[int] = Field(default=[], description="BigCommerce customer ids.")


@dataclass
class People:
    """Who a request reaches in the warehouse: the ids and emails it names or leads to."""

    email_hashes: set[str]
    customer_ids: set[int]
    emails: set[str] = field(default_factory=set)
    subscriber_ids: set[int] = field(default_factory=set)
    order_ids: set[int] = field(default_factory=set)

    def profile_ids(self) -> set[str]:
        """The profile ids these people can have: `c<id>` and `g<md5 of email>`."""
        return {f"c{customer_id}" for customer_id in self.customer_ids} | {
            "g" + hashlib.md5(email.encode()).hexdigest() for email in self.emails
        }


def validated(config: ForgetConfig) -> tuple[set[str], set[int]]:
    """The request's hashes (lower-cased) and ids; a dg.Failure in one sentence when wrong."""
    hashes = {value.strip().lower() for value in config.email_sha256}
    wrong = sorted(value for value in hashes if not _SHA256.fullmatch(value))
    if wrong:
        raise dg.Failure(
            description=f"{len(wrong)} email_sha256 value(s) are not 64 hex digits: give the "
            "SHA-256 of the trimmed, lower-cased email, never the email itself."
        )
    ids = set(config.customer_ids)
    if any(customer_id <= 0 for customer_id in ids):
        raise dg.Failure(description="customer_ids must be positive BigCommerce customer ids.")
    if not hashes and not ids:
        raise dg.Failure(description="Name at least one person: email_sha256 or customer_ids.")
    return hashes, ids


def find_people(connection: WarehouseConnection, hashes: set[str], ids: set[int]) -> People:
    """Everyone the request reaches: customers by id or email hash, the emails those customers
    have, then subscribers and orders by any of those emails or customer ids."""
    people = People(set(hashes), set(ids))
    for customer_id, email in _rows(connection, "customers", "id, email"):
        if customer_id in ids or _hash(email) in hashes:
            people.customer_ids.add(customer_id)
            if _hash(email):
                people.email_hashes.add(_hash(email))
                people.emails.add(_normal(email))
    for subscriber_id, email in _rows(connection, "subscribers", "id, email"):
        if _hash(email) in people.email_hashes:
            people.subscriber_ids.add(subscriber_id)
            people.emails.add(_normal(email))
    for order_id, customer_id, email in _rows(
        connection, "orders", "id, customer_id, billing_address__email"
    ):
        if _hash(email) in people.email_hashes:
            people.emails.add(_normal(email))
        if customer_id in people.customer_ids or _hash(email) in people.email_hashes:
            people.order_ids.add(order_id)
    return people


def erase_from_warehouse(
    connection: WarehouseConnection, people: People, audiences: list[str]
) -> dict[str, int]:
    """Delete or erase every row about these people; rows removed or erased per table."""
    removed = {
        f"{RAW_SCHEMA}.customers": delete_records(connection, "customers", people.customer_ids),
        f"{RAW_SCHEMA}.subscribers": delete_records(
            connection, "subscribers", people.subscriber_ids
        ),
    }
    # Their rows may stay in the store's list: loads must not take them for deletions.
    add_left_out(connection, "subscribers", len(people.subscriber_ids))
    children = _tables(connection, RAW_SCHEMA, "order%\\_\\_%")
    with connection.transaction():
        for statement in [*order_erasure_sql(), *child_erasure_sql(children)]:
            connection.executemany(
                statement, [(order_id,) for order_id in sorted(people.order_ids)]
            )
        # The staging dataset only holds the last merge's rows, which are in the tables already.
        empty_tables(connection, _tables(connection, STAGING_SCHEMA))
    removed[f"{RAW_SCHEMA}.orders (erased)"] = len(people.order_ids)
    removed |= remove_profiles(connection, people.profile_ids(), audiences, with_history=True)
    return removed


def delete_load_packages(pipelines_dir: Path) -> int:
    """Delete dlt's finished load packages, which keep the raw rows they loaded; returns how
    many. Packages not loaded yet stay: the next load needs them."""
    loaded = pipelines_dir / PIPELINE_NAME / "load" / "loaded"
    packages = [path for path in loaded.iterdir() if path.is_dir()] if loaded.is_dir() else []
    for package in packages:
        shutil.rmtree(package)
    return len(packages)


def build_forget_job(
    pools: WarehousePools, audiences: list[str], export_jobs: Iterable[ExportJob]
) -> dg.JobDefinition:
    """The `forget_people` job; it writes raw tables, so it takes the loads' pool."""
    jobs = list(export_jobs)

    @dg.op(name=JOB_NAME, pool=pools.load, out=dg.Out(dg.Nothing))
    def forget_people(
        context: dg.OpExecutionContext,
        config: ForgetConfig,
        bigcommerce: BigCommerceResource,
        warehouse: WarehouseResource,
        dlt: DltRunnerResource,
        export_queue: ExportQueueResource,
    ) -> None:
        """Forgets the people the config names everywhere the project keeps data, and in the
        attribute values the exports wrote to the store."""
        hashes, ids = validated(config)
        queue = export_queue.queue()
        client = claimed_client(context, bigcommerce, warehouse, dlt, queue)
        with warehouse.connect() as connection:
            people = find_people(connection, hashes, ids)
            add_suppressions(connection, people.email_hashes, people.customer_ids)
            removed = erase_from_warehouse(connection, people, audiences)
        try:
            attribute_ids = exported_attribute_ids(client, jobs)
            values = delete_attribute_values(client, sorted(people.customer_ids), attribute_ids)
        except BigCommerceError as error:
            raise dg.Failure(
                description=f"{error} The warehouse has forgotten them; run forget_people again "
                "with the same config to delete their attribute values in the store."
            ) from None
        finally:
            client.close()
        try:
            queue_rows = queue.forget_customers(people.customer_ids)
            _compact(warehouse, list(removed))
        except (QueueCompactionError, WarehouseCompactionError) as error:
            raise dg.Failure(
                description=f"{error} The rows are deleted; run forget_people again with the "
                "same config to finish."
            ) from None
        packages = delete_load_packages(Path(dlt.pipelines_dir))
        metadata = {
            **{f"rows_removed:{table}": count for table, count in removed.items()},
            "attribute_values_deleted": values,
            "queue_rows_removed": queue_rows,
            "dlt_load_packages_deleted": packages,
            "people_suppressed": len(hashes) + len(ids),
            **client.cost().metadata(),
        }
        context.log.info(
            f"Forgot {len(people.customer_ids)} customers, {len(people.subscriber_ids)} "
            f"subscribers and erased {len(people.order_ids)} orders; deleted {values} attribute "
            "values in the store."
        )
        context.add_output_metadata(metadata)

    # The job carries the op's name; its graph another one, since Dagster wants op and graph
    # names unique within a code location.
    return dg.GraphDefinition(name=f"{JOB_NAME}_graph", node_defs=[forget_people]).to_job(
        name=JOB_NAME,
        description="Forgets people named by email hash or customer id: deletes their rows, "
        "erases their orders, deletes their attribute values in the store, keeps them out of "
        "later loads and exports, and leaves no copy in the warehouse, queue or dlt folder.",
    )


def _compact(warehouse: WarehouseResource, tables: list[str]) -> None:
    """Leave no bytes of the deleted rows in the warehouse's files."""
    if warehouse.dialect == "duckdb":
        rewrite_duckdb_file(Path(warehouse.path))
        return
    with warehouse.connect() as connection:
        names = [table.split(" ")[0] for table in tables]
        children = [
            table
            for parent in ("customers", "subscribers", "orders")
            for table in _tables(connection, RAW_SCHEMA, f"{parent}\\_\\_%")
        ]
        vacuum_full(
            connection,
            [
                *names,
                *children,
                *_tables(connection, STAGING_SCHEMA),
                f"{RAW_SCHEMA}.order_transactions",
            ],
        )


def _tables(connection: WarehouseConnection, schema: str, like: str = "%") -> list[str]:
    """`schema.name` of each table in `schema` whose name is like `like`."""
    rows = connection.execute(
        "select table_name from information_schema.tables"
        " where table_schema = ? and table_name like ? escape '\\' and table_type = 'BASE TABLE'",
        [schema, like],
    ).fetchall()
    return [f"{schema}.{name}" for (name,) in rows]


def _rows(connection: WarehouseConnection, table: str, columns: str) -> list[tuple]:
    if not connection.table_exists(RAW_SCHEMA, table):
        return []
    return connection.execute(f"select {columns} from {RAW_SCHEMA}.{table}").fetchall()


def _normal(email: object) -> str:
    return email.strip(" \t\n\r\f\v").lower() if isinstance(email, str) else ""


def _hash(email: object) -> str:
    """The email's hash, or '' for no email (which matches no request)."""
    return email_sha256(email) if isinstance(email, str) and _normal(email) else ""
