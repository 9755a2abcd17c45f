"""Asset checks. The data checks on the warehouse tables: one check step per asset, after it in the
same run; and the freshness checks of the history assets, on their own deadline schedule.

The rules live in rl_assets.quality; the counts come from in-warehouse queries over every trading
day the run covers (one day, or a whole single-run backfill). The checks are not partitioned
themselves: Dagster records partitioned checks of a range run as skipped for each day, which
would hide real results. Executed on their own from the UI, they check the newest archived day.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from rl_assets import calendar, quality, reward
from rl_assets.archive import sessions_without_data
from rl_assets.defs.partitions import FRESHNESS_DEADLINE, run_days
from rl_assets.defs.resources import SIDECAR_TABLES, WAREHOUSE_POOL, MarketDataProvider, Warehouse

PRICE_DATA, OPTIONS_CHAIN_HISTORY = dg.AssetKey("price_data"), dg.AssetKey("options_chain_history")
RL_STATE, RL_DATASET = dg.AssetKey("rl_state"), dg.AssetKey("rl_dataset")

# A blocking check's failure (ERROR severity) keeps the assets downstream of its asset from running
# in that run, so a corrupt day never becomes state, labels or picks. Which checks block is declared
# with each rule (rl_assets.quality).
BLOCKING_CHECKS = {rule.name for rules in quality.RULES.values() for rule in rules if rule.blocking}
BLOCKS = " Blocking: when it fails, the assets downstream do not run."


def spec_description(rule: quality.CheckRule) -> str:
    """A declared rule's description as Dagster shows it: saying so when it blocks."""
    return rule.description + BLOCKS if rule.blocking else rule.description


def check_spec(asset: dg.AssetKey | str, rule: quality.CheckRule) -> dg.AssetCheckSpec:
    """The Dagster spec of a declared rule."""
    return dg.AssetCheckSpec(rule.name, asset=asset, description=spec_description(rule), blocking=rule.blocking)


def _specs(asset: dg.AssetKey, rules: tuple[quality.CheckRule, ...]) -> list[dg.AssetCheckSpec]:
    return [check_spec(asset, rule) for rule in rules]


def check_result(outcome: quality.CheckOutcome, asset: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    """The Dagster result of an outcome (the asset may be left out in the asset's own step)."""
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.WARN if outcome.warn_only else dg.AssetCheckSeverity.ERROR,
        description=outcome.description,
        metadata={
            k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v for k, v in outcome.metadata.items()
        },
    )


def _results(asset: dg.AssetKey, outcomes: list[quality.CheckOutcome]) -> list[dg.AssetCheckResult]:
    return [check_result(o, asset) for o in outcomes]


def _run_days(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, latest_date_statement: str
) -> list[dt.date]:
    """The run's trading days (one partition or a range, from the run's tags: the checks are not
    partitioned themselves), or the newest day in the table when the check runs on its own."""
    days = run_days(context.run.tags)
    if days and warehouse.imports_history_files:
        # A session the history files have no data for is empty by design, not a failure.
        with warehouse.session() as wh:
            empty = sessions_without_data(wh, days[0], days[-1])
        return [d for d in days if d not in empty]
    if days:
        return days
    with warehouse.session() as wh:
        latest = wh.query(latest_date_statement)["latest_date"].iloc[0]
    if pd.isna(latest):
        raise dg.Failure(description=f"nothing to check: {latest_date_statement.removesuffix('_latest_date')} is empty")
    return [pd.Timestamp(latest).date()]


def _no_sessions_with_data(asset: dg.AssetKey, rules: tuple[quality.CheckRule, ...]) -> list[dg.AssetCheckResult]:
    """Every session of the run is recorded as without data: nothing to check, nothing wrong."""
    return _results(
        asset,
        [quality.CheckOutcome(r, True, "every session of the run is recorded as without data", {}) for r in rules],
    )


@dg.multi_asset_check(specs=_specs(OPTIONS_CHAIN_HISTORY, quality.OPTIONS_CHAIN_HISTORY_RULES), pool=WAREHOUSE_POOL)
def options_chain_history_checks(
    context: dg.AssetCheckExecutionContext, market: MarketDataProvider, warehouse: Warehouse
):
    """Data-quality rules for the archived chain, evaluated for every trading day in the run."""
    days = _run_days(context, warehouse, "options_chain_history_latest_date")
    if not days:
        yield from _no_sessions_with_data(OPTIONS_CHAIN_HISTORY, quality.OPTIONS_CHAIN_HISTORY_RULES)
        return
    # Each day's universe, read before the session opens: in sidecar mode it comes from the
    # warehouse, and a second session inside an open one fails on BigQuery with a key (issue 16).
    expected_underlyings = market.tickers_by_day(days)
    with warehouse.session() as wh:
        outcomes = quality.evaluate_options_chain_history(wh, days, expected_underlyings)
    yield from _results(OPTIONS_CHAIN_HISTORY, outcomes)


@dg.multi_asset_check(specs=_specs(PRICE_DATA, quality.PRICE_DATA_RULES), pool=WAREHOUSE_POOL)
def price_data_checks(context: dg.AssetCheckExecutionContext, market: MarketDataProvider, warehouse: Warehouse):
    """Data-quality rules for daily prices, evaluated for every trading day in the run."""
    days = _run_days(context, warehouse, "price_data_latest_date")
    if not days:
        yield from _no_sessions_with_data(PRICE_DATA, quality.PRICE_DATA_RULES)
        return
    expected_tickers = market.tickers_by_day(days)  # before the session: no nested sessions (see above)
    with warehouse.session() as wh:
        window = {"start_date": days[0], "end_date": days[-1]}
        outcomes = quality.price_data_outcomes(
            wh.query("price_data_quality", window), wh.query("price_data_tickers", window), expected_tickers, days
        )
    yield from _results(PRICE_DATA, outcomes)


