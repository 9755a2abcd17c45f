"""The production path on the local BigQuery emulator: the assets write what they write on DuckDB,
re-runs replace, the history tables are partitioned and clustered, sidecar mode observes the
existing pipeline's tables and never writes them, and bad settings fail with a clear error."""

import base64
import dataclasses
import datetime as dt
import json
import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from rl_assets import calendar
from rl_assets.archive import replace_live_chain, write_prices
from rl_assets.defs.code_location import build_definitions
from rl_assets.defs.partitions import range_run_tags
from rl_assets.defs.resources import (
    SIDECAR_TABLES,
    SyntheticMarketProvider,
    Warehouse,
    WarehouseMarketProvider,
    build_resources,
)
from rl_assets.settings import CREDENTIALS_VARIABLE, Settings
from rl_assets.warehouse.backend import CREATE_STATEMENTS, WarehouseError, staged
from rl_assets.warehouse.bigquery_backend import EMULATOR_HOST, BigQueryBackend, bigquery_client
from rl_assets.warehouse.duckdb_backend import open_duckdb
from rl_assets.warehouse.sql import target_table
from rl_assets_bench.history import table
from rl_assets_tests.bigquery_emulator import PROJECT
from rl_assets_tests.code_location import (
    options_chain_history,
    options_chain_history_checks,
    price_data,
    price_data_checks,
    rl_dataset,
    rl_state,
    technicals_history,
)
from rl_assets_tests.conftest import DAY, NEXT_DAY, SMALL_UNIVERSE
from rl_assets_tests.history import run_statement

# Sidecar mode's code location: the pipeline's options_chain and price_data are external assets.
SIDECAR_DEFS = build_definitions(Settings(market="warehouse"))
options_chain_source = SIDECAR_DEFS.get_assets_def("options_chain")
price_data_source = SIDECAR_DEFS.get_assets_def("price_data")
daily_job, live_archive_job = (
    SIDECAR_DEFS.resolve_job_def("daily_job"),
    SIDECAR_DEFS.resolve_job_def("live_archive_job"),
)
live_chain_sensor = SIDECAR_DEFS.get_sensor_def("live_chain_sensor")

SEED = 11
KEYS = {
    "price_data": "ticker, date",
    "options_chain_history": "snapshot_date, contract_symbol",
    "technicals_history": "ticker, date",
    "rl_state": "snapshot_date, contract_symbol",
    "rl_dataset": "snapshot_date, contract_symbol",
}


def bigquery_warehouse(dataset: str) -> Warehouse:
    return Warehouse(backend="bigquery", bq_project=PROJECT, dataset=dataset)


def build(warehouse: Warehouse, start: dt.date, end: dt.date) -> None:
    """The history assets over [start, end] in single runs, as a backfill does."""
    resources = {"warehouse": warehouse, "market": SyntheticMarketProvider(seed=SEED, universe=SMALL_UNIVERSE)}
    warmup = range_run_tags(calendar.shift_trading_days(start, -30), end)
    assert dg.materialize([price_data], resources=resources, tags=warmup).success
    assets = [options_chain_history, technicals_history, rl_state]
    assert dg.materialize(assets, resources=resources, tags=range_run_tags(start, end)).success
    labelled = range_run_tags(start, calendar.shift_trading_days(end, -3))
    assert dg.materialize([rl_dataset], resources=resources, tags=labelled).success


def tables(warehouse: Warehouse) -> dict[str, pd.DataFrame]:
    with warehouse.session() as wh:
        frames = {name: table(wh, name, order) for name, order in KEYS.items()}
    frames["options_chain_history"] = frames["options_chain_history"].drop(columns="archived_at")
    return frames


