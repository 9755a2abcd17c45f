"""The sql/ folder: every warehouse statement, one file each, written in BigQuery's dialect.

Statements name tables without a dataset; `render` qualifies them with a validated dataset (and
project) and transpiles to the backend's dialect with sqlglot. Values never enter the text: they
are bound as named parameters (`@name` in the files).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp


def _statements_folder() -> Traversable:
    """The statements: rl_assets/sql/ in an installed wheel (package data: setup.py maps the repo's
    sql/ in at build time), else the checkout's top-level sql/ beside rl_assets/."""
    shipped = resources.files("rl_assets") / "sql"
    return shipped if shipped.is_dir() else Path(__file__).resolve().parents[2] / "sql"


SQL_DIR = _statements_folder()

# BigQuery's rules: datasets are letters, digits and underscores; project ids are 6-30 lower-case
# letters, digits and hyphens, starting with a letter.
_DATASET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")


def validate_identifier(kind: str, value: str) -> str:
    """Return `value` if it is a valid BigQuery `kind` ('project', 'dataset' or 'table') name."""
    pattern = {"project": _PROJECT, "dataset": _DATASET, "table": _TABLE}.get(kind)
    if pattern is None:
        raise ValueError(f"unknown identifier kind {kind!r}")
    if not isinstance(value, str) or not pattern.match(value):
        rules = {
            "project": "6-30 lower-case letters, digits or hyphens, starting with a letter",
            "dataset": "letters, digits and underscores, not starting with a digit",
            "table": "letters, digits and underscores, not starting with a digit",
        }[kind]
        raise ValueError(f"invalid {kind} name {value!r}: use {rules}")
    return value


def statement_names() -> list[str]:
    return sorted(entry.name.removesuffix(".sql") for entry in SQL_DIR.iterdir() if entry.name.endswith(".sql"))


@cache
def parse_statement(name: str) -> exp.Expression:
    """Parse sql/<name>.sql strictly as BigQuery; a file holds exactly one statement."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no statement {name!r}: {path} does not exist")
    return parse_text(path.read_text(), where=str(path))


@lru_cache(maxsize=256)
def parse_text(text: str, where: str = "the statement") -> exp.Expression:
    """Parse one statement strictly as BigQuery (sql/ files and ad-hoc reads alike)."""
    statements = [s for s in sqlglot.parse(text, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE) if s]
    if len(statements) != 1:
        raise ValueError(f"{where} must hold exactly one statement; found {len(statements)}")
    return statements[0]


def target_table(name: str) -> str:
    """The table a sql/ CREATE or INSERT statement writes."""
    return parse_statement(name).find(exp.Table).name


@cache
def column_types(create_statement: str) -> dict[str, str]:
    """Column name -> BigQuery type, as declared by a sql/create_*.sql statement (the contract)."""
    schema = parse_statement(create_statement).this
    return {
        column.name: column.args["kind"].sql(dialect="bigquery")
        for column in schema.expressions
        if isinstance(column, exp.ColumnDef)
    }


def parameter_names(name: str) -> set[str]:
    return {param.name for param in parse_statement(name).find_all(exp.Parameter)}


def bound_parameters(name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """`params` as a dict, or a ValueError unless they are exactly the statement's @parameters."""
    params = dict(params or {})
    wanted = parameter_names(name)
    if set(params) != wanted:
        raise ValueError(f"statement {name!r} takes parameters {sorted(wanted)}; got {sorted(params)}")
    return params


def render(
    name: str,
    dialect: str,
    dataset: str,
    project: str | None = None,
    tables: dict[str, str] | None = None,
    sources: Mapping[str, str] | None = None,
) -> str:
    """sql/<name>.sql for `dialect`, its tables qualified as [project.]dataset.table.

    `project` is the BigQuery project, or for DuckDB the catalog (the database file's name), so
    a schema that shares the file's name is never ambiguous. `tables` renames tables before
    qualifying (e.g. read a staging copy instead of the live one). `sources` replaces a table with
    a SELECT (BigQuery dialect) read as a subquery of that name: a chain or price format's mapping
    of the user's own table (rl_assets.formats.select).
    """
    (tables, sources), names = _stable_names(_pairs(tables), _pairs(sources))
    return _restore_names(_render(name, None, dialect, dataset, project, tables, sources), names)


