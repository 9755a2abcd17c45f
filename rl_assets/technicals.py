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
    missing = [c for c in PRICE_DATA_COLUMNS if c not in prices.columns and c != "close_only"]
    if missing:
        raise ValueError(f"price rows lack columns {missing}")
    if prices.empty:
        return pd.DataFrame(columns=TECHNICALS_COLUMNS)
    # Plain arrays from here on: building a sorted DataFrame first and reading columns back out
    # of it cost more than the indicators themselves.
    tickers, dates = prices["ticker"].to_numpy(), prices["date"].to_numpy()
    new_ticker = _ticker_date_order(tickers, dates)
    order = None
    if new_ticker is None:  # not sorted (or a repeated date): sort, then look for the repeat
        keys = pd.DataFrame({"ticker": tickers, "date": dates})
        order = keys.sort_values(["ticker", "date"]).index.to_numpy()
        tickers, dates = tickers[order], dates[order]
        repeated = (tickers[1:] == tickers[:-1]) & (dates[1:] == dates[:-1])
        if repeated.any():
            first = int(np.flatnonzero(repeated)[0])
            raise ValueError(
                f"duplicate (ticker, date) rows, e.g. {tickers[first]} {dates[first]}: run prepare_prices first"
            )
        new_ticker = tickers[1:] != tickers[:-1]

    def in_order(values: np.ndarray) -> np.ndarray:
        return values if order is None else values[order]

    def column(name: str) -> np.ndarray:
        # Float64 values as they are (never written to), NULL as NaN.
        return in_order(prices[name].to_numpy(dtype=np.float64, na_value=np.nan))

    real = ~in_order(close_only_flags(prices))
    open_, high, low, close, volume = (column(c) for c in ("open", "high", "low", "close", "volume"))
    any_close_only = not real.all()
    if any_close_only:  # whatever a close-only bar holds there is not a real bar's
        open_, high, low, volume = (np.where(real, values, np.nan) for values in (open_, high, low, volume))

    def valid(values: np.ndarray) -> np.ndarray:
        return np.isfinite(values) & (values > 0)

    bad_rows = ~valid(close) | (real & ~(valid(open_) & valid(high) & valid(low)))  # close-only: close alone
    if bad_rows.any():
        bad = sorted(set(tickers[bad_rows]))
        raise ValueError(f"NaN or non-positive prices for {bad[:5]}: run prepare_prices first")

    starts = np.flatnonzero(np.r_[True, new_ticker])
    lengths = np.diff(np.r_[starts, len(tickers)])
    position = np.arange(len(tickers)) - np.repeat(starts, lengths)  # row number within its ticker

    def ratio_to_earlier(values: np.ndarray, lag: int) -> np.ndarray:
        """values / values `lag` rows earlier, NaN where that row is another ticker's."""
        ratio = np.full(len(values), np.nan)
        np.divide(values[lag:], values[:-lag], out=ratio[lag:])
        ratio[position < lag] = np.nan
        return ratio

    columns: dict[str, np.ndarray] = {}
    # Returns are row-wise ratios: computed over the stacked series, blanked across ticker starts.
    for lag in (1, 5, 20):
        columns[f"ret_{lag}d"] = ratio_to_earlier(close, lag) - 1.0
    log_return = np.log(ratio_to_earlier(close, 1))

    # Rolling windows on a (ticker x row-within-ticker) panel: each ticker's running sums start
    # from its own first row, so a value never depends on another ticker's rows (summing over all
    # tickers stacked end to end would carry float round-off from one ticker into the next).
    # Each series' running sums serve all its windows, and the work stays on the panel: temporary
    # arrays of a market's size cost their page faults again in every fresh process.
    panel_shape = (len(starts), int(lengths.max()))
    # When every ticker has as many rows (a full market over a range), the panel is the stacked
    # rows reshaped; otherwise each row has a cell, and a shorter ticker's row ends in padding.
    cell = None
    if len(tickers) != panel_shape[0] * panel_shape[1]:
        cell = np.repeat(np.arange(panel_shape[0]), lengths) * panel_shape[1] + position

    def to_panel(values: np.ndarray) -> np.ndarray:
        if cell is None:
            return values.reshape(panel_shape)
        panel = np.zeros(panel_shape[0] * panel_shape[1])
        panel[cell] = values
        return panel.reshape(panel_shape)

    def from_panel(panel: np.ndarray) -> np.ndarray:
        return panel.ravel() if cell is None else panel.ravel()[cell]

    def running(panel: np.ndarray) -> np.ndarray:
        """Running sums along each ticker's row, after a leading 0 (column k: the first k values)."""
        sums = np.zeros((panel_shape[0], panel_shape[1] + 1))
        np.cumsum(panel, axis=1, out=sums[:, 1:])
        return sums

    def windowed(sums: np.ndarray, window: int) -> np.ndarray:
        """Sums over each row's last `window` rows of its ticker, NaN where that reaches back past
        its first row."""
        total = np.full(panel_shape, np.nan)
        if window <= panel_shape[1]:  # (else no ticker has that many rows)
            np.subtract(sums[:, window:], sums[:, : sums.shape[1] - window], out=total[:, window - 1 :])
        return total

    def rolling(values: np.ndarray, windows: tuple[int, ...], variance_window: int | None = None):
        """Means over each row's last `window` rows of its own ticker, per window of `windows`, and
        the population variance over the last `variance_window` rows (NaN until the window is
        full or while it holds a NaN)."""
        panel = to_panel(values)
        # Sums of deviations from each ticker's first value keep the variance's cancellation small.
        first = np.nan_to_num(panel[:, :1])  # (log returns start with NaN: no shift, they are small)
        deviation = panel - first
        finite = np.isfinite(panel)
        all_finite = bool(finite.all())
        if not all_finite:
            deviation[~finite] = 0.0
        sums = running(deviation)
        squares = None if variance_window is None else running(np.square(deviation, out=deviation))
        counts = None if all_finite else running(finite.astype(float))
        means, variance = {}, None
        for window in sorted({*windows, *([variance_window] if variance_window else [])}):
            mean_deviation = windowed(sums, window)
            mean_deviation /= window
            if counts is not None:
                mean_deviation[windowed(counts, window) != window] = np.nan  # a NaN inside the window
            if window == variance_window:
                variance = windowed(squares, window)
                variance /= window
                variance -= mean_deviation**2
                np.maximum(variance, 0.0, out=variance)  # (NaN stays NaN)
                variance = from_panel(variance)
            if window in windows:
                mean_deviation += first
                means[window] = from_panel(mean_deviation)
        return means, variance

    sma, bb_variance = rolling(close, (20, 50, 200), variance_window=20)
    average_volume = rolling(volume, (20,))[0][20]
    variance = rolling(log_return, (), variance_window=20)[1] * (20 / 19)  # sample variance (ddof=1), 20 returns

    # Recursive indicators, per ticker: their state runs from each series' first row.
    rsi, macd, signal, hist, atr, adx = (np.full(len(tickers), np.nan) for _ in range(6))
    for start, end in zip(starts.tolist(), (starts + lengths).tolist(), strict=True):
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
        columns[f"sma_{length}"] = sma[length]
    bb_middle, bb_width = sma[20].copy(), 2.0 * np.sqrt(bb_variance)  # (a column of its own)
    columns.update(bb_upper=bb_middle + bb_width, bb_middle=bb_middle, bb_lower=bb_middle - bb_width)
    columns["realized_vol_20"] = np.sqrt(np.maximum(variance, 0.0) * SESSIONS_PER_YEAR)  # sample stdev, ddof=1
    with np.errstate(divide="ignore", invalid="ignore"):
        columns["volume_ratio_20"] = np.where(average_volume > 0, volume / average_volume, np.nan)
    columns.update(rsi_14=rsi, macd=macd, macd_signal=signal, macd_hist=hist, atr_14=atr, adx_14=adx)
    for length in (50, 200):
        columns[f"above_sma_{length}"] = pd.arrays.BooleanArray(close > sma[length], np.isnan(sma[length]))
    # Every array is this function's own (copies of the input's columns), so the frame can hold
    # them as they are: copying 22 columns of a market into one block would cost more than RSI.
    columns.update(ticker=tickers.copy(), date=dates.copy(), close=close.copy())
    return pd.DataFrame({name: columns[name] for name in TECHNICALS_COLUMNS}, copy=False)


def _ticker_date_order(tickers: np.ndarray, dates: np.ndarray) -> np.ndarray | None:
    """Where a new ticker starts (row i+1 vs row i) if the rows are already in (ticker, date)
    order with no date repeated within a ticker, else None. Checking costs a fraction of sorting."""
    try:
        new_ticker = tickers[1:] != tickers[:-1]
        boundaries = np.flatnonzero(new_ticker)
        in_order = bool(np.all((dates[1:] > dates[:-1]) | new_ticker)) and bool(
            np.all(tickers[boundaries + 1] > tickers[boundaries])
        )
    except TypeError:  # values that do not compare (None among tickers): let the sort decide
        return None
    return new_ticker if in_order else None


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
