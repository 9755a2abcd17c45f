"""Scale benchmark: the full US options market, backfilled end to end on the embedded default.

For each size (underlyings x trading days) a fresh DuckDB warehouse is built by the assets
themselves, each stage one single-run backfill through `dg.materialize` (in-process executor,
ephemeral instance), asset checks included, each stage in a fresh child process so its peak RSS
is its own:

1. prices      price_data for the technicals' warm-up (WARMUP_SESSIONS) through the last label day;
2. archive     options_chain_history for the days and their HORIZON_DAYS label days, each day's
               chain from the synthetic provider (generated, loaded, archived: one day at a time);
3. technicals  technicals_history for the days;
4. state       rl_state for the days;
5. dataset     rl_dataset for the days.

Measured per stage: wall time of the run, the asset step and the check step (Dagster's step
stats), rows written and rows/s, peak RSS, and the warehouse file's size after it. The reference
beside each stage, measured in the same run on the same file: DuckDB copying the rows the stage
wrote (`CREATE TABLE ... AS SELECT *` of them), i.e. what merely storing that many rows costs.

Sizes: the contract axis (500, 1,500, 5,000 underlyings at 20 days), the day axis (5, 10, 20 days
at 5,000 underlyings), a longer range of a smaller market (500 underlyings, 20 and 126 days: two
blocks of the technicals, 126 per-day statements) and docs/design.md's year of the default universe
(20 underlyings, 252 days in one run). The full-market 20-day warehouse is
then measured for BigQuery's costs (rl_assets_bench.bigquery_cost).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rl_assets_bench import REPO_ROOT, child_steps, code_location, fmt_int, row, timed_call, warm_duckdb_python

SEED = 7
DATASET = "rl_assets"
FIRST_DAY = "2025-03-03"  # a Monday; the year run starts here too
STAGES = ("prices", "archive", "technicals", "state", "dataset")
# The table each stage writes and its date column.
STAGE_TABLES = {
    "prices": ("price_data", "date"),
    "archive": ("options_chain_history", "snapshot_date"),
    "technicals": ("technicals_history", "date"),
    "state": ("rl_state", "snapshot_date"),
    "dataset": ("rl_dataset", "snapshot_date"),
}
FULL_MARKET = 5000
SIZES = {
    "full": {
        "contracts": [(500, 20), (1500, 20), (FULL_MARKET, 20)],
        "days": [(FULL_MARKET, 5), (FULL_MARKET, 10), (FULL_MARKET, 20)],
        # A long range over a smaller market: several technicals blocks, 126 per-day statements.
        "long": [(500, 20), (500, 126)],
        "year": [(20, 252)],
    },
    "small": {
        "contracts": [(20, 5), (60, 5), (120, 5)],
        "days": [(120, 2), (120, 3), (120, 5)],
        "long": [(20, 5), (20, 30)],
        "year": [(5, 40)],
    },
}
PLOT_PATH = REPO_ROOT / "docs" / "bench" / "scale.png"

_THIS = __name__


def _sessions(days: int) -> dict:
    """The stage windows for `days` trading days from FIRST_DAY."""
    from rl_assets import calendar
    from rl_assets.reward import HORIZON_DAYS
    from rl_assets.technicals import WARMUP_SESSIONS

    first = calendar.require_trading_day(FIRST_DAY)
    last = calendar.shift_trading_days(first, days - 1)
    return {
        "first": str(first),
        "last": str(last),
        "label_end": str(calendar.shift_trading_days(last, HORIZON_DAYS)),
        "warmup_start": str(calendar.shift_trading_days(first, -WARMUP_SESSIONS)),
    }


# ---- child-side steps ----------------------------------------------------------------------------


def stage(db_path: str, name: str, tickers: int, days: int) -> dict:
    """One stage as a single-run backfill: dg.materialize of the asset and its checks over a range."""
    window = _sessions(days)
    import dagster as dg

    from rl_assets.defs.partitions import range_run_tags
    from rl_assets.defs.resources import SyntheticMarketProvider, Warehouse

    # The partitions start at the technicals' warm-up before the window.
    defs = code_location(start_date=dt.date.fromisoformat(window["warmup_start"]))

    def with_checks(asset: str, first_check: str | None) -> list:
        key = dg.AssetKey(asset)
        checks = [defs.get_asset_checks_def(dg.AssetCheckKey(key, first_check))] if first_check else []
        return [defs.get_assets_def(key), *checks]

    assets, start, end = {
        "prices": (with_checks("price_data", "unique_key"), window["warmup_start"], window["label_end"]),
        "archive": (with_checks("options_chain_history", "unique_key"), window["first"], window["label_end"]),
        "technicals": (with_checks("technicals_history", None), window["first"], window["last"]),
        "state": (with_checks("rl_state", "unique_key"), window["first"], window["last"]),
        "dataset": (with_checks("rl_dataset", "unique_key"), window["first"], window["last"]),
    }[name]
    resources = {
        "warehouse": Warehouse(duckdb_path=db_path, dataset=DATASET),
        # universe=tickers: the every_underlying_present check expects the whole generated universe.
        "market": SyntheticMarketProvider(seed=SEED, universe=tickers),
    }
    instance = dg.DagsterInstance.ephemeral()
    warm_duckdb_python()
    result, timing = timed_call(
        dg.materialize, assets, resources=resources, instance=instance, tags=range_run_tags(start, end)
    )
    steps = {s.step_key: round(s.end_time - s.start_time, 3) for s in instance.get_run_step_stats(result.run_id)}
    asset_key = assets[0].key.to_user_string()
    metadata = result.asset_materializations_for_node(asset_key)[0].metadata
    failed_checks = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    return {
        **timing,
        "start": start,
        "end": end,
        "rows": int(metadata["dagster/row_count"].value),
        "trading_days": int(metadata["trading_days"].value),
        "asset_step_s": steps.get(asset_key),
        "check_step_s": sum(s for key, s in steps.items() if key != asset_key),
        "checks_failed": failed_checks,
        "file_mb": _file_mb(db_path),
    }


def copy_reference(db_path: str, name: str, start: str, end: str) -> dict:
    """The reference: DuckDB storing the rows the stage wrote again, with the same memory limit,
    into a scratch database file beside the warehouse (CREATE TABLE ... AS SELECT, checkpointed),
    so the warehouse's own file and its size are left as the stage left them."""
    import duckdb

    from rl_assets.settings import DEFAULT_DUCKDB_MEMORY_LIMIT

    table, column = STAGE_TABLES[name]
    scratch = Path(db_path).with_name("copy_reference.duckdb")
    with duckdb.connect(str(scratch), config={"memory_limit": DEFAULT_DUCKDB_MEMORY_LIMIT}) as connection:
        connection.execute(f"ATTACH '{db_path}' AS warehouse (READ_ONLY)")

        def copy() -> int:
            connection.execute(
                f"CREATE TABLE bench_copy AS SELECT * FROM warehouse.{DATASET}.{table} "
                f"WHERE {column} BETWEEN $start AND $end",
                {"start": start, "end": end},
            )
            connection.execute("CHECKPOINT")
            return connection.execute("SELECT count(*) FROM bench_copy").fetchone()[0]

        rows, timing = timed_call(copy)
    scratch.unlink()
    return {**timing, "rows": rows}


