"""A user's CSV, CSV.gz or Parquet file as a warehouse table, as it is: DuckDB's readers, on both
backends (BigQuery loads the Parquet DuckDB writes from a local file, or reads a gs:// URI itself).

CSV fields are read as text: the chain or price format parses them (a date the sniffer would read
as DD/MM, a column typed from a sample that turns to text a million rows later, are the format's
business, not a guess). Header names lose surrounding spaces and a byte-order mark.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import duckdb

FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
GCS_PREFIX = "gs://"


def file_kind(path: str) -> str:
    """'csv' (.csv, .csv.gz) or 'parquet', or a ValueError naming the file."""
    name = PurePosixPath(path).name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise ValueError(f"{path}: not a CSV, CSV.gz or Parquet file (the name ends in {', '.join(FILE_SUFFIXES)})")


def reader(path: str) -> str:
    """DuckDB's table function reading `path` (bound as $1)."""
    if file_kind(path) == "parquet":
        return "read_parquet($1)"
    return "read_csv($1, header = true, all_varchar = true)"


def clean_name(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def select_file(connection: duckdb.DuckDBPyConnection, path: str) -> str:
    """A DuckDB SELECT of the file's columns under their clean names (bind `path` as $1), or a
    ValueError naming the file (unreadable, or two columns with one name)."""
    try:
        described = connection.execute(f"DESCRIBE SELECT * FROM {reader(path)}", [path]).fetchall()
    except duckdb.Error as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    names = [row[0] for row in described]
    clean = [clean_name(n) for n in names]
    repeated = sorted({c for c in clean if clean.count(c) > 1})
    if repeated:
        raise ValueError(f"{path}: several columns are named {repeated} (surrounding spaces ignored)")
    columns = ", ".join(f'"{_quoted(n)}" AS "{_quoted(c)}"' for n, c in zip(names, clean, strict=True))
    return f"SELECT {columns} FROM {reader(path)}"


def _quoted(name: str) -> str:
    return name.replace('"', '""')


def to_parquet(path: str, target: str) -> int:
    """Write the file's rows (clean names, CSV as text) to a Parquet file `target`; the row count."""
    with duckdb.connect() as connection:
        select = select_file(connection, path)
        target_literal = target.replace("'", "''")
        try:
            connection.execute(f"COPY ({select}) TO '{target_literal}' (FORMAT parquet)", [path])
        except duckdb.Error as error:
            raise ValueError(f"cannot read {path}: {error}") from None
        return connection.execute("SELECT COUNT(*) FROM read_parquet($1)", [target]).fetchone()[0]
