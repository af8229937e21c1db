"""Find the SQL models, read what each one reads with sqlglot, and put them in build order.

A model is one `<layer>/<name>.sql` file holding one select statement in DuckDB's dialect; it
becomes `analytics.<name>` on the warehouse's engine (DuckDB or PostgreSQL): a view for the
`staging` layer, a table for the others.
Dependencies come from the SQL itself, so there is no Jinja and no manifest to keep in step
with the files. A model the engine cannot run stops the project from loading.
"""

import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from dbt_like_sql.dialects import (
    ENGINE_DIALECTS,
    SOURCE_DIALECT,
    DialectError,
    inline_macros,
    macros,
    render,
    variables_read,
)

MODELS_DIR = Path(__file__).parent / "models"
MODEL_SCHEMA = "analytics"
STAGING_LAYER = "staging"
# The file name goes into `create table analytics.<name>`, so it must be a plain identifier.
_MODEL_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# dlt names the child table of a nested list `<parent>__<child>`.
_CHILD_TABLE_SEPARATOR = "__"


class ModelProjectError(Exception):
    """The models folder cannot be built: a file, a name or a dependency is wrong."""


@dataclass(frozen=True)
class Model:
    """One SQL file, materialised as `analytics.<name>`."""

    name: str
    layer: str
    path: Path
    sql: str
    description: str
    depends_on_models: frozenset[str]
    depends_on_sources: frozenset[str]
    columns: tuple[str, ...]
    # The engine the model is built on, and its select with the macros inlined and every model
    # it reads named `analytics.<name>` (no search path needed); `dialects.render` writes it.
    dialect: str
    query: exp.Query = field(compare=False, repr=False)
    # The names the SQL reads with `getvariable('<name>')`; a build must set each.
    variables: frozenset[str]

    @property
    def materialized(self) -> str:
        """`view` for a staging model, `table` for the others. Staging models rename and clean
        one raw table each, and the models that read them read every row once: as tables they
        would write every raw row again on each rebuild, for nothing (dbt's convention too)."""
        return "view" if self.layer == STAGING_LAYER else "table"


@dataclass(frozen=True)
class ModelProject:
    """Every model of one models folder, each after the models it reads."""

    models_dir: Path
    models: tuple[Model, ...]
    dialect: str = SOURCE_DIALECT

    def model(self, name: str) -> Model:
        """The model that builds `analytics.<name>`."""
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)


def load_project(
    models_dir: Path, sources: Iterable[str], *, dialect: str = SOURCE_DIALECT
) -> ModelProject:
    """Read every `models_dir/**/<name>.sql` and check that the models can be built in order,
    on the engine of `dialect`.

    Args:
        models_dir: The folder of layer folders (`staging/`, `marts/`, ...). A folder that does
            not exist holds no models.
        sources: Qualified names of the raw tables others load, such as `bigcommerce.customers`.
            A mapping works too; its keys are the names. A dlt child table such as
            `bigcommerce.products__categories` belongs to `bigcommerce.products`.
        dialect: The warehouse's engine, `duckdb` or `postgres`.

    Raises:
        ModelProjectError: naming the file and the table, models or SQL construct at fault.
    """
    if dialect not in ENGINE_DIALECTS:
        raise ModelProjectError(f"Models build on {' or '.join(ENGINE_DIALECTS)}, not {dialect!r}.")
    paths = _model_paths(models_dir)
    known_sources = frozenset(source.lower() for source in sources)
    models = [
        _load_model(
            path, models_dir, model_names=paths.keys(), sources=known_sources, dialect=dialect
        )
        for path in paths.values()
    ]
    return ModelProject(models_dir=models_dir, models=_dependency_order(models), dialect=dialect)


def _model_paths(models_dir: Path) -> dict[str, Path]:
    """Each model name with its file; one name may have one file only."""
    paths: dict[str, Path] = {}
    for path in sorted(models_dir.rglob("*.sql")):
        name = path.stem
        if not _MODEL_NAME.fullmatch(name):
            raise ModelProjectError(
                f"{path}: a model file name becomes a table name, so it must be lowercase "
                "letters, digits and underscores."
            )
        if name in paths:
            raise ModelProjectError(
                f"Two model files build analytics.{name}: {paths[name]} and {path}."
            )
        paths[name] = path
    return paths