def _file_mb(db_path: str) -> float:
    """The warehouse on disk: the DuckDB file and its write-ahead log."""
    paths = [Path(db_path), Path(db_path + ".wal")]
    return round(sum(p.stat().st_size for p in paths if p.exists()) / 2**20, 1)


def cost_estimate(db_path: str) -> dict:
    from rl_assets_bench.bigquery_cost import estimate

    return estimate(db_path, DATASET)


# ---- parent side -------------------------------------------------------------------------------


def build(tickers: int, days: int, *, with_cost: bool = False) -> dict:
    """Backfill one size end to end in a fresh warehouse; with_cost: BigQuery's costs measured on it."""
    label = f"{tickers}x{days}"
    with child_steps(_THIS, "scale", f"scale_{label}.duckdb", "db_path") as (child, db_path):
        stages = {}
        for name in STAGES:
            measured = child("stage", f"{label}-{name}", name=name, tickers=tickers, days=days)
            measured["reference"] = child(
                "copy_reference", f"{label}-{name}-copy", name=name, start=measured["start"], end=measured["end"]
            )
            stages[name] = measured
        cost = child("cost_estimate", f"{label}-bigquery-cost") if with_cost else None
    archive = stages["archive"]
    return {
        "tickers": tickers,
        "days": days,
        "contracts_per_day": round(archive["rows"] / archive["trading_days"]),
        "stages": stages,
        "total_s": round(sum(s["seconds"] for s in stages.values()), 1),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in stages.values()),
        "file_mb": stages[STAGES[-1]]["file_mb"],
        "bigquery_cost": cost,
    }


