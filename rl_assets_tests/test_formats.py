"""Chain formats (rl_assets/formats/): every preset archived from its vendor sample on both backends
with the live table in another dataset, every transform on a tiny hand-made table, bad format files,
and the live-table guards after mapping. Expected values are computed here from the CSV files
themselves, independently of the generated SQL."""

import datetime as dt
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlglot

from rl_assets import calendar
from rl_assets.archive import ArchiveRefused, archive_chain, live_chain_source
from rl_assets.formats.model import (
    ChainFormat,
    FormatError,
    load_chain_format,
    preset_names,
)
from rl_assets.warehouse import sql
from rl_assets.warehouse.bigquery_backend import BigQueryBackend
from rl_assets.warehouse.duckdb_backend import DuckDBBackend
from rl_assets_bench.history import table
from rl_assets_tests.bigquery_emulator import PROJECT
from rl_assets_tests.conftest import DAY

DATA = Path(__file__).resolve().parent / "data"
LAYOUTS = DATA / "vendor_layouts"
VXX = DATA / "vxx_options_2016-12.csv.gz"
NEW_YORK = "America/New_York"
GREEKS = ["delta", "gamma", "theta", "vega", "rho"]
VENDOR_COLUMNS = ["implied_volatility", *GREEKS]


# ---- the pipeline's own dataset, beside rl-assets'
@pytest.fixture
def vendor(warehouse):
    """A backend on a second dataset (DuckDB: schema) of the same warehouse, where the user's
    pipeline keeps its live table; rl-assets only reads it."""
    name = f"vendor_{secrets.token_hex(3)}"
    if warehouse.dialect == "duckdb":
        yield DuckDBBackend(warehouse.connection, name)  # creates the schema
        return
    warehouse.client.create_dataset(f"{PROJECT}.{name}")
    try:
        yield BigQueryBackend(warehouse.client, name)
    finally:
        warehouse.client.delete_dataset(f"{PROJECT}.{name}", delete_contents=True, not_found_ok=True)


def history(warehouse) -> pd.DataFrame:
    return table(warehouse, "options_chain_history", "contract_symbol")


def load_prices(warehouse, day: dt.date, closes: dict[str, float]) -> None:
    """price_data rows of `day` (the close is what derive: price_close reads)."""
    frame = pd.DataFrame(
        {
            "ticker": list(closes),
            "date": [day] * len(closes),
            "open": list(closes.values()),
            "high": list(closes.values()),
            "low": list(closes.values()),
            "close": list(closes.values()),
            "volume": [1_000_000] * len(closes),
        }
    )
    warehouse.load_frame("price_data", frame, replace_table=False)


# ---- independent readers of the vendors' values
def occ_parts(symbol: str) -> tuple[str, dt.date, str, float]:
    """(root, expiration, 'call'/'put', strike) of an OCC symbol, 'O:'-prefixed or padded."""
    symbol = symbol.removeprefix("O:")
    tail = symbol[-15:]
    return (
        symbol[:-15].strip(),
        dt.datetime.strptime(tail[:6], "%y%m%d").date(),
        {"C": "call", "P": "put"}[tail[6]],
        int(tail[7:]) / 1000,
    )


def occ_symbol(root: str, expiration: dt.date, option_type: str, strike: float) -> str:
    return f"{root}{expiration:%y%m%d}{option_type[0].upper()}{round(strike * 1000):08d}"


def session_close(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(calendar.nyse().closes[pd.Timestamp(day)]).tz_convert("UTC")


def parsed_date(values: pd.Series, fmt: str = "%Y-%m-%d") -> pd.Series:
    return pd.to_datetime(values.astype(str).str.strip(), format=fmt).dt.date


def numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.astype(str).str.strip().replace({"": np.nan, "nan": np.nan}), errors="coerce")


def placeholder(values: pd.Series, *placeholders: float) -> pd.Series:
    v = numbers(values)
    return pd.concat([(v - p).abs() <= abs(p) * 1e-9 for p in placeholders], axis=1).any(axis=1)


@dataclass
class Sample:
    """A preset's sample: how the pipeline stores it, its session, the closes derive: price_close
    needs, and the contract values each row should give (computed from the file)."""

    file: Path
    session: dt.date
    store: Callable[[pd.DataFrame], pd.DataFrame]
    expect: Callable[[pd.DataFrame], pd.DataFrame]
    closes: dict[str, float] = field(default_factory=dict)
    read: dict = field(default_factory=dict)
    wide: bool = False
    bigquery: bool = True  # False: the layout's column names are not valid in BigQuery


def _frame(source: pd.DataFrame, **columns) -> pd.DataFrame:
    """The expected contract values, one row per source row (`row`: its index in the file)."""
    out = pd.DataFrame({"row": source.index})
    for name, values in columns.items():
        out[name] = list(values) if not np.isscalar(values) else values
    for column in VENDOR_COLUMNS:
        if column not in out:
            out[column] = np.nan
    return out


def _yfinance(f: pd.DataFrame) -> pd.DataFrame:
    parts = f["contractSymbol"].map(occ_parts)
    bad = placeholder(f["impliedVolatility"], 1e-5, 0.0)
    return _frame(
        f,
        contract_symbol=f["contractSymbol"],
        underlying=parts.str[0],
        expiration=parts.str[1],
        option_type=parts.str[2],
        strike=f["strike"],
        quote_time=f["fetched_at"],
        underlying_price=107.68,
        implied_volatility=f["impliedVolatility"].mask(bad),
    )


def _tradier(f: pd.DataFrame) -> pd.DataFrame:
    bad = placeholder(f["greeks_mid_iv"], 0.0)
    return _frame(
        f,
        contract_symbol=f["symbol"],
        underlying=f["underlying"],
        expiration=parsed_date(f["expiration_date"]),
        option_type=f["option_type"],
        strike=f["strike"],
        quote_time=pd.to_datetime(f["bid_date"], unit="ms", utc=True),
        underlying_price=26.93,
        implied_volatility=f["greeks_mid_iv"].mask(bad),
        **{g: f[f"greeks_{g}"].mask(bad) for g in GREEKS},
    )


