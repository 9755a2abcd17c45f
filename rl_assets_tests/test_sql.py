import datetime as dt

import pytest
import sqlglot

from rl_assets.warehouse import sql


def test_every_sql_file_parses_strictly_as_bigquery():
    names = sql.statement_names()
    assert len(names) >= 10
    for name in names:
        text = (sql.SQL_DIR / f"{name}.sql").read_text()
        statements = [s for s in sqlglot.parse(text, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE) if s]
        assert len(statements) == 1, name
        # BigQuery text must round-trip through sqlglot's BigQuery generator without unsupported parts.
        statements[0].sql(dialect="bigquery", unsupported_level=sqlglot.ErrorLevel.RAISE)


def test_invalid_sql_is_rejected_by_the_strict_parser(tmp_path, monkeypatch):
    (tmp_path / "broken.sql").write_text("SELECT FROM WHERE")
    monkeypatch.setattr(sql, "SQL_DIR", tmp_path)
    sql.parse_statement.cache_clear()
    try:
        with pytest.raises(sqlglot.errors.ParseError):
            sql.parse_statement("broken")
    finally:
        sql.parse_statement.cache_clear()


def test_a_file_must_hold_one_statement(tmp_path, monkeypatch):
    (tmp_path / "two.sql").write_text("SELECT 1; SELECT 2")
    monkeypatch.setattr(sql, "SQL_DIR", tmp_path)
    sql.parse_statement.cache_clear()
    try:
        with pytest.raises(ValueError, match="exactly one statement"):
            sql.parse_statement("two")
    finally:
        sql.parse_statement.cache_clear()


def test_missing_statement_is_named():
    with pytest.raises(FileNotFoundError, match="no_such_statement"):
        sql.parse_statement("no_such_statement")


def test_render_qualifies_tables_and_keeps_parameters():
    duck = sql.render("archive_options_chain", "duckdb", "rl_x")
    assert "rl_x.options_chain_history" in duck and "rl_x.options_chain" in duck
    assert "$snapshot_date" in duck and "@" not in duck
    bq = sql.render("archive_options_chain", "bigquery", "rl_x", project="my-project-1")
    assert "`my-project-1`.rl_x.options_chain" in bq and "@snapshot_date" in bq
    staged = sql.render("archive_options_chain", "duckdb", "rl_x", tables={"options_chain": "staging_t"})
    assert "FROM rl_x.staging_t" in staged


def test_duckdb_rendering_drops_bigquery_partitioning_only():
    bq = sql.render("create_options_chain_history", "bigquery", "rl_x", project="my-project-1")
    assert "PARTITION BY snapshot_date" in bq and "CLUSTER BY underlying" in bq
    duck = sql.render("create_options_chain_history", "duckdb", "rl_x")
    assert "PARTITION BY" not in duck and "CLUSTER BY" not in duck and "snapshot_date DATE NOT NULL" in duck


@pytest.mark.parametrize(
    "kind,value",
    [
        ("dataset", "rl; DROP TABLE x"),
        ("dataset", "1starts_with_digit"),
        ("dataset", "has-hyphen"),
        ("dataset", ""),
        ("project", "UPPER-case"),
        ("project", "ab"),
        ("project", "proj`name"),
        ("table", "options chain"),
    ],
)
def test_invalid_identifiers_are_refused(kind, value):
    with pytest.raises(ValueError, match=f"invalid {kind} name"):
        sql.validate_identifier(kind, value)


@pytest.mark.parametrize(
    "kind,value", [("dataset", "rl_assets"), ("project", "my-gcp-project-42"), ("table", "price_data")]
)
def test_valid_identifiers_pass(kind, value):
    assert sql.validate_identifier(kind, value) == value


def test_render_refuses_a_bad_dataset():
    with pytest.raises(ValueError, match="invalid dataset name"):
        sql.render("delete_price_data_range", "duckdb", "x.y")


def test_values_are_bound_not_formatted(warehouse):
    hostile = f"2026-11-20'; DROP TABLE {warehouse.dataset}.price_data; --"
    try:  # the warehouse may compare it as text or refuse the cast; either way it is only a value
        warehouse.execute("delete_price_data_range", {"start_date": hostile, "end_date": hostile})
    except Exception as err:
        assert "Conversion" in str(err) or "date" in str(err).lower() or "signature" in str(err)
    assert warehouse.columns("price_data")
    assert (
        warehouse.execute(
            "delete_price_data_range", {"start_date": dt.date(2026, 1, 2), "end_date": dt.date(2026, 1, 5)}
        )
        == 0
    )


def test_wrong_parameters_are_named(warehouse):
    with pytest.raises(ValueError, match=r"takes parameters \['end_date', 'start_date'\]"):
        warehouse.execute("delete_price_data_range", {"start_date": dt.date(2026, 1, 2)})
