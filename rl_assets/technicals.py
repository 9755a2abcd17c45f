"""The underlying's technical state: indicators per ticker and trading day, point in time.

Indicator values follow TA-Lib's definitions (Wilder RSI and ATR, TA-Lib's MACD seeding,
Bollinger bands with the population standard deviation), the definitions pandas-ta uses when TA-Lib
is installed. Every value on a row uses that ticker's rows up to and including the row's date,
nothing later.

How the work is split, for speed over a whole market:
- returns are row-wise ratios, computed once over all tickers stacked end to end, then blanked
  where they would reach back into the previous ticker;
- rolling windows (SMAs, Bollinger bands, volatility, volume average) come from cumulative sums
  on a ticker x row panel, each ticker's sums starting from its own first row: summing over the
  stacked series would carry float round-off from one ticker into the next, so a row's last
  digits would depend on other tickers' rows, later ones included;
- recursive indicators (RSI, MACD, ATR, ADX) run per ticker over its own rows, calling the TA-Lib
  functions pandas-ta dispatches to on plain arrays. Going through pandas-ta gives the same numbers
  but costs 0.03-0.15 ms of Series/DataFrame handling per call (about 2 of 3.3 seconds for a
  5,000-ticker market; pandas-ta's own adx runs a Python apply per bar, ~1 ms per ticker). The
  tests check these values against TA-Lib and against pandas-ta.

Rows are observations: a ticker with a missing day simply has one row fewer, and periods count
rows, as TA-Lib does on a series. A ticker that starts trading mid-range has NaN values until it
has enough rows for each indicator.

A close-only bar (price_data.close_only: built from the chain's underlying price when no price file
exists) has no open/high/low/volume: the close-based indicators are computed as usual, and ATR,
ADX and volume_ratio_20 are NaN wherever their window reaches a close-only bar (never invented).
ATR and ADX restart after close-only bars, from the next run of real bars.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import talib

from rl_assets import calendar
from rl_assets.archive import close_only_flags, dates_present, replace_date_range, sessions_without_data
from rl_assets.schema import PRICE_DATA_COLUMNS, TECHNICALS_COLUMNS
from rl_assets.warehouse.backend import TECHNICALS_STAGING_TABLE

SESSIONS_PER_YEAR = 252
# Rows of history read before a partition so recursive indicators have converged: the slowest
# (ADX's double Wilder smoothing) is within 1e-9 of the full-history value after ~400 rows.
WARMUP_SESSIONS = 500


def _bars(prices: pd.DataFrame) -> pd.DataFrame:
    """price_data's columns of `prices`, close_only FALSE where absent or NULL (real bars), and
    open/high/low/volume NaN on close-only bars (whatever they held is not a real bar's)."""
    missing = [c for c in PRICE_DATA_COLUMNS if c not in prices.columns and c != "close_only"]
    if missing:
        raise ValueError(f"price rows lack columns {missing}")
    close_only = close_only_flags(prices)
    frame = prices.reindex(columns=PRICE_DATA_COLUMNS).assign(close_only=close_only)
    if close_only.any():
        blank = {c: frame[c].astype(float).mask(close_only) for c in ("open", "high", "low", "volume")}
        frame = frame.assign(**blank)
    return frame


def prepare_prices(prices: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Clean daily bars for compute_technicals, and the tickers left out with the reason.

    - exact duplicate rows are collapsed to one;
    - a ticker with two different bars for one date, a NaN or non-positive open/high/low/close,
      or a high below its low is skipped (named, with the reason): one bad ticker never stops the
      others;
    - a close-only bar (close_only TRUE; absent or NULL: FALSE) needs only a finite, positive
      close: its open/high/low/volume are NaN;
    - zero volume is a valid bar (volume_ratio_20 is then 0, or NaN while the average is 0).
    """
    frame = _bars(prices).drop_duplicates()
    if frame["ticker"].isna().any() or frame["date"].isna().any():
        raise ValueError("price rows with an empty ticker or date")
    frame = frame.assign(date=pd.to_datetime(frame["date"]).dt.date)
    skipped: dict[str, str] = {}

    conflicting = frame.loc[frame.duplicated(["ticker", "date"], keep=False), "ticker"].unique()
    skipped.update({t: "two different bars for the same date" for t in conflicting})
    real = ~frame["close_only"]
    close = frame["close"].astype(float)
    bad_close = ~np.isfinite(close) | (close <= 0)
    for ticker in frame.loc[~real & bad_close, "ticker"].unique():
        skipped.setdefault(ticker, "NaN or non-positive close on a close-only bar")
    ohlc = frame[["open", "high", "low", "close"]].astype(float)
    bad_price = real & (~np.isfinite(ohlc).all(axis=1) | (ohlc <= 0).any(axis=1))
    for ticker in frame.loc[bad_price, "ticker"].unique():
        skipped.setdefault(ticker, "NaN or non-positive open/high/low/close")
    for ticker in frame.loc[real & (ohlc["high"] < ohlc["low"]), "ticker"].unique():
        skipped.setdefault(ticker, "high below low")
    bad_volume = real & (frame["volume"].isna() | (frame["volume"] < 0))
    for ticker in frame.loc[bad_volume, "ticker"].unique():
        skipped.setdefault(ticker, "missing or negative volume")

    clean = frame[~frame["ticker"].isin(list(skipped))]
    return clean.sort_values(["ticker", "date"], ignore_index=True), dict(sorted(skipped.items()))


def compute_technicals(prices: pd.DataFrame) -> pd.DataFrame:
    """Indicators for every row of `prices` (ticker, date, open, high, low, close, volume, and
    close_only where any bar is close-only), one output row per input row, sorted by ticker and
    date; columns as in docs/design.md.

    The input must be clean (see prepare_prices): a duplicate (ticker, date) or a bad price is a
    ValueError naming it rather than a silently wrong number.
    """
    frame = _bars(prices)
    if frame.empty:
        return pd.DataFrame(columns=TECHNICALS_COLUMNS)
    frame = frame.sort_values(["ticker", "date"], ignore_index=True)
    tickers, dates = frame["ticker"].to_numpy(), frame["date"].to_numpy()
    repeated = (tickers[1:] == tickers[:-1]) & (dates[1:] == dates[:-1])
    if repeated.any():
        first = int(np.flatnonzero(repeated)[0])
        raise ValueError(
            f"duplicate (ticker, date) rows, e.g. {tickers[first]} {dates[first]}: run prepare_prices first"
        )
    ohlc = frame[["open", "high", "low", "close"]].to_numpy(dtype=float)
    real = ~frame["close_only"].to_numpy()
    valid = np.isfinite(ohlc) & (ohlc > 0)
    bad_rows = (~valid.all(axis=1) & real) | ~valid[:, 3]  # a close-only bar needs only its close
    if bad_rows.any():
        bad = sorted(set(tickers[bad_rows]))
        raise ValueError(f"NaN or non-positive prices for {bad[:5]}: run prepare_prices first")

    close, high, low = (frame[c].astype(float).to_numpy() for c in ("close", "high", "low"))
    volume = frame["volume"].astype(float).to_numpy()
    starts = np.flatnonzero(np.r_[True, tickers[1:] != tickers[:-1]])
    ends = np.r_[starts[1:], len(frame)]
    position = np.arange(len(frame)) - np.repeat(starts, ends - starts)  # row number within its ticker

    def own_window(values, rows: int) -> np.ndarray:
        """Blank values whose window reaches back into the previous ticker."""
        values = np.asarray(values, dtype=float).copy()
        values[position < rows - 1] = np.nan
        return values

    out = pd.DataFrame({"ticker": tickers, "date": dates, "close": close})

    # Returns are row-wise ratios: computed over the stacked series, blanked across ticker starts.
    for lag in (1, 5, 20):
        lagged = np.r_[np.full(lag, np.nan), close][: len(close)]  # close `lag` rows earlier
        out[f"ret_{lag}d"] = own_window(close / lagged - 1.0, lag + 1)
    log_return = own_window(np.r_[np.nan, np.log(close[1:] / close[:-1])], 2)

    # Rolling windows on a (ticker x row-within-ticker) panel: each ticker's running sums start
    # from its own first row, so a value never depends on another ticker's rows (summing over all
    # tickers stacked end to end would carry float round-off from one ticker into the next).
    ticker_index = np.repeat(np.arange(len(starts)), ends - starts)

    def rolling(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population variance over each row's last `window` rows of its own ticker
        (NaN until the window is full or while it holds a NaN)."""
        panel = np.zeros((len(starts), int((ends - starts).max()) + 1))
        valid, squares = np.zeros_like(panel), np.zeros_like(panel)
        finite = np.isfinite(values)
        # Sums of deviations from each ticker's first value keep the variance's cancellation small.
        first = np.nan_to_num(values[starts])  # (log returns start with NaN: no shift, they are small)
        deviation = np.where(finite, values - first[ticker_index], 0.0)
        panel[ticker_index, position + 1] = deviation
        valid[ticker_index, position + 1] = finite
        squares[ticker_index, position + 1] = deviation**2
        sums = []
        for cumulative in (np.cumsum(panel, axis=1), np.cumsum(squares, axis=1), np.cumsum(valid, axis=1)):
            windowed = np.full_like(cumulative, np.nan)
            windowed[:, window:] = cumulative[:, window:] - cumulative[:, :-window]
            sums.append(windowed[ticker_index, position + 1])
        total, total_squares, count = sums
        full = count == window
        mean_deviation = np.where(full, total / window, np.nan)
        variance = np.where(full, np.maximum(total_squares / window - mean_deviation**2, 0.0), np.nan)
        return mean_deviation + first[ticker_index], variance

    sma = {length: rolling(close, length)[0] for length in (20, 50, 200)}
    bb_middle, bb_variance = rolling(close, 20)
    bb_upper, bb_lower = bb_middle + 2.0 * np.sqrt(bb_variance), bb_middle - 2.0 * np.sqrt(bb_variance)
    average_volume = rolling(volume, 20)[0]
    variance = rolling(log_return, 20)[1] * (20 / 19)  # sample variance (ddof=1) of 20 log returns

    # Recursive indicators, per ticker: their state runs from each series' first row.
    rsi, macd, signal, hist, atr, adx = (np.full(len(frame), np.nan) for _ in range(6))
    any_close_only = not real.all()
    for start, end in zip(starts, ends, strict=True):
        c, h, lo = close[start:end], high[start:end], low[start:end]  # too few rows give NaN
        rsi[start:end] = talib.RSI(c, timeperiod=14)
        macd[start:end], signal[start:end], hist[start:end] = talib.MACD(c, 12, 26, 9)
        # ATR and ADX are recursive: a close-only bar's NaN high/low would poison every later value,
        # so they run on each run of consecutive real bars (the whole series when all are real).
        for first, last in _real_runs(real[start:end]) if any_close_only else [(0, end - start)]:
            span = slice(start + first, start + last)
            atr[span] = talib.ATR(h[first:last], lo[first:last], c[first:last], timeperiod=14)
            adx[span] = talib.ADX(h[first:last], lo[first:last], c[first:last], timeperiod=14)
    for length in (20, 50, 200):
        out[f"sma_{length}"] = sma[length]
    out["bb_upper"], out["bb_middle"], out["bb_lower"] = bb_upper, bb_middle, bb_lower
    out["realized_vol_20"] = np.sqrt(np.maximum(variance, 0.0) * SESSIONS_PER_YEAR)  # sample stdev, ddof=1
    with np.errstate(divide="ignore", invalid="ignore"):
        out["volume_ratio_20"] = np.where(average_volume > 0, volume / average_volume, np.nan)
    out["rsi_14"], out["macd"], out["macd_signal"], out["macd_hist"] = rsi, macd, signal, hist
    out["atr_14"], out["adx_14"] = atr, adx

    for length in (50, 200):
        sma = out[f"sma_{length}"]
        out[f"above_sma_{length}"] = (out["close"] > sma).astype("boolean").mask(sma.isna())
    return out[TECHNICALS_COLUMNS]


def _real_runs(real: np.ndarray) -> list[tuple[int, int]]:
    """[first, last) of each run of consecutive True values."""
    edges = np.diff(np.r_[0, real.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


class MissingPrices(RuntimeError):
    """price_data lacks trading days the technicals were asked for; nothing was written."""


@dataclass(frozen=True)
class TechnicalsReport:
    rows: int
    tickers: int
    skipped: dict[str, str]  # ticker -> why it was left out
    warmup_start: dt.date


def update_technicals(warehouse, days: list[dt.date]) -> TechnicalsReport:
    """Replace technicals_history for the trading days `days` (consecutive) from price_data read
    with WARMUP_SESSIONS before them. A long range is worked through in blocks of
    calendar.BACKFILL_BLOCK_SESSIONS, each read with its own warm-up and replaced atomically, so
    memory stays that of one block however long the range. Refuses (MissingPrices, nothing
    written) when price_data lacks any of `days` but a session known to have no data.
    """
    missing = _days_without_prices(warehouse, days)
    if missing:
        raise MissingPrices(
            f"price_data has no rows for {[str(d) for d in missing[:5]]}"
            f"{' ...' if len(missing) > 5 else ''}: materialise price_data for these days first"
        )
    rows, tickers, skipped = 0, set(), {}
    for block in calendar.blocks(days, calendar.BACKFILL_BLOCK_SESSIONS):
        prices = warehouse.query(
            "price_data_window",
            {"start_date": calendar.shift_trading_days(block[0], -WARMUP_SESSIONS), "end_date": block[-1]},
        )
        prices["date"] = pd.to_datetime(prices["date"]).dt.date
        clean, block_skipped = prepare_prices(prices)
        del prices
        technicals = compute_technicals(clean)
        in_block = technicals[(technicals["date"] >= block[0]) & (technicals["date"] <= block[-1])]
        rows += replace_date_range(
            warehouse, in_block, block[0], block[-1],
            staging_table=TECHNICALS_STAGING_TABLE,
            delete_statement="delete_technicals_history_range",
            insert_statement="insert_technicals_history",
        )  # fmt: skip
        tickers.update(in_block["ticker"].unique())
        skipped.update(block_skipped)
    warmup_start = calendar.shift_trading_days(days[0], -WARMUP_SESSIONS)
    return TechnicalsReport(rows, len(tickers), dict(sorted(skipped.items())), warmup_start)


def _days_without_prices(warehouse, days: list[dt.date]) -> list[dt.date]:
    """Days without a bar, but the sessions the chain's source has no data for (files mode)."""
    present = dates_present(
        warehouse.query("price_data_row_counts", {"start_date": days[0], "end_date": days[-1]}), "date"
    )
    missing = [d for d in days if d not in present]
    if not missing:
        return []
    empty = sessions_without_data(warehouse, missing[0], missing[-1])  # asked only when a day lacks bars
    return [d for d in missing if d not in empty]