def _polygon(f: pd.DataFrame) -> pd.DataFrame:
    return _frame(
        f,
        contract_symbol=f["details_ticker"],
        underlying=f["underlying_asset_ticker"],
        expiration=parsed_date(f["details_expiration_date"]),
        option_type=f["details_contract_type"],
        strike=f["details_strike_price"],
        quote_time=pd.to_datetime(f["last_quote_last_updated"], unit="ns", utc=True).dt.floor("us"),
        underlying_price=f["underlying_asset_price"],
        implied_volatility=f["implied_volatility"],
        **{g: f[f"greeks_{g}"] for g in ["delta", "gamma", "theta", "vega"]},  # no rho
    )


def _schwab(f: pd.DataFrame) -> pd.DataFrame:
    parts = f["symbol"].map(occ_parts)
    return _frame(
        f,
        contract_symbol=f["symbol"],
        underlying=parts.str[0],
        expiration=parts.str[1],
        option_type=f["putCall"].str.lower(),
        strike=f["strikePrice"],
        quote_time=pd.to_datetime(f["quoteTimeInLong"], unit="ms", utc=True),
        underlying_price=f["underlyingPrice"],
        implied_volatility=f["volatility"].mask(f["volatility"] == -999) / 100,
        **{g: f[g].mask(f[g] == -999) for g in GREEKS},
    )


def _cboe_symbols(f: pd.DataFrame) -> list[str]:
    return [
        occ_symbol(root, exp, {"C": "call", "P": "put"}[kind], strike)
        for root, exp, kind, strike in zip(
            f["root"], parsed_date(f["expiration"]), f["option_type"], f["strike"], strict=True
        )
    ]


def _cboe_eod_summary(f: pd.DataFrame) -> pd.DataFrame:
    return _frame(
        f,
        contract_symbol=_cboe_symbols(f),
        underlying=f["underlying_symbol"],
        expiration=parsed_date(f["expiration"]),
        option_type=f["option_type"].map({"C": "call", "P": "put"}),
        strike=f["strike"],
        quote_time=[session_close(d) for d in parsed_date(f["quote_date"])],
        underlying_price=f["underlying_symbol"].map({"^SPX": 4559.34, "AAPL": 189.97}),
    )


def _cboe_eod_calcs(f: pd.DataFrame) -> pd.DataFrame:
    bad = placeholder(f["implied_volatility_1545"], 0.0)
    return _frame(
        f,
        contract_symbol=_cboe_symbols(f),
        underlying=f["underlying_symbol"],
        expiration=parsed_date(f["expiration"]),
        option_type=f["option_type"].map({"C": "call", "P": "put"}),
        strike=f["strike"],
        quote_time=[session_close(d) for d in parsed_date(f["quote_date"])],
        underlying_price=f["active_underlying_price_1545"],
        implied_volatility=f["implied_volatility_1545"].mask(bad),
        **{g: f[f"{g}_1545"].mask(bad) for g in GREEKS},
    )


def _optionmetrics(f: pd.DataFrame) -> pd.DataFrame:
    def vendor(column: str) -> pd.Series:
        return f[column].mask(f[column] == -99.99)

    return _frame(
        f,
        contract_symbol=f["symbol"],
        underlying=f["ticker"],
        expiration=parsed_date(f["exdate"]),
        option_type=f["cp_flag"].map({"C": "call", "P": "put"}),
        strike=f["strike_price"] / 1000,
        quote_time=[session_close(d) for d in parsed_date(f["date"])],
        underlying_price=f["ticker"].map({"SPX": 3861.59, "AAPL": 148.50}),
        implied_volatility=vendor("impl_volatility"),
        delta=vendor("delta"),
        gamma=vendor("gamma"),
        vega=vendor("vega") * 0.01,  # per 1.00 of volatility -> per point
        theta=vendor("theta") / 365,  # annualised -> per calendar day
    )


def _dolthub(f: pd.DataFrame) -> pd.DataFrame:
    types = f["call_put"].str.lower()
    expirations = parsed_date(f["expiration"])
    strikes = numbers(f["strike"])
    return _frame(
        f,
        contract_symbol=[
            occ_symbol(*values) for values in zip(f["act_symbol"], expirations, types, strikes, strict=True)
        ],
        underlying=f["act_symbol"],
        expiration=expirations,
        option_type=types,
        strike=strikes,
        quote_time=[session_close(d) for d in parsed_date(f["date"])],
        underlying_price=f["act_symbol"].map({"AAPL": 184.15, "SPY": 498.57, "BRK.B": 405.10}),
        implied_volatility=numbers(f["vol"]),
        **{g: numbers(f[g]) for g in GREEKS},
    )


def _optionsdx(f: pd.DataFrame) -> pd.DataFrame:
    """Two rows per wide row: the call's, then the put's."""
    col = {c.strip(): c for c in f.columns}  # pandas keeps the leading space of ', ' separated headers
    legs = []
    for leg, side in (("call", "C"), ("put", "P")):
        underlying = f[col["underlying"]].str.strip()
        expirations = parsed_date(f[col["[EXPIRE_DATE]"]])
        strikes = numbers(f[col["[STRIKE]"]])
        legs.append(
            _frame(
                f,
                contract_symbol=[
                    occ_symbol(u, e, leg, s) for u, e, s in zip(underlying, expirations, strikes, strict=True)
                ],
                underlying=underlying,
                expiration=expirations,
                option_type=leg,
                strike=strikes,
                quote_time=pd.to_datetime(numbers(f[col["[QUOTE_UNIXTIME]"]]), unit="s", utc=True),
                underlying_price=numbers(f[col["[UNDERLYING_LAST]"]]),
                implied_volatility=numbers(f[col[f"[{side}_IV]"]]),
                **{g: numbers(f[col[f"[{side}_{g.upper()}]"]]) for g in GREEKS},
            )
        )
    return pd.concat(legs, ignore_index=True)


