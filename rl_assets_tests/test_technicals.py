"""Tests for rl_assets.technicals (prepare_prices, compute_technicals, WARMUP_SESSIONS).

Oracles, none of them this project's code:
- TA-Lib 0.8.2 called directly on one ticker's numpy arrays (RSI, MACD, SMA, BBANDS with the
  population standard deviation, ATR, ADX): docs/design.md asks for TA-Lib's definitions to 1e-6 once
  warmed up, and NaN exactly where TA-Lib has no value yet;
- plain numpy for returns, realised volatility (each 20-return window's own ddof=1 stdev) and the
  volume ratio, again one ticker at a time.
Data: real GOOG daily bars 2004-2013 shipped by the `backtesting` package (AGPL-3.0, so it is read
from the installed package, never copied here), and the synthetic market.

"1e-6" means |ours - oracle| <= 1e-6 * max(1, |oracle|): absolute for RSI/ADX-sized numbers,
relative for a stock priced in the hundreds of thousands.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from rl_assets.market.synthetic import SyntheticMarket
from rl_assets.schema import PRICE_DATA_COLUMNS, TECHNICALS_COLUMNS
from rl_assets.technicals import WARMUP_SESSIONS, compute_technicals, prepare_prices

with warnings.catch_warnings():  # pandas-ta's import-time deprecation noise
    warnings.simplefilter("ignore")
    import pandas_ta as ta
    import talib

TOLERANCE = 1e-6
FLAG_COLUMNS = ["above_sma_50", "above_sma_200"]
FLOAT_COLUMNS = [c for c in TECHNICALS_COLUMNS if c not in ("ticker", "date", *FLAG_COLUMNS)]


# --------------------------------------------------------------------------------------------
# Data and oracles


@functools.cache
def _goog() -> pd.DataFrame:
    """Real GOOG daily OHLCV, 2004-08-19 .. 2013-03-01, read in place from the backtesting wheel."""
    dist = importlib.metadata.distribution("backtesting")
    (csv,) = [f for f in dist.files if f.as_posix() == "backtesting/test/GOOG.csv"]
    raw = pd.read_csv(dist.locate_file(csv), index_col=0, parse_dates=True)
    return pd.DataFrame(
        {
            "ticker": "GOOG",
            "date": raw.index.date,
            "open": raw["Open"].to_numpy(float),
            "high": raw["High"].to_numpy(float),
            "low": raw["Low"].to_numpy(float),
            "close": raw["Close"].to_numpy(float),
            "volume": raw["Volume"].to_numpy(),
        }
    )


def goog() -> pd.DataFrame:
    return _goog().copy()


@functools.cache
def _synthetic(seed: int, tickers: int, start: str, end: str) -> pd.DataFrame:
    return SyntheticMarket(seed, tickers=tickers).prices(start, end)


def synthetic(seed: int, tickers: int, start: str, end: str) -> pd.DataFrame:
    return _synthetic(seed, tickers, start, end).copy()


def scaled(bars: pd.DataFrame, ticker: str, price: float, volume: float = 1.0) -> pd.DataFrame:
    """A copy of some bars under another ticker, prices times `price`, volume times `volume`."""
    out = bars.assign(ticker=ticker)
    for column in ("open", "high", "low", "close"):
        out[column] = bars[column] * price
    out["volume"] = np.round(bars["volume"] * volume).astype("int64")
    return out


def _trailing(values: np.ndarray, window: int, reduce) -> np.ndarray:
    """reduce(each window of `window` values ending at a row), NaN before the first full window."""
    out = np.full(len(values), np.nan)
    if len(values) >= window:
        out[window - 1 :] = reduce(sliding_window_view(values, window))
    return out


def oracle_one_ticker(bars: pd.DataFrame) -> pd.DataFrame:
    """The expected technicals for one ticker's bars (sorted by date), from TA-Lib and numpy."""
    o, h, lo, c = (bars[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    v = bars["volume"].to_numpy(float)
    macd, macd_signal, macd_hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    bb_upper, bb_middle, bb_lower = talib.BBANDS(c, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
    sma = {n: talib.SMA(c, timeperiod=n) for n in (20, 50, 200)}
    log_return = np.r_[np.nan, np.diff(np.log(c))]
    realized = np.r_[np.nan, _trailing(log_return[1:], 20, lambda w: w.std(axis=1, ddof=1))] * np.sqrt(252)
    mean_volume = _trailing(v, 20, lambda w: w.mean(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        volume_ratio = np.where(mean_volume > 0, v / mean_volume, np.nan)

    def ret(k: int) -> np.ndarray:
        out = np.full(len(c), np.nan)
        out[k:] = c[k:] / c[:-k] - 1.0
        return out

    def above(n: int) -> pd.arrays.BooleanArray:
        return pd.array([None if np.isnan(s) else bool(x > s) for x, s in zip(c, sma[n], strict=True)], "boolean")

    return pd.DataFrame(
        {
            "ticker": bars["ticker"].to_numpy(),
            "date": bars["date"].to_numpy(),
            "close": c,
            "rsi_14": talib.RSI(c, timeperiod=14),
            "macd": macd,
            "macd_signal": macd_signal,
            "macd_hist": macd_hist,
            "sma_20": sma[20],
            "sma_50": sma[50],
            "sma_200": sma[200],
            "bb_upper": bb_upper,
            "bb_middle": bb_middle,
            "bb_lower": bb_lower,
            "atr_14": talib.ATR(h, lo, c, timeperiod=14),
            "adx_14": talib.ADX(h, lo, c, timeperiod=14),
            "above_sma_50": above(50),
            "above_sma_200": above(200),
            "ret_1d": ret(1),
            "ret_5d": ret(5),
            "ret_20d": ret(20),
            "realized_vol_20": realized,
            "volume_ratio_20": volume_ratio,
        }
    )


def oracle(prices: pd.DataFrame) -> pd.DataFrame:
    """oracle_one_ticker for every ticker of clean prices, sorted by (ticker, date)."""
    frames = [oracle_one_ticker(bars) for _, bars in prices.sort_values(["ticker", "date"]).groupby("ticker")]
    return pd.concat(frames, ignore_index=True)[TECHNICALS_COLUMNS]


def relative_error(actual, expected) -> np.ndarray:
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    return np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))


def assert_technicals_close(actual: pd.DataFrame, expected: pd.DataFrame, tolerance: float = TOLERANCE) -> None:
    """Same rows and columns; every float column NaN exactly where expected and within tolerance
    elsewhere; the flags NA exactly where expected and equal wherever close is not within
    tolerance of the SMA (there a last-digit difference may legitimately flip the comparison)."""
    assert list(actual.columns) == TECHNICALS_COLUMNS
    actual, expected = actual.reset_index(drop=True), expected.reset_index(drop=True)
    pd.testing.assert_frame_equal(actual[["ticker", "date"]], expected[["ticker", "date"]], check_dtype=False)
    for column in FLOAT_COLUMNS:
        a, e = actual[column].to_numpy(float), expected[column].to_numpy(float)
        nan_differs = np.flatnonzero(np.isnan(a) != np.isnan(e))
        assert nan_differs.size == 0, (
            f"{column}: NaN pattern differs on {nan_differs.size} rows, first "
            f"{expected.loc[nan_differs[0], ['ticker', 'date']].tolist()}: ours {a[nan_differs[0]]}, oracle {e[nan_differs[0]]}"
        )
        error = relative_error(a, e)
        error[np.isnan(e)] = 0.0
        worst = int(np.argmax(error)) if len(error) else 0
        assert error.max(initial=0.0) <= tolerance, (
            f"{column}: error {error[worst]:.3g} at {expected.loc[worst, ['ticker', 'date']].tolist()} "
            f"(ours {a[worst]!r}, oracle {e[worst]!r})"
        )
    for column, sma in (("above_sma_50", "sma_50"), ("above_sma_200", "sma_200")):
        assert actual[column].dtype == "boolean", column
        na = expected[column].isna().to_numpy()
        assert (actual[column].isna().to_numpy() == na).all(), f"{column}: NA pattern differs"
        decided = ~na & (relative_error(expected["close"], expected[sma]) > tolerance)
        assert (actual[column].to_numpy()[decided] == expected[column].to_numpy()[decided]).all(), column


def bars_of(prices: pd.DataFrame, ticker: str) -> pd.DataFrame:
    return prices[prices["ticker"] == ticker].sort_values("date", ignore_index=True)


# --------------------------------------------------------------------------------------------
# 1. Real data against TA-Lib


def test_goog_matches_talib():
    prices = goog()
    clean, skipped = prepare_prices(prices)
    assert skipped == {}  # the real bars are clean: no zero/NaN prices, no high < low
    out = compute_technicals(clean)
    assert len(out) == len(prices) == 2148
    assert_technicals_close(out, oracle(prices))
    # Sanity that the comparison has something to compare: every indicator is defined after warm-up.
    assert out.iloc[250:][FLOAT_COLUMNS].notna().all().all()


def test_goog_stacked_with_other_tickers_matches_talib_per_ticker():
    """Three tickers stacked end to end, with different price scales and date ranges:
    BIGG (GOOG x 1000, a Berkshire-A sized price, first 1500 days, sorted before GOOG), GOOG, and
    GOOX (GOOG / 100, volume x 50, starting on day 700). Each must equal TA-Lib on its own rows:
    nothing may leak across ticker boundaries (returns are computed over the stacked series)."""
    g = goog()
    prices = pd.concat([scaled(g.iloc[:1500], "BIGG", 1000.0), g, scaled(g.iloc[700:], "GOOX", 0.01, 50.0)])
    out = compute_technicals(prepare_prices(prices)[0])
    assert out["ticker"].value_counts().to_dict() == {"BIGG": 1500, "GOOG": 2148, "GOOX": 1448}
    assert_technicals_close(out, oracle(prices))
    # Cross-check between tickers: BIGG is GOOG x 1000 on the same dates, so its scale-free
    # indicators equal GOOG's and its price-like ones are 1000 x GOOG's.
    bigg, goog_out = bars_of(out, "BIGG"), bars_of(out, "GOOG").iloc[:1500]
    for column in ("rsi_14", "adx_14", "ret_1d", "ret_20d", "realized_vol_20", "volume_ratio_20"):
        np.testing.assert_allclose(bigg[column], goog_out[column], rtol=1e-9, atol=1e-9, err_msg=column)
    for column in ("macd", "sma_200", "bb_upper", "atr_14"):
        np.testing.assert_allclose(bigg[column], goog_out[column] * 1000.0, rtol=1e-9, err_msg=column)


# --------------------------------------------------------------------------------------------
# 2. pandas-ta's default (TA-Lib-backed) path against ours


def test_equals_pandas_ta_default_path():
    """compute_technicals calls the TA-Lib functions pandas-ta dispatches to; going through
    pandas-ta (talib=True, its default) must give the very same numbers, per ticker, also for a
    ticker with too few rows for some indicators (pandas-ta then returns None)."""
    bars = pd.concat([goog().iloc[:600], goog().iloc[:20].assign(ticker="NEWCO")], ignore_index=True)
    ours = compute_technicals(bars)
    for ticker, group in bars.groupby("ticker"):
        c, h, lo = (group[k].astype(float).reset_index(drop=True) for k in ("close", "high", "low"))
        out = bars_of(ours, ticker)
        macd = ta.macd(c, fast=12, slow=26, signal=9)  # columns MACD, MACDh, MACDs
        adx = ta.adx(h, lo, c, length=14)
        expected = {
            "rsi_14": ta.rsi(c, length=14),
            "macd": None if macd is None else macd.iloc[:, 0],
            "macd_hist": None if macd is None else macd.iloc[:, 1],
            "macd_signal": None if macd is None else macd.iloc[:, 2],
            "atr_14": ta.atr(h, lo, c, length=14),
            "adx_14": None if adx is None else adx.iloc[:, 0],
        }
        for column, values in expected.items():
            reference = np.full(len(group), np.nan) if values is None else values.to_numpy(float)
            if column == "adx_14":  # pandas-ta's adx has no TA-Lib path: its own code, equal once warmed up
                np.testing.assert_allclose(out[column][300:], reference[300:], rtol=TOLERANCE, err_msg=ticker)
                continue
            np.testing.assert_array_equal(out[column], reference, err_msg=f"{ticker} {column}")
        assert ticker != "NEWCO" or out["macd"].isna().all()  # 20 rows: MACD(12, 26, 9) has no value yet


# --------------------------------------------------------------------------------------------
# 3. pandas-ta's own code (talib=False) against TA-Lib


def test_pandas_ta_native_agrees_with_talib_only_after_warmup():
    """A check of the library, not of our code: how far pandas-ta's own code is from TA-Lib.
    Measured on GOOG (differences relative, as in TOLERANCE): the native recursive indicators are
    seeded differently (ATR starts one row earlier, RSI and ADX from the first rows), so in the
    first 100 rows they differ by up to 60% (RSI), 78% (ADX), 7% (ATR), 23% (MACD histogram); the
    seed's influence decays geometrically: after 300 rows the largest difference is 7e-9 (ADX),
    after 500 rows 2e-15. So the two agree to 1e-6 only after a long warm-up. The native rolling
    ones agree from their first value (~1e-13), but native Bollinger bands use ddof=1 unless told
    ddof=0 (up to 0.6% apart at the bands)."""
    bars = goog().iloc[:800]
    c, h, lo = (bars[k].astype(float) for k in ("close", "high", "low"))
    C, H, L = c.to_numpy(), h.to_numpy(), lo.to_numpy()
    macd = ta.macd(c, fast=12, slow=26, signal=9, talib=False)  # columns MACD, MACDh, MACDs
    talib_macd, talib_signal, talib_hist = talib.MACD(C, 12, 26, 9)
    recursive = {
        "rsi": (ta.rsi(c, length=14, talib=False), talib.RSI(C, 14)),
        "macd": (macd.iloc[:, 0], talib_macd),
        "macd_hist": (macd.iloc[:, 1], talib_hist),
        "macd_signal": (macd.iloc[:, 2], talib_signal),
        "atr": (ta.atr(h, lo, c, length=14, talib=False), talib.ATR(H, L, C, 14)),
        "adx": (ta.adx(h, lo, c, length=14, talib=False).iloc[:, 0], talib.ADX(H, L, C, 14)),
    }
    warm = 300
    for name, (native, reference) in recursive.items():
        assert np.isfinite(native.to_numpy()[warm:]).all() and np.isfinite(reference[warm:]).all(), name
        assert relative_error(native.to_numpy()[warm:], reference[warm:]).max() <= TOLERANCE, name
        early = relative_error(native.to_numpy()[:100], reference[:100])
        assert np.nanmax(early) > 1e-3, f"{name}: expected the seeding difference to show in the first rows"

    rolling_native = ta.bbands(c, length=20, lower_std=2.0, upper_std=2.0, ddof=0, talib=False)
    upper, middle, lower = talib.BBANDS(C, 20, 2, 2, 0)
    for i, reference in enumerate((lower, middle, upper)):  # pandas-ta's columns: BBL, BBM, BBU
        native = rolling_native.iloc[:, i].to_numpy()
        assert (np.isnan(native) == np.isnan(reference)).all()
        assert np.nanmax(relative_error(native, reference)) <= 1e-9
    sample_stdev = ta.bbands(c, length=20, lower_std=2.0, upper_std=2.0, talib=False)  # ddof=1 by default
    assert np.nanmax(relative_error(sample_stdev.iloc[:, 2].to_numpy(), upper)) > 1e-3


# --------------------------------------------------------------------------------------------
# 4. Synthetic market against TA-Lib


def test_synthetic_market_matches_talib():
    prices = synthetic(5, 20, "2019-01-02", "2021-05-28")
    assert prices["ticker"].nunique() == 20 and len(prices) > 20 * 590
    clean, skipped = prepare_prices(prices)
    assert skipped == {}
    assert_technicals_close(compute_technicals(clean), oracle(prices))


# --------------------------------------------------------------------------------------------
# 5. A partition from its look-back window equals the whole history


def _history_with_irregular_tickers() -> pd.DataFrame:
    """Four synthetic tickers 2018-2021 (~1000 sessions); one lists in mid-2020, one misses a few days."""
    prices = synthetic(9, 4, "2018-01-02", "2021-12-31")
    tickers = sorted(prices["ticker"].unique())
    late = (prices["ticker"] == tickers[1]) & (prices["date"] < dt.date(2020, 6, 1))
    gaps = prices.index[prices["ticker"] == tickers[2]][[30, 400, 401, 402, 700, 850]]
    return prices[~late].drop(index=gaps).reset_index(drop=True)


def test_lookback_window_gives_the_full_history_values():
    prices = _history_with_irregular_tickers()
    full = compute_technicals(prices)
    sessions = sorted(prices["date"].unique())
    assert len(sessions) > 2 * WARMUP_SESSIONS  # the windows really are shorter than the history
    for target in (sessions[WARMUP_SESSIONS + 40], sessions[700], sessions[880], sessions[-1]):
        position = sessions.index(target)
        window = prices[prices["date"].between(sessions[position - WARMUP_SESSIONS], target)]
        from_window = compute_technicals(window)
        got = from_window[from_window["date"] == target]
        want = full[full["date"] == target]
        assert len(got) == len(want) == prices.loc[prices["date"] == target, "ticker"].nunique()
        assert_technicals_close(got, want)
        assert (got[FLAG_COLUMNS].fillna(False).to_numpy() == want[FLAG_COLUMNS].fillna(False).to_numpy()).all()

    # The check is sensitive: a window too short for the recursions to forget their seed differs.
    target = sessions[880]
    short = compute_technicals(prices[prices["date"].between(sessions[880 - 60], target)])
    differs = relative_error(short.loc[short["date"] == target, "adx_14"], full.loc[full["date"] == target, "adx_14"])
    assert np.nanmax(differs) > TOLERANCE


# --------------------------------------------------------------------------------------------
# 6. Point in time


def test_rows_after_a_date_never_change_rows_up_to_it():
    prices = synthetic(13, 5, "2019-01-02", "2020-12-31")
    tickers = sorted(prices["ticker"].unique())
    cutoff = dt.date(2020, 3, 16)  # after the 200-row warm-up: every column is defined by then
    base = compute_technicals(prices)

    changed = prices.copy()
    later = changed["date"] > cutoff
    factor = np.random.default_rng(3).uniform(0.5, 2.0, later.sum())
    for column in ("open", "high", "low", "close"):
        changed.loc[later, column] *= factor
    changed.loc[later, "volume"] = changed.loc[later, "volume"] * 7 + 1
    extra_days = pd.bdate_range("2021-01-04", periods=30).date
    appended = pd.concat(
        [
            changed,
            # more days for every ticker, and a new ticker (sorted first) that lists after the cutoff
            *(scaled(bars_of(prices, t).tail(30).assign(date=extra_days), t, 1.1) for t in tickers),
            scaled(bars_of(prices, tickers[0])[lambda f: f["date"] > cutoff], "AAAA", 3.0),
        ],
        ignore_index=True,
    )
    before = base[base["date"] <= cutoff].reset_index(drop=True)
    for variant in (changed, appended):
        after = compute_technicals(variant)
        assert after["date"].max() > cutoff
        later_rows = after[after["date"] > cutoff].reset_index(drop=True)[FLOAT_COLUMNS]
        assert not later_rows.equals(base[base["date"] > cutoff].reset_index(drop=True)[FLOAT_COLUMNS])  # it did change
        pd.testing.assert_frame_equal(after[after["date"] <= cutoff].reset_index(drop=True), before, check_exact=True)

    # And the history up to the cutoff alone gives the same rows, bit for bit.
    only_before = compute_technicals(prices[prices["date"] <= cutoff])
    pd.testing.assert_frame_equal(only_before, before, check_exact=True)


# --------------------------------------------------------------------------------------------
# 7. Shape, order, columns, dtypes


def test_one_sorted_row_per_input_row_with_the_contract_columns():
    prices = synthetic(17, 3, "2020-01-02", "2021-03-31")
    shuffled = prices.sample(frac=1.0, random_state=4).reset_index(drop=True)
    out = compute_technicals(shuffled)
    assert list(out.columns) == TECHNICALS_COLUMNS
    assert len(out) == len(prices)
    keys = out[["ticker", "date"]]
    pd.testing.assert_frame_equal(keys, prices.sort_values(["ticker", "date"], ignore_index=True)[["ticker", "date"]])
    assert keys.equals(keys.sort_values(["ticker", "date"], ignore_index=True))
    assert out.index.equals(pd.RangeIndex(len(out)))
    pd.testing.assert_frame_equal(out, compute_technicals(prices))  # input order does not matter
    for column in FLOAT_COLUMNS:
        assert out[column].dtype == np.float64, column
    for column, sma in (("above_sma_50", "sma_50"), ("above_sma_200", "sma_200")):
        assert out[column].dtype == "boolean"
        assert (out[column].isna() == out[sma].isna()).all()
        defined = out[sma].notna()
        assert (out.loc[defined, column] == (out.loc[defined, "close"] > out.loc[defined, sma])).all()
        assert out.loc[defined, column].any() and not out.loc[defined, column].all()
    # 200-row warm-up: the first 199 rows of each ticker have no sma_200 and no flag.
    assert out.groupby("ticker")["above_sma_200"].apply(lambda s: s.isna().sum()).eq(199).all()


def test_empty_input_gives_an_empty_frame_with_the_columns():
    empty = pd.DataFrame(columns=PRICE_DATA_COLUMNS)
    out = compute_technicals(empty)
    assert out.empty and list(out.columns) == TECHNICALS_COLUMNS
    clean, skipped = prepare_prices(empty)
    assert clean.empty and skipped == {} and list(clean.columns) == PRICE_DATA_COLUMNS
    assert list(compute_technicals(clean).columns) == TECHNICALS_COLUMNS


# --------------------------------------------------------------------------------------------
# 8. Bad input


@pytest.fixture
def three_tickers() -> pd.DataFrame:
    return synthetic(21, 3, "2020-01-02", "2020-12-31")


def test_exact_duplicate_rows_collapse(three_tickers):
    doubled = pd.concat([three_tickers, three_tickers.sample(n=40, random_state=1)], ignore_index=True)
    clean, skipped = prepare_prices(doubled)
    assert skipped == {}
    pd.testing.assert_frame_equal(clean, three_tickers.sort_values(["ticker", "date"], ignore_index=True))
    pd.testing.assert_frame_equal(compute_technicals(clean), compute_technicals(three_tickers))


def _bad_ticker(prices: pd.DataFrame) -> str:
    return sorted(prices["ticker"].unique())[1]  # the middle one: stacked between two good tickers


def _assert_only_bad_ticker_skipped(prices: pd.DataFrame, bad_prices: pd.DataFrame, reason: str) -> None:
    bad = _bad_ticker(prices)
    clean, skipped = prepare_prices(bad_prices)
    assert list(skipped) == [bad] and reason in skipped[bad], skipped
    good = prices[prices["ticker"] != bad]
    assert set(clean["ticker"]) == set(good["ticker"])
    # The others are computed, exactly as if the bad ticker had never been there.
    pd.testing.assert_frame_equal(compute_technicals(clean), compute_technicals(good), check_exact=True)
    assert_technicals_close(compute_technicals(clean), oracle(good))


def test_conflicting_duplicate_skips_that_ticker(three_tickers):
    bad = _bad_ticker(three_tickers)
    row = three_tickers[three_tickers["ticker"] == bad].iloc[[100]]
    conflicting = pd.concat([three_tickers, row.assign(close=row["close"] * 1.01)], ignore_index=True)
    _assert_only_bad_ticker_skipped(three_tickers, conflicting, "two different bars for the same date")


def _break(prices: pd.DataFrame, row: int, **values) -> pd.DataFrame:
    """prices with row `row` of the bad ticker changed; volume may become float (to hold NaN)."""
    broken = prices.copy()
    if any(isinstance(v, float) for k, v in values.items() if k == "volume"):
        broken["volume"] = broken["volume"].astype(float)
    where = broken.index[broken["ticker"] == _bad_ticker(prices)][row]
    for column, value in values.items():
        broken.loc[where, column] = value
    return broken


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"close": np.nan}, "NaN or non-positive"),
        ({"open": np.nan}, "NaN or non-positive"),
        ({"close": np.inf}, "NaN or non-positive"),
        ({"close": 0.0}, "NaN or non-positive"),
        ({"low": -1.0}, "NaN or non-positive"),
        ({"high": 0.5, "low": 1.0, "open": 0.7, "close": 0.8}, "high below low"),
        ({"volume": -5}, "missing or negative volume"),
        ({"volume": np.nan}, "missing or negative volume"),
    ],
    ids=[
        "nan-close",
        "nan-open",
        "inf-close",
        "zero-close",
        "negative-low",
        "high-below-low",
        "negative-volume",
        "missing-volume",
    ],
)
def test_bad_bar_skips_only_its_ticker(three_tickers, change, reason):
    for row in (0, 150, -1):  # first row, mid-history, last row (today's bar)
        _assert_only_bad_ticker_skipped(three_tickers, _break(three_tickers, row, **change), reason)