@pytest.fixture(scope="module")
def built_on_both(bigquery_emulator, tmp_path_factory):
    """The same ten sessions built by the assets on DuckDB and on the emulator, then rebuilt on the
    emulator (a re-run of every asset over two of the days)."""
    start = calendar.shift_trading_days(DAY, -9)
    duckdb = Warehouse(duckdb_path=str(tmp_path_factory.mktemp("duck") / "w.duckdb"), dataset="rl_test")
    build(duckdb, start, DAY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EMULATOR_HOST, bigquery_emulator)
        bigquery = bigquery_warehouse("rl_built")
        build(bigquery, start, DAY)
        first = tables(bigquery)
        rerun_start = calendar.shift_trading_days(DAY, -4)
        build(bigquery, rerun_start, DAY)
        again = tables(bigquery)
        with bigquery.session() as wh:
            left = sorted(t.table_id for t in wh.client.list_tables(f"{PROJECT}.rl_built"))
            layout = {name: wh.client.get_table(f"{PROJECT}.rl_built.{name}") for name in KEYS}
    return {"duckdb": tables(duckdb), "bigquery": first, "rerun": again, "left": left, "layout": layout}


@pytest.mark.parametrize("name", list(KEYS))
def test_the_assets_write_the_same_rows_on_bigquery_as_on_duckdb(built_on_both, name):
    duck, bq = built_on_both["duckdb"][name], built_on_both["bigquery"][name]
    assert len(bq) > 0
    assert list(bq.columns) == list(duck.columns)
    pd.testing.assert_frame_equal(bq, duck, check_dtype=False, rtol=1e-9)


@pytest.mark.parametrize("name", list(KEYS))
def test_rerunning_the_assets_on_bigquery_replaces_and_never_duplicates(built_on_both, name):
    first, again = built_on_both["bigquery"][name], built_on_both["rerun"][name]
    keys = [k.strip() for k in KEYS[name].split(",")]
    assert not again.duplicated(keys).any()
    pd.testing.assert_frame_equal(again, first, check_dtype=False, rtol=1e-9)


def test_history_tables_are_date_partitioned_and_clustered(built_on_both):
    layout = built_on_both["layout"]
    expected = {
        "options_chain_history": ("snapshot_date", ["underlying"]),
        "price_data": ("date", ["ticker"]),
        "technicals_history": ("date", ["ticker"]),
        "rl_state": ("snapshot_date", ["underlying"]),
        "rl_dataset": ("snapshot_date", ["underlying"]),
    }
    for name, (field, clustering) in expected.items():
        assert layout[name].time_partitioning.field == field, name
        assert layout[name].clustering_fields == clustering, name


def test_no_staging_table_outlives_its_run(built_on_both):
    assert built_on_both["left"] == sorted(target_table(name) for name in CREATE_STATEMENTS)


# ---- Sidecar mode: the existing pipeline owns options_chain and price_data
@pytest.fixture
def sidecar(emulated_bigquery, market):
    """A BigQuery dataset where the 'existing pipeline' (the synthetic market) loaded DAY's chain and
    the prices through DAY; the resources of sidecar mode."""
    warehouse = bigquery_warehouse(emulated_bigquery)
    with warehouse.session() as wh:
        replace_live_chain(wh, market.chain(DAY))
        start = calendar.shift_trading_days(DAY, -30)
        write_prices(wh, market.prices(start, DAY), start, DAY)
    return {"warehouse": warehouse, "market": WarehouseMarketProvider(warehouse=warehouse)}


def pipeline_tables(warehouse: Warehouse) -> tuple[pd.DataFrame, pd.DataFrame]:
    with warehouse.session() as wh:
        return table(wh, "options_chain", "contract_symbol"), table(wh, "price_data", "ticker, date")


SIDECAR_ASSETS = [options_chain_source, price_data_source, options_chain_history, technicals_history, rl_state]


