"""Technicals benchmark: `compute_technicals` over a whole market against a TA-Lib ndarray loop and a
naive per-ticker pandas-ta loop over the same data, in one run.

Target: for 5,000 tickers x 300 trading days, compute_technicals within 5 x the TA-Lib ndarray
loop (issue 20 tightened it from the first issue's 35 x; compute_technicals was at 6.4 x then), and
at least 10 x faster than the naive pandas-ta loop. The first issue measured, before any code:
TA-Lib ndarray loop ~0.09 s, pandas-ta loop with TA-Lib ~4.9 s, pandas-ta native ~36 s. Its two
targets were consistent with each other only if "the naive pandas-ta loop" is the native one (10 x
faster than 36 s is 3.6 s, and 35 x 0.09 s is 3.15 s; 10 x faster than 4.9 s would be 0.49 s,
i.e. within 5.4 x of the TA-Lib loop). So the 10 x target is read against the native loop, and the
ratio against the TA-Lib-backed loop is reported beside it as context.

Layout of one run (every step a fresh child process, see rl_assets_bench.run_child):

1. setup (untimed): SyntheticMarket(seed=SEED, tickers=N).prices(...) over the last 300 NYSE
   sessions up to END, pickled to a temp dir (pickle keeps the frame's dtypes exactly: object
   tickers, datetime.date dates, int64 volume), so every timed child loads the same rows;
2. REPEATS rounds, alternating, each step in a fresh process that loads the pickle, runs an
   untimed warm-up of its own code on the first WARMUP_TICKERS tickers (one-off lazy work: first
   calls into pandas, pandas-ta and TA-Lib), then times:
   - compute: `compute_technicals(prices)`, DataFrame in, DataFrame out (all 19 indicator
     columns: the TA-Lib set below plus returns, realized volatility, volume ratio, above-SMA flags);
   - talib: per ticker, on float64 ndarrays prepared before the timer: talib.RSI(14),
     MACD(12, 26, 9), SMA 20/50/200, BBANDS(20, 2, 2), ATR(14), ADX(14), SMA(volume, 20);
     results kept in a list, no DataFrame assembly;
   - pandas_ta: `for ticker, g in prices.groupby("ticker")`: ta.rsi, ta.macd, ta.sma x 3,
     ta.bbands(ddof=0), ta.atr, ta.adx and ta.sma(volume, 20) on g's columns, talib=True
     (pandas-ta's default: it calls TA-Lib where it has a TA-Lib path); results kept in a list,
     no DataFrame assembly (which would only make the naive loop slower);
   - pandas_ta native: the same loop with talib=False, in the first NATIVE_REPEATS[scale] rounds
     only (about 36 s a run at full scale, so once there);
3. verify (untimed): compute_technicals' indicators equal the TA-Lib loop's to TOLERANCE wherever
   TA-Lib gives a value, and are NaN exactly where TA-Lib's are.

Headline numbers are medians over the rounds (the native loop's is its one run at full scale).
"""

from __future__ import annotations

import time
from pathlib import Path

from rl_assets_bench import (
    child_steps,
    cpu_count,
    fmt_int,
    median,
    row,
    timed_call,
)

TICKERS = {"small": 300, "full": 5000}
SESSIONS = 300
END = "2025-03-14"  # the last session of the data (a Friday)
SEED = 7
REPEATS = 3
NATIVE_REPEATS = {"small": REPEATS, "full": 1}
WARMUP_TICKERS = 3
TALIB_RATIO_TARGET = 5.0  # compute_technicals / TA-Lib ndarray loop, at most (issue 20; 35 before)
SPEEDUP_TARGET = 10.0  # naive pandas-ta loop (native) / compute_technicals, at least
TOLERANCE = 1e-6
# The brief's six columns first; the other TA-Lib-defined columns are checked too.
CHECKED_COLUMNS = (
    "rsi_14", "macd", "atr_14", "adx_14", "sma_200", "bb_upper",
    "macd_signal", "macd_hist", "sma_20", "sma_50", "bb_middle", "bb_lower",
)  # fmt: skip

_THIS = __name__


# ---- child-side steps (run in fresh processes; heavy imports stay inside) ----------------------


