"""`make demo`: from nothing, ~60 trading days on the embedded default, run by the code location's
own jobs (rl_assets/defs/jobs.py), as a user would launch them from the UI:

    archive_job        prices from the first partition on (the technicals' warm-up), one run
    daily_job          the history: each past day's chain from the provider, technicals and
                       rl_state, as one single-run backfill
    daily_job          the newest session: load the live chain, archive it in-warehouse
    labels_job         rl_dataset's labels for every day whose next three sessions have landed
    training_job       both models, a walk-forward version as of the paper-trading window's start,
                       then today's
    paper_trading_job  the last sessions: screen, pick, resolve, track

Each stage prints as it starts and ends (job, step, rows, seconds), then a summary. Runs go to the
Dagster instance in DAGSTER_HOME, so `make ui` shows them afterwards.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import dagster as dg
import pandas as pd

# The jobs use BackfillPolicy (beta) on purpose; its notices would drown the progress lines.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from rl_assets import calendar  # noqa: E402
from rl_assets.defs.assets.models import TrainingConfig  # noqa: E402
from rl_assets.defs.code_location import build_definitions  # noqa: E402
from rl_assets.defs.partitions import range_run_tags  # noqa: E402
from rl_assets.model_store import MODEL_NAMES, MODELS  # noqa: E402
from rl_assets.reward import HORIZON_DAYS  # noqa: E402
from rl_assets.settings import Settings  # noqa: E402

PAPER_DAYS = 15  # sessions of paper trading at the end of the demo's stretch
DEMO_PPO_STEPS = 500_000
PROGRESS_LOGGER = "demo_progress"
# Dagster's own console lines stay quiet; the progress logger prints one line per step instead.
LOGGERS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}, PROGRESS_LOGGER: {}}}
STEP_COLUMN = 48  # the longest step: price_data_close_matches_chain_underlying_price


class _StepPrinter(logging.Handler):
    """Prints each step of a run as it starts and as it ends: rows written, checks passed, seconds."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.outcome: dict[str, list[str]] = {}
        self.reported: set[str] = set()  # a range run materialises each partition: one line per asset

    def emit(self, record: logging.LogRecord) -> None:
        event: dg.DagsterEvent | None = getattr(record, "dagster_event", None)
        if event is None or event.step_key is None:
            return
        step = event.step_key
        if event.is_step_start:
            self.outcome[step] = []
            _print(f"      {step:<{STEP_COLUMN}} started")
        elif event.is_step_materialization and step not in self.reported:
            self.reported.add(step)
            meta = {key: value.value for key, value in event.step_materialization_data.materialization.metadata.items()}
            rows = meta.get("dagster/row_count", meta.get("training_rows"))
            version = f"v{meta['version']}, " if "version" in meta else ""
            self.outcome.setdefault(step, []).append(f"{version}{rows:,} rows" if rows is not None else "done")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            self.outcome.setdefault(step, []).append(
                "check passed" if evaluation.passed else f"FAILED {evaluation.check_name}"
            )
        elif event.is_step_success:
            _print(
                f"      {step:<{STEP_COLUMN}} {_outcome(self.outcome.pop(step, [])):<30} "
                f"{event.step_success_data.duration_ms / 1000:6.1f} s"
            )
        elif event.is_step_failure:
            error = event.step_failure_data.error
            _print(
                f"      {step:<{STEP_COLUMN}} FAILED: {error.message.strip().splitlines()[0] if error else 'see make ui'}"
            )
        elif event.is_step_skipped:
            _print(f"      {step:<{STEP_COLUMN}} skipped (a blocking check upstream failed)")


def _outcome(parts: list[str]) -> str:
    """One step's outcome: its rows, and its checks summed ('9/9 checks passed')."""
    checks = [p for p in parts if p == "check passed" or p.startswith("FAILED ")]
    rest = [p for p in parts if p not in checks]
    if checks:
        failed = [p.removeprefix("FAILED ") for p in checks if p != "check passed"]
        rest.append(
            f"{len(checks) - len(failed)}/{len(checks)} checks passed"
            + (f" (failed: {', '.join(failed)})" if failed else "")
        )
    return "; ".join(rest) or "done"


@dg.logger(description="`make demo`'s progress: one line as each step starts and ends.")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    progress = logging.Logger(PROGRESS_LOGGER, level=logging.DEBUG)
    progress.addHandler(_StepPrinter())
    return progress