def _historicaloptiondata(f: pd.DataFrame) -> pd.DataFrame:
    bad = placeholder(f["impliedvol"], 0.01)
    return _frame(
        f,
        contract_symbol=f["optionroot"],
        underlying=f["underlying"],
        # The file lists monthlies on the Saturday after the third Friday (the pre-2015 convention); its
        # own OCC symbols carry the Friday, their last session, which is what the history holds.
        expiration=parsed_date(f["optionroot"].str[-15:-9], "%y%m%d"),
        option_type=f["type"].str.lower(),
        strike=f["strike"],
        quote_time=[session_close(d) for d in parsed_date(f["quotedate"], "%m/%d/%Y")],
        underlying_price=f["underlying_last"],
        implied_volatility=f["impliedvol"].mask(bad),
        delta=f["delta"].mask(bad),
        # The vendor's gamma, theta and vega are per 100-share contract (rl_assets_tests/data/README.md).
        **{g: f[g].mask(bad) / 100 for g in ["gamma", "theta", "vega"]},  # no rho in the file
    )


def _vxx_day(f: pd.DataFrame, day: str = "12/01/2016") -> pd.DataFrame:
    return f[f["quotedate"] == day].reset_index(drop=True)


def _utc(*columns: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def store(f: pd.DataFrame) -> pd.DataFrame:
        return f.assign(**{c: pd.to_datetime(f[c], utc=True) for c in columns})

    return store


def _as_is(f: pd.DataFrame) -> pd.DataFrame:
    return f


SAMPLES = {
    # yfinance's frames hold fetched_at and lastTradeDate as tz-aware timestamps
    "yfinance": Sample(LAYOUTS / "yfinance.csv", dt.date(2016, 9, 6), _utc("fetched_at", "lastTradeDate"),
                       _yfinance, {"AAPL": 107.68}),
    "tradier": Sample(LAYOUTS / "tradier.csv", dt.date(2019, 5, 6), _as_is, _tradier, {"VXX": 26.93}),
    "polygon": Sample(LAYOUTS / "polygon.csv", dt.date(2022, 4, 29), _as_is, _polygon),
    "schwab": Sample(LAYOUTS / "schwab.csv", dt.date(2024, 6, 14), _as_is, _schwab),
    "cboe_eod_summary": Sample(LAYOUTS / "cboe_eod_summary.csv", dt.date(2023, 11, 24), _as_is, _cboe_eod_summary,
                               {"^SPX": 4559.34, "AAPL": 189.97}),
    "cboe_eod_calcs": Sample(LAYOUTS / "cboe_eod_calcs.csv", dt.date(2024, 6, 12), _as_is, _cboe_eod_calcs),
    "optionmetrics": Sample(LAYOUTS / "optionmetrics.csv", dt.date(2023, 3, 10), _as_is, _optionmetrics,
                            {"SPX": 3861.59, "AAPL": 148.50}),
    # DoltHub's SQL API returns every value as a string
    "dolthub": Sample(LAYOUTS / "dolthub.csv", dt.date(2024, 2, 14), _as_is, _dolthub,
                      {"AAPL": 184.15, "SPY": 498.57, "BRK.B": 405.10}, read={"dtype": str, "keep_default_na": False}),
    # ', '-separated: pandas keeps each header's and value's leading space; blanks make text columns.
    # BigQuery column names cannot hold '[' or ']' (nor a leading space): DuckDB only.
    "optionsdx": Sample(LAYOUTS / "wide_example.csv", dt.date(2021, 12, 1), _as_is, _optionsdx, wide=True,
                        bigquery=False),
    "historicaloptiondata": Sample(VXX, dt.date(2016, 12, 1), _vxx_day, _historicaloptiondata),
}  # fmt: skip


def load_sample(vendor, name: str, sample: Sample) -> tuple[pd.DataFrame, str]:
    """The sample as the pipeline stores it, loaded into the vendor's dataset; (frame, 'dataset.table')."""
    frame = sample.store(pd.read_csv(sample.file, **sample.read))
    vendor.load_frame(name, frame, replace_table=True)
    return frame, f"{vendor.dataset}.{name}"


def same_value(stored, original) -> bool:
    """A source_row value against the file's (JSON numbers, ISO text of timestamps, NULL for NaN)."""
    if original is None or (isinstance(original, float) and math.isnan(original)):
        return stored is None
    if isinstance(original, pd.Timestamp):
        return pd.Timestamp(stored).tz_convert("UTC") == original.tz_convert("UTC")
    if isinstance(original, bool | np.bool_):
        return stored is bool(original)
    if isinstance(original, int | float | np.integer | np.floating):
        return isinstance(stored, int | float) and math.isclose(stored, float(original), rel_tol=1e-14)
    return stored == original


def test_every_preset_has_a_sample():
    assert set(preset_names()) - {"contract"} == set(SAMPLES)


# The emulator takes ~5 s an archive: it runs the presets whose SQL exercises what differs between
# the dialects (timestamps from text and ns epochs, OCC regexes, early-close stamps, text-typed
# numbers on the transforms' own test, placeholders); DuckDB runs them all.
ON_BIGQUERY = ["cboe_eod_summary", "polygon", "schwab", "yfinance"]
PRESET_RUNS = [("duckdb", p) for p in sorted(SAMPLES)] + [("bigquery", p) for p in ON_BIGQUERY if SAMPLES[p].bigquery]
DUCKDB_ONLY = pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)


