"""The production warehouse: a BigQuery dataset, reached with Application Default Credentials or a
service-account key held in memory.

The same sql/ statements as DuckDB, rendered in BigQuery's own dialect. A transaction is a
BigQuery session running BEGIN/COMMIT TRANSACTION, so a partition is deleted and re-inserted
atomically; loads go through typed Parquet files, never through row-by-row inserts.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core import exceptions as google_errors
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import bigquery
from google.oauth2 import service_account

from rl_assets.settings import CREDENTIALS_VARIABLE
from rl_assets.warehouse import file_tables, sql
from rl_assets.warehouse.backend import (
    WarehouseError,
    contract_types,
    create_missing_tables,
    require_external_tables,
)

EMULATOR_HOST = "BIGQUERY_EMULATOR_HOST"
JOB_LABELS = {"app": "rl-assets"}  # find our jobs (and their cost) in INFORMATION_SCHEMA.JOBS
STAGING_EXPIRY = dt.timedelta(days=1)  # a staging table a killed run could not drop goes by itself

_ARROW_TYPES = {
    "STRING": pa.string(),
    "DATE": pa.date32(),
    "FLOAT64": pa.float64(),
    "INT64": pa.int64(),
    "BOOL": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
}


# The fields google-auth needs to sign as a service account (a user's or an external-account ADC
# file has others).
SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key", "token_uri")


def service_account_credentials(encoded: str) -> service_account.Credentials:
    """The credentials of a base64-encoded service-account key (RL_ASSETS_BQ_CREDENTIALS), built in
    memory: no key file is written and no environment variable set, so a killed run leaves no key
    behind and two sessions can be open at once. Errors name the variable and the problem, never
    the value."""

    def refuse(problem: str) -> WarehouseError:
        return WarehouseError(f"{CREDENTIALS_VARIABLE} is not a base64-encoded service-account key: {problem}")

    try:
        # `base64` wraps its output every 76 characters: whitespace is not part of the key.
        decoded = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise refuse("it is not valid base64") from None
    try:
        info = json.loads(decoded)
    except (UnicodeDecodeError, ValueError):
        raise refuse("it decodes to something that is not JSON") from None
    if not isinstance(info, dict):
        raise refuse(f"it decodes to a JSON {type(info).__name__}, not an object")
    if info.get("type") != "service_account":
        raise refuse('its "type" is not "service_account"')
    missing = [field for field in SERVICE_ACCOUNT_FIELDS if not info.get(field)]
    if missing:
        raise refuse(f"it has no {', '.join(missing)}")
    try:
        return service_account.Credentials.from_service_account_info(info)
    except (ValueError, TypeError, IndexError) as error:
        raise refuse(f"google-auth refused it ({type(error).__name__}; is private_key a PEM key?)") from None


@contextmanager
def bigquery_client(
    project: str | None, location: str, gcp_credentials: str | None = None
) -> Iterator[bigquery.Client]:
    """A BigQuery client: with a base64-encoded service-account key (`gcp_credentials`, never
    logged), credentials built from it in memory; else Application Default Credentials, as
    dagster-gcp's BigQueryResource gets them. With BIGQUERY_EMULATOR_HOST set, the client talks to
    that emulator (it ignores credentials; without a key the client is anonymous)."""
    if gcp_credentials:
        # Not dagster-gcp's resource: it writes the decoded key to a temporary file and points
        # GOOGLE_APPLICATION_CREDENTIALS at it, and refuses a second session inside the first.
        credentials = service_account_credentials(gcp_credentials)
    elif os.environ.get(EMULATOR_HOST):
        credentials = AnonymousCredentials()  # the client reads the emulator's host from the variable
    else:
        credentials = None  # Application Default Credentials
    try:
        client = bigquery.Client(project=project, location=location, credentials=credentials)
    except DefaultCredentialsError as error:
        raise WarehouseError(
            "no Google credentials for BigQuery: run `gcloud auth application-default login`, set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or RL_ASSETS_BQ_CREDENTIALS to "
            f"the key base64-encoded ({type(error).__name__})"
        ) from None
    except OSError:  # the credentials name no project and none was given
        raise WarehouseError("no BigQuery project: set RL_ASSETS_BQ_PROJECT") from None
    try:
        yield client
    finally:
        client.close()


class BigQueryBackend:
    """Runs sql/ statements in one BigQuery dataset (rl_assets.warehouse.backend.WarehouseBackend)."""

    dialect = "bigquery"
    # BigQuery scales a statement out; fewer, larger jobs cost less latency and fewer 10 MB minimums.
    days_per_statement = None

    def __init__(self, client: bigquery.Client, dataset: str, location: str = "US"):
        self.client = client
        self.project = sql.validate_identifier("project", client.project)
        self.dataset = sql.validate_identifier("dataset", dataset)
        self.location = location
        # Tables read through a format's SELECT (the user's price table): name -> SELECT.
        self.sources: dict[str, str] = {}
        self._session_id: str | None = None

    # ---- statements
    def _job_config(self, params: Mapping[str, Any] | None, statement: str) -> bigquery.QueryJobConfig:
        config = bigquery.QueryJobConfig(
            query_parameters=[_parameter(name, value) for name, value in (params or {}).items()],
            labels={**JOB_LABELS, "statement": statement},
        )
        if self._session_id:
            config.connection_properties = [bigquery.ConnectionProperty("session_id", self._session_id)]
        return config

    def _submit(self, text: str, params: Mapping[str, Any] | None, statement: str) -> bigquery.QueryJob:
        try:
            job = self.client.query(text, job_config=self._job_config(params, statement), location=self.location)
            job.result()
        except google_errors.GoogleAPICallError as error:
            raise WarehouseError(f"BigQuery refused {statement}: {error.message}") from error
        return job

    def _run(self, name: str, params, tables, sources) -> bigquery.QueryJob:
        params = sql.bound_parameters(name, params)
        text = sql.render(
            name, self.dialect, self.dataset, self.project, dict(tables or {}), {**self.sources, **(sources or {})}
        )
        return self._submit(text, params, name)

    def query(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        tables: Mapping[str, str] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        return _frame(self._run(name, params, tables, sources))

    def execute(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        tables: Mapping[str, str] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> int | None:
        return self._run(name, params, tables, sources).num_dml_affected_rows

    def read_sql(self, text: str) -> pd.DataFrame:
        text = sql.render_text(text, self.dialect, self.dataset, self.project, self.sources)
        return _frame(self._submit(text, None, "read_sql"))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A BigQuery session with BEGIN ... COMMIT TRANSACTION: the statements inside commit
        together or roll back together."""
        if self._session_id:
            raise RuntimeError("a BigQuery transaction is already open on this backend")
        try:
            job = self.client.query(
                "BEGIN TRANSACTION",
                job_config=bigquery.QueryJobConfig(create_session=True, labels={**JOB_LABELS, "statement": "begin"}),
                location=self.location,
            )
            job.result()
        except google_errors.GoogleAPICallError as error:
            raise WarehouseError(f"BigQuery refused to open a transaction: {error.message}") from error
        self._session_id = job.session_info.session_id
        try:
            yield
            self._submit("COMMIT TRANSACTION", None, "commit")
        except BaseException:
            try:
                self._submit("ROLLBACK TRANSACTION", None, "rollback")
            except WarehouseError:
                pass  # a failed COMMIT has already rolled back
            raise
        finally:
            try:
                self._submit("CALL BQ.ABORT_SESSION()", None, "end_session")
            except WarehouseError:
                pass  # sessions also end by themselves when idle
            self._session_id = None

    # ---- tables
    def qualified(self, table: str) -> str:
        return f"`{self.project}`.{self.dataset}.{sql.validate_identifier('table', table)}"

    def _reference(self, table: str) -> str:
        return f"{self.project}.{self.dataset}.{sql.validate_identifier('table', table)}"

    def load_frame(
        self, table: str, frame: pd.DataFrame, *, replace_table: bool, like: str | None = None, scratch: bool = False
    ) -> int:
        if self._session_id:
            # A load job is not part of a transaction, and a table created after BEGIN is not in
            # its snapshot: stage rows before the transaction (rl_assets.warehouse.backend.staged).
            raise RuntimeError(f"load_frame({table!r}) inside a transaction: load a staging table before it")
        types = contract_types(like) if like else {}
        if not replace_table:
            types = {**self.columns(table), **types}
        arrow = _arrow_table(frame, types)
        buffer = io.BytesIO()
        pq.write_table(arrow, buffer)
        buffer.seek(0)
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition="WRITE_TRUNCATE" if replace_table else "WRITE_APPEND",
            labels={**JOB_LABELS, "statement": "load_frame"},
        )
        try:
            self.client.load_table_from_file(
                buffer, self._reference(table), job_config=config, location=self.location
            ).result()
            if scratch:
                staging = self.client.get_table(self._reference(table))
                staging.expires = dt.datetime.now(dt.UTC) + STAGING_EXPIRY
                self.client.update_table(staging, ["expires"])
        except google_errors.GoogleAPICallError as error:
            raise WarehouseError(f"BigQuery refused to load {len(frame)} rows into {table}: {error.message}") from error
        return len(frame)

    def load_file(self, table: str, path: str) -> int:
        """(Re)create `table` from a CSV, CSV.gz or Parquet file; its row count. A local file goes
        through DuckDB's readers (rl_assets.warehouse.file_tables: CSV as text, clean header names) into a
        Parquet load; a gs:// URI is loaded by BigQuery itself (CSV types then come from BigQuery's
        own detection). Expires like a staging table."""
        reference = self._reference(table)
        kind = file_tables.file_kind(path)
        try:
            if path.startswith(file_tables.GCS_PREFIX):
                config = bigquery.LoadJobConfig(
                    source_format=bigquery.SourceFormat.PARQUET if kind == "parquet" else bigquery.SourceFormat.CSV,
                    autodetect=True,
                    skip_leading_rows=None if kind == "parquet" else 1,
                    write_disposition="WRITE_TRUNCATE",
                    labels={**JOB_LABELS, "statement": "load_file"},
                )
                job = self.client.load_table_from_uri(path, reference, job_config=config, location=self.location)
            else:
                with tempfile.TemporaryDirectory(prefix="rl-assets-load-") as folder:
                    parquet = os.path.join(folder, "rows.parquet")
                    file_tables.to_parquet(path, parquet)
                    config = bigquery.LoadJobConfig(
                        source_format=bigquery.SourceFormat.PARQUET,
                        write_disposition="WRITE_TRUNCATE",
                        labels={**JOB_LABELS, "statement": "load_file"},
                    )
                    with open(parquet, "rb") as rows:
                        job = self.client.load_table_from_file(
                            rows, reference, job_config=config, location=self.location
                        )
                        job.result()
            job.result()
            staging = self.client.get_table(reference)
            staging.expires = dt.datetime.now(dt.UTC) + STAGING_EXPIRY
            self.client.update_table(staging, ["expires"])
        except google_errors.GoogleAPICallError as error:
            raise WarehouseError(f"BigQuery refused to load {path} into {table}: {error.message}") from error
        return int(staging.num_rows or 0)

    def columns(self, table: str, dataset: str | None = None, project: str | None = None) -> dict[str, str]:
        """Column name -> type of a table (in another dataset or project, where given); empty if the
        table does not exist."""
        reference = (
            f"{sql.validate_identifier('project', project or self.project)}."
            f"{sql.validate_identifier('dataset', dataset or self.dataset)}.{sql.validate_identifier('table', table)}"
        )
        try:
            schema = self.client.get_table(reference).schema
        except google_errors.NotFound:
            return {}
        return {field.name: _STANDARD_TYPES.get(field.field_type, field.field_type) for field in schema}

    def release_cached_blocks(self) -> None:
        """Nothing to let go: BigQuery keeps no table data in this process."""

    def drop_table(self, table: str) -> None:
        self.client.delete_table(self._reference(table), not_found_ok=True)

    def run_text(self, text: str) -> None:
        self._submit(sql.render_text(text, self.dialect, self.dataset, self.project), None, "run_text")

    def ensure_tables(self, external: Collection[str] = (), skipped: Collection[str] = ()) -> None:
        """Create the dataset (in the configured location) and the contract's missing tables, but
        never an `external` table nor, in sidecar mode, the dataset that should hold them."""
        reference = f"{self.project}.{self.dataset}"
        try:
            self.client.get_dataset(reference)
        except google_errors.NotFound:
            require_external_tables(self, set(), external)
            dataset = bigquery.Dataset(reference)
            dataset.location = self.location
            self.client.create_dataset(dataset, exists_ok=True)
        except google_errors.GoogleAPICallError as error:
            raise WarehouseError(f"cannot read BigQuery dataset {reference}: {error.message}") from error
        create_missing_tables(self, {table.table_id for table in self.client.list_tables(reference)}, external, skipped)


