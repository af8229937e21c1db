"""One Dagster asset per SQL model, wired to the models and raw tables its SQL reads."""

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from dbt_like_sql.audiences import AUDIENCE_LAYER, AudienceError, record_membership
from dbt_like_sql.project import MODEL_SCHEMA, Model, ModelProject, ModelProjectError
from dbt_like_sql.runner import ModelBuildError, build_model
from warehouse.resource import WarehousePools, WarehouseResource

GROUP = "models"
# Dagster's standard table metadata keys (what its TableMetadataSet writes; that class is not
# exported by the public `dagster` module in 1.13).
ROW_COUNT = "dagster/row_count"
COLUMN_SCHEMA = "dagster/column_schema"
# Rebuild once whatever the models read has been updated, however the update was launched (an
# hourly run, a backfill, a click). Dagster's eager condition also waits while any upstream
# partition is missing, which for daily extraction partitions means until all history since
# BIGCOMMERCE_START_DATE is loaded; that part is dropped.
REBUILD_AFTER_UPDATES = dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
)


class ModelRunConfig(dg.Config):
    """Run settings for a model build."""

    as_of: str | None = Field(
        default=None,
        description=(
            "The moment the models treat as now, as an ISO timestamp such as "
            "2024-06-01T00:00:00+00:00 (UTC if no offset is given). Defaults to the build time."
        ),
    )

    def as_of_timestamp(self) -> datetime:
        """`as_of` as an aware datetime, which the models read as a TIMESTAMP WITH TIME ZONE."""
        if self.as_of is None:
            return datetime.now(UTC)
        try:
            moment = datetime.fromisoformat(self.as_of)
        except ValueError:
            raise dg.Failure(description=f"as_of {self.as_of!r} is not an ISO timestamp.") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def model_key(name: str) -> dg.AssetKey:
    """The asset key of a model: `analytics/<name>`, like its table."""
    return dg.AssetKey([MODEL_SCHEMA, name])


def build_model_assets(
    project: ModelProject, *, source_keys: Mapping[str, dg.AssetKey], pools: WarehousePools
) -> list[dg.AssetsDefinition]:
    """One asset per model in the project, in build order, on the project's engine.

    Args:
        project: The models, loaded for the warehouse's engine (`project.dialect`).
        source_keys: The asset key of each raw table, by qualified name such as
            `bigcommerce.customers`; the same names the project was loaded with.
        pools: The warehouse's pools; builds and membership take `pools.models`.
    """
    models = [_model_asset(project, model, source_keys, pools) for model in project.models]
    audiences = [model.name for model in project.models if model.layer == AUDIENCE_LAYER]
    if audiences and "profiles" not in {model.name for model in project.models}:
        raise ModelProjectError(
            f"{project.models_dir / AUDIENCE_LAYER}: audiences need a `profiles` model to read "
            "customer ids and emails from."
        )
    if not audiences:
        return models
    return [*models, _membership_asset(audiences, project.dialect, pools)]


def _kinds(dialect: str) -> set[str]:
    return {dialect, "sql"}


def _model_asset(
    project: ModelProject,
    model: Model,
    source_keys: Mapping[str, dg.AssetKey],
    pools: WarehousePools,
) -> dg.AssetsDefinition:
    missing = sorted(model.depends_on_sources - source_keys.keys())
    if missing:
        raise ModelProjectError(f"{model.path}: no asset key for source {', '.join(missing)}.")

    @dg.asset(
        key=model_key(model.name),
        group_name=GROUP,
        description=model.description or None,
        deps=[
            *(model_key(name) for name in sorted(model.depends_on_models)),
            *(source_keys[source] for source in sorted(model.depends_on_sources)),
        ],
        kinds=_kinds(project.dialect),
        metadata={
            "sql_file": model.path.relative_to(project.models_dir).as_posix(),
            "layer": model.layer,
        },
        pool=pools.models,
        automation_condition=REBUILD_AFTER_UPDATES,
    )
    def _build(
        context: dg.AssetExecutionContext, config: ModelRunConfig, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        as_of = config.as_of_timestamp()
        context.log.info(f"Building {MODEL_SCHEMA}.{model.name} as of {as_of.isoformat()}.")
        try:
            with warehouse.connect() as connection:
                build = build_model(connection, model, variables={"as_of": as_of})
        except ModelBuildError as error:
            raise dg.Failure(description=str(error)) from error
        schema = dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=type_) for name, type_ in build.columns]
        )
        preview = [dg.TableRecord(row) for row in build.preview]
        return dg.MaterializeResult(
            metadata={
                ROW_COUNT: dg.MetadataValue.int(build.row_count),
                COLUMN_SCHEMA: dg.MetadataValue.table_schema(schema),
                "preview": dg.MetadataValue.table(preview, schema),
            }
        )

    return _build


def _membership_asset(
    audiences: list[str], dialect: str, pools: WarehousePools
) -> dg.AssetsDefinition:
    """Current audience membership and its history, written together after the audiences."""

    @dg.multi_asset(
        name="audience_membership",
        group_name=GROUP,
        specs=[
            dg.AssetSpec(
                model_key("audience_members"),
                description="Current membership: one row per (audience, profile).",
                deps=[model_key("profiles"), *(model_key(name) for name in audiences)],
                kinds=_kinds(dialect),
                automation_condition=REBUILD_AFTER_UPDATES,
            ),
            dg.AssetSpec(
                model_key("audience_membership_history"),
                description=(
                    "When each profile entered and left each audience; rows are closed or "
                    "added, never rewritten."
                ),
                deps=[model_key("audience_members")],
                kinds=_kinds(dialect),
                automation_condition=REBUILD_AFTER_UPDATES,
            ),
        ],
        pool=pools.models,
    )
    def _record(
        context: dg.AssetExecutionContext, config: ModelRunConfig, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:
        as_of = config.as_of_timestamp()
        try:
            with warehouse.connect() as connection:
                changes = record_membership(connection, audiences, as_of=as_of)
        except AudienceError as error:
            raise dg.Failure(description=str(error)) from error
        for change in changes:
            context.log.info(
                f"{change.audience}: {change.size} members, {change.entries} entered, "
                f"{change.exits} left."
            )
        yield dg.MaterializeResult(
            asset_key=model_key("audience_members"),
            metadata={
                ROW_COUNT: dg.MetadataValue.int(sum(c.size for c in changes)),
                **{f"size_{c.audience}": dg.MetadataValue.int(c.size) for c in changes},
            },
        )
        yield dg.MaterializeResult(
            asset_key=model_key("audience_membership_history"),
            metadata={
                **{f"entries_{c.audience}": dg.MetadataValue.int(c.entries) for c in changes},
                **{f"exits_{c.audience}": dg.MetadataValue.int(c.exits) for c in changes},
            },
        )

    return _record