@pytest.mark.parametrize(("warehouse", "preset"), PRESET_RUNS, indirect=["warehouse"])
def test_preset_archives_its_sample_from_another_dataset(warehouse, vendor, preset):
    sample = SAMPLES[preset]
    frame, live = load_sample(vendor, "chain", sample)
    if sample.closes:
        load_prices(warehouse, sample.session, sample.closes)
    expected = sample.expect(frame)

    report = archive_chain(warehouse, sample.session, live_chain_source(warehouse, live, preset))
    got = history(warehouse)

    assert report.chain_format == preset and report.source_table == live
    assert report.rows == len(got) == len(frame) * (2 if sample.wide else 1) == len(expected)
    keys = ["underlying", "contract_symbol", "option_type", "strike", "expiration", "quote_time"]
    assert got[keys].notna().all().all()
    merged = expected.merge(got, on="contract_symbol", suffixes=("_expected", ""), validate="one_to_one")
    assert len(merged) == len(got)
    for column in ["underlying", "option_type"]:
        assert merged[column].tolist() == merged[f"{column}_expected"].tolist(), column
    assert np.allclose(merged["strike"], merged["strike_expected"], rtol=0, atol=1e-9)
    assert pd.to_datetime(merged["expiration"]).dt.date.tolist() == merged["expiration_expected"].tolist()
    assert (merged["quote_time"] == pd.to_datetime(merged["quote_time_expected"], utc=True)).all()
    assert (pd.to_datetime(merged["quote_time"]).dt.tz_convert(NEW_YORK).dt.date == sample.session).all()
    assert np.allclose(merged["underlying_price"], merged["underlying_price_expected"].astype(float), rtol=1e-12)

    # IV: the vendor's where it had one; else computed, or NULL with a reason counted
    vendor_iv = merged["implied_volatility_expected"].notna()
    assert (merged.loc[vendor_iv, "iv_source"] == "vendor").all()
    vendor_rows = merged.loc[vendor_iv]
    assert np.allclose(vendor_rows["implied_volatility"], vendor_rows["implied_volatility_expected"], rtol=1e-12)
    others = merged.loc[~vendor_iv]
    assert set(others["iv_source"].dropna()) <= {"computed"}
    assert others["implied_volatility"].isna().tolist() == others["iv_source"].isna().tolist()
    assert report.computed.implied_volatility == int((others["iv_source"] == "computed").sum())
    assert sum(report.computed.no_iv.values()) == int(others["iv_source"].isna().sum())

    # greeks: all five the vendor's, some ('mixed'), none ('computed'); NULL only without an IV
    vendor_greeks = merged[[f"{g}_expected" for g in GREEKS]].notna().sum(axis=1)
    has_iv = merged["implied_volatility"].notna()
    want = np.select([vendor_greeks == 5, ~has_iv, vendor_greeks == 0], ["vendor", None, "computed"], default="mixed")
    assert merged["greeks_source"].tolist() == [None if w is None or w == "None" else w for w in want]
    for greek in GREEKS:
        held = merged[f"{greek}_expected"].notna()
        assert np.allclose(merged.loc[held, greek], merged.loc[held, f"{greek}_expected"], rtol=1e-12), greek
        assert merged.loc[~held & has_iv, greek].notna().all(), greek  # filled by the computation

    # the whole source row, every column as the vendor had it
    source_columns = warehouse.columns("chain", vendor.dataset)
    for _, row in merged.iterrows():
        kept = json.loads(row["source_row"])
        assert set(kept) == set(source_columns)
        original = frame.loc[row["row"]]
        assert all(same_value(kept[c], original[c]) for c in frame.columns), (row["contract_symbol"], kept)

    if preset == "historicaloptiondata":  # the real file's 0.01 placeholders: recomputed, or NULL with a reason
        placeholders = placeholder(frame["impliedvol"], 0.01)
        assert placeholders.sum() > 50
        assert report.computed.implied_volatility + sum(report.computed.no_iv.values()) == placeholders.sum()
        assert report.computed.no_iv  # on this day all 61 have an ask below intrinsic value
    if preset == "cboe_eod_summary":  # 2023-11-24 closed at 13:00 New York: the EOD quote's stamp
        assert (pd.to_datetime(got["quote_time"]).dt.tz_convert(NEW_YORK).dt.strftime("%H:%M") == "13:00").all()


@DUCKDB_ONLY
def test_price_close_without_a_price_row_is_null_and_no_iv_is_invented(warehouse, vendor):
    sample = SAMPLES["yfinance"]
    frame, live = load_sample(vendor, "chain", sample)
    load_prices(warehouse, sample.session - dt.timedelta(days=1), {"AAPL": 107.0})  # another day only

    report = archive_chain(warehouse, sample.session, live_chain_source(warehouse, live, "yfinance"))
    got = history(warehouse)

    assert got["underlying_price"].isna().all()
    vendor_iv = ~placeholder(frame["impliedVolatility"], 1e-5, 0.0)
    assert (got["iv_source"] == "vendor").sum() == vendor_iv.sum()  # the vendor's IVs are kept
    assert got.loc[got["iv_source"] != "vendor", "implied_volatility"].isna().all()
    assert report.computed.implied_volatility == 0 and report.computed.greeks == 0
    assert report.computed.no_iv == {"no_underlying_price": int((~vendor_iv).sum())}
    assert got["greeks_source"].isna().all() and got[GREEKS].isna().all().all()


