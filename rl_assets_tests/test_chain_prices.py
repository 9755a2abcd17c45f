"""price_data from the archived chain when no price file exists (close-only bars), and the
technicals a close-only series allows.

Oracles: the chain's own underlying_price (numpy's median where a day's rows disagree) for the
bars; TA-Lib 0.8.2 called directly on the close series (RSI, MACD, SMA, BBANDS) for the
indicators; the same ticker computed alone for a mixed market.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from rl_assets import calendar, quality
from rl_assets.archive import (
    CHAIN_PRICE_DISAGREEMENT,
    PricesRefused,
    archive_chain_frame,
    price_source,
    write_prices,
    write_prices_from_chain,
)
from rl_assets.defs.resources import Warehouse
from rl_assets.schema import PRICE_DATA_COLUMNS
from rl_assets.technicals import compute_technicals, prepare_prices, update_technicals
from rl_assets.warehouse.duckdb_backend import open_duckdb
from rl_assets_bench.history import table
from rl_assets_tests.conftest import DAY
from rl_assets_tests.history import run_statement

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import talib

# Three sessions in a row; the middle one is never archived.
FIRST, MISSING, LAST = calendar.shift_trading_days(DAY, -2), calendar.shift_trading_days(DAY, -1), DAY
CLOSE_BASED = [
    "rsi_14", "macd", "macd_signal", "macd_hist", "sma_20", "sma_50", "sma_200",
    "bb_upper", "bb_middle", "bb_lower", "ret_1d", "ret_5d", "ret_20d", "realized_vol_20",
]  # fmt: skip
NEEDS_OHLCV = ["atr_14", "adx_14", "volume_ratio_20"]


def thin_chain(market, day: dt.date, per_underlying: int = 12) -> pd.DataFrame:
    """A few contracts per underlying of the synthetic chain (archiving stays fast on the emulator)."""
    return market.chain(day).groupby("underlying").head(per_underlying).reset_index(drop=True)


def prices(warehouse) -> pd.DataFrame:
    frame = table(warehouse, "price_data", "ticker, date")
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


def test_close_only_bars_are_the_chains_underlying_price_one_per_underlying_day(warehouse, market):
    chains = {day: thin_chain(market, day) for day in (FIRST, LAST)}
    for day, chain in chains.items():
        archive_chain_frame(warehouse, chain, day)

    report = write_prices_from_chain(warehouse, FIRST, LAST)

    got = prices(warehouse)
    want = pd.concat(
        [c.groupby("underlying")["underlying_price"].first().rename_axis("ticker").reset_index().assign(date=d)
         for d, c in chains.items()]
    ).sort_values(["ticker", "date"], ignore_index=True)  # fmt: skip
    assert list(got.columns) == PRICE_DATA_COLUMNS
    assert list(zip(got["ticker"], got["date"], strict=True)) == list(zip(want["ticker"], want["date"], strict=True))
    assert MISSING not in set(got["date"])  # a day without an archived chain gets no bar
    assert np.allclose(got["close"], want["underlying_price"], rtol=1e-12, atol=0)
    assert got["close_only"].tolist() == [True] * len(got)
    assert got[["open", "high", "low", "volume"]].isna().all().all()
    tickers = chains[LAST]["underlying"].nunique()
    assert (report.rows, report.tickers, report.days, report.disagreeing, report.without_price) == (
        2 * tickers, tickers, 2, 0, 0,
    )  # fmt: skip
    assert (report.first_date, report.last_date) == (FIRST, LAST)

    again = write_prices_from_chain(warehouse, FIRST, LAST)  # a re-run replaces, never duplicates
    assert again == report
    pd.testing.assert_frame_equal(prices(warehouse), got)


def test_disagreeing_rows_give_their_median_and_are_counted_and_bad_prices_are_ignored(warehouse, market):
    chain = thin_chain(market, DAY)
    names = sorted(chain["underlying"].unique())
    split, no_price = names[0], names[1]
    rows = chain.index[chain["underlying"] == split]
    base = chain.loc[rows[0], "underlying_price"]
    # Rows of one underlying-day that disagree (a vendor's quotes taken at different moments),
    # one non-positive price and one NaN (archived as NULL) that must not count.
    disagreeing = base * (1 + 0.001 * np.arange(len(rows)))
    disagreeing[0], disagreeing[1] = -1.0, np.nan
    chain.loc[rows, "underlying_price"] = disagreeing
    chain.loc[chain["underlying"] == no_price, "underlying_price"] = 0.0  # no usable price: no bar
    archive_chain_frame(warehouse, chain, DAY)

    report = write_prices_from_chain(warehouse, DAY, DAY)

    got = prices(warehouse).set_index("ticker")
    usable = disagreeing[np.isfinite(disagreeing) & (disagreeing > 0)]
    assert got.loc[split, "close"] == pytest.approx(float(np.median(usable)), rel=1e-12)
    assert no_price not in got.index
    others = chain[~chain["underlying"].isin([split, no_price])].groupby("underlying")["underlying_price"].first()
    assert np.allclose(got.loc[others.index, "close"], others, rtol=1e-12, atol=0)
    assert (report.rows, report.days, report.disagreeing, report.without_price) == (len(names) - 1, 1, 1, 1)

    # A difference below the tolerance is the same price.
    chain.loc[rows, "underlying_price"] = base * (1 + 0.5 * CHAIN_PRICE_DISAGREEMENT * np.arange(len(rows)) / len(rows))
    archive_chain_frame(warehouse, chain, DAY)
    assert write_prices_from_chain(warehouse, DAY, DAY).disagreeing == 0


def test_chain_bars_never_replace_real_bars_unless_asked(warehouse, market):
    archive_chain_frame(warehouse, thin_chain(market, DAY), DAY)
    real = market.prices(DAY, DAY)
    write_prices(warehouse, real, DAY, DAY)
    with pytest.raises(PricesRefused, match=r"holds 4 real OHLCV bar\(s\).*nothing was written"):
        write_prices_from_chain(warehouse, DAY, DAY)
    assert prices(warehouse)["close_only"].tolist() == [False] * len(real)

    report = write_prices_from_chain(warehouse, DAY, DAY, replace_real_bars=True)
    assert report.rows == len(real) and prices(warehouse)["close_only"].all()


def test_price_data_rules_accept_close_only_bars_and_still_refuse_incomplete_real_bars(warehouse, market):
    archive_chain_frame(warehouse, thin_chain(market, DAY), DAY)
    write_prices_from_chain(warehouse, DAY, DAY)
    window = {"start_date": DAY, "end_date": DAY}

    def outcomes() -> dict[str, quality.CheckOutcome]:
        found = quality.price_data_outcomes(
            warehouse.query("price_data_quality", window),
            warehouse.query("price_data_tickers", window),
            {DAY: market.tickers},
            [DAY],
        )
        return {o.name: o for o in found}

    close_only = outcomes()
    assert all(o.passed for o in close_only.values()), {n: o.description for n, o in close_only.items()}
    assert close_only["no_missing_values"].metadata["close_only_bars"] == len(market.tickers)

    # The same bars without the flag are real bars lacking open/high/low/volume: still refused.
    run_statement(warehouse, "UPDATE price_data SET close_only = FALSE WHERE TRUE")
    assert not outcomes()["no_missing_values"].passed


def test_an_old_price_data_table_gains_close_only_and_its_bars_read_as_real(warehouse, market):
    """A price_data created before close_only: the next session adds the column, the old rows keep
    NULL there and every reader takes NULL as FALSE (a real bar)."""
    bars = market.prices(FIRST, LAST)
    write_prices(warehouse, bars, FIRST, LAST)
    run_statement(warehouse, "ALTER TABLE price_data DROP COLUMN close_only")

    warehouse.ensure_tables()

    assert list(warehouse.columns("price_data")) == PRICE_DATA_COLUMNS
    stored = prices(warehouse)
    assert len(stored) == len(bars) and stored["close_only"].isna().all()
    window = warehouse.query("price_data_window", {"start_date": FIRST, "end_date": LAST})
    assert window["close_only"].tolist() == [False] * len(bars)
    with pytest.raises(PricesRefused, match="real OHLCV"):
        write_prices_from_chain(warehouse, FIRST, LAST)
    write_prices(warehouse, bars, FIRST, LAST)  # the new column is written
    assert prices(warehouse)["close_only"].tolist() == [False] * len(bars)


def test_another_pipelines_price_data_without_close_only_is_read_as_real_bars_and_never_altered(
    duckdb_path, market
):
    """Sidecar mode: the pipeline's own price_data (contract layout, no close_only) is never altered;
    statements read it through the contract format, close_only FALSE."""
    bars = market.prices(FIRST, LAST).drop(columns="close_only")
    with open_duckdb(duckdb_path, "rl_test") as wh:
        wh.load_frame("price_data", bars, replace_table=True)
        wh.load_frame("options_chain", thin_chain(market, LAST), replace_table=True)
    resource = Warehouse(
        duckdb_path=duckdb_path,
        dataset="rl_test",
        external_tables=["options_chain", "price_data"],
        skipped_tables=["options_chain", "price_data"],
    )
    with resource.session() as wh:
        assert "close_only" not in wh.columns("price_data")
        window = wh.query("price_data_window", {"start_date": FIRST, "end_date": LAST})
        assert len(window) == len(bars) and window["close_only"].tolist() == [False] * len(bars)


@pytest.mark.parametrize("layout", ["symbol_adj_close", "contract"])
def test_a_price_format_reads_close_only_false_unless_the_table_says_true(warehouse, market, layout):
    bars = market.prices(DAY, DAY).drop(columns="close_only")
    if layout == "symbol_adj_close":
        bars = bars.rename(columns={"ticker": "symbol"}).assign(adj_close=bars["close"])
    warehouse.load_frame("user_bars", bars, replace_table=True)
    read = warehouse.read_sql(price_source(warehouse, "user_bars", layout).select())
    assert read["close_only"].tolist() == [False] * len(bars)  # FALSE, not NULL
    if layout == "contract":  # a contract table that has the flag keeps it (NULL: FALSE)
        flags = [True, None, False, True]
        warehouse.load_frame("user_bars", bars.assign(close_only=pd.array(flags, dtype="boolean")), replace_table=True)
        read = warehouse.read_sql(price_source(warehouse, "user_bars", layout).select() + " ORDER BY ticker")
        assert read["close_only"].tolist() == [True, False, False, True]


# ---- technicals from close-only bars
def close_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The bars as write_prices_from_chain stores them: the close, nothing else."""
    missing = pd.array([pd.NA] * len(frame), dtype="Int64")
    return frame.assign(open=np.nan, high=np.nan, low=np.nan, volume=missing, close_only=True)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    """Two tickers' real-looking OHLCV over 300 sessions (the synthetic market)."""
    from rl_assets.market.synthetic import SyntheticMarket

    bars = SyntheticMarket(seed=5, tickers=2).prices(dt.date(2025, 1, 2), dt.date(2026, 3, 16))
    return bars.sort_values(["ticker", "date"], ignore_index=True)


