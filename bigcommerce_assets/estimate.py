"""`estimate_load`: what loading a range of days will cost, asked of the store before a backfill."""

from datetime import UTC, date, datetime

import dagster as dg
from pydantic import Field

from bigcommerce_assets.client import BigCommerceError
from bigcommerce_assets.forecast import LoadForecast, Quota, count_load
from bigcommerce_assets.resources import BigCommerceResource
from bigcommerce_assets.sources import ModifiedWindow


class EstimateConfig(dg.Config):
    """The days a load would cover, as its partition range, and what it would leave out."""

    first_day: str | None = Field(
        default=None,
        description="First day of the load (YYYY-MM-DD); empty: the first partition.",
    )
    last_day: str | None = Field(
        default=None, description="Last day of the load (YYYY-MM-DD); empty: today."
    )
    transactions_since: str | None = Field(
        default=None,
        description="A date (YYYY-MM-DD): transactions of orders last modified before it are "
        "not read; empty: every order's transactions are.",
    )
    quota_share: float = Field(
        default=1.0,
        description="The share of the store's quota the load can count on (other apps on the "
        "store spend the same quota), between 0 and 1.",
    )


def build_estimate_job(partitions: dg.TimeWindowPartitionsDefinition) -> dg.JobDefinition:
    """The `estimate_load` job over the extraction assets' partitions."""

    @dg.op(out=dg.Out(dg.Nothing))
    def forecast_load(
        context: dg.OpExecutionContext, config: EstimateConfig, bigcommerce: BigCommerceResource
    ) -> None:
        """Counts the records a load of these days would read, with the load's own filters, and
        forecasts its requests and hours at the store's quota; loads nothing."""
        first, last = _day_range(config, partitions)
        window = ModifiedWindow(
            partitions.time_window_for_partition_key(first).start,
            partitions.time_window_for_partition_key(last).end,
        )
        transactions_since = day_start(config.transactions_since, "transactions_since")
        if not 0 < config.quota_share <= 1:
            raise dg.Failure(
                description=f"quota_share {config.quota_share} is not a share: give one "
                "between 0 (excluded) and 1."
            )
        try:
            client = bigcommerce.client(log=context.log)
        except BigCommerceError as error:
            raise dg.Failure(description=str(error)) from None
        try:
            counts = count_load(client, window, transactions_since=transactions_since)
            store = client.fetch("v2/store") or {}
        except BigCommerceError as error:
            raise dg.Failure(description=str(error)) from None
        finally:
            client.close()
        forecast = LoadForecast(
            days=f"{first}...{last}",
            window=window,
            counts=counts,
            quota=Quota.from_reading(client.quota) if client.quota else Quota.from_plan(store),
            quota_share=config.quota_share,
            transactions_since=transactions_since,
        )
        context.add_output_metadata({**forecast.metadata(), **client.cost().metadata()})
        context.log.info(forecast.summary())

    @dg.job(
        name="estimate_load",
        description=(
            "Forecasts what loading a range of days will cost (records, requests, hours at the "
            "store's quota) from a handful of count requests; loads nothing."
        ),
    )
    def estimate_load() -> None:
        forecast_load()

    return estimate_load


def _day_range(
    config: EstimateConfig, partitions: dg.TimeWindowPartitionsDefinition
) -> tuple[str, str]:
    """The partition keys of the first and last day, defaulting to the whole history."""
    first = _partition_key(config.first_day, "first_day", partitions)
    last = _partition_key(config.last_day, "last_day", partitions)
    first = first or partitions.get_first_partition_key()
    last = last or partitions.get_last_partition_key()
    if first is None or last is None:
        raise dg.Failure(
            description="There are no partitions yet: BIGCOMMERCE_START_DATE is ahead."
        )
    if first > last:
        raise dg.Failure(description=f"first_day {first} is after last_day {last}.")
    return first, last


def _partition_key(
    value: str | None, name: str, partitions: dg.TimeWindowPartitionsDefinition
) -> str | None:
    day = _day(value, name)
    if day is None:
        return None
    key = day.strftime(partitions.fmt)
    if not partitions.has_partition_key(key):
        raise dg.Failure(
            description=f"{name} {key} is not a day the load can cover: the partitions run from "
            f"{partitions.get_first_partition_key()} (BIGCOMMERCE_START_DATE) to "
            f"{partitions.get_last_partition_key()} (today)."
        )
    return key


def day_start(value: str | None, name: str) -> datetime | None:
    """A YYYY-MM-DD setting as the start of its day in UTC; None when empty."""
    day = _day(value, name)
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise dg.Failure(description=f"{name} {value!r} is not a date (YYYY-MM-DD).") from None