def _quiet_imports():
    """pandas, pandas-ta and talib, with pandas-ta's import-time deprecation noise silenced."""
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas_ta as ta
        import talib
    return pd, ta, talib


def _load_prices(data_path: str):
    import pickle

    with open(data_path, "rb") as f:
        return pickle.load(f)


def _technicals_version() -> str:
    """A short hash of the rl_assets/technicals.py this process imported (read right after the
    import), so that a run over a file edited mid-benchmark says so rather than mixing versions."""
    import hashlib

    import rl_assets.technicals

    return hashlib.sha256(Path(rl_assets.technicals.__file__).read_bytes()).hexdigest()[:12]


def _first_tickers(prices, n: int):
    first = sorted(prices["ticker"].unique())[:n]
    return prices[prices["ticker"].isin(first)].reset_index(drop=True)


def setup(data_path: str, tickers: int) -> dict:
    """Generate the prices (the last SESSIONS sessions up to END) and pickle them."""
    import pickle

    from rl_assets import calendar
    from rl_assets.market.synthetic import SyntheticMarket

    started = time.perf_counter()
    start = calendar.shift_trading_days(END, -(SESSIONS - 1))
    prices = SyntheticMarket(seed=SEED, tickers=tickers).prices(start, END)
    generated = time.perf_counter() - started
    with open(data_path, "wb") as f:
        pickle.dump(prices, f, protocol=pickle.HIGHEST_PROTOCOL)
    per_ticker = prices.groupby("ticker").size()
    return {
        "rows": len(prices),
        "tickers": int(prices["ticker"].nunique()),
        "sessions": int(prices["date"].nunique()),
        "rows_per_ticker": [int(per_ticker.min()), int(per_ticker.max())],
        "first_date": str(prices["date"].min()),
        "last_date": str(prices["date"].max()),
        "generate_s": round(generated, 3),
        "pickle_mb": round(Path(data_path).stat().st_size / 2**20, 1),
    }


def time_compute(data_path: str) -> dict:
    """compute_technicals(prices), end to end."""
    _quiet_imports()
    from rl_assets.technicals import compute_technicals

    version = _technicals_version()
    prices = _load_prices(data_path)
    compute_technicals(_first_tickers(prices, WARMUP_TICKERS))  # untimed warm-up
    out, timing = timed_call(compute_technicals, prices)
    return {
        **timing,
        "rows_in": len(prices),
        "technicals_version": version,
        "rows_out": len(out),
        "columns_out": len(out.columns),
    }


def _ticker_arrays(prices) -> list[tuple]:
    """Per ticker (in ticker, date order): float64 high, low, close, volume arrays."""
    import numpy as np

    frame = prices.sort_values(["ticker", "date"], ignore_index=True)
    tickers = frame["ticker"].to_numpy()
    starts = np.flatnonzero(np.r_[True, tickers[1:] != tickers[:-1]])
    ends = np.r_[starts[1:], len(frame)]
    columns = [np.ascontiguousarray(frame[c].to_numpy(dtype=np.float64)) for c in ("high", "low", "close", "volume")]
    return [tuple(np.ascontiguousarray(col[s:e]) for col in columns) for s, e in zip(starts, ends, strict=True)]


def _talib_loop(talib, arrays: list[tuple]) -> list[tuple]:
    results = []
    for high, low, close, volume in arrays:
        results.append(
            (
                talib.RSI(close, timeperiod=14),
                talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9),
                talib.SMA(close, timeperiod=20),
                talib.SMA(close, timeperiod=50),
                talib.SMA(close, timeperiod=200),
                talib.BBANDS(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0),
                talib.ATR(high, low, close, timeperiod=14),
                talib.ADX(high, low, close, timeperiod=14),
                talib.SMA(volume, timeperiod=20),
            )
        )
    return results


def time_talib(data_path: str) -> dict:
    """The TA-Lib ndarray loop; the arrays are prepared before the timer."""
    _, _, talib = _quiet_imports()
    prices = _load_prices(data_path)
    arrays = _ticker_arrays(prices)
    _talib_loop(talib, arrays[:WARMUP_TICKERS])  # untimed warm-up
    results, timing = timed_call(_talib_loop, talib, arrays)
    return {
        **timing,
        "tickers": len(results),
    }


