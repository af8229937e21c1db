"""Turn a model, written once in DuckDB's dialect, into SQL for the engine that builds it.

sqlglot transpiles; this module does what sqlglot cannot: it inlines the shared expressions of
`macros.sql` (DuckDB temp macros exist nowhere else), writes each `getvariable('<name>')` as the
build's value, maps DuckDB's 128-bit integer to each engine's exact wide number, and refuses the
DuckDB constructs sqlglot passes through unchanged although the target has no such thing.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

# The dialect models are written in, and the engines that can build them.
SOURCE_DIALECT = "duckdb"
ENGINE_DIALECTS = ("duckdb", "postgres")
# Shared expressions any model may call, as DuckDB `create temp macro` statements.
MACROS_FILE = Path(__file__).parent / "macros.sql"
_VARIABLE_FUNCTION = "getvariable"
_VARIABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# A macro may call another; deeper nesting than this is a macro calling itself.
_MAX_MACRO_DEPTH = 10
# DuckDB's exact 128-bit integer, as each target writes a number that holds it.
_WIDE_INTEGER = {
    "postgres": "decimal",
    "snowflake": "decimal(38, 0)",
    "bigquery": "bignumeric",
}
_WIDE_INTEGER_TYPES = {exp.DataType.Type.INT128}
# Types only DuckDB has; sqlglot writes them unchanged for other dialects.
_DUCKDB_ONLY_TYPES = {
    exp.DataType.Type.INT128,
    exp.DataType.Type.UINT128,
    exp.DataType.Type.INT256,
    exp.DataType.Type.UINT256,
    exp.DataType.Type.UBIGINT,
    exp.DataType.Type.UINT,
    exp.DataType.Type.USMALLINT,
    exp.DataType.Type.UTINYINT,
    exp.DataType.Type.UNION,
}
# Expressions sqlglot knows but writes unchanged for a dialect that has no such function.
_NO_EQUIVALENT: Mapping[str, tuple[type[exp.Expression], ...]] = {
    "postgres": (exp.ArgMax, exp.ArgMin, exp.Struct, exp.RegexpExtract, exp.ArraySort),
    "snowflake": (),
    "bigquery": (),
}
# Snowflake's fourth REGEXP_REPLACE argument is a position, so DuckDB's 'g' flag, which
# sqlglot leaves there, would mean something else (Snowflake replaces every match anyway).
_POSITIONAL_REGEX_FLAGS = {"snowflake"}
# Join kinds only DuckDB (and Spark) write: `anti join`, `semi join`.
_DUCKDB_ONLY_JOINS = {"ANTI", "SEMI"}


class DialectError(Exception):
    """A model uses a construct the target engine does not have; the message names it."""


@dataclass(frozen=True)
class Macro:
    """One `create temp macro <name>(<parameters>) as <body>` of the macros file."""

    name: str
    parameters: tuple[str, ...]
    body: exp.Expression


@cache
def macros(path: Path = MACROS_FILE) -> Mapping[str, Macro]:
    """The macros of `path` by lowercase name; raises DialectError if the file holds anything
    else."""
    found: dict[str, Macro] = {}
    try:
        statements = sqlglot.parse(path.read_text(encoding="utf-8"), read=SOURCE_DIALECT)
    except SqlglotError as error:
        raise DialectError(f"{path}: the SQL does not parse: {error}") from error
    for statement in statements:
        if statement is None:
            continue
        signature = statement.this
        if (
            not isinstance(statement, exp.Create)
            or str(statement.args.get("kind", "")).upper() != "MACRO"
            or not isinstance(signature, exp.UserDefinedFunction)
        ):
            raise DialectError(f"{path}: holds {statement.key}; only macros belong there.")
        name = signature.this.name.lower()
        parameters = tuple(parameter.name for parameter in signature.expressions)
        found[name] = Macro(name, parameters, statement.expression)
    return found


def inline_macros(query: exp.Query, known: Mapping[str, Macro]) -> exp.Query:
    """`query` with each macro call replaced by the macro's body, arguments in parentheses."""

    def expand(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Anonymous) or node.name.lower() not in known:
            return node
        macro = known[node.name.lower()]
        if len(node.expressions) != len(macro.parameters):
            given = len(node.expressions)
            raise DialectError(
                f"{macro.name} takes {len(macro.parameters)} arguments, not {given}."
            )
        arguments = dict(zip(macro.parameters, node.expressions, strict=True))

        def bind(inner: exp.Expression) -> exp.Expression:
            if isinstance(inner, exp.Column) and not inner.table and inner.name in arguments:
                return exp.paren(arguments[inner.name].copy(), copy=False)
            return inner

        return exp.paren(macro.body.copy().transform(bind), copy=False)

    expanded: exp.Expr = query
    for _ in range(_MAX_MACRO_DEPTH):
        if not any(_is_macro_call(node, known) for node in expanded.walk()):
            assert isinstance(expanded, exp.Query)  # a select stays a select
            return expanded
        expanded = expanded.transform(expand)
    raise DialectError(f"macros call each other more than {_MAX_MACRO_DEPTH} deep.")