def test_close_only_bars_give_talibs_close_indicators_and_no_high_low_volume_ones(history):
    ticker = history["ticker"].iloc[0]
    bars = close_only(history[history["ticker"] == ticker])

    clean, skipped = prepare_prices(bars)
    assert skipped == {} and len(clean) == len(bars)  # accepted, not skipped for NaN open/high/low
    got = compute_technicals(clean)

    close = bars["close"].to_numpy(float)
    macd, signal, hist = talib.MACD(close, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    oracle = {
        "rsi_14": talib.RSI(close, 14), "macd": macd, "macd_signal": signal, "macd_hist": hist,
        "sma_20": talib.SMA(close, 20), "sma_50": talib.SMA(close, 50), "sma_200": talib.SMA(close, 200),
        "bb_upper": upper, "bb_middle": middle, "bb_lower": lower,
    }  # fmt: skip
    for column, want in oracle.items():
        ours = got[column].to_numpy(float)
        assert np.array_equal(np.isnan(ours), np.isnan(want)), column
        assert np.allclose(ours[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-9, atol=1e-9), column
    assert got[CLOSE_BASED].iloc[-1].notna().all()
    assert got["above_sma_200"].iloc[-1] == (close[-1] > oracle["sma_200"][-1])
    assert got[NEEDS_OHLCV].isna().all().all()  # never invented


def test_a_close_only_ticker_leaves_a_real_tickers_values_exactly_as_alone(history):
    first, second = sorted(history["ticker"].unique())
    real = history[history["ticker"] == second]
    mixed = pd.concat([close_only(history[history["ticker"] == first]), real])

    together = compute_technicals(prepare_prices(mixed)[0])
    alone = compute_technicals(prepare_prices(real)[0])

    pd.testing.assert_frame_equal(together[together["ticker"] == second].reset_index(drop=True), alone)
    assert together.loc[together["ticker"] == first, NEEDS_OHLCV].isna().all().all()


def test_atr_and_adx_restart_after_close_only_bars_instead_of_staying_poisoned(history):
    """Real bars, 30 close-only ones, real bars again: ATR/ADX NaN on the close-only bars and from
    the next real run on TA-Lib's values over that run alone (TA-Lib over the whole series with
    NaN high/low would be NaN to the end)."""
    bars = history[history["ticker"] == history["ticker"].iloc[0]].reset_index(drop=True)
    gap = slice(100, 130)
    bars.loc[gap, ["open", "high", "low", "volume"]] = np.nan
    bars["close_only"] = False
    bars.loc[gap, "close_only"] = True

    got = compute_technicals(prepare_prices(bars)[0])

    after = bars.iloc[130:]
    h, lo, c = (after[col].to_numpy(float) for col in ("high", "low", "close"))
    for column, want in (("atr_14", talib.ATR(h, lo, c, 14)), ("adx_14", talib.ADX(h, lo, c, 14))):
        ours = got[column].to_numpy(float)
        assert np.isnan(ours[gap]).all(), column
        assert np.array_equal(np.isnan(ours[130:]), np.isnan(want)), column
        assert np.allclose(ours[130:][~np.isnan(want)], want[~np.isnan(want)], rtol=1e-9, atol=1e-9), column
        before = bars.iloc[:100]
        whole = getattr(talib, column.split("_")[0].upper())(
            *(before[col].to_numpy(float) for col in ("high", "low", "close")), 14
        )
        assert np.allclose(ours[:100][~np.isnan(whole)], whole[~np.isnan(whole)], rtol=1e-12, atol=0), column
    assert got["rsi_14"].iloc[100:].notna().all()  # the close-based ones run straight through


def test_a_close_only_bar_without_a_usable_close_is_still_refused(history):
    bars = close_only(history[history["ticker"] == history["ticker"].iloc[0]]).reset_index(drop=True)
    bars.loc[5, "close"] = np.nan
    clean, skipped = prepare_prices(bars)
    assert clean.empty and skipped == {bars["ticker"].iloc[0]: "NaN or non-positive close on a close-only bar"}
    with pytest.raises(ValueError, match="NaN or non-positive prices"):
        compute_technicals(bars)


def test_update_technicals_reads_close_only_bars_from_price_data(warehouse, history):
    days = sorted(set(history["date"]))
    first, second = sorted(history["ticker"].unique())
    stored = pd.concat([close_only(history[history["ticker"] == first]), history[history["ticker"] == second]])
    write_prices(warehouse, stored, days[0], days[-1])

    last_days = days[-3:]
    report = update_technicals(warehouse, last_days)

    assert report.skipped == {} and report.tickers == 2
    got = table(warehouse, "technicals_history", "ticker, date")
    got["date"] = pd.to_datetime(got["date"]).dt.date
    want = compute_technicals(prepare_prices(stored)[0])
    want = want[want["date"].isin(last_days)].reset_index(drop=True)
    assert got[["ticker", "date"]].values.tolist() == want[["ticker", "date"]].values.tolist()
    for column in CLOSE_BASED + NEEDS_OHLCV:
        assert np.allclose(got[column].astype(float), want[column].astype(float), rtol=1e-9, equal_nan=True), column
    assert got.loc[got["ticker"] == first, NEEDS_OHLCV].isna().all().all()
    assert got.loc[got["ticker"] == second, NEEDS_OHLCV].notna().all().all()
    assert got[CLOSE_BASED].notna().all().all()