@dg.asset_check(
    asset=PRICE_DATA,
    name=quality.CLOSE_MATCHES_CHAIN.name,
    # It reads the archived chain too: ordered after both assets when a run has both.
    additional_deps=[OPTIONS_CHAIN_HISTORY],
    pool=WAREHOUSE_POOL,
    description=spec_description(quality.CLOSE_MATCHES_CHAIN),
    blocking=quality.CLOSE_MATCHES_CHAIN.blocking,
)
def price_data_matches_chain(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    """price_data's close against the chain's underlying price, for every trading day in the run."""
    days = _run_days(context, warehouse, "price_data_latest_date")
    if not days:
        return _no_sessions_with_data(PRICE_DATA, (quality.CLOSE_MATCHES_CHAIN,))[0]
    params = {"start_date": days[0], "end_date": days[-1], "tolerance": quality.UNDERLYING_PRICE_TOLERANCE}
    with warehouse.session() as wh:
        compared = wh.query("price_data_vs_chain", params)
        rows = None
        if len(compared) and compared["mismatched"].sum() > 0:  # name the rows only when there are some
            rows = wh.query("price_data_vs_chain_rows", {**params, "examples": quality.EXAMPLE_ROWS})
    (result,) = _results(PRICE_DATA, [quality.close_matches_chain_outcome(compared, days, rows)])
    return result


@dg.multi_asset_check(specs=_specs(RL_STATE, quality.RL_STATE_RULES), pool=WAREHOUSE_POOL)
def rl_state_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """Point-in-time and candidate rules for rl_state, evaluated for every trading day in the run."""
    days = _run_days(context, warehouse, "rl_state_latest_date")
    if not days:
        yield from _no_sessions_with_data(RL_STATE, quality.RL_STATE_RULES)
        return
    with warehouse.session() as wh:
        window = {"start_date": days[0], "end_date": days[-1]}
        outcomes = quality.rl_state_outcomes(
            wh.query("rl_state_quality", window), wh.query("rl_state_sources", window), days
        )
    yield from _results(RL_STATE, outcomes)


@dg.multi_asset_check(specs=_specs(RL_DATASET, quality.RL_DATASET_RULES), pool=WAREHOUSE_POOL)
def rl_dataset_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """Label coverage, leakage and window rules for rl_dataset, for every trading day in the run."""
    days = _run_days(context, warehouse, "rl_dataset_latest_date")
    if not days:
        yield from _no_sessions_with_data(RL_DATASET, quality.RL_DATASET_RULES)
        return
    with warehouse.session() as wh:
        window = {"start_date": days[0], "end_date": days[-1]}
        label_end = {day: reward.label_days(day)[-1] for day in days}
        outcomes = quality.rl_dataset_outcomes(wh.query("rl_dataset_quality", window), label_end, days)
    yield from _results(RL_DATASET, outcomes)


# ---- Freshness: has the latest session's partition landed by the deadline? The assets' plain
# FreshnessPolicy only sees the newest materialisation of any partition, which a backfill of an old
# day would fake. (Dagster's build_time_partition_freshness_checks reads the partitions definition's
# end_offset=1 as "tomorrow's session is due" on the evening of a holiday, so the expected day
# comes from the exchange calendar here.)
LATEST_SESSION_LANDED = quality.CheckRule(
    "latest_session_landed",
    f"Fails when the newest NYSE session whose {FRESHNESS_DEADLINE:%H:%M} New York deadline has passed has no "
    "materialised partition.",
)
# The daily assets this code location materialises; in sidecar mode price_data is the pipeline's.
HISTORY_ASSETS = ("price_data", "options_chain_history", "technicals_history")
SIDECAR_HISTORY_ASSETS = tuple(asset for asset in HISTORY_ASSETS if asset not in SIDECAR_TABLES)


def build_freshness_checks(assets: tuple[str, ...]) -> dg.AssetChecksDefinition:
    """One `latest_session_landed` check per history asset in `assets`, evaluated together on the
    freshness deadline schedule."""

    @dg.multi_asset_check(
        specs=[check_spec(asset, LATEST_SESSION_LANDED) for asset in assets],
        can_subset=True,
    )
    def history_freshness_checks(context: dg.AssetCheckExecutionContext):
        expected = calendar.latest_session_due(pd.Timestamp.now(tz="UTC"), FRESHNESS_DEADLINE)
        for check_key in context.selected_asset_check_keys:
            landed = context.instance.get_materialized_partitions(check_key.asset_key)
            newest = max(landed, default=None)
            passed = str(expected) in landed
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=check_key.name,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"partition {expected} {'has landed' if passed else 'is overdue'} "
                f"(deadline {FRESHNESS_DEADLINE:%H:%M} New York); newest partition: {newest}",
                metadata={"expected_partition": str(expected), "newest_partition": str(newest)},
            )

    return history_freshness_checks


DATA_CHECKS = [
    price_data_checks,
    price_data_matches_chain,
    options_chain_history_checks,
    rl_state_checks,
    rl_dataset_checks,
]