def variables_read(query: exp.Expr) -> frozenset[str]:
    """The names of the `getvariable('<name>')` calls in `query`."""
    names = set()
    for node in query.find_all(exp.Anonymous):
        if node.name.lower() == _VARIABLE_FUNCTION:
            [argument] = node.expressions or [exp.null()]
            if not isinstance(argument, exp.Literal) or not argument.is_string:
                raise DialectError("getvariable takes one quoted variable name.")
            if not _VARIABLE_NAME.fullmatch(argument.name):
                raise DialectError(f"{argument.name!r} is not a variable name.")
            names.add(argument.name)
    return frozenset(names)


def render(query: exp.Query, dialect: str, variables: Mapping[str, object] | None = None) -> str:
    """`query` as `dialect` SQL, each variable written as a literal of its value (NULL when
    `variables` is None: enough to check the SQL before the values are known).

    Raises:
        DialectError: naming the construct `dialect` does not have.
    """
    if variables is not None:
        missing = sorted(variables_read(query) - variables.keys())
        if missing:
            raise DialectError(f"reads {', '.join(missing)}, which the build does not set.")

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower() == _VARIABLE_FUNCTION:
            name = node.expressions[0].name
            return exp.null() if variables is None else _literal(name, variables[name])
        if (
            dialect in _WIDE_INTEGER
            and isinstance(node, exp.DataType)
            and node.this in _WIDE_INTEGER_TYPES
        ):
            return exp.DataType.build(_WIDE_INTEGER[dialect], dialect=dialect)
        return node

    rewritten = query.copy().transform(rewrite)
    if dialect != SOURCE_DIALECT:
        _refuse_unknown_constructs(rewritten, dialect)
    try:
        return rewritten.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as error:
        raise DialectError(f"{dialect} has no equivalent: {error}") from error


def transpile_report(
    queries: Mapping[str, exp.Query], dialects: Iterable[str]
) -> dict[str, dict[str, str | None]]:
    """For each model and dialect: None when the model transpiles to SQL that dialect parses,
    otherwise the reason it does not."""
    report: dict[str, dict[str, str | None]] = {}
    for name, query in queries.items():
        report[name] = {}
        for dialect in dialects:
            try:
                sqlglot.parse_one(render(query, dialect), read=dialect)
            except (DialectError, SqlglotError) as error:
                report[name][dialect] = str(error).splitlines()[0]
            else:
                report[name][dialect] = None
    return report


def _is_macro_call(node: exp.Expr, known: Mapping[str, Macro]) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() in known


def _refuse_unknown_constructs(query: exp.Expr, dialect: str) -> None:
    """Raise for what sqlglot writes unchanged although `dialect` has no such thing."""
    for node in query.walk():
        if isinstance(node, exp.Anonymous):
            # sqlglot does not know the function, so it cannot know the target has it.
            raise DialectError(f"{node.name.upper()}() is a DuckDB function {dialect} lacks.")
        if isinstance(node, _NO_EQUIVALENT.get(dialect, ())):
            name = node.sql_name() if isinstance(node, exp.Func) else node.key.upper()
            raise DialectError(
                f"{name} in {node.sql(SOURCE_DIALECT)[:60]}: {dialect} has no equivalent."
            )
        if isinstance(node, exp.DataType) and node.this in _DUCKDB_ONLY_TYPES:
            raise DialectError(f"type {node.this.value}: {dialect} has no equivalent.")
        if (
            dialect in _POSITIONAL_REGEX_FLAGS
            and isinstance(node, exp.RegexpReplace)
            and node.args.get("modifiers") is not None
        ):
            raise DialectError(f"regexp_replace flags: {dialect} reads them as a position.")
        if isinstance(node, exp.Join) and node.kind.upper() in _DUCKDB_ONLY_JOINS:
            raise DialectError(f"{node.kind.lower()} join: {dialect} has no such join.")


def _literal(name: str, value: object) -> exp.Expr:
    """A variable's value as SQL every engine reads the same way."""
    if value is None:
        return exp.null()
    if isinstance(value, datetime):
        kind = "timestamptz" if value.tzinfo else "timestamp"
        return exp.cast(exp.Literal.string(value.isoformat()), kind)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "date")
    if isinstance(value, bool | int | float | Decimal | str):
        return exp.convert(value)
    raise DialectError(f"variable {name} holds a {type(value).__name__}, which SQL cannot take.")
