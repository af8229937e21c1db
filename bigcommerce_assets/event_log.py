"""Dagster's SQLite event log, writing a batch of asset events in one transaction per database.

A range run records one materialisation per day per table: a history backfill since 2020 writes
about 16,600 planned and 16,600 materialisation events. Dagster hands such events to the storage
in batches when `DAGSTER_EVENT_BATCH_SIZE` is set, but its SQLite storage stores a batch one event
at a time, each opening two databases and committing twice, which made such a backfill spend
ten times longer on bookkeeping than on the API and the load (benchmarks/history_backfill.py).

`data/dagster_home/dagster.yaml` names this class; it keeps the default storage's layout
(`history/runs/` under the instance folder), so an instance's earlier runs stay visible.

Dagster exports no public base for event log storages: this builds on the SQLite storage's
module, the path dagster.yaml itself names for the default storage, and calls the two steps its
`store_event` takes for an asset event (`_store_asset_event_tags`, `_store_asset_event`), so
Dagster is pinned below 1.14 and tests/test_event_log.py compares the result with Dagster's own.
"""

import os
from collections.abc import Mapping, Sequence
from typing import Any, Self

from dagster import EventLogEntry
from dagster._core.events import ASSET_EVENTS
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData

# Events Dagster buffers before handing them to `store_event_batch` (its default, 0, is off).
BATCH_SIZE = "1000"


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """The default SQLite event log, with asset-event batches written in one transaction each to
    the run's database and to the cross-run index.

    Opening it turns on Dagster's batching (`DAGSTER_EVENT_BATCH_SIZE`, unless already set) in
    the process that opens it: the webserver, the daemon, a CLI command and each run's worker
    all open the instance from dagster.yaml, so batches exist exactly where they are cheap.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", BATCH_SIZE)
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Self:
        """`base_dir` is the instance folder; the event logs live where Dagster's default
        storage keeps them."""
        return cls(os.path.join(config_value["base_dir"], "history", "runs"), inst_data)

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