def test_every_bad_ticker_is_named_and_the_rest_computed(three_tickers):
    tickers = sorted(three_tickers["ticker"].unique())
    broken = _break(three_tickers, 10, close=0.0)  # tickers[1]
    broken.loc[broken.index[broken["ticker"] == tickers[2]][5], ["high", "low"]] = [1.0, 2.0]
    clean, skipped = prepare_prices(broken)
    assert skipped == {tickers[1]: "NaN or non-positive open/high/low/close", tickers[2]: "high below low"}
    assert set(clean["ticker"]) == {tickers[0]}
    assert_technicals_close(compute_technicals(clean), oracle(three_tickers[three_tickers["ticker"] == tickers[0]]))


def test_zero_volume_is_a_valid_bar(three_tickers):
    bad = _bad_ticker(three_tickers)
    prices = three_tickers.copy()
    rows = prices.index[prices["ticker"] == bad]
    prices.loc[rows[[60]], "volume"] = 0  # one quiet day
    prices.loc[rows[100:125], "volume"] = 0  # a halt: 25 days without trades
    clean, skipped = prepare_prices(prices)
    assert skipped == {}
    out = compute_technicals(clean)
    assert_technicals_close(out, oracle(prices))
    ratio = bars_of(out, bad)["volume_ratio_20"].to_numpy()
    assert ratio[60] == 0.0
    assert np.isnan(ratio[119:125]).all()  # the 20-row average is 0 from row 119 to 124
    assert ratio[100] == 0.0 and ratio[118] == 0.0  # zero volume, positive average
    assert ratio[125] > 0 and np.isfinite(ratio[125])  # trading again: today's volume over 1/20 of it
    np.testing.assert_allclose(ratio[125], 20.0)