def render_text(
    text: str, dialect: str, dataset: str, project: str | None = None, sources: Mapping[str, str] | None = None
) -> str:
    """An ad-hoc statement in BigQuery's dialect, qualified and transpiled like the sql/ files."""
    (text, sources), names = _stable_names(text, _pairs(sources))
    return _restore_names(_render(None, text, dialect, dataset, project, (), sources), names)


def check_text(text: str, where: str) -> None:
    """Parse a generated statement strictly as BigQuery (ValueError naming `where`), once per shape:
    the same SELECT over another staging table is not parsed again."""
    (stable,), _names = _stable_names(text)
    parse_text(stable, where)


# A staging table's name: a base and 8 hex digits, new for every load (warehouse.backend.staging_table).
_UNIQUE_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9_]*_[0-9a-f]{8}\b")
_PLACEHOLDER = "_rlaph{:03d}"


def _stable_names(*values):
    """`values` (strings, or nested tuples of them) with each staging table's name replaced by a
    placeholder, numbered in order of appearance, and the placeholders' real names: a statement
    renders (and its sources parse) once per shape, not once per staging table."""
    names: dict[str, str] = {}

    def replace(value):
        if isinstance(value, tuple):
            return tuple(replace(v) for v in value)
        if not isinstance(value, str):
            return value

        def placeholder(match: re.Match) -> str:
            real = match.group(0)
            for token, known in names.items():
                if known == real:
                    return token
            token = real[: real.rindex("_")] + _PLACEHOLDER.format(len(names))
            names[token] = real
            return token

        return _UNIQUE_NAME.sub(placeholder, value)

    return replace(values), names


def _restore_names(text: str, names: dict[str, str]) -> str:
    for token, real in names.items():
        text = re.sub(rf"\b{re.escape(token)}\b", real, text)
    return text


def _pairs(mapping: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((mapping or {}).items()))


def _substitute_sources(tree: exp.Expression, sources: dict[str, str], ctes: set[str]) -> exp.Expression:
    """Each unqualified table named in `sources` replaced by its SELECT as a subquery (the SELECTs
    may read other sources: a chain format's underlying close reads price_data's)."""
    for _depth in range(4):
        found = [t for t in tree.find_all(exp.Table) if not t.db and t.name in sources and t.name not in ctes]
        if not found:
            return tree
        for table in found:
            alias = table.alias or table.name
            subquery = exp.Subquery(
                this=parse_text(sources[table.name]).copy(), alias=exp.TableAlias(this=exp.to_identifier(alias))
            )
            if table is tree:
                return subquery
            table.replace(subquery)
    raise ValueError(f"sources {sorted(sources)} read each other in a cycle")


@lru_cache(maxsize=1024)  # statements are rendered again and again, once per partition
def _render(
    name: str | None,
    text: str | None,
    dialect: str,
    dataset: str,
    project: str | None,
    tables: tuple[tuple[str, str], ...],
    sources: tuple[tuple[str, str], ...] = (),
) -> str:
    validate_identifier("dataset", dataset)
    if project is not None and dialect == "bigquery":
        validate_identifier("project", project)
    tables = dict(tables)
    for target in tables.values():
        validate_identifier("table", target)
    tree = (parse_statement(name) if name is not None else parse_text(text)).copy()
    common_table_expressions = {cte.alias for cte in tree.find_all(exp.CTE)}
    sources = {name: select for name, select in sources if name not in tables}
    if sources:
        tree = _substitute_sources(tree, sources, common_table_expressions)
    for table in tree.find_all(exp.Table):
        if table.name in common_table_expressions and not table.db:
            continue
        if table.db:
            # A source named with its dataset (a user's table elsewhere): kept as named; rl-assets'
            # own dataset gets the catalog, as below.
            if project is not None and not table.catalog and table.db == dataset:
                table.set("catalog", exp.to_identifier(project, quoted=True))
            continue
        table.set("this", exp.to_identifier(tables.get(table.name, table.name)))
        table.set("db", exp.to_identifier(dataset))
        if project is not None:
            # BigQuery needs backticks around a project id with hyphens.
            table.set("catalog", exp.to_identifier(project, quoted=True))
    if dialect == "duckdb":
        # DuckDB has no table partitioning or clustering; BigQuery's properties are dropped.
        for prop in list(tree.find_all(exp.PartitionedByProperty, exp.ClusterProperty)):
            prop.pop()
    return tree.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE, comments=False)
