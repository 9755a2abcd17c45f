"""Training benchmark: the model assets' training path at full-market scale, 20 and 60 days, and 60 days
and a year (252 days) of a tenth of the market (the largest this machine's disk holds beside the rest:
a year of the full market is ~340M rows, ~80 GB of rl_dataset).

Layout (every step a fresh child process, so each peak RSS is its own):
1. setup (untimed): rl_dataset rows generated in DuckDB (INSERT ... SELECT over range(): random
   features rounded to 2 decimals, ~5,000 underlyings, every log-moneyness bucket, rewards and hit_50
   at the synthetic market's rates), ROWS_PER_DAY rows on each of the days;
2. scan (the reference): one statement reading every column training reads of the same days'
   labelled rows (COUNT and SUM of each, so the warehouse scans them all), nothing fetched;
3. train: what an asset does with them, on a connection with the asset's DuckDB memory limit (2 GB),
   timed step by step: read_training_rows (the stratified per-day sample, SamplingPolicy's defaults:
   2,048 rows a day, 262,144 in all, at most 2M candidates a statement), the scaler
   fit, the baseline classifier (its default epochs), PPO (PPO_STEPS env steps of its default
   config); rows/s, seconds per epoch and per PPO update, the child's peak RSS.

Target (the issue): peak memory flat in the number of days: the 60-day run within 1.25 x the 20-day
run's, and the 252-day run within 1.25 x the 60-day run of the same market.
"""

from __future__ import annotations

from contextlib import contextmanager

from rl_assets_bench import child_steps, fmt_int, median, row, timed_call