@pytest.mark.parametrize("rows", [1, 5, 14, 15, 20, 21, 27, 28, 33, 34, 50, 199, 200, 240])
def test_ticker_listing_mid_range_is_nan_until_it_has_enough_rows(rows):
    """A new ticker's first `rows` sessions, stacked between two tickers with a long history: NaN
    exactly where TA-Lib on its own rows has NaN, TA-Lib's values after that."""
    prices = synthetic(25, 3, "2019-01-02", "2020-06-30")
    young = _bad_ticker(prices)
    listed = prices[prices["ticker"] != young]
    prices = pd.concat([listed, bars_of(prices, young).tail(rows)], ignore_index=True)
    out = compute_technicals(prepare_prices(prices)[0])
    assert (out["ticker"] == young).sum() == rows
    assert_technicals_close(out, oracle(prices))


def test_only_short_histories_do_not_fail():
    """A frame whose tickers all have too few rows for the long windows (fewer rows in total than
    one SMA-200 window) is still computed: NaN where undefined, TA-Lib elsewhere."""
    prices = synthetic(25, 3, "2020-01-02", "2020-03-31").groupby("ticker").head(40)
    for n in (1, 3, 19, 40):
        part = prices.groupby("ticker").head(n)
        assert_technicals_close(compute_technicals(part), oracle(part))