def run(scale: str = "full") -> dict:
    sizes = SIZES[scale]
    unique = list(dict.fromkeys(size for axis in sizes.values() for size in axis))
    largest = sizes["days"][-1]
    built = {f"{t}x{d}": build(t, d, with_cost=(t, d) == largest) for t, d in unique}
    plot(built, sizes, PLOT_PATH if scale == "full" else REPO_ROOT / "bench_results" / "scale-small.png")
    return summarise(scale, sizes, built)


def _rate(rows: int, seconds: float) -> str:
    per_second = rows / seconds if seconds else 0.0
    return f"{per_second / 1e3:,.0f}k rows/s" if per_second >= 10_000 else f"{per_second:,.0f} rows/s"


def _stage_line(size: dict) -> str:
    parts = []
    for name, s in size["stages"].items():
        parts.append(f"{name} {s['seconds']:.1f} s ({_rate(s['rows'], s['seconds'])}, {s['peak_rss_mb']:.0f} MB)")
    return "; ".join(parts)


def summarise(scale: str, sizes: dict, built: dict) -> dict:
    full = scale == "full"
    main_key = f"{sizes['days'][-1][0]}x{sizes['days'][-1][1]}"
    main = built[main_key]
    summary = [
        f"scale: {main['tickers']:,} underlyings x {main['days']} days ({main['contracts_per_day']:,} contracts/day): "
        f"{main['total_s']:.0f} s end to end, peak RSS {main['peak_rss_mb']:.0f} MB, warehouse {main['file_mb']:,.0f} MB",
    ]
    for key, size in built.items():
        summary.append(f"  {key}: {_stage_line(size)}; file {size['file_mb']:,.0f} MB")

    metrics = []
    for name, s in main["stages"].items():
        ref = s["reference"]
        table = STAGE_TABLES[name][0]
        metrics.append(
            row(
                f"{name}: {table}, {fmt_int(s['rows'])} rows ({s['start']}..{s['end']}) in one run, checks included "
                f"(asset step {s['asset_step_s']:.1f} s, checks {s['check_step_s']:.1f} s)",
                f"{s['seconds']:.1f} s, {_rate(s['rows'], s['seconds'])}, peak RSS {s['peak_rss_mb']:,.0f} MB",
                reference=f"storing those rows in DuckDB: {ref['seconds']:.1f} s, {_rate(ref['rows'], ref['seconds'])}",
                ratio=f"{s['seconds'] / max(ref['seconds'], 1e-9):.1f}",
            )
        )
    metrics.append(
        row(
            f"end to end: {main['tickers']:,} underlyings x {main['days']} days "
            f"({main['contracts_per_day']:,} contracts/day), five single-run backfills",
            f"{main['total_s']:.0f} s, warehouse file {main['file_mb']:,.0f} MB",
            reference=f"storing every row written: {sum(s['reference']['seconds'] for s in main['stages'].values()):.0f} s",
            ratio=f"{main['total_s'] / sum(s['reference']['seconds'] for s in main['stages'].values()):.1f}",
        )
    )
    # Memory bound: peak RSS as the range grows, full market and a longer range of a smaller one.
    for axis, where in (("days", "full market"), ("long", f"{sizes['long'][0][0]:,} underlyings")):
        shortest, longest = (built[f"{t}x{d}"] for t, d in (sizes[axis][0], sizes[axis][-1]))
        growth = longest["peak_rss_mb"] / shortest["peak_rss_mb"]
        metrics.append(
            row(
                f"peak RSS of any stage, {longest['days']} days vs {shortest['days']} days ({where})",
                f"{longest['peak_rss_mb']:,.0f} MB",
                reference=f"{shortest['days']} days: {shortest['peak_rss_mb']:,.0f} MB",
                ratio=f"{growth:.2f}",
                target=f"bounded: < 1.25 with {longest['days'] / shortest['days']:.1f}x the days",
                met=growth < 1.25,
                full=full,
            )
        )
    year = built[f"{sizes['year'][0][0]}x{sizes['year'][0][1]}"]
    metrics.append(
        row(
            f"a year of the default universe: {year['tickers']} underlyings x {year['days']} days, "
            "five single-run backfills",
            f"{year['total_s']:.0f} s, peak RSS {year['peak_rss_mb']:,.0f} MB, file {year['file_mb']:,.0f} MB",
            reference=f"storing every row written: {sum(s['reference']['seconds'] for s in year['stages'].values()):.0f} s",
            ratio=f"{year['total_s'] / sum(s['reference']['seconds'] for s in year['stages'].values()):.1f}",
            target="252 trading days in one run (docs/design.md)",
            met=year["days"] >= 252 and not any(s["checks_failed"] for s in year["stages"].values()),
            full=full,
        )
    )
    return {
        "summary": summary,
        "metrics": metrics,
        "markdown": growth_markdown(built) + _cost_markdown(built),
        "details": {"sizes": sizes, "built": built, "plot": str(PLOT_PATH)},
    }


