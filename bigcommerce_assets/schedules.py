"""When the store is read without anyone asking."""

import dagster as dg

from bigcommerce_assets.assets import GROUP


def build_extraction_schedule(extraction: dg.AssetsDefinition) -> dg.ScheduleDefinition:
    """Loads the newest daily partition of the `bigcommerce` group every night."""
    job = dg.define_asset_job(
        "bigcommerce_job",
        selection=dg.AssetSelection.groups(GROUP),
        description="Load one day (or a range) of BigCommerce records modified in it.",
    )
    return dg.build_schedule_from_partitioned_job(job, hour_of_day=1, name="bigcommerce_daily")