def test_missing_days_mean_indicators_run_over_the_rows_present(three_tickers):
    bad = _bad_ticker(three_tickers)
    rows = three_tickers.index[three_tickers["ticker"] == bad]
    gappy = three_tickers.drop(index=rows[[3, 40, 41, 120, 200, 201, 202]])
    out = compute_technicals(prepare_prices(gappy)[0])
    assert (out["ticker"] == bad).sum() == len(rows) - 7
    assert not set(three_tickers.loc[rows[[3, 40, 120]], "date"]) & set(out.loc[out["ticker"] == bad, "date"])
    assert_technicals_close(out, oracle(gappy))
    # ...which differ from the gap-free series on the same dates (periods count rows, not days).
    full = compute_technicals(three_tickers).set_index(["ticker", "date"])
    same_dates = out[out["ticker"] == bad].set_index(["ticker", "date"])
    assert np.nanmax(relative_error(same_dates["sma_20"].iloc[60:], full.loc[same_dates.index, "sma_20"].iloc[60:])) > 0


def test_missing_ticker_or_date_is_an_error(three_tickers):
    for column in ("ticker", "date"):
        broken = three_tickers.astype({column: object})
        broken.loc[broken.index[7], column] = None
        with pytest.raises(ValueError, match="empty ticker or date"):
            prepare_prices(broken)