def _cost_markdown(built: dict) -> str:
    costs = [size["bigquery_cost"] for size in built.values() if size.get("bigquery_cost")]
    if not costs:
        return ""
    from rl_assets_bench.bigquery_cost import markdown

    return "\n\n**BigQuery: a year of the full market, from the row sizes measured above**\n\n" + markdown(costs[0])


def growth_markdown(built: dict) -> str:
    """Every size built: seconds and peak RSS per stage, the warehouse file, per million contracts."""
    header = ["underlyings x days", "contracts archived"]
    header += [f"{name} s / peak MB" for name in STAGES]
    header += ["end to end", "warehouse file", "file per M contracts"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for size in sorted(built.values(), key=lambda s: (s["tickers"], s["days"])):
        archived = size["stages"]["archive"]["rows"]
        cells = [f"{size['tickers']:,} x {size['days']}", f"{archived:,}"]
        cells += [f"{size['stages'][n]['seconds']:.1f} / {size['stages'][n]['peak_rss_mb']:,.0f}" for n in STAGES]
        cells += [
            f"{size['total_s']:.0f} s",
            f"{size['file_mb']:,.0f} MB",
            f"{size['file_mb'] / (archived / 1e6):.0f} MB",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(built: dict, sizes: dict, path: Path) -> None:
    """Time per stage, peak RSS per stage and warehouse size against contracts and against days."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    rows = [
        (
            "contracts",
            lambda s: s["contracts_per_day"] / 1e6,
            f"contracts per day (millions), {sizes['contracts'][0][1]} days",
        ),
        ("days", lambda s: s["days"], "trading days in one backfill"),
    ]
    for row_axes, (axis_name, x_of, x_label) in zip(axes, rows, strict=True):
        points = [built[f"{t}x{d}"] for t, d in sizes[axis_name]]
        xs = [x_of(p) for p in points]
        for name in STAGES:
            row_axes[0].plot(xs, [p["stages"][name]["seconds"] for p in points], marker="o", label=name)
            row_axes[1].plot(xs, [p["stages"][name]["peak_rss_mb"] for p in points], marker="o", label=name)
        row_axes[2].plot(xs, [p["file_mb"] / 1024 for p in points], marker="o", color="black", label="full market")
        if axis_name == "days":  # the longer range of a smaller market, end to end and its highest stage
            long = [built[f"{t}x{d}"] for t, d in sizes["long"]]
            label = f"{sizes['long'][0][0]:,} underlyings"
            long_days = [p["days"] for p in long]
            row_axes[0].plot(long_days, [p["total_s"] for p in long], "k--", marker="s", label=f"{label}: all stages")
            row_axes[1].plot(long_days, [p["peak_rss_mb"] for p in long], "k--", marker="s", label=f"{label}: highest")
            row_axes[2].plot(long_days, [p["file_mb"] / 1024 for p in long], "k--", marker="s", label=label)
            row_axes[2].legend(fontsize=8)
        titles = ["seconds per stage (one run each)", "peak RSS per stage (MB)", "warehouse file (GiB)"]
        for ax, y_label in zip(row_axes, titles, strict=True):
            ax.set_xlabel(x_label)
            ax.set_ylabel(y_label)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
        row_axes[0].legend(fontsize=8)
        row_axes[1].legend(fontsize=8)
    figure.suptitle("rl-assets on the embedded default (DuckDB): single-run backfills as the market and the range grow")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
