"""`make demo`: from nothing, archive ~60 trading days on the embedded default, build the RL
state and dataset, train and evaluate both models, and summarise.

Runs go to the Dagster instance in DAGSTER_HOME, so `make ui` shows them afterwards.
"""

from __future__ import annotations

import argparse
import time
import warnings

import dagster as dg
import pandas as pd

# The demo uses BackfillPolicy (beta) on purpose; its notices would drown the summary.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from rl_assets import calendar  # noqa: E402
from rl_assets.defs.code_location import build_definitions  # noqa: E402
from rl_assets.defs.assets.models import TrainingConfig  # noqa: E402
from rl_assets.defs.partitions import range_run_tags  # noqa: E402
from rl_assets.model_store import MODEL_NAMES, MODELS  # noqa: E402
from rl_assets.reward import HORIZON_DAYS  # noqa: E402
from rl_assets.settings import Settings  # noqa: E402

PAPER_DAYS = 15  # sessions of paper trading at the end of the demo's stretch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=60, help="trading days to materialise (default 60)")
    args = parser.parse_args(argv)
    if args.days < HORIZON_DAYS + 2:
        parser.error(
            f"--days must be at least {HORIZON_DAYS + 2} (labels need the {HORIZON_DAYS} sessions after a day)"
        )

    settings = Settings.from_env()
    defs = build_definitions(settings)
    checks = {c.node_def.name: c for c in defs.asset_checks}
    price_data_checks, options_chain_history_checks = checks["price_data_checks"], checks["options_chain_history_checks"]
    rl_state_checks, rl_dataset_checks = checks["rl_state_checks"], checks["rl_dataset_checks"]
    options_chain, price_data, options_chain_history, technicals_history, rl_state, rl_dataset = (
        defs.get_assets_def(name)
        for name in ("options_chain", "price_data", "options_chain_history", "technicals_history", "rl_state", "rl_dataset")
    )
    baseline_model, ppo_agent, recommendations, paper_trades, paper_trading_performance = (
        defs.get_assets_def(name)
        for name in (*MODEL_NAMES, "recommendations", "paper_trades", "paper_trading_performance")
    )
    end = calendar.latest_closed_session(pd.Timestamp.now(tz="UTC"))
    start = calendar.shift_trading_days(end, -(args.days - 1))
    if start < settings.start_date:
        parser.error(f"{args.days} days back from {end} starts before RL_ASSETS_START_DATE={settings.start_date}")
    backfill_end = calendar.shift_trading_days(end, -1)
    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    resources = defs.resources
    print(f"rl-assets demo: {args.days} NYSE trading days {start} .. {end}, {settings.universe} synthetic tickers")
    print(f"warehouse: DuckDB file {settings.duckdb_path} (schema {settings.dataset})")

    started = time.perf_counter()
    # 1. Prices from the first partition on: the technicals' warm-up reads them (one run).
    prices_run = dg.materialize(
        [price_data, price_data_checks], instance=instance, resources=resources, run_config=quiet,
        tags=range_run_tags(settings.start_date, backfill_end),
    )  # fmt: skip
    # 2. The history: one single-run backfill over the past days, each day's chain from the provider,
    #    with the RL state of each day.
    backfill = dg.materialize(
        [options_chain_history, technicals_history, rl_state, options_chain_history_checks, rl_state_checks],
        instance=instance, resources=resources, run_config=quiet, tags=range_run_tags(start, backfill_end),
    )  # fmt: skip
    backfill_seconds = time.perf_counter() - started

    # 3. The daily sidecar run for the newest session: load the live table, archive it in-warehouse,
    #    and the day's technicals and RL state.
    daily_started = time.perf_counter()
    daily = dg.materialize(
        [options_chain, price_data, options_chain_history, technicals_history, rl_state,
         price_data_checks, options_chain_history_checks, rl_state_checks],
        instance=instance, resources=resources, run_config=quiet, partition_key=str(end),
    )  # fmt: skip
    daily_seconds = time.perf_counter() - daily_started

    # 4. Labels for every day whose next three sessions have landed (one run).
    dataset_started = time.perf_counter()
    labelled_end = calendar.shift_trading_days(end, -HORIZON_DAYS)
    dataset = dg.materialize(
        [rl_state, rl_dataset, rl_dataset_checks],
        instance=instance, resources=resources, run_config=quiet, tags=range_run_tags(start, labelled_end),
        selection=dg.AssetSelection.assets(rl_dataset),
    )  # fmt: skip
    dataset_seconds = time.perf_counter() - dataset_started

    # 5. Both models: walk-forward evaluation on the same folds, then a registered version each.
    #    First a version as of PAPER_DAYS sessions ago (trained only on labels known by then), so the
    #    paper-trading backfill below has a model that was usable on those days; then today's.
    training = TrainingConfig(min_train_dates=25)
    paper_start = calendar.shift_trading_days(end, -(PAPER_DAYS - 1))
    last_labelled_before = calendar.shift_trading_days(paper_start, -(HORIZON_DAYS + 1))
    labelled_before = len(calendar.trading_days(start, last_labelled_before)) if last_labelled_before >= start else 0
    needed = training.evaluation().min_dates
    models_run = paper_run = None
    training_seconds = paper_seconds = 0.0
    if labelled_before >= needed:
        training_started = time.perf_counter()
        for as_of in (str(paper_start), None):
            models_run = dg.materialize(
                [rl_dataset, baseline_model, ppo_agent], instance=instance, resources=resources,
                run_config={**quiet, "ops": {name: {"config": {**training.model_dump(), "as_of": as_of}}
                                            for name in MODEL_NAMES}},
                selection=dg.AssetSelection.assets(baseline_model, ppo_agent),
            )  # fmt: skip
        training_seconds = time.perf_counter() - training_started

        # 6. Paper trading over the last PAPER_DAYS sessions: screen, pick, resolve, track.
        paper_started = time.perf_counter()
        paper_run = dg.materialize(
            [rl_state, baseline_model, ppo_agent, rl_dataset, recommendations, paper_trades],
            instance=instance, resources=resources, run_config=quiet, tags=range_run_tags(paper_start, end),
            selection=dg.AssetSelection.assets(recommendations, paper_trades),
        )  # fmt: skip
        performance_run = dg.materialize(
            [paper_trades, rl_dataset, paper_trading_performance], instance=instance, resources=resources,
            run_config=quiet, selection=dg.AssetSelection.assets(paper_trading_performance),
        )  # fmt: skip
        paper_seconds = time.perf_counter() - paper_started

    history = _metadata(backfill, "options_chain_history")
    technicals = _metadata(backfill, "technicals_history")
    prices = _metadata(prices_run, "price_data")
    today = _metadata(daily, "options_chain_history")
    labels = _metadata(dataset, "rl_dataset")
    state = _metadata(backfill, "rl_state")
    runs = tuple(r for r in (prices_run, backfill, daily, dataset, models_run, paper_run) if r is not None)
    checks = [(e.check_name, e.passed) for result in runs for e in result.get_asset_check_evaluations()]
    failed = sorted({name for name, passed in checks if not passed})
    print()
    print(
        f"prices    {settings.start_date} .. {backfill_end}: {prices['trading_days']} partitions, "
        f"{prices['dagster/row_count']:,} rows (one run)"
    )
    print(
        f"backfill  {start} .. {backfill_end}: {history['trading_days']} partitions, "
        f"{history['dagster/row_count']:,} contracts archived, {technicals['dagster/row_count']:,} technicals rows "
        f"({technicals['warmup_sessions']}-session warm-up); {backfill_seconds:.1f} s with the prices"
    )
    print(
        f"daily run {end}: live options_chain archived in-warehouse, {today['dagster/row_count']:,} contracts "
        f"in {daily_seconds:.1f} s"
    )
    print(
        f"rl_state  {start} .. {backfill_end}: {state['dagster/row_count']:,} candidate contracts with their "
        f"underlying's technicals"
    )
    print(
        f"rl_dataset {start} .. {labelled_end}: {labels['dagster/row_count']:,} rows, "
        f"hit_50 base rate {labels['hit_50_base_rate']:.1%}, mean reward {labels['mean_reward']:+.1%}, "
        f"exits {labels['exits']}; {dataset_seconds:.1f} s"
    )
    if models_run is None:
        print(
            f"models    skipped: walk-forward evaluation needs {needed} labelled days before the paper-trading "
            f"window, the run has {labelled_before}"
        )
    else:
        for model in MODELS:
            name, meta = model.name, _metadata(models_run, model.name)
            top = meta["metrics"][model.short]["top_5"]
            hit, reward = top["hit_rate"], top["mean_reward"]
            print(
                f"{name:<14} v{meta['version']} usable from {meta['usable_from']}: out of sample over "
                f"{meta['test_days']} days, daily top-5 picks hit >50% in 3 days {hit['value']:.1%} "
                f"[{hit['low']:.1%}, {hit['high']:.1%}] (base rate {meta['base_rate']:.1%}), mean reward "
                f"{reward['value']:+.1%} [{reward['low']:+.1%}, {reward['high']:+.1%}]"
            )
        print(
            f"models    two versions each trained and registered in {training_seconds:.1f} s ({settings.model_store})"
        )
        paper = _metadata(performance_run, "paper_trading_performance")
        print(
            f"paper trading {paper_start} .. {end}: {paper['open_trades']} trades still open (T+3 not landed); {paper_seconds:.1f} s"
        )
        for model, stats in paper["metrics"].items():
            hit, reward = stats["hit_rate"], stats["mean_reward"]
            print(
                f"  {model:<20} {stats['resolved_picks']:>5} resolved picks: hit >50% in 3 days {hit['value']:.1%} "
                f"[{hit['low']:.1%}, {hit['high']:.1%}], mean reward {reward['value']:+.1%} "
                f"[{reward['low']:+.1%}, {reward['high']:+.1%}]"
            )
    print(
        f"asset checks: {len(checks) - sum(not p for _, p in checks)}/{len(checks)} passed"
        + (f"; failing: {', '.join(failed)}" if failed else "")
    )
    print(f"total {time.perf_counter() - started:.1f} s. Explore it: make ui")


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    event = result.asset_materializations_for_node(asset)[0]
    return {key: value.value for key, value in event.metadata.items()}


if __name__ == "__main__":
    main()