# ---- every transform, on a tiny hand-made table
def base_frame(rows: int = 1, **columns) -> pd.DataFrame:
    """A minimal long chain (u, sym, kind, k, exp, qt, b, a) with `columns` added or replaced."""
    frame = pd.DataFrame(
        {
            "u": ["AAPL"] * rows,
            "sym": [f"AAPL240621C{200000 + i:08d}" for i in range(rows)],
            "kind": ["call"] * rows,
            "k": [200.0 + i / 1000 for i in range(rows)],
            "exp": [dt.date(2024, 6, 21)] * rows,
            "qt": [pd.Timestamp("2024-06-14 19:59:59", tz="UTC")] * rows,
            "b": [1.0] * rows,
            "a": [1.2] * rows,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


BASE_RULES = {
    "underlying": {"column": "u"},
    "contract_symbol": {"column": "sym"},
    "option_type": {"column": "kind"},
    "strike": {"column": "k"},
    "expiration": {"column": "exp"},
    "quote_time": {"column": "qt"},
    "bid": {"column": "b"},
    "ask": {"column": "a"},
}


def chain_format(rules: dict, **settings) -> ChainFormat:
    columns = {c: r for c, r in {**BASE_RULES, **rules}.items() if r is not None}
    return ChainFormat.model_validate({"name": "hand_made", **settings, "columns": columns})


def mapped(warehouse, vendor, frame: pd.DataFrame, rules: dict, **settings) -> pd.DataFrame:
    """The contract rows the format's SELECT gives for `frame` stored in the vendor's dataset."""
    vendor.load_frame("hand_made", frame, replace_table=True)
    source = live_chain_source(warehouse, f"{vendor.dataset}.hand_made", chain_format(rules, **settings))
    return warehouse.read_sql(source.select()).sort_values("contract_symbol", ignore_index=True)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@DUCKDB_ONLY
def test_rename_and_case_and_space_insensitive_match(warehouse, vendor):
    frame = base_frame(strike_price=[250.0], **{" Last Price ": [3.5]}).drop(columns="k")
    got = mapped(warehouse, vendor, frame, {"strike": {"column": "strike_price"}, "last": {"column": "LAST PRICE"}})
    assert got.loc[0, "strike"] == 250.0 and got.loc[0, "last"] == 3.5


@DUCKDB_ONLY
def test_ambiguous_column_match_is_refused(warehouse, vendor):
    frame = base_frame(**{"last": [1.0], " LAST": [2.0]})
    with pytest.raises(ArchiveRefused, match=r"columns\.last: column 'Last' matches several source columns"):
        mapped(warehouse, vendor, frame, {"last": {"column": "Last"}})


@DUCKDB_ONLY
def test_scale_values_map_and_sentinels(warehouse, vendor):
    frame = base_frame(
        5,
        kind=["C", "p", "Call", "CALL", " put "],
        strike_x1000=[200000, 200001, 200002, 200003, 200004],
        iv_percent=[24.393, -999.0, 30.0, -999.0, 12.5],
        last_text=["1.5", "N/A", " -999 ", "", "2.25"],
    )
    got = mapped(
        warehouse, vendor, frame,
        {
            "option_type": {"column": "kind", "values": {"C": "call", "P": "put", "CALL": "call", "PUT": "put"}},
            "strike": {"column": "strike_x1000", "scale": 0.001},
            "implied_volatility": {"column": "iv_percent", "scale": 0.01, "null_if": [-999]},
            "last": {"column": "last_text", "null_if": ["N/A", "-999"]},
        },
    )  # fmt: skip
    assert got["option_type"].tolist() == ["call", "put", "call", "call", "put"]
    assert np.allclose(got["strike"], [200.0, 200.001, 200.002, 200.003, 200.004], rtol=0, atol=1e-9)
    assert np.allclose(got["implied_volatility"], [0.24393, np.nan, 0.30, np.nan, 0.125], equal_nan=True)
    assert np.allclose(got["last"], [1.5, np.nan, np.nan, np.nan, 2.25], equal_nan=True)  # '' is missing too


def test_dates_and_times_on_both_backends(warehouse, vendor):
    """Date formats, epochs, zones and stamps: the parts whose SQL differs between the dialects."""
    frame = base_frame(
        4,
        exp_us=["06/21/2024", "06/21/2024", "12/15/2023", "03/17/2023"],
        epoch_s=[1718395199, 0, 0, 0],
        epoch_ms=[1718395198800, 0, 0, 0],
        epoch_ns=[1651254260800059648, 0, 0, 0],
        naive=pd.to_datetime(["2024-06-14 15:59:59"] * 4),
        iso=["2024-06-14T15:59:59-04:00", "2024-06-14T19:59:59Z", "2024-06-14 19:59:59", " 2024-06-14T15:59:59-04:00"],
        quote_date=["2024-06-14", "2023-11-24", "2024-07-03", "2024-06-14"],
    )

    def times(rule: dict) -> list[pd.Timestamp]:
        # DuckDB's EPOCH_MS gives a TIMESTAMP without zone: UTC, the session's zone (open_duckdb)
        return pd.to_datetime(mapped(warehouse, vendor, frame, {"quote_time": rule})["quote_time"], utc=True).tolist()

    dates = mapped(warehouse, vendor, frame, {"expiration": {"column": "exp_us", "date_format": "%m/%d/%Y"}})
    assert pd.to_datetime(dates["expiration"]).dt.date.tolist() == [
        dt.date(2024, 6, 21), dt.date(2024, 6, 21), dt.date(2023, 12, 15), dt.date(2023, 3, 17)
    ]  # fmt: skip
    assert times({"column": "epoch_s", "epoch": "s"})[0] == utc("2024-06-14 19:59:59")
    assert times({"column": "epoch_ms", "epoch": "ms"})[0] == utc("2024-06-14 19:59:58.800")
    assert times({"column": "epoch_ns", "epoch": "ns"})[0] == utc("2022-04-29 17:44:20.800059")  # to the us
    assert times({"column": "naive"})[0] == utc("2024-06-14 19:59:59")  # New York unless told
    assert times({"column": "naive", "timezone": "America/Chicago"})[0] == utc("2024-06-14 20:59:59")
    assert set(times({"column": "iso"})) == {utc("2024-06-14 19:59:59")}  # its offset, else UTC
    stamped = times({"column": "quote_date", "stamp": "session_close"})
    assert stamped == [
        utc("2024-06-14 20:00"),
        utc("2023-11-24 18:00"),  # 13:00 New York: the day after Thanksgiving closes early
        utc("2024-07-03 17:00"),  # 13:00 New York (EDT): the eve of Independence Day
        utc("2024-06-14 20:00"),
    ]


@DUCKDB_ONLY
def test_mid_and_dte_defaults(warehouse, vendor):
    # 02:30 UTC on the 15th is 22:30 on the 14th in New York: dte counts from the New York date
    frame = base_frame(qt=[pd.Timestamp("2024-06-15 02:30", tz="UTC")], b=[2.5], a=[2.7])
    got = mapped(warehouse, vendor, frame, {})
    assert got.loc[0, "mid"] == pytest.approx(2.6) and got.loc[0, "dte"] == 7
    rules = {"mid": {"column": "m"}, "dte": {"column": "days"}}
    explicit = mapped(warehouse, vendor, frame.assign(m=[9.0], days=[3]), rules)
    assert explicit.loc[0, "mid"] == 9.0 and explicit.loc[0, "dte"] == 3


def test_occ_parsing_padded_root_and_polygon_prefix(warehouse, vendor):
    symbols = ["AAPL  240621C00200000", "O:SPY220520P00145500", "BRKB240315C00405000", "SPXW  230317P03800000"]
    frame = base_frame(4, sym=symbols).drop(columns=["u", "kind", "exp", "k"])
    occ = {
        "underlying": {"column": "sym", "derive": "occ_underlying"},
        "option_type": {"column": "sym", "derive": "occ_option_type"},
        "strike": {"column": "sym", "derive": "occ_strike"},
        "expiration": {"column": "sym", "derive": "occ_expiration"},
    }
    got = mapped(warehouse, vendor, frame, occ).set_index("contract_symbol").loc[symbols]
    parts = [occ_parts(s) for s in symbols]
    assert got["underlying"].tolist() == [p[0] for p in parts] == ["AAPL", "SPY", "BRKB", "SPXW"]
    assert pd.to_datetime(got["expiration"]).dt.date.tolist() == [p[1] for p in parts]
    assert got["option_type"].tolist() == [p[2] for p in parts]
    assert got["strike"].tolist() == [p[3] for p in parts] == [200.0, 145.5, 405.0, 3800.0]


@DUCKDB_ONLY
def test_occ_symbol_built_from_the_underlying_or_a_root_column(warehouse, vendor):
    frame = base_frame(2, u=["^SPX", "^SPX"], root=["SPXW", "SPX"], kind=["put", "call"], k=[4525.0, 17.5])
    built = mapped(warehouse, vendor, frame, {"contract_symbol": {"derive": "occ_symbol", "column": "root"}})
    assert sorted(built["contract_symbol"]) == ["SPX240621C00017500", "SPXW240621P04525000"]
    plain = mapped(warehouse, vendor, frame.iloc[:1], {"contract_symbol": {"derive": "occ_symbol"}})
    assert plain["contract_symbol"].tolist() == ["^SPX240621P04525000"]


@DUCKDB_ONLY
def test_price_close_reads_the_underlyings_close_of_the_new_york_date(warehouse, vendor):
    load_prices(warehouse, dt.date(2024, 6, 14), {"AAPL": 212.49, "MSFT": 442.57})
    load_prices(warehouse, dt.date(2024, 6, 13), {"AAPL": 214.24})
    frame = base_frame(2, u=["AAPL", "IBM"], qt=[pd.Timestamp("2024-06-15 02:30", tz="UTC")] * 2)
    got = mapped(warehouse, vendor, frame, {"underlying_price": {"derive": "price_close"}})
    prices = got.set_index("underlying")["underlying_price"]
    assert prices["AAPL"] == 212.49  # the 14th's close, not the 13th's, nor the UTC date's (none)
    assert pd.isna(prices["IBM"])  # no price row: NULL, never another ticker's


@DUCKDB_ONLY
def test_wide_rows_become_a_call_and_a_put(warehouse, vendor):
    frame = pd.DataFrame(
        {
            "u": ["SPY", "SPY"],
            "k": [450.0, 455.0],
            "exp": ["2021-12-03", "2021-12-03"],
            "qt": [1638392400, 1638392400],
            "c_bid": [7.02, 1.50],
            "c_ask": [7.25, 1.55],
            "p_bid": [1.57, 5.89],
            "p_ask": [1.62, 6.08],
            "c_vol": ["19422.000000", " "],  # a lone space for a missing value makes a text column
            "p_vol": [13890.0, 14784.0],
        }
    )
    rules = {
        "contract_symbol": {"derive": "occ_symbol"},
        "option_type": None,
        "expiration": {"column": "exp"},
        "quote_time": {"column": "qt", "epoch": "s"},
        "bid": {"call_column": "c_bid", "put_column": "p_bid"},
        "ask": {"call_column": "c_ask", "put_column": "p_ask"},
        "volume": {"call_column": "c_vol", "put_column": "p_vol"},
    }
    got = mapped(warehouse, vendor, frame, rules, layout="wide").set_index("contract_symbol")
    assert sorted(got.index) == ["SPY211203C00450000", "SPY211203C00455000", "SPY211203P00450000", "SPY211203P00455000"]
    shown = ["option_type", "bid", "ask", "volume"]
    assert got.loc["SPY211203C00450000", shown].tolist() == ["call", 7.02, 7.25, 19422]
    assert got.loc["SPY211203P00455000", shown].tolist() == ["put", 5.89, 6.08, 14784]
    assert pd.isna(got.loc["SPY211203C00455000", "volume"])
    assert got.loc["SPY211203P00450000", "mid"] == pytest.approx((1.57 + 1.62) / 2)
    assert json.loads(got.loc["SPY211203P00450000", "source_row"])["c_bid"] == 7.02  # the whole wide row


@DUCKDB_ONLY
def test_optional_columns_absent_are_null(warehouse, vendor):
    got = mapped(warehouse, vendor, base_frame(), {"last": {"column": "lastPrice", "optional": True}})
    assert pd.isna(got.loc[0, "last"]) and pd.isna(got.loc[0, "rho"]) and pd.isna(got.loc[0, "volume"])
    with pytest.raises(ArchiveRefused, match=r"columns\.last: reads column 'lastPrice', which .* lacks"):
        mapped(warehouse, vendor, base_frame(), {"last": {"column": "lastPrice"}})


@DUCKDB_ONLY
def test_placeholder_iv_matched_to_1e9_relative(warehouse, vendor):
    frame = base_frame(4, iv=[1e-5 * (1 + 5e-10), 1e-5 * (1 - 5e-10), 1e-5 * (1 + 3e-9), 0.2], d=[0.5] * 4)
    got = mapped(
        warehouse, vendor, frame,
        {"implied_volatility": {"column": "iv"}, "delta": {"column": "d"}},
        placeholder_iv=[0.00001],
    )  # fmt: skip
    assert got["implied_volatility"].isna().tolist() == [True, True, False, False]
    assert got["delta"].isna().tolist() == [True, True, False, False]  # the placeholder row's greeks go too


def test_extends_a_preset_and_overrides_one_column(tmp_path):
    mine = tmp_path / "my_schwab.yaml"
    mine.write_text("name: my_schwab\nextends: schwab\ncolumns:\n  last: {column: mark}\n")
    fmt, schwab = load_chain_format(str(mine)), load_chain_format("schwab")
    assert fmt.name == "my_schwab" and fmt.columns["last"].column == "mark"
    assert {c: r for c, r in fmt.columns.items() if c != "last"} == {
        c: r for c, r in schwab.columns.items() if c != "last"
    }
    assert fmt.columns["implied_volatility"].scale == 0.01 and fmt.layout == schwab.layout


# ---- bad format files
BAD_FORMATS = [
    ("not_yaml", "name: x\ncolumns: [a\n", r"is not valid YAML at line"),
    ("not_mapping", "- a\n- b\n", r"must hold a mapping .* found list"),
    ("unknown_top_key", "name: x\ncolums: {}\n", r"colums: Extra inputs are not permitted"),
    ("unknown_column_key", "name: x\ncolumns:\n  strike: {colum: k}\n", r"columns\.strike\.colum: Extra inputs"),
    ("non_contract_column", "name: x\ncolumns:\n  spot: {column: s}\n",
     r"columns: \['spot'\] are not chain contract columns"),
    ("missing_required", "name: x\ncolumns:\n  underlying: {column: u}\n  option_type: {column: t}\n",
     r"columns: no rule for the required chain columns \['contract_symbol', 'strike', 'expiration', 'quote_time'\]"),
    ("two_sources", "name: x\ncolumns:\n  strike: {column: k, constant: 1}\n",
     r"columns\.strike: give exactly one of column, call_column\+put_column, derive or constant; "
     r"got \['column', 'constant'\]"),
    ("derive_and_scale", "name: x\ncolumns:\n  mid: {derive: mid, scale: 2}\n",
     r"columns\.mid: \['scale'\] apply to a source column, not to derive/constant"),
    ("bad_timezone", "name: x\ncolumns:\n  quote_time: {column: t, timezone: Mars/Olympus}\n",
     r"columns\.quote_time: unknown time zone 'Mars/Olympus'"),
    ("last_trade_quote_time",
     "name: x\ncolumns:\n  underlying: {column: u}\n  contract_symbol: {column: s}\n  option_type: {column: t}\n"
     "  strike: {column: k}\n  expiration: {column: e}\n  quote_time: {column: lastTradeDate}\n",
     r"columns\.quote_time reads 'lastTradeDate', a last-trade time"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "problem"), BAD_FORMATS, ids=[c[0] for c in BAD_FORMATS])
def test_bad_format_file_names_the_key_and_the_problem(tmp_path, case, text, problem):
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(FormatError, match=problem) as error:
        load_chain_format(str(path))
    assert str(path) in str(error.value)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(FormatError, match=r"'yfinanse': no such preset; the presets are .*schwab, tradier, yfinance"):
        load_chain_format("yfinanse")


def test_extends_cycle_is_refused(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(f"name: first\nextends: {second}\ncolumns: {{}}\n")
    second.write_text(f"name: second\nextends: {first}\ncolumns: {{}}\n")
    with pytest.raises(FormatError, match=r"extends itself \(.*first\.yaml -> .*second\.yaml -> .*first\.yaml\)"):
        load_chain_format(str(first))


def test_format_reading_a_column_the_table_lacks_is_refused(warehouse, vendor):
    frame = base_frame().rename(columns={"k": "strike_price"})
    with pytest.raises(ArchiveRefused) as refused:
        mapped(warehouse, vendor, frame, {})
    message = str(refused.value)
    assert "columns.strike: reads column 'k'" in message and f"{vendor.dataset}.hand_made lacks" in message
    assert "(its columns: 'u', 'sym', 'kind', 'strike_price', 'exp', 'qt', 'b', 'a')" in message
    assert "nothing was written" in message


# ---- the live-table guards after mapping
def archived_days(warehouse) -> dict:
    rows = warehouse.read_sql("SELECT snapshot_date, COUNT(*) AS n FROM options_chain_history GROUP BY 1")
    return {pd.Timestamp(d).date(): int(n) for d, n in zip(rows["snapshot_date"], rows["n"], strict=True)}


@DUCKDB_ONLY
def test_another_sessions_quotes_and_a_stale_holiday_copy_are_refused(warehouse, vendor):
    vxx = pd.read_csv(VXX)
    vendor.load_frame("chain", _vxx_day(vxx, "12/01/2016"), replace_table=True)
    source = live_chain_source(warehouse, f"{vendor.dataset}.chain", "historicaloptiondata")
    archive_chain(warehouse, dt.date(2016, 12, 1), source)
    before = history(warehouse)
    assert archived_days(warehouse) == {dt.date(2016, 12, 1): len(before)}

    # the pipeline reloaded the next day's file: refused as 2016-12-01, the day archived stays
    vendor.load_frame("chain", _vxx_day(vxx, "12/02/2016"), replace_table=True)
    with pytest.raises(ArchiveRefused, match=r"holds quotes from trading date 2016-12-02 .* not 2016-12-01"):
        archive_chain(warehouse, dt.date(2016, 12, 1), source)
    # a stale copy stamped with the Christmas holiday (observed 2016-12-26)
    holiday = _vxx_day(vxx, "12/23/2016").assign(quotedate="12/26/2016")
    vendor.load_frame("chain", holiday, replace_table=True)
    with pytest.raises(ArchiveRefused, match=r"holds quotes from 2016-12-26, which is not an NYSE trading day"):
        archive_chain(warehouse, dt.date(2016, 12, 27), source)
    pd.testing.assert_frame_equal(history(warehouse), before)


def test_null_keys_after_mapping_are_refused_naming_the_column(warehouse, vendor):
    frame = base_frame(2, sym=["AAPL240621C00200000", "AAPL_C_200_20240621"]).drop(columns=["u"])
    vendor.load_frame("chain", frame, replace_table=True)
    fmt = chain_format({"underlying": {"column": "sym", "derive": "occ_underlying"}})
    source = live_chain_source(warehouse, f"{vendor.dataset}.chain", fmt)
    with pytest.raises(ArchiveRefused, match=r"rows without underlying \(1\): .* nothing was written for 2024-06-14"):
        archive_chain(warehouse, dt.date(2024, 6, 14), source)
    assert archived_days(warehouse) == {}


# ---- every preset's SELECT is BigQuery, and its DuckDB transpilation runs
@DUCKDB_ONLY
@pytest.mark.parametrize("preset", preset_names())
def test_preset_select_parses_strictly_as_bigquery_and_runs_on_duckdb(warehouse, vendor, preset):
    if preset == "contract":
        frame, source = None, live_chain_source(warehouse)  # rl-assets' own options_chain
    else:
        frame, live = load_sample(vendor, "chain", SAMPLES[preset])
        source = live_chain_source(warehouse, live, preset)
    text = source.select()
    sqlglot.parse_one(text, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
    sql.parse_text(text, where=preset)
    rows = warehouse.read_sql(text)
    if preset != "contract":
        assert len(rows) == len(frame) * (2 if SAMPLES[preset].wide else 1)


@DUCKDB_ONLY
def test_contract_preset_from_another_dataset_keeps_extra_columns(warehouse, vendor, market):
    chain = market.chain(DAY).head(40).reset_index(drop=True)
    vendor.load_frame("chain", chain.assign(exchange_code="OPRA"), replace_table=True)
    report = archive_chain(warehouse, DAY, live_chain_source(warehouse, f"{vendor.dataset}.chain", "contract"))
    got = history(warehouse)
    assert report.rows == len(got) == len(chain) and report.extra_columns == ["exchange_code"]
    assert sorted(got["contract_symbol"]) == sorted(chain["contract_symbol"])
    kept = [json.loads(row) for row in got["source_row"]]
    assert {row["exchange_code"] for row in kept} == {"OPRA"}
    assert all(set(row) == set(chain) | {"exchange_code"} for row in kept)

    vendor.load_frame("chain", chain, replace_table=True)  # exactly the contract: the row is the contract
    archive_chain(warehouse, DAY, live_chain_source(warehouse, f"{vendor.dataset}.chain", "contract"))
    assert history(warehouse)["source_row"].isna().all()


# ---- Price formats: every statement that reads price_data reads the pipeline's bars through them
@pytest.mark.parametrize(
    ("warehouse", "preset"),
    [("duckdb", "symbol_adj_close"), ("duckdb", "yfinance"), ("bigquery", "yfinance")],
    indirect=["warehouse"],
)
def test_price_presets_read_the_pipelines_bars_through_every_price_statement(warehouse, vendor, preset, market):
    """The synthetic market's bars in a vendor's layout, in another dataset: the universe, the
    window the technicals read and the row counts come from them, the raw close and never adj_close."""
    from rl_assets.archive import price_source

    bars = market.prices(DAY - dt.timedelta(days=10), DAY)
    if preset == "symbol_adj_close":
        layout = bars.rename(columns={"ticker": "symbol"}).assign(adj_close=bars["close"] * 0.97)
    else:  # yfinance.download(auto_adjust=False), stacked: capitalised names, a DATETIME Date
        layout = bars.rename(columns={c: c.capitalize() for c in bars.columns}).assign(
            Date=pd.to_datetime(bars["date"]), **{"Adj_Close": bars["close"] * 0.97}
        )
    vendor.load_frame("bars", layout, replace_table=True)
    warehouse.sources["price_data"] = price_source(warehouse, f"{vendor.dataset}.bars", preset).select()
    first, last = bars["date"].min(), bars["date"].max()
    window = warehouse.query("price_data_window", {"start_date": first, "end_date": last})
    got = window.sort_values(["ticker", "date"]).reset_index(drop=True)
    want = bars.sort_values(["ticker", "date"]).reset_index(drop=True)
    assert got["ticker"].tolist() == want["ticker"].tolist()
    assert np.allclose(got["close"], want["close"], rtol=0, atol=1e-12)  # the raw close
    assert pd.to_datetime(got["date"]).dt.date.tolist() == [pd.Timestamp(d).date() for d in want["date"]]
    assert sorted(warehouse.query("price_data_universe")["ticker"]) == sorted(market.tickers)
    counts = warehouse.query("price_data_row_counts", {"start_date": DAY, "end_date": DAY})
    assert counts["row_count"].tolist() == [len(market.tickers)]