def _print(line: str) -> None:
    print(line, flush=True)  # live even when stdout is a pipe


class _Runner:
    """Runs the code location's jobs in this process against the instance, numbering the stages."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, stages: int) -> None:
        # The code location's jobs with the progress logger beside Dagster's console logger.
        self.defs = dg.Definitions.merge(
            defs, dg.Definitions(loggers={"console": dg.colored_console_logger, PROGRESS_LOGGER: progress_logger})
        )
        self.instance, self.stages, self.done = instance, stages, 0
        self.results: list[dg.ExecuteInProcessResult] = []

    def __call__(
        self, job: str, what: str, assets: tuple[str, ...] | None = None, *, partition_key: str | None = None,
        tags: dict[str, str] | None = None, ops: dict | None = None,
    ) -> tuple[dg.ExecuteInProcessResult, float]:  # fmt: skip
        self.done += 1
        selected = f" [{', '.join(assets)}]" if assets else ""
        _print(f"[{self.done}/{self.stages}] {job}{selected}: {what}")
        job_def = self.defs.resolve_job_def(job)
        started = time.perf_counter()
        result = job_def.execute_in_process(
            instance=self.instance, partition_key=partition_key, tags=tags,
            op_selection=self._ops(job_def, assets) if assets else None,
            run_config={**LOGGERS, **({"ops": ops} if ops else {})},
        )  # fmt: skip
        seconds = time.perf_counter() - started
        _print(f"      {job} done in {seconds:.1f} s (run {result.run_id[:8]})")
        self.results.append(result)
        return result, seconds

    def checks(self) -> tuple[str, list[str]]:
        """The summary line of every run's asset checks ("asset checks: 52/52 passed; failing: ..."),
        and the names of the failing ones."""
        checks = [(e.check_name, e.passed) for result in self.results for e in result.get_asset_check_evaluations()]
        failed = sorted({name for name, passed in checks if not passed})
        line = f"asset checks: {len(checks) - sum(not p for _, p in checks)}/{len(checks)} passed" + (
            f"; failing: {', '.join(failed)}" if failed else ""
        )
        return line, failed

    def _ops(self, job_def: dg.JobDefinition, assets: tuple[str, ...]) -> list[str]:
        """Some of a job's assets with the job's own checks on them, as the UI selects them. (An asset
        selection would pull in every check on those assets, the freshness checks included, which
        the jobs leave to their own schedule.)"""
        in_job = set(job_def.graph.node_names())
        keys = {dg.AssetKey(asset) for asset in assets}
        checks = [
            c.node_def.name for c in self.defs.asset_checks
            if c.node_def.name in in_job and any(key.asset_key in keys for key in c.check_keys)
        ]  # fmt: skip
        return [self.defs.resolve_assets_def(asset).node_def.name for asset in assets] + checks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=60, help="trading days to materialise (default 60)")
    args = parser.parse_args(argv)
    if args.days < HORIZON_DAYS + 2:
        parser.error(
            f"--days must be at least {HORIZON_DAYS + 2} (labels need the {HORIZON_DAYS} sessions after a day)"
        )

    settings = Settings.from_env()
    end = calendar.latest_closed_session(pd.Timestamp.now(tz="UTC"))
    start = calendar.shift_trading_days(end, -(args.days - 1))
    if start < settings.start_date:
        parser.error(f"{args.days} days back from {end} starts before RL_ASSETS_START_DATE={settings.start_date}")
    backfill_end = calendar.shift_trading_days(end, -1)
    labelled_end = calendar.shift_trading_days(end, -HORIZON_DAYS)

    # Both models are trained twice: first a version as of PAPER_DAYS sessions ago (trained only on
    # labels known by then), so the paper-trading backfill has a model that was usable on those
    # days; then today's. The first needs enough labelled days for its walk-forward evaluation.
    # The demo's PPO fits take DEMO_PPO_STEPS env steps (the asset's default is PPOConfig.total_steps):
    # on 60 days of 64 sampled candidates that is still ~130 passes over every episode day.
    training = TrainingConfig(min_train_dates=25, ppo_total_steps=DEMO_PPO_STEPS)
    paper_start = calendar.shift_trading_days(end, -(PAPER_DAYS - 1))
    last_labelled_before = calendar.shift_trading_days(paper_start, -(HORIZON_DAYS + 1))
    labelled_before = len(calendar.trading_days(start, last_labelled_before)) if last_labelled_before >= start else 0
    needed = training.evaluation().min_dates
    with_models = labelled_before >= needed

    run = _Runner(build_definitions(settings), dg.DagsterInstance.get(), stages=7 if with_models else 4)
    print(f"rl-assets demo: {args.days} NYSE trading days {start} .. {end}, {settings.universe} synthetic tickers")
    print(f"warehouse: DuckDB file {settings.duckdb_path} (schema {settings.dataset})", flush=True)

    started = time.perf_counter()
    prices_run, _ = run(
        "archive_job", f"prices {settings.start_date} .. {backfill_end}, the technicals' warm-up (one run)",
        ("price_data",), tags=range_run_tags(settings.start_date, backfill_end),
    )  # fmt: skip
    backfill, backfill_seconds = run(
        "daily_job", f"the history {start} .. {backfill_end}, each day's chain from the provider (one run)",
        ("options_chain_history", "technicals_history", "rl_state"), tags=range_run_tags(start, backfill_end),
    )  # fmt: skip
    # The newest session, as the evening schedule runs it, without the day's picks: no model exists
    # yet, and a day already recorded is only resolved later, so the paper-trading run below picks it.
    daily, daily_seconds = run(
        "daily_job", f"the newest session {end}: the live chain loaded and archived in-warehouse",
        ("options_chain", "price_data", "options_chain_history", "technicals_history", "rl_state"),
        partition_key=str(end),
    )  # fmt: skip
    # labels_job's rl_dataset only: there are no paper trades to resolve yet.
    dataset, dataset_seconds = run(
        "labels_job", f"labels {start} .. {labelled_end}, the days whose next {HORIZON_DAYS} sessions have landed",
        ("rl_dataset",), tags=range_run_tags(start, labelled_end),
    )  # fmt: skip

    models_run = paper_run = None
    training_seconds = paper_seconds = 0.0
    if with_models:
        for as_of, what in ((str(paper_start), f"both models as of {paper_start} (walk-forward)"), (None, "today's")):
            config = {**training.model_dump(), "as_of": as_of}
            models_run, seconds = run(
                "training_job", f"{what}: evaluate on the same folds, register a version each",
                ops={name: {"config": config} for name in MODEL_NAMES},
            )  # fmt: skip
            training_seconds += seconds
        paper_run, paper_seconds = run(
            "paper_trading_job", f"{paper_start} .. {end}: screen, pick with the version usable each day, track",
            tags=range_run_tags(paper_start, end),
        )  # fmt: skip

    history = _metadata(backfill, "options_chain_history")
    technicals = _metadata(backfill, "technicals_history")
    prices = _metadata(prices_run, "price_data")
    today = _metadata(daily, "options_chain_history")
    labels = _metadata(dataset, "rl_dataset")
    state = _metadata(backfill, "rl_state")
    print()
    print(
        f"prices    {settings.start_date} .. {backfill_end}: {prices['trading_days']} partitions, "
        f"{prices['dagster/row_count']:,} rows (one run)"
    )
    print(
        f"backfill  {start} .. {backfill_end}: {history['trading_days']} partitions, "
        f"{history['dagster/row_count']:,} contracts archived, {technicals['dagster/row_count']:,} technicals rows "
        f"({technicals['warmup_sessions']}-session warm-up); {backfill_seconds:.1f} s"
    )
    print(
        f"daily run {end}: live options_chain archived in-warehouse, {today['dagster/row_count']:,} contracts "
        f"in {daily_seconds:.1f} s"
    )
    print(
        f"rl_state  {start} .. {backfill_end}: {state['dagster/row_count']:,} candidate contracts with their "
        f"underlying's technicals ({state.get('technicals_incomplete_rows', 0):,} incomplete)"
    )
    print(
        f"rl_dataset {start} .. {labelled_end}: {labels['dagster/row_count']:,} rows, "
        f"hit_50 base rate {labels['hit_50_base_rate']:.1%}, mean reward {labels['mean_reward']:+.1%}, "
        f"exits {labels['exits']}; {dataset_seconds:.1f} s"
    )
    if models_run is None or paper_run is None:
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
        paper = _metadata(paper_run, "paper_trading_performance")
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
    print(run.checks()[0])
    print(f"total {time.perf_counter() - started:.1f} s in {len(run.results)} runs. Explore them: make ui")


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    event = result.asset_materializations_for_node(asset)[0]
    return {key: value.value for key, value in event.metadata.items()}


if __name__ == "__main__":
    main()