# The REST API names some types by their legacy names.
_STANDARD_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def _parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter:
    """A typed query parameter. A naive timestamp at midnight is a DATE (how DuckDB hands dates back)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return bigquery.ScalarQueryParameter(name, "STRING", None)
    if isinstance(value, bool):
        return bigquery.ScalarQueryParameter(name, "BOOL", value)
    if isinstance(value, int):
        return bigquery.ScalarQueryParameter(name, "INT64", value)
    if isinstance(value, float):
        return bigquery.ScalarQueryParameter(name, "FLOAT64", value)
    if isinstance(value, str):
        return bigquery.ScalarQueryParameter(name, "STRING", value)
    if isinstance(value, dt.datetime):
        value = pd.Timestamp(value)
        if value.tzinfo is not None:
            return bigquery.ScalarQueryParameter(name, "TIMESTAMP", value.tz_convert("UTC").to_pydatetime())
        if value == value.normalize():
            return bigquery.ScalarQueryParameter(name, "DATE", value.date())
        return bigquery.ScalarQueryParameter(name, "DATETIME", value.to_pydatetime())
    if isinstance(value, dt.date):
        return bigquery.ScalarQueryParameter(name, "DATE", value)
    raise TypeError(f"query parameter {name!r} has a type BigQuery cannot bind: {type(value).__name__}")


def _arrow_table(frame: pd.DataFrame, types: Mapping[str, str]) -> pa.Table:
    """The frame as Arrow, each column cast to its declared BigQuery type (dates, nullable ints
    and booleans that pandas holds as timestamps, floats or objects)."""
    columns = {}
    for column in frame.columns:
        array = pa.array(frame[column], from_pandas=True)
        target = _ARROW_TYPES.get(types.get(column, ""))
        if target is not None and array.type != target:
            if pa.types.is_timestamp(array.type) and target == pa.date32():
                array = array.cast(pa.timestamp("us", tz=array.type.tz)).cast(pa.date32())
            else:
                array = array.cast(target)
        elif pa.types.is_timestamp(array.type) and array.type.tz is None and _whole_days(array):
            array = array.cast(pa.date32())  # a naive column of whole days is a DATE, as in DuckDB
        columns[column] = array
    return pa.table(columns)


def _whole_days(array: pa.Array) -> bool:
    values = array.drop_null().cast(pa.timestamp("us")).cast(pa.int64()).to_numpy()
    return bool(len(values)) and not np.any(values % 86_400_000_000)


def _frame(job: bigquery.QueryJob) -> pd.DataFrame:
    """Rows as DuckDB's .df() gives them: DATE as datetime64, TIMESTAMP in UTC, INT64 and BOOL as
    numpy columns, or as pandas' nullable types where they hold NULLs."""
    table = job.to_arrow(create_bqstorage_client=False)
    nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    frame = table.to_pandas(date_as_object=False, types_mapper=nullable.get)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.Int64Dtype | pd.BooleanDtype) and not frame[column].isna().any():
            frame[column] = frame[column].to_numpy(
                dtype="int64" if isinstance(frame[column].dtype, pd.Int64Dtype) else "bool"
            )
    return frame