def _pandas_ta_loop(ta, prices, use_talib: bool) -> list[tuple]:
    results = []
    for _ticker, g in prices.groupby("ticker"):
        close, high, low = g["close"], g["high"], g["low"]
        results.append(
            (
                ta.rsi(close, length=14, talib=use_talib),
                ta.macd(close, fast=12, slow=26, signal=9, talib=use_talib),
                ta.sma(close, length=20, talib=use_talib),
                ta.sma(close, length=50, talib=use_talib),
                ta.sma(close, length=200, talib=use_talib),
                ta.bbands(close, length=20, lower_std=2.0, upper_std=2.0, ddof=0, talib=use_talib),
                ta.atr(high, low, close, length=14, talib=use_talib),
                ta.adx(high, low, close, length=14, talib=use_talib),
                ta.sma(g["volume"], length=20, talib=use_talib),
            )
        )
    return results


def time_pandas_ta(data_path: str, use_talib: bool) -> dict:
    """The naive per-ticker pandas-ta loop over prices.groupby('ticker')."""
    import warnings

    _, ta, _ = _quiet_imports()
    prices = _load_prices(data_path)
    with warnings.catch_warnings(record=True) as caught:  # count, rather than print, warnings
        warnings.simplefilter("always")
        _pandas_ta_loop(ta, _first_tickers(prices, WARMUP_TICKERS), use_talib)  # untimed warm-up
        warmup_warnings = len(caught)
        results, timing = timed_call(_pandas_ta_loop, ta, prices, use_talib)
    return {
        **timing,
        "tickers": len(results),
        "warnings_in_timed_loop": len(caught) - warmup_warnings,
        "warning_kinds": sorted({f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught})[:5],
    }


def verify(data_path: str) -> dict:
    """compute_technicals against the TA-Lib loop, column by column, on the whole data."""
    import numpy as np

    _, _, talib = _quiet_imports()
    from rl_assets.technicals import compute_technicals

    version = _technicals_version()
    prices = _load_prices(data_path)
    out = compute_technicals(prices)  # sorted by ticker, date: the order of _ticker_arrays
    arrays = _ticker_arrays(prices)
    results = _talib_loop(talib, arrays)
    reference = {name: [] for name in CHECKED_COLUMNS}
    for rsi, (macd, signal, hist), sma20, sma50, sma200, (upper, middle, lower), atr, adx, _vol in results:
        for name, values in (
            ("rsi_14", rsi), ("macd", macd), ("macd_signal", signal), ("macd_hist", hist),
            ("sma_20", sma20), ("sma_50", sma50), ("sma_200", sma200),
            ("bb_upper", upper), ("bb_middle", middle), ("bb_lower", lower), ("atr_14", atr), ("adx_14", adx),
        ):  # fmt: skip
            reference[name].append(values)
    keys = prices.sort_values(["ticker", "date"], ignore_index=True)[["ticker", "date"]]
    same_order = len(out) == len(keys) and bool(
        (out["ticker"].to_numpy() == keys["ticker"].to_numpy()).all()
        and (out["date"].to_numpy() == keys["date"].to_numpy()).all()
    )
    columns = {}
    for name in CHECKED_COLUMNS:
        want = np.concatenate(reference[name])
        got = out[name].to_numpy(dtype=float)
        defined = ~np.isnan(want)
        diff = np.abs(got[defined] - want[defined])
        columns[name] = {
            "talib_defined": int(defined.sum()),
            "max_abs_diff": float(np.nanmax(diff)) if defined.any() else 0.0,
            "max_rel_diff": float(np.nanmax(diff / np.maximum(np.abs(want[defined]), 1e-12))) if defined.any() else 0.0,
            "nan_where_talib_defined": int(np.isnan(got[defined]).sum()),
            "defined_where_talib_nan": int((~np.isnan(got[~defined])).sum()),
        }
    worst = max(CHECKED_COLUMNS, key=lambda n: columns[n]["max_abs_diff"])
    equal = same_order and all(
        c["max_abs_diff"] <= TOLERANCE and c["nan_where_talib_defined"] == 0 and c["defined_where_talib_nan"] == 0
        for c in columns.values()
    )
    return {
        "rows": len(out),
        "technicals_version": version,
        "same_row_order": same_order,
        "columns": columns,
        "max_abs_diff": columns[worst]["max_abs_diff"],
        "max_abs_diff_column": worst,
        "max_abs_diff_brief_columns": max(columns[n]["max_abs_diff"] for n in CHECKED_COLUMNS[:6]),
        "equal": equal,
    }