def test_sidecar_run_archives_the_live_day_and_never_writes_the_pipelines_tables(sidecar, market):
    before = pipeline_tables(sidecar["warehouse"])
    result = dg.materialize(
        [*SIDECAR_ASSETS, options_chain_history_checks],
        resources=sidecar,
        partition_key=str(DAY),
        selection=[options_chain_history, technicals_history, rl_state],
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    for after, was in zip(pipeline_tables(sidecar["warehouse"]), before, strict=True):
        pd.testing.assert_frame_equal(after, was)
    with sidecar["warehouse"].session() as wh:
        archived = table(wh, "options_chain_history")
    assert set(archived["snapshot_date"].dt.date) == {DAY}
    assert len(archived) == len(market.chain(DAY))
    metadata = result.asset_materializations_for_node("options_chain_history")[0].metadata
    assert metadata["source"].value == "live"


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return failure.step_failure_data.user_failure_data.description


def test_sidecar_refuses_a_stale_live_table(sidecar):
    """The pipeline has not reloaded the chain for NEXT_DAY: the table still holds DAY's quotes."""
    result = dg.materialize(
        SIDECAR_ASSETS, resources=sidecar, partition_key=str(NEXT_DAY), selection=[options_chain_history],
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    message = failure_message(result)
    assert f"holds quotes from trading date {DAY}" in message and f"not {NEXT_DAY}" in message
    assert "nothing was written" in message
    with sidecar["warehouse"].session() as wh:
        assert len(table(wh, "options_chain_history")) == 0


def test_sidecar_cannot_backfill_past_chains(sidecar):
    result = dg.materialize(
        SIDECAR_ASSETS, resources=sidecar, tags=range_run_tags(calendar.shift_trading_days(DAY, -2), DAY),
        selection=[options_chain_history], raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    assert "holds one trading day" in failure_message(result)


def evaluate(sensor_resources: dict, cursor: str | None = None):
    # The Warehouse resource has a teardown (the DuckDB lock), so its context opens with `with`.
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, cursor=cursor, resources=sensor_resources) as context,
    ):
        return live_chain_sensor(context)


def test_live_chain_sensor_observes_the_table_and_runs_its_session(sidecar):
    result = evaluate({"warehouse": sidecar["warehouse"]})
    (request,) = result.run_requests
    assert (request.job_name, request.partition_key) == (daily_job.name, str(DAY))
    (observation,) = result.asset_events
    assert observation.asset_key == options_chain_source.key
    assert observation.metadata["trading_date"].value == str(DAY)
    version = observation.tags["dagster/data_version"]
    assert result.cursor == version and request.run_key == f"daily:{DAY}:{version}"
    # Unchanged table: the same run key (Dagster runs it once) and no second observation.
    again = evaluate({"warehouse": sidecar["warehouse"]}, cursor=version)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    assert not again.asset_events


def test_live_chain_sensor_archives_at_once_when_prices_are_late(sidecar, market):
    with sidecar["warehouse"].session() as wh:
        replace_live_chain(wh, market.chain(NEXT_DAY))  # the chain of a session without prices yet
    result = evaluate({"warehouse": sidecar["warehouse"]})
    (request,) = result.run_requests
    assert (request.job_name, request.partition_key) == (live_archive_job.name, str(NEXT_DAY))
    assert request.run_key.startswith(f"archive:{NEXT_DAY}:")


@pytest.mark.parametrize(
    "damage,reason",
    [
        ("empty", "is empty"),
        ("mixed", "more than one day"),
        ("no_quote_time", "rows without quote_time"),
    ],
)
def test_live_chain_sensor_skips_a_table_it_cannot_archive(sidecar, market, damage, reason):
    chain = market.chain(DAY)
    if damage == "empty":
        chain = chain.iloc[:0]
    elif damage == "mixed":
        chain.loc[: len(chain) // 2, "quote_time"] = pd.Timestamp("2026-11-19 21:00", tz="UTC")
    else:
        chain["quote_time"] = chain["quote_time"].astype(object)
        chain.loc[0, "quote_time"] = None
    with sidecar["warehouse"].session() as wh:
        replace_live_chain(wh, chain)
    result = evaluate({"warehouse": sidecar["warehouse"]})
    assert not result.run_requests
    assert reason in result.skip_reason.skip_message
    assert reason in result.asset_events[0].metadata["archivable"].value


def test_a_live_table_its_format_does_not_fit_is_skipped_by_the_sensor_and_refused_by_the_archive(sidecar):
    """The pipeline dropped a column the chain format reads: the sensor reports why and requests
    nothing; a run fails naming the column, writing nothing."""
    with sidecar["warehouse"].session() as wh:
        run_statement(wh, "ALTER TABLE options_chain DROP COLUMN bid")
    result = evaluate({"warehouse": sidecar["warehouse"]})
    assert not result.run_requests
    assert "reads column 'bid', which" in result.skip_reason.skip_message
    run = dg.materialize(
        SIDECAR_ASSETS, resources=sidecar, partition_key=str(DAY), selection=[options_chain_history],
        raise_on_error=False,
    )  # fmt: skip
    assert not run.success
    assert "columns.bid: reads column 'bid'" in failure_message(run) and "nothing was written" in failure_message(run)
    with sidecar["warehouse"].session() as wh:
        assert len(table(wh, "options_chain_history")) == 0


def test_the_sidecar_universe_is_what_price_data_holds(sidecar, market):
    assert sidecar["market"].tickers() == sorted(market.tickers)
    with pytest.raises(ValueError, match="sidecar mode"):
        sidecar["market"].chain(DAY)


# ---- Bad settings
@pytest.mark.parametrize(
    "settings,message",
    [
        ({"dataset": "rl-assets"}, "invalid dataset name 'rl-assets'"),
        ({"dataset": "x; DROP TABLE y"}, "invalid dataset name"),
        ({"bq_project": "My_Project"}, "invalid project name 'My_Project'"),
    ],
)
def test_an_invalid_identifier_is_refused_before_any_query(emulated_bigquery, settings, message):
    warehouse = Warehouse(**{"backend": "bigquery", "bq_project": PROJECT, "dataset": emulated_bigquery, **settings})
    with pytest.raises(ValueError, match=message), warehouse.session():
        pass


@pytest.fixture
def no_google_credentials(tmp_path, monkeypatch):
    """A machine with no credentials at all: no emulator, no key file, no gcloud login, no metadata server."""
    for variable in (EMULATOR_HOST, "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


def test_missing_credentials_give_a_clear_error(no_google_credentials):
    with pytest.raises(WarehouseError, match="no Google credentials for BigQuery: run `gcloud auth"):
        with bigquery_warehouse("rl_test").session():
            pass


def test_a_malformed_key_is_named_and_never_echoed(no_google_credentials):
    secret = base64.b64encode(b'{"type": "service_account", "private_key": "SECRET-KEY-MATERIAL"').decode()
    warehouse = Warehouse(backend="bigquery", bq_project=PROJECT, dataset="rl_test", gcp_credentials=secret)
    with pytest.raises(
        WarehouseError, match="RL_ASSETS_BQ_CREDENTIALS is not a base64-encoded service-account key"
    ) as error:
        with warehouse.session():
            pass
    assert "SECRET" not in str(error.value) and secret not in str(error.value)


def test_staging_tables_expire_by_themselves_and_result_tables_do_not(emulated_bigquery):
    """A run killed before it drops its staging leaves nothing for good; a notebook's table stays."""
    frame = pd.DataFrame({"x": [1, 2]})
    with bigquery_warehouse(emulated_bigquery).session() as wh:
        wh.load_frame("paper_trading_performance", frame, replace_table=True)
        with staged(wh, "scratch", frame) as tables:
            staging = wh.client.get_table(f"{PROJECT}.{emulated_bigquery}.{tables['scratch']}")
        kept = wh.client.get_table(f"{PROJECT}.{emulated_bigquery}.paper_trading_performance")
    assert staging.expires is not None and staging.expires > pd.Timestamp.now(tz="UTC")
    assert kept.expires is None


# ---- Sidecar mode on the wrong dataset: rl-assets never creates the pipeline's tables
@pytest.fixture(params=["duckdb", "bigquery"])
def sidecar_settings(request, tmp_path) -> Settings:
    """Sidecar settings on an empty dataset: a fresh DuckDB file, or a fresh emulator dataset."""
    if request.param == "duckdb":
        return Settings(market="warehouse", duckdb_path=str(tmp_path / "w.duckdb"), dataset="rl_test")
    dataset = request.getfixturevalue("emulated_bigquery")
    return Settings(market="warehouse", warehouse="bigquery", bq_project=PROJECT, dataset=dataset)


def existing_tables(settings: Settings) -> set[str]:
    """The contract's tables that exist, read without opening a session (which would create them)."""
    names = {target_table(name) for name in CREATE_STATEMENTS}
    if settings.warehouse == "duckdb":
        with open_duckdb(settings.duckdb_path, settings.dataset) as wh:
            return {name for name in names if wh.columns(name)}
    with bigquery_client(PROJECT, "US") as client:
        wh = BigQueryBackend(client, settings.dataset)
        return {name for name in names if wh.columns(name)}


def test_sidecar_on_a_dataset_without_the_pipelines_tables_creates_nothing_and_names_them(sidecar_settings):
    warehouse = build_resources(sidecar_settings)["warehouse"]
    with pytest.raises(WarehouseError, match="options_chain, price_data not found in dataset") as error:
        with warehouse.session():
            pass
    assert sidecar_settings.dataset in str(error.value) and "RL_ASSETS_BQ_DATASET" in str(error.value)
    assert existing_tables(sidecar_settings) == set()
    # The pipeline's tables there (as the existing pipeline would have them), but not price_data.
    owner = build_resources(dataclasses.replace(sidecar_settings, market="synthetic"))["warehouse"]
    with owner.session() as wh:  # the default mode creates every table
        assert all(wh.columns(target_table(name)) for name in CREATE_STATEMENTS)
        wh.drop_table("price_data")
    with pytest.raises(WarehouseError, match=r"^price_data not found in dataset"):
        with warehouse.session():
            pass
    assert "price_data" not in existing_tables(sidecar_settings)
    with owner.session():
        pass
    with warehouse.session() as wh:  # both there: the sidecar session opens
        assert wh.columns("options_chain")


def test_only_sidecar_mode_marks_the_pipelines_tables_external():
    assert build_resources(Settings(market="warehouse"))["warehouse"].external_tables == list(SIDECAR_TABLES)
    assert build_resources(Settings())["warehouse"].external_tables == []


# ---- A service-account key (RL_ASSETS_BQ_CREDENTIALS): built in memory, never a file
def service_account_key(token_uri: str = "https://oauth2.googleapis.com/token", **changes) -> str:
    """A real-format service-account key, base64-encoded as RL_ASSETS_BQ_CREDENTIALS holds it."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": f"rl-assets@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
        **changes,
    }
    return base64.b64encode(json.dumps(key).encode()).decode()


@pytest.fixture
def private_tempdir(tmp_path, monkeypatch):
    """tempfile's folder for this test alone (other processes write to the shared one): it must stay empty."""
    folder = tmp_path / "tempdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return folder


def test_a_key_opens_nested_clients_without_a_key_file(private_tempdir, monkeypatch):
    """The sidecar checks open a session inside a session (market.tickers()); dagster-gcp's resource
    refused the second one, and wrote the decoded key to a temporary file for the first."""
    monkeypatch.delenv(EMULATOR_HOST, raising=False)  # the emulator's client takes no credentials
    key = service_account_key()
    with bigquery_client(None, "US", key) as outer, bigquery_client(None, "US", key) as inner:
        for client in (outer, inner):
            assert isinstance(client._credentials, service_account.Credentials)
            assert client._credentials.service_account_email == f"rl-assets@{PROJECT}.iam.gserviceaccount.com"
            assert client.project == PROJECT  # the key's project when none is set
        assert list(private_tempdir.iterdir()) == []
        assert "GOOGLE_APPLICATION_CREDENTIALS" not in os.environ
    assert list(private_tempdir.iterdir()) == []


class _TokenEndpoint(BaseHTTPRequestHandler):
    """Google's OAuth token endpoint, for a key whose token_uri points here: any signed grant gets a token."""

    grants = 0

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).grants += 1
        body = json.dumps({"access_token": "test-token", "expires_in": 3600, "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def token_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _TokenEndpoint.grants = 0
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()
    server.server_close()


def test_sidecar_checks_run_with_a_key_and_leave_no_key_file(sidecar, token_endpoint, private_tempdir, monkeypatch):
    """Production's configuration on the emulator: the key in RL_ASSETS_BQ_CREDENTIALS, sidecar mode,
    the checks that open a session inside a session. The key's token comes from a local endpoint
    (token_uri), so the requests carry the key's own credentials and nothing reaches Google."""
    monkeypatch.setenv(CREDENTIALS_VARIABLE, service_account_key(token_uri=token_endpoint))
    dataset = sidecar["warehouse"].dataset
    settings = Settings(
        market="warehouse", warehouse="bigquery", bq_project=PROJECT, dataset=dataset,
        credentials_variable=CREDENTIALS_VARIABLE,
    )  # fmt: skip
    resources = build_resources(settings)
    assert resources["warehouse"].external_tables == list(SIDECAR_TABLES)
    result = dg.materialize(
        [*SIDECAR_ASSETS, options_chain_history_checks, price_data_checks],
        resources=resources,
        partition_key=str(DAY),
        selection=[options_chain_history, options_chain_history_checks, price_data_checks],
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 0 and all(c.passed for c in evaluations)
    assert _TokenEndpoint.grants >= 1  # the client signed in with the key
    assert list(private_tempdir.iterdir()) == []
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in os.environ


def _encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "value,problem",
    [
        ("SECRET-KEY-MATERIAL!!", "it is not valid base64"),
        (_encoded("SECRET-KEY-MATERIAL"), "it decodes to something that is not JSON"),
        (_encoded('["SECRET-KEY-MATERIAL"]'), "it decodes to a JSON list, not an object"),
        (_encoded('{"type": "authorized_user", "refresh_token": "SECRET"}'), 'its "type" is not "service_account"'),
        (_encoded('{"type": "service_account", "private_key": "SECRET"}'), "it has no client_email, token_uri"),
        ("bad_private_key", "google-auth refused it"),
    ],
    ids=["not_base64", "not_json", "json_list", "not_a_service_account", "missing_fields", "bad_private_key"],
)
def test_a_bad_key_is_named_and_never_echoed(no_google_credentials, private_tempdir, value, problem):
    if value == "bad_private_key":
        value = service_account_key(private_key="-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n")
    warehouse = Warehouse(backend="bigquery", bq_project=PROJECT, dataset="rl_test", gcp_credentials=value)
    with pytest.raises(WarehouseError) as error:
        with warehouse.session():
            pass
    message = str(error.value)
    assert message.startswith(f"RL_ASSETS_BQ_CREDENTIALS is not a base64-encoded service-account key: {problem}")
    assert "SECRET" not in message and value not in message
    # No chained error (a JSON or base64 error quoting the value) shows in the traceback.
    assert error.value.__cause__ is None and (error.value.__context__ is None or error.value.__suppress_context__)
    assert list(private_tempdir.iterdir()) == []


# ---- Sidecar mode on the pipeline's own tables: another dataset, its vendor's layouts
VXX_FILE = Path(__file__).parent / "data" / "vxx_options_2016-12.csv.gz"
VXX_DAY = dt.date(2016, 12, 1)
ORDER = {"chain": "optionroot", "bars": "date"}


@pytest.fixture
def pipeline_dataset(emulated_bigquery):
    """A second dataset, the pipeline's: dropped after the test."""
    dataset = f"pipeline_{emulated_bigquery.removeprefix('rl_test_')}"
    with bigquery_client(PROJECT, "US") as client:
        client.create_dataset(f"{PROJECT}.{dataset}")
        yield dataset
        client.delete_dataset(f"{PROJECT}.{dataset}", delete_contents=True, not_found_ok=True)


def test_sidecar_reads_the_pipelines_tables_in_another_dataset_in_their_vendor_layouts(
    emulated_bigquery, pipeline_dataset
):
    """The real VXX chain in HistoricalOptionData's layout and daily bars keyed by symbol with an
    adj_close, in the pipeline's dataset: rl-assets archives the day into its own dataset through the
    formats, reads the bars through theirs, and writes nothing in the pipeline's dataset."""
    vendor = pd.read_csv(VXX_FILE)
    vendor.columns = [c.strip() for c in vendor.columns]  # BigQuery column names cannot hold a space
    day = vendor[vendor["quotedate"] == VXX_DAY.strftime("%m/%d/%Y")]
    spots = vendor.groupby("quotedate", sort=False)["underlying_last"].first()
    # Daily bars built from the file's own underlying_last (the file has no OHLC); adj_close differs
    # from close, as a dividend-adjusted series would.
    bars = pd.DataFrame(
        {
            "symbol": "VXX",
            "date": pd.to_datetime(spots.index, format="%m/%d/%Y").date,
            "open": spots.to_numpy(), "high": spots.to_numpy(), "low": spots.to_numpy(), "close": spots.to_numpy(),
            "adj_close": spots.to_numpy() * 0.9,
            "volume": 1_000_000,
        }
    )  # fmt: skip
    with bigquery_client(PROJECT, "US") as client:
        pipeline = BigQueryBackend(client, pipeline_dataset)
        pipeline.load_frame("chain", day, replace_table=True)
        pipeline.load_frame("bars", bars, replace_table=True)
        before = {name: table(pipeline, name, ORDER[name]) for name in ORDER}
    settings = Settings(
        market="warehouse", warehouse="bigquery", bq_project=PROJECT, dataset=emulated_bigquery,
        start_date=dt.date(2016, 11, 1),
        live_table=f"{pipeline_dataset}.chain", chain_format="historicaloptiondata",
        price_table=f"{PROJECT}.{pipeline_dataset}.bars", price_format="symbol_adj_close",
    )  # fmt: skip
    defs = build_definitions(settings)
    resources = build_resources(settings)
    assert resources["warehouse"].external_tables == []  # both tables are elsewhere
    assets = [defs.get_assets_def(name) for name in ("options_chain", "price_data", "options_chain_history")]
    result = dg.materialize(
        assets, resources=resources, partition_key=str(VXX_DAY), selection=["options_chain_history"]
    )
    assert result.success
    metadata = result.asset_materializations_for_node("options_chain_history")[0].metadata
    assert metadata["chain_format"].value == "historicaloptiondata"
    assert metadata["source_table"].value == f"{pipeline_dataset}.chain"
    with resources["warehouse"].session() as wh:
        archived = table(wh, "options_chain_history", "contract_symbol")
        compared = wh.query("price_data_vs_chain", {"start_date": VXX_DAY, "end_date": VXX_DAY, "tolerance": 0.02})
        universe = wh.query("price_data_universe")
    own_tables = {t.table_id for t in client_tables(emulated_bigquery)}
    assert len(archived) == len(day) and set(archived["snapshot_date"].dt.date) == {VXX_DAY}
    assert sorted(archived["contract_symbol"]) == sorted(day["optionroot"])
    # Every source column kept, the padded header's value included.
    rows = [json.loads(row) for row in archived["source_row"]]
    assert {frozenset(row) for row in rows} == {frozenset(day.columns)}
    assert {row["exchange"] for row in rows} == set(day["exchange"])
    # price_data is the pipeline's bars read through their format: the raw close, not adj_close.
    assert compared["compared"].sum() == 1 and compared["mismatched"].sum() == 0
    assert universe["ticker"].tolist() == ["VXX"]
    assert not {"options_chain", "price_data"} & own_tables  # rl-assets created neither in its dataset
    with bigquery_client(PROJECT, "US") as client:
        pipeline = BigQueryBackend(client, pipeline_dataset)
        for name, was in before.items():
            pd.testing.assert_frame_equal(table(pipeline, name, ORDER[name]), was)
        assert {t.table_id for t in client.list_tables(f"{PROJECT}.{pipeline_dataset}")} == {"chain", "bars"}


def client_tables(dataset: str):
    with bigquery_client(PROJECT, "US") as client:
        return list(client.list_tables(f"{PROJECT}.{dataset}"))