def test_compute_technicals_refuses_unclean_input(three_tickers):
    bad = _bad_ticker(three_tickers)
    duplicated = pd.concat([three_tickers, three_tickers[three_tickers["ticker"] == bad].iloc[[9]]])
    with pytest.raises(ValueError, match=rf"duplicate \(ticker, date\).*{bad}"):
        compute_technicals(duplicated)
    for change in ({"close": np.nan}, {"close": 0.0}, {"high": -3.0}, {"open": np.inf}):
        with pytest.raises(ValueError, match=rf"NaN or non-positive prices.*{bad}"):
            compute_technicals(_break(three_tickers, 30, **change))
    for function in (prepare_prices, compute_technicals):
        with pytest.raises(ValueError, match=r"lack columns \['volume'\]"):
            function(three_tickers.drop(columns="volume"))
        with pytest.raises(ValueError, match=r"lack columns \['high', 'low'\]"):
            function(three_tickers.drop(columns=["high", "low"]))


def test_a_repeated_row_in_sorted_input_is_refused(three_tickers):
    """compute_technicals skips its sort when the rows already come in (ticker, date) order: a row
    repeated in place, which keeps that order, must still be found."""
    ordered = three_tickers.sort_values(["ticker", "date"], ignore_index=True)
    bad = _bad_ticker(ordered)
    row = int(np.flatnonzero(ordered["ticker"] == bad)[9])
    repeated = pd.concat([ordered.iloc[: row + 1], ordered.iloc[row:]], ignore_index=True)
    with pytest.raises(ValueError, match=rf"duplicate \(ticker, date\).*{bad}"):
        compute_technicals(repeated)


def test_the_output_shares_no_memory_with_the_input_or_itself(three_tickers):
    """The frame is assembled from the computed arrays without copying them: none may be one of
    the caller's columns (sorted input is read in place), nor two columns one array."""
    ordered = three_tickers.sort_values(["ticker", "date"], ignore_index=True)
    out = compute_technicals(ordered)
    arrays = {name: out[name].to_numpy() for name in out if name not in FLAG_COLUMNS}  # (views, not copies)
    for name, values in arrays.items():
        for source in ordered.columns:
            assert not np.shares_memory(values, ordered[source].to_numpy()), (name, source)
        for other, other_values in arrays.items():
            assert other == name or not np.shares_memory(values, other_values), (name, other)