# ---- parent side -------------------------------------------------------------------------------


def run(scale: str = "full") -> dict:
    tickers = TICKERS[scale]
    with child_steps(_THIS, "technicals", "prices.pickle", "data_path") as (child, data_path):
        prepared = child("setup", "setup", tickers=tickers)
        runs: dict[str, list[dict]] = {"compute": [], "talib": [], "pandas_ta": [], "native": []}
        for number in range(1, REPEATS + 1):
            runs["compute"].append(child("time_compute", f"compute-{number}"))
            runs["talib"].append(child("time_talib", f"talib-{number}"))
            runs["pandas_ta"].append(child("time_pandas_ta", f"pandas-ta-{number}", use_talib=True))
            if number <= NATIVE_REPEATS[scale]:
                runs["native"].append(child("time_pandas_ta", f"pandas-ta-native-{number}", use_talib=False))
        checked = child("verify", "verify")
    return summarise(scale, tickers, prepared, runs, checked)


def summarise(scale, tickers, prepared, runs, checked) -> dict:
    rows = prepared["rows"]
    for result in runs["compute"]:
        if result["rows_out"] != rows:
            raise AssertionError(f"compute_technicals returned {result['rows_out']} rows for {rows} input rows")
    for kind in ("talib", "pandas_ta", "native"):
        for result in runs[kind]:
            if result["tickers"] != prepared["tickers"]:
                raise AssertionError(f"{kind} loop covered {result['tickers']} tickers of {prepared['tickers']}")
    seconds = {kind: median([r["seconds"] for r in rs]) for kind, rs in runs.items()}
    cpu = {kind: median([r["cpu_s"] for r in rs]) for kind, rs in runs.items()}
    rss = {kind: max(r["peak_rss_mb"] for r in rs) for kind, rs in runs.items()}
    hwm = {kind: max(r["vm_hwm_mb"] or 0 for r in rs) for kind, rs in runs.items()}
    before = {kind: max(r["rss_before_mb"] or 0 for r in rs) for kind, rs in runs.items()}
    spread = {kind: max(r["seconds"] for r in rs) / min(r["seconds"] for r in rs) for kind, rs in runs.items()}
    loads = [r["load_before"] for rs in runs.values() for r in rs]
    noisy = max(spread.values()) > 1.25

    talib_ratio = seconds["compute"] / seconds["talib"]
    speedup_talib = seconds["pandas_ta"] / seconds["compute"]
    speedup_native = seconds["native"] / seconds["compute"]
    cpu_talib_ratio = cpu["compute"] / cpu["talib"]
    cpu_speedup_native = cpu["native"] / cpu["compute"]
    full = scale == "full"
    native_runs = len(runs["native"])

    def per_run(kind: str) -> str:
        return ", ".join(f"{r['seconds']:.3f}" for r in runs[kind])

    brief_columns = ", ".join(f"{name} {checked['columns'][name]['max_abs_diff']:.1e}" for name in CHECKED_COLUMNS[:6])
    nan_mismatch = sum(c["nan_where_talib_defined"] + c["defined_where_talib_nan"] for c in checked["columns"].values())
    warnings_seen = sorted({w for kind in ("pandas_ta", "native") for r in runs[kind] for w in r["warning_kinds"]})
    summary = [
        f"technicals {fmt_int(prepared['tickers'])} tickers x {prepared['sessions']} days ({fmt_int(rows)} rows): "
        f"compute_technicals {seconds['compute']:.3f} s vs TA-Lib ndarray loop {seconds['talib']:.3f} s "
        f"-> {talib_ratio:.1f} x (target <= {TALIB_RATIO_TARGET:.0f}); naive pandas-ta loop, native "
        f"{seconds['native']:.2f} s -> compute_technicals {speedup_native:.1f} x faster (target >= "
        f"{SPEEDUP_TARGET:.0f}); with TA-Lib {seconds['pandas_ta']:.2f} s -> {speedup_talib:.1f} x faster",
        f"  scale {scale}: SyntheticMarket(seed={SEED}) {prepared['first_date']}..{prepared['last_date']}; medians of "
        f"{REPEATS} alternating runs, each in a fresh process loading the same pickled prices; the native pandas-ta "
        f"loop ran {native_runs} time{'s' if native_runs != 1 else ''}"
        + (" (about 36 s a run at full scale: once, not 3 times)" if full else ""),
        f"  which naive loop the 10 x target is read against: the native one (talib=False). The issue's own numbers "
        f"(TA-Lib loop ~0.09 s, pandas-ta with TA-Lib ~4.9 s, native ~36 s) make the first issue's 35 x and 10 x targets "
        f"consistent only there (36/10 = 3.6 s vs 35 x 0.09 = 3.15 s; against the TA-Lib-backed loop 10 x would "
        f"need <= 0.49 s, 5.4 x the TA-Lib loop). Against the TA-Lib-backed loop compute_technicals is "
        f"{speedup_talib:.1f} x faster, which "
        + ("also meets" if speedup_talib >= SPEEDUP_TARGET else "does NOT meet")
        + " 10 x",
        "  compute      = compute_technicals(prices), DataFrame in, DataFrame out: 19 indicator columns (the TA-Lib "
        "set plus returns, realized vol, volume ratio, above-SMA flags), input checks and sort included",
        "  talib        = per ticker, float64 ndarrays prepared untimed: RSI 14, MACD 12/26/9, SMA 20/50/200, "
        "BBANDS 20/2/2, ATR 14, ADX 14, SMA(volume, 20); results kept in a list",
        "  pandas-ta    = for ticker, g in prices.groupby('ticker'): ta.rsi, ta.macd, ta.sma x3, ta.bbands(ddof=0), "
        "ta.atr, ta.adx, ta.sma(volume, 20) on g's columns; talib=True (default) and talib=False (native); results "
        "kept in a list, no DataFrame assembly",
        f"  every timed child first runs its own code untimed on {WARMUP_TICKERS} tickers (one-off lazy work)",
        f"  peak RSS (ru_maxrss, max over runs): compute_technicals child {rss['compute']:.0f} MB (RSS after loading "
        f"the prices, before the timed call {before['compute']:.0f} MB); TA-Lib loop {rss['talib']:.0f} MB, "
        f"pandas-ta {rss['pandas_ta']:.0f} MB, native {rss['native']:.0f} MB",
        f"  per run (s): compute [{per_run('compute')}], talib [{per_run('talib')}], "
        f"pandas-ta [{per_run('pandas_ta')}], "
        f"native [{per_run('native')}]; 1-min load average before the timed steps {min(loads):.2f}..{max(loads):.2f} "
        f"on {cpu_count()} CPUs",
        f"  CPU seconds (medians): compute {cpu['compute']:.3f}, talib {cpu['talib']:.3f}, pandas-ta "
        f"{cpu['pandas_ta']:.2f}, native {cpu['native']:.2f} -> CPU ratios compute/talib {cpu_talib_ratio:.1f}, "
        f"native/compute {cpu_speedup_native:.1f}"
        + (
            "; NOISY: run-to-run spread "
            + ", ".join(f"{k} x{v:.2f}" for k, v in spread.items())
            + " (something else was using the CPUs)"
            if noisy
            else ""
        ),
        f"  equal to the TA-Lib loop (|diff| <= {TOLERANCE:g} where TA-Lib is defined, NaN exactly where TA-Lib's "
        f"are): {checked['equal']}; max abs diff {brief_columns}; over all {len(CHECKED_COLUMNS)} TA-Lib columns "
        f"{checked['max_abs_diff']:.1e} ({checked['max_abs_diff_column']}); NaN-pattern mismatches {nan_mismatch}",
        f"  setup (untimed, own process): prices generated in {prepared['generate_s']:.1f} s, pickle "
        f"{prepared['pickle_mb']:.0f} MB; rows per ticker "
        f"{prepared['rows_per_ticker'][0]}..{prepared['rows_per_ticker'][1]}",
    ]
    versions = [r["technicals_version"] for r in runs["compute"]] + [checked["technicals_version"]]
    mixed = len(set(versions)) > 1
    if mixed:
        summary.insert(
            1,
            "  WARNING: rl_assets/technicals.py changed during this run; the timed and verify children imported "
            f"different versions ({', '.join(versions)}: compute runs, then verify): rerun for a clean measurement",
        )
    else:
        summary.append(f"  rl_assets/technicals.py measured: sha256 {versions[0]} (every compute and verify child)")
    if warnings_seen:
        summary.append(f"  warnings raised inside the pandas-ta loops: {'; '.join(warnings_seen)}")
    native_label = "one run" if native_runs == 1 else "median"
    metrics = [
        row(
            f"compute_technicals on {fmt_int(prepared['tickers'])} tickers x {prepared['sessions']} days "
            f"({fmt_int(rows)} rows), DataFrame in and out (median)",
            f"{seconds['compute']:.2f} s",
            reference=f"TA-Lib ndarray loop over the same indicators: {seconds['talib']:.3f} s",
            ratio=f"{talib_ratio:.1f}",
            target=f"<= {TALIB_RATIO_TARGET:.0f}",
            met=talib_ratio <= TALIB_RATIO_TARGET,
            full=full,
        ),
        row(
            f"the same data through a naive per-ticker pandas-ta loop, native (talib=False; {native_label})",
            f"{seconds['native']:.1f} s",
            reference=f"compute_technicals: {seconds['compute']:.2f} s",
            ratio=f"{speedup_native:.1f}× faster",
            target=f">= {SPEEDUP_TARGET:.0f}× faster",
            met=speedup_native >= SPEEDUP_TARGET,
            full=full,
        ),
        row(
            "naive per-ticker pandas-ta loop with TA-Lib (the default; context: the 10× target is read against "
            "the native loop)",
            f"{seconds['pandas_ta']:.1f} s",
            reference=f"compute_technicals: {seconds['compute']:.2f} s",
            ratio=f"{speedup_talib:.1f}× faster",
        ),
        row(
            "largest difference from TA-Lib over rsi, macd, atr, adx, sma_200, bb_upper",
            f"{checked['max_abs_diff_brief_columns']:.1e}",
            reference="TA-Lib on the same rows",
            target=f"<= {TOLERANCE:g}",
            met=checked["equal"],
        ),
        row(
            "peak RSS of the compute_technicals process",
            f"{rss['compute']:.0f} MB",
            reference=f"after loading the prices, before the call: {before['compute']:.0f} MB",
        ),
        row(
            "CPU-seconds ratios compute / TA-Lib, native / compute",
            f"{cpu_talib_ratio:.1f} / {cpu_speedup_native:.1f}",
            reference="the wall-time ratios above",
        ),
    ]
    return {
        "summary": summary,
        "metrics": metrics,
        "details": {
            "scale": scale,
            "tickers": tickers,
            "sessions": SESSIONS,
            "end": END,
            "seed": SEED,
            "repeats": REPEATS,
            "native_runs": native_runs,
            "rows": rows,
            "technicals_versions": versions,
            "technicals_changed_during_run": mixed,
            "seconds_median": seconds,
            "cpu_s_median": cpu,
            "talib_ratio": round(talib_ratio, 4),
            "speedup_vs_pandas_ta_talib": round(speedup_talib, 4),
            "speedup_vs_pandas_ta_native": round(speedup_native, 4),
            "cpu_talib_ratio": round(cpu_talib_ratio, 4),
            "cpu_speedup_native": round(cpu_speedup_native, 4),
            "spread_max_over_min": {k: round(v, 3) for k, v in spread.items()},
            "noisy": noisy,
            "load_before_range": [min(loads), max(loads)],
            "peak_rss_mb": rss,
            "vm_hwm_mb": hwm,
            "rss_before_timed_call_mb": before,
            "setup": prepared,
            "runs": runs,
            "verify": checked,
            "talib_ratio_met": talib_ratio <= TALIB_RATIO_TARGET,
            "speedup_native_met": speedup_native >= SPEEDUP_TARGET,
            "speedup_talib_backed_meets_10x": speedup_talib >= SPEEDUP_TARGET,
        },
    }