def _load_model(
    path: Path,
    models_dir: Path,
    *,
    model_names: Set[str],
    sources: frozenset[str],
    dialect: str,
) -> Model:
    """One model with the models and sources its SQL reads, checked against `dialect`."""
    sql = path.read_text(encoding="utf-8")
    query = _parse_query(path, sql)
    depends_on_models: set[str] = set()
    depends_on_sources: set[str] = set()
    for table in _tables_read(query):
        schema = table.db.lower()
        name = table.name.lower()
        if not table.catalog and schema in ("", MODEL_SCHEMA) and name in model_names:
            depends_on_models.add(name)
            table.set("db", exp.to_identifier(MODEL_SCHEMA))
            continue
        source = _owning_source(f"{schema}.{name}", sources) if schema else None
        if table.catalog or source is None:
            raise ModelProjectError(
                f"{path}: reads {table.sql(dialect='duckdb')}, which no model or source produces."
            )
        depends_on_sources.add(source)
    try:
        portable = inline_macros(query, macros())
        variables = variables_read(portable)
        render(portable, dialect)
    except DialectError as error:
        raise ModelProjectError(f"{path}: cannot run on {dialect}: {error}") from error
    return Model(
        name=path.stem,
        layer="/".join(path.parent.relative_to(models_dir).parts),
        path=path,
        sql=sql,
        description=_leading_comment(sql),
        depends_on_models=frozenset(depends_on_models),
        depends_on_sources=frozenset(depends_on_sources),
        columns=tuple(name.lower() for name in query.named_selects),
        dialect=dialect,
        query=portable,
        variables=variables,
    )


def _parse_query(path: Path, sql: str) -> exp.Query:
    """The file's one select statement (a `with ... select` or a union counts)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except SqlglotError as error:
        raise ModelProjectError(f"{path}: the SQL does not parse: {error}") from error
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = ", ".join(statement.key for statement in statements) or "nothing"
        raise ModelProjectError(f"{path}: a model is exactly one select statement; found {kinds}.")
    return statements[0]


def _tables_read(query: exp.Query) -> list[exp.Table]:
    """The tables a query reads, in every subquery and CTE, without the CTEs themselves.

    sqlglot's scopes resolve each name in a `from` or `join` to either a CTE or derived table
    (a nested scope) or a real table, following SQL's visibility rules, so a CTE is never
    taken for a table even when it is used inside a subquery or a nested `with`.
    """
    return [
        source
        for scope in traverse_scope(query)
        for source in scope.sources.values()
        # Table functions such as range() or read_parquet() hold a function, not a name.
        if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier)
    ]


def _owning_source(table: str, sources: frozenset[str]) -> str | None:
    """The known source a raw table belongs to: itself, or the parent of a dlt child table."""
    if table in sources:
        return table
    parents = [source for source in sources if table.startswith(source + _CHILD_TABLE_SEPARATOR)]
    return max(parents, key=len, default=None)


def _leading_comment(sql: str) -> str:
    """The `--` lines at the top of the file, without the dashes, as one paragraph.

    The UI renders descriptions as Markdown, where a wrapped line starting with `>` or `-`
    would turn into a quote or a list.
    """
    lines = []
    for line in sql.lstrip().splitlines():
        text = line.strip()
        if not text.startswith("--"):
            break
        lines.append(text.removeprefix("--").strip())
    return " ".join(line for line in lines if line).strip()


def _dependency_order(models: list[Model]) -> tuple[Model, ...]:
    """Models after the models they read; ties in name order so the order is stable."""
    by_name: Mapping[str, Model] = {model.name: model for model in models}
    sorter = TopologicalSorter({model.name: sorted(model.depends_on_models) for model in models})
    try:
        sorter.prepare()
    except CycleError as error:
        cycle = error.args[1]
        files = ", ".join(str(by_name[name].path) for name in sorted(set(cycle)))
        raise ModelProjectError(
            f"Models read each other in a cycle: {' -> '.join(cycle)} ({files})."
        ) from error
    order: list[Model] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(by_name[name] for name in ready)
        sorter.done(*ready)
    return tuple(order)