FULL_MARKET_ROWS = 1_361_903  # candidates in one full-market rl_dataset day (the dataset benchmark's)
RUNS = {  # scale -> (label, days, rows per day)
    "small": [("20 days", 20, 20_000), ("60 days", 60, 20_000), ("252 days", 252, 2_000)],
    "full": [
        ("20 days", 20, FULL_MARKET_ROWS), ("60 days", 60, FULL_MARKET_ROWS),
        ("60 days, a tenth", 60, FULL_MARKET_ROWS // 10), ("252 days, a tenth", 252, FULL_MARKET_ROWS // 10),
    ],
}  # fmt: skip
PPO_STEPS = {"small": 200_000, "full": 1_000_000}
UNDERLYINGS = 5000
FIRST_DAY = "2024-01-02"  # 252 sessions on fit before the calendar's end
MEMORY_TARGET = 1.25

_THIS = __name__

# The columns training reads (sql/rl_dataset_training_rows.sql), generated; the others NULL or constant.
_FEATURES = (
    "dte", "moneyness", "spread_pct", "intrinsic_pct", "leverage", "theta_pct", "implied_volatility",
    "delta", "gamma", "theta", "vega", "rho", "log_volume", "log_open_interest", "rsi_14", "adx_14",
    "ret_1d", "ret_5d", "ret_20d", "realized_vol_20", "volume_ratio_20", "close_to_sma_20",
    "close_to_sma_50", "close_to_sma_200", "bb_position", "atr_pct", "macd_hist_pct", "iv_minus_realized_vol",
)  # fmt: skip


def _days(days: int) -> list:
    from rl_assets import calendar

    return calendar.trading_days(FIRST_DAY, "2026-06-30")[:days]


def setup(db_path: str, days: int, rows_per_day: int) -> dict:
    from rl_assets import calendar
    from rl_assets.warehouse.duckdb_backend import open_duckdb

    features = ",\n".join(
        f"CAST(i AS INTEGER) % 60 + 1 AS {f}" if f == "dte" else f"ROUND(random() * 2 - 1, 2) AS {f}" for f in _FEATURES
    )
    with open_duckdb(db_path, "rl") as wh:
        wh.ensure_tables()
        for day in _days(days):
            label_end = calendar.shift_trading_days(day, 3)
            wh.connection.execute(
                f"""
                INSERT INTO rl.rl_dataset BY NAME
                SELECT DATE '{day}' AS snapshot_date, 'U' || (i % {UNDERLYINGS}) || '-' || i AS contract_symbol,
                    'U' || (i % {UNDERLYINGS}) AS underlying, 'call' AS option_type, 100.0 AS strike,
                    DATE '{day}' + 30 AS expiration, 1.0 AS bid, 1.1 AS ask, 100.0 AS underlying_price,
                    1.1 AS entry_price, TIMESTAMP '{day} 21:00:00' AS quote_time, false AS technicals_incomplete,
                    i % 2 = 0 AS is_call, ROUND(random() * 0.6 - 0.3, 3) AS log_moneyness,
                    random() < 0.5 AS above_sma_50, random() < 0.5 AS above_sma_200, {features},
                    DATE '{label_end}' AS label_end_date, ROUND(random() * 1.2 - 0.75, 3) AS reward,
                    random() < 0.08 AS hit_50, ROUND(random() * 0.1 - 0.05, 3) AS underlying_return_3d,
                    'horizon' AS exit_reason, 0 AS missing_quotes
                FROM range({rows_per_day}) AS r(i)
                """
            )
        wh.connection.execute("CHECKPOINT")
    return {"rows": days * rows_per_day}


def scan(db_path: str, days: int) -> dict:
    """The reference: the warehouse reading every column training reads of the same rows."""
    columns = ["reward", "hit_50::INT", "underlying_return_3d", "log_moneyness", *_FEATURES]
    sums = ", ".join(f"SUM({c})" for c in columns)
    dates = _days(days)
    with _asset_connection(db_path) as wh:
        statement = (
            f"SELECT COUNT(*), COUNT(DISTINCT contract_symbol), {sums} FROM rl.rl_dataset "
            f"WHERE snapshot_date BETWEEN DATE '{dates[0]}' AND DATE '{dates[-1]}' AND reward IS NOT NULL"
        )
        (result, timing) = timed_call(lambda: wh.connection.execute(statement).fetchone())
    return {"rows": int(result[0]), **timing}


def train(db_path: str, days: int, ppo_steps: int) -> dict:
    from rl_assets.baseline import BaselineConfig, train_classifier
    from rl_assets.features import Scaler
    from rl_assets.ppo import PPOConfig, train_ppo
    from rl_assets.rl_env import candidate_days
    from rl_assets.training import EvaluationConfig
    from rl_assets.training_data import SamplingPolicy, read_training_rows
    from rl_assets_bench._child import rss_now_mb

    policy = SamplingPolicy()
    with _asset_connection(db_path) as wh:
        frame, read = timed_call(read_training_rows, wh, policy)
    rss_after_read = rss_now_mb()
    scaler, fit = timed_call(Scaler.fit, frame)
    features = scaler.transform(frame)
    baseline = BaselineConfig()
    _, classifier = timed_call(train_classifier, features, frame["hit_50"].astype(bool).to_numpy(), baseline)
    episodes = candidate_days(frame, scaler, EvaluationConfig.max_candidates_per_day)
    ppo = PPOConfig(total_steps=ppo_steps)
    (_, report), agent = timed_call(train_ppo, episodes, ppo)
    return {
        "days": int(frame["snapshot_date"].nunique()), "sampled_rows": len(frame), "read": read,
        "rss_after_read_mb": rss_after_read, "scaler": fit, "baseline": classifier,
        "baseline_epochs": baseline.epochs, "ppo": agent, "ppo_updates": len(report.updates),
        "ppo_env_steps": report.env_steps,
    }  # fmt: skip


@contextmanager
def _asset_connection(db_path: str):
    """A DuckDB backend with the memory limit the Warehouse resource gives the assets."""
    import duckdb

    from rl_assets.settings import DEFAULT_DUCKDB_MEMORY_LIMIT
    from rl_assets.warehouse.duckdb_backend import DuckDBBackend

    connection = duckdb.connect(db_path, config={"memory_limit": DEFAULT_DUCKDB_MEMORY_LIMIT})
    try:
        yield DuckDBBackend(connection, "rl", DEFAULT_DUCKDB_MEMORY_LIMIT)
    finally:
        connection.close()


def run(scale: str = "full") -> dict:
    results = []
    for label, days, rows_per_day in RUNS[scale]:
        with child_steps(_THIS, "training", "w.duckdb", "db_path") as (child, _):
            prepared = child("setup", f"setup-{days}-{rows_per_day}", days=days, rows_per_day=rows_per_day)
            reference = child("scan", f"scan-{days}-{rows_per_day}", days=days)
            trained = child("train", f"train-{days}-{rows_per_day}", days=days, ppo_steps=PPO_STEPS[scale])
        results.append({"label": label, "days": days, "rows_per_day": rows_per_day, "prepared": prepared,
                        "scan": reference, "train": trained})  # fmt: skip
    return summarise(scale, results)


def summarise(scale: str, results: list[dict]) -> dict:
    full = scale == "full"
    metrics, summary = [], []
    for r in results:
        t, scan_s = r["train"], r["scan"]["seconds"]
        read_s = t["read"]["seconds"]
        epoch_s = t["baseline"]["seconds"] / t["baseline_epochs"]
        update_s = t["ppo"]["seconds"] / t["ppo_updates"]
        line = (
            f"{r['label']} ({fmt_int(r['rows_per_day'])} candidates a day, {fmt_int(r['scan']['rows'])} rows): "
            f"sampled read {fmt_int(t['sampled_rows'])} rows in {read_s:.1f} s "
            f"({r['scan']['rows'] / read_s:,.0f} warehouse rows/s); scaler {t['scaler']['seconds']:.2f} s; "
            f"baseline {epoch_s:.2f} s/epoch ({t['sampled_rows'] / epoch_s:,.0f} rows/s); PPO "
            f"{update_s:.3f} s/update ({t['ppo_env_steps'] / t['ppo']['seconds']:,.0f} env-steps/s); "
            f"peak RSS {t['peak_rss_mb']:,.0f} MB"
        )
        summary.append(line)
        metrics.append(
            row(
                f"training data at {r['label']} ({fmt_int(r['rows_per_day'])} candidates a day, "
                f"{fmt_int(r['scan']['rows'])} rows): the sampled read (at most 2,048 a day, 262,144 in all), then baseline and PPO",
                f"read {read_s:.1f} s ({fmt_int(t['sampled_rows'])} rows); baseline {epoch_s:.2f} s/epoch; "
                f"PPO {update_s:.3f} s/update ({t['ppo_env_steps'] / t['ppo']['seconds']:,.0f} steps/s); "
                f"peak RSS {t['peak_rss_mb']:,.0f} MB",
                reference=f"scanning the same rows' columns in DuckDB: {scan_s:.1f} s",
                ratio=f"{read_s / scan_s:.2f}",
                full=full,
            )
        )
    by_label = {r["label"]: r["train"]["peak_rss_mb"] for r in results}
    pairs = (
        [("20 days", "60 days"), ("60 days, a tenth", "252 days, a tenth")]
        if full
        else [("20 days", "60 days"), ("20 days", "252 days")]
    )
    for small, large in pairs:
        if small in by_label and large in by_label:
            growth = by_label[large] / by_label[small]
            metrics.append(
                row(
                    f"peak RSS of the training process, {large} vs {small}",
                    f"{by_label[large]:,.0f} MB",
                    reference=f"{small}: {by_label[small]:,.0f} MB",
                    ratio=f"{growth:.2f}",
                    target=f"flat: < {MEMORY_TARGET} x",
                    met=growth < MEMORY_TARGET,
                    full=full,
                )
            )
    read_ratios = [r["train"]["read"]["seconds"] / r["scan"]["seconds"] for r in results]
    summary.append(f"sampled read / scan, median over the runs: {median(read_ratios):.2f}")
    return {"summary": summary, "metrics": metrics, "details": {"runs": results}}
