"""Dagster's event log as this project configures it: asset events written in batches, and each
run's worker process recorded with the machine its process id belongs to.

A range run records one materialisation per day per table: a history backfill since 2020 writes
about 16,600 planned and 16,600 materialisation events. Dagster hands such events to the storage
in batches when `DAGSTER_EVENT_BATCH_SIZE` is set, but its SQLite storage stores a batch one event
at a time, each opening two databases and committing twice, which made such a backfill spend
ten times longer on bookkeeping than on the API and the load (benchmarks/history_backfill.py).
Its PostgreSQL storage writes a batch of materialisations in one INSERT, once the variable is set.

`data/dagster_home/dagster.yaml` names the SQLite class; it keeps the default storage's layout
(`history/runs/` under the instance folder), so an instance's earlier runs stay visible.
`data/dagster_home_postgres/dagster.yaml` names the PostgreSQL one.

Dagster records a run worker's process id, not the machine it ran on; both storages add the
machine to the engine events in which a process names itself, so `release_abandoned_runs` judges
a process id only on the machine it belongs to.

Dagster exports no public base for event log storages: this builds on the SQLite storage's
module, the path dagster.yaml itself names for the default storage, and calls the two steps its
`store_event` takes for an asset event (`_store_asset_event_tags`, `_store_asset_event`), so
Dagster is pinned below 1.14 and tests/test_event_log.py compares the result with Dagster's own.
"""

import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any, Self

import dagster as dg
from dagster import EventLogEntry
from dagster._core.events import ASSET_EVENTS
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData
from dagster_postgres import PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

# Events Dagster buffers before handing them to `store_event_batch` (its default, 0, is off).
BATCH_SIZE = "1000"
# The engine-event metadata entry naming the machine of the process the event names ("pid").
HOST_KEY = "host"


def process_host() -> str:
    """Where this process's id means something: the host name and, on Linux, the process-id
    namespace, since a container has ids of its own (and may share its host's name)."""
    try:
        return f"{socket.gethostname()} {os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return socket.gethostname()


def with_host(event: EventLogEntry) -> EventLogEntry:
    """The event, with this machine added when it is an engine event naming this process's id
    ("Started process for run (pid: ...)", "Executing steps in process (pid: ...)")."""
    dagster_event = event.dagster_event
    if dagster_event is None or dagster_event.event_type != dg.DagsterEventType.ENGINE_EVENT:
        return event
    data = dagster_event.engine_event_data
    pid = data.metadata.get("pid")
    if pid is None or pid.value != str(os.getpid()) or HOST_KEY in data.metadata:
        return event
    stamped = data._replace(
        metadata={**data.metadata, HOST_KEY: dg.MetadataValue.text(process_host())}
    )
    return event._replace(dagster_event=dagster_event._replace(event_specific_data=stamped))


def turn_batching_on() -> None:
    """Have Dagster hand asset events to the storage in batches, in this process, unless
    `DAGSTER_EVENT_BATCH_SIZE` is already set: the webserver, the daemon, a CLI command and each
    run's worker all open the instance from dagster.yaml, so batches exist wherever events are
    written."""
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", BATCH_SIZE)


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """The default SQLite event log, with asset-event batches written in one transaction each to
    the run's database and to the cross-run index.

    Opening it turns on Dagster's batching (`turn_batching_on`).
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        turn_batching_on()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Self:
        """`base_dir` is the instance folder; the event logs live where Dagster's default
        storage keeps them."""
        return cls(os.path.join(config_value["base_dir"], "history", "runs"), inst_data)

    def store_event(self, event: EventLogEntry) -> None:
        super().store_event(with_host(event))

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store the events as `store_event` would, one by one, in two transactions in all.

        Batches holding anything but asset events of one run (check and run events have more
        to update) are stored one by one. Each asset's index row is updated once, from its last
        event of each kind: every update overwrites the previous one's values.
        """
        if len({event.run_id for event in events}) != 1 or not all(
            event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS for event in events
        ):
            super().store_event_batch(events)
            return
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(events[0].run_id) as connection:
            for statement in statements:
                connection.execute(statement)
        with self.index_transaction() as connection:
            event_ids = []
            for statement in statements:
                with db_result(connection, statement) as result:
                    event_ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(connection, events, event_ids)
            latest = {
                (event.get_dagster_event().asset_key, event.dagster_event_type): (event_id, event)
                for event_id, event in zip(event_ids, events, strict=True)
            }
            for event_id, event in sorted(latest.values(), key=lambda pair: pair[0]):
                self._store_asset_event(connection, event, event_id)


class BatchedPostgresEventLogStorage(PostgresEventLogStorage):
    """Dagster's PostgreSQL event log, which writes a batch of materialisations (or of
    observations) in one INSERT; opening it turns Dagster's batching on (`turn_batching_on`)."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ):
        turn_batching_on()
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Self:
        """The `postgres_db` or `postgres_url` config of Dagster's own PostgreSQL storages."""
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data,
            get_token_provider_from_config(config_value),
        )

    def store_event(self, event: EventLogEntry) -> None:
        super().store_event(with_host(event))
