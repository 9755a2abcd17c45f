"""Archive benchmark (docs/design.md, Performance): archiving one full-market partition through the
`options_chain_history` asset against a bare DuckDB `INSERT ... SELECT` of the same rows, in one run.

Target: asset time <= 1.2 x bare time, and peak RSS of the archiving process < 2 GB, for a
full-market day (~1.45M contracts, 5,000 underlyings).

Layout of one run (every step a fresh child process, see rl_assets_bench.run_child):

1. setup (untimed): generate the day's chain with SyntheticMarket, load it as the live
   `options_chain` table with replace_live_chain, create the empty history table;
2. REPEATS rounds, alternating, each step preceded by an untimed reset that re-creates its
   target table empty:
   - asset: `options_chain_history(build_asset_context(partition_key=day, ...))`, invoked
     directly; the timer covers the asset body: connect, schema check, the date check over
     quote_time, DELETE of the partition, INSERT ... SELECT, COMMIT and closing the connection
     (the asset checks are a separate step, timed inside the materialize runs);
   - bare: connect, the same INSERT ... SELECT written out by hand into a copy of the history
     table (same DDL, autocommit), close;
   - materialize: `dg.materialize([options_chain_history, its checks], partition_key=day, ...)`:
     the same body, the check step and Dagster's run machinery (ephemeral instance, event log);
3. verify (untimed): the asset's partition and the bare copy hold the same rows as the live table;
4. profile: one more asset run with each warehouse statement timed, on an empty partition, and
   one re-run that replaces the now-existing partition (the DELETE then has rows to remove).

The headline ratio is median(asset) / median(bare); medians over the alternating rounds. Before
its timer starts, every timed child pays the DuckDB Python module's one-off lazy import on a
throwaway in-memory database (see rl_assets_bench.warm_duckdb_python), so neither side is charged for it.
"""

from __future__ import annotations

import time
from pathlib import Path

from rl_assets_bench import (
    child_steps,
    code_location,
    cpu_count,
    cpu_seconds,
    fmt_int,
    load_average,
    median,
    row,
    rss_now_mb_rounded,
    warm_duckdb_python,
)

TICKERS = {"small": 300, "full": 5000}
REPEATS = 5
DAY = "2025-03-14"  # a Friday session, inside the default partitions (from 2025-01-02)
SEED = 7
DATASET = "rl_assets"
BARE_TABLE = "bench_bare_history"
RATIO_TARGET = 1.2
RSS_TARGET_MB = 2048

_THIS = __name__


# ---- child-side steps (run in fresh processes; heavy imports stay inside) ----------------------


def setup(db_path: str, tickers: int, day: str) -> dict:
    """Generate the day's chain and load it as the live table; create the empty history table."""
    import numpy as np
    import pandas as pd

    from rl_assets.archive import replace_live_chain
    from rl_assets.market.synthetic import SyntheticMarket
    from rl_assets.warehouse.duckdb_backend import open_duckdb

    started = time.perf_counter()
    chain = SyntheticMarket(seed=SEED, tickers=tickers).chain(day)
    # Real chains carry each contract's own last-quote time within the session, so the date check
    # cannot lean on one repeated value: spread quote_time over the 6.5 trading hours.
    seconds_before_close = np.random.default_rng(SEED).integers(0, 23_400, len(chain))
    chain["quote_time"] = chain["quote_time"] - pd.to_timedelta(seconds_before_close, unit="s")
    generated = time.perf_counter() - started
    with open_duckdb(db_path, DATASET) as wh:
        wh.ensure_tables()
        started = time.perf_counter()
        rows = replace_live_chain(wh, chain)
        wh.connection.execute("CHECKPOINT")
        loaded = time.perf_counter() - started
    return {
        "rows": rows,
        "underlyings": int(chain["underlying"].nunique()),
        "quote_time_min": str(chain["quote_time"].min()),
        "quote_time_max": str(chain["quote_time"].max()),
        "generate_s": round(generated, 3),
        "load_s": round(loaded, 3),
    }


def reset(db_path: str, which: str) -> dict:
    """Re-create an empty target: the history table ('history') or its bare copy ('bare')."""
    from rl_assets.warehouse import sql
    from rl_assets.warehouse.duckdb_backend import open_duckdb

    with open_duckdb(db_path, DATASET) as wh:
        if which == "history":
            wh.drop_table("options_chain_history")
            wh.ensure_tables()
        elif which == "bare":
            wh.drop_table(BARE_TABLE)
            # The same DDL as the history table (NOT NULL constraints included), another name.
            wh.connection.execute(
                sql.render(
                    "create_options_chain_history", "duckdb", DATASET, tables={"options_chain_history": BARE_TABLE}
                )
            )
        else:
            raise ValueError(f"reset: unknown target {which!r}")
        wh.connection.execute("CHECKPOINT")
    return {}


def _resources(db_path: str, tickers: int) -> dict:
    from rl_assets.defs.resources import SyntheticMarketProvider, Warehouse

    # universe=tickers: the every_underlying_present check expects the whole generated universe.
    return {
        "warehouse": Warehouse(duckdb_path=db_path, dataset=DATASET),
        "market": SyntheticMarketProvider(seed=SEED, universe=tickers),
    }


def _install_profiler(events: list) -> None:
    """Time every warehouse statement of the asset (profile runs only; not used for the ratio)."""
    from contextlib import contextmanager

    import duckdb

    from rl_assets.defs.resources import Warehouse
    from rl_assets.warehouse.duckdb_backend import DuckDBBackend

    def timed(label_of, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                events.append((label_of(args), started, time.perf_counter()))

        return wrapper

    DuckDBBackend.query = timed(lambda a: a[1], DuckDBBackend.query)
    DuckDBBackend.execute = timed(lambda a: a[1], DuckDBBackend.execute)
    DuckDBBackend.columns = timed(lambda a: "schema check (information_schema.columns)", DuckDBBackend.columns)
    DuckDBBackend.__init__ = timed(lambda a: "backend init (SET TimeZone, CREATE SCHEMA)", DuckDBBackend.__init__)
    duckdb.connect = timed(lambda a: "connect", duckdb.connect)

    @contextmanager
    def transaction(self):  # DuckDBBackend.transaction, with BEGIN and COMMIT timed
        started = time.perf_counter()
        self.connection.execute("BEGIN TRANSACTION")
        events.append(("BEGIN", started, time.perf_counter()))
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        started = time.perf_counter()
        self.connection.execute("COMMIT")
        events.append(("COMMIT", started, time.perf_counter()))

    DuckDBBackend.transaction = transaction
    original_session = Warehouse.session

    @contextmanager
    def session(self):  # Warehouse.session, with the closing of the connection timed
        context = original_session(self)
        backend = context.__enter__()
        try:
            yield backend
        except BaseException as error:
            if not context.__exit__(type(error), error, error.__traceback__):
                raise
            return
        started = time.perf_counter()
        context.__exit__(None, None, None)
        events.append(("close connection (checkpoint)", started, time.perf_counter()))

    Warehouse.session = session


def _breakdown(events: list, started: float, finished: float) -> list[tuple[str, float]]:
    """Seconds per step in order, merging repeats (ensure_tables' CREATEs) and naming the gaps."""
    steps: list[tuple[str, float]] = []
    cursor = started
    for label, begin, end in sorted(events, key=lambda e: e[1]):
        if label.startswith("create_"):
            label = "ensure_tables (CREATE ... IF NOT EXISTS x3)"
        if begin < cursor - 1e-9:  # nested in the step before (connect inside session): skip
            continue
        gap = begin - cursor
        if gap > 0.0005:
            steps.append((f"Python before {label}", gap))
        if steps and steps[-1][0] == label:
            steps[-1] = (label, steps[-1][1] + end - begin)
        else:
            steps.append((label, end - begin))
        cursor = end
    if finished - cursor > 0.0005:
        steps.append(("Python after close (result, Dagster output handling)", finished - cursor))
    merged: dict[str, float] = {}
    for label, seconds in steps:
        merged[label] = merged.get(label, 0.0) + seconds
    return [(label, round(seconds, 4)) for label, seconds in merged.items()]


def asset_direct(db_path: str, tickers: int, day: str, profile: bool = False) -> dict:
    """Run the asset's body for one partition by direct invocation; time the call."""
    import dagster as dg

    from rl_assets.defs.assets.market import ArchiveConfig

    options_chain_history = code_location().get_assets_def("options_chain_history")

    events: list = []
    if profile:
        _install_profiler(events)
    with dg.build_asset_context(partition_key=day, resources=_resources(db_path, tickers)) as context:
        warm_duckdb_python()
        baseline, load = rss_now_mb_rounded(), load_average()
        cpu, started = cpu_seconds(), time.perf_counter()
        result = options_chain_history(context, config=ArchiveConfig())
        finished, cpu = time.perf_counter(), cpu_seconds() - cpu
    out = _timed_run(result.metadata, started, finished, cpu, load, baseline)
    if profile:
        out["breakdown"] = _breakdown(events, started, finished)
    return out


def asset_materialize(db_path: str, tickers: int, day: str) -> dict:
    """Run the asset for one partition with dg.materialize (in-process executor, ephemeral
    instance); time the whole call."""
    import dagster as dg

    defs = code_location()
    options_chain_history = defs.get_assets_def("options_chain_history")
    options_chain_history_checks = defs.get_asset_checks_def(dg.AssetCheckKey(options_chain_history.key, "unique_key"))

    resources = _resources(db_path, tickers)
    instance = dg.DagsterInstance.ephemeral()
    warm_duckdb_python()
    baseline, load = rss_now_mb_rounded(), load_average()
    cpu, started = cpu_seconds(), time.perf_counter()
    result = dg.materialize(
        [options_chain_history, options_chain_history_checks], partition_key=day, resources=resources, instance=instance
    )
    finished, cpu = time.perf_counter(), cpu_seconds() - cpu
    steps = {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(result.run_id)}
    materialization = result.asset_materializations_for_node("options_chain_history")[0]
    return {
        **_timed_run(materialization.metadata, started, finished, cpu, load, baseline),
        "checks": {e.check_name: bool(e.passed) for e in result.get_asset_check_evaluations()},
        "check_step_s": round(steps["options_chain_history_checks"], 4),
    }


def _timed_run(metadata, started: float, finished: float, cpu: float, load, baseline) -> dict:
    """One timed archive run, with what the asset reported about itself."""
    metadata = {key: getattr(value, "value", value) for key, value in (metadata or {}).items()}
    return {
        "seconds": round(finished - started, 4),
        "cpu_s": round(cpu, 4),
        "load_before": load,
        "metadata_seconds": metadata.get("seconds"),
        "rows": int(metadata["dagster/row_count"]),
        "source": metadata.get("source"),
        "rss_before_mb": baseline,
    }


def bare(db_path: str, day: str) -> dict:
    """The reference: connect, one hand-written INSERT ... SELECT of the same rows, close."""
    import datetime as dt

    import duckdb

    from rl_assets.schema import OPTIONS_CHAIN_COLUMNS
    from rl_assets.settings import DEFAULT_DUCKDB_MEMORY_LIMIT

    columns = ", ".join(OPTIONS_CHAIN_COLUMNS)
    statement = (
        f'INSERT INTO "{DATASET}"."{BARE_TABLE}" ({columns}, snapshot_date, archived_at) '
        f'SELECT {columns}, $snapshot_date, $archived_at FROM "{DATASET}"."options_chain"'
    )
    params = {"snapshot_date": dt.date.fromisoformat(day), "archived_at": dt.datetime.now(dt.UTC)}
    warm_duckdb_python()
    baseline, load = rss_now_mb_rounded(), load_average()
    cpu, started = cpu_seconds(), time.perf_counter()
    # The same DuckDB as the asset's: its memory limit too (rl_assets.settings).
    connection = duckdb.connect(db_path, config={"memory_limit": DEFAULT_DUCKDB_MEMORY_LIMIT})
    connection.execute("SET TimeZone = 'UTC'")
    connected = time.perf_counter()
    rows = connection.execute(statement, params).fetchall()[0][0]
    inserted = time.perf_counter()
    connection.close()
    finished, cpu = time.perf_counter(), cpu_seconds() - cpu
    return {
        "seconds": round(finished - started, 4),
        "cpu_s": round(cpu, 4),
        "load_before": load,
        "connect_s": round(connected - started, 4),
        "insert_s": round(inserted - connected, 4),
        "close_s": round(finished - inserted, 4),
        "rows": int(rows),
        "rss_before_mb": baseline,
    }


def verify(db_path: str, day: str) -> dict:
    """The asset's partition and the bare copy both hold exactly the live table's rows."""
    import datetime as dt

    import duckdb

    from rl_assets.schema import OPTIONS_CHAIN_COLUMNS

    columns = ", ".join(OPTIONS_CHAIN_COLUMNS)
    connection = duckdb.connect(db_path, read_only=True)
    try:
        connection.execute("SET TimeZone = 'UTC'")

        def fingerprint(table: str, where: str, date_expr: str) -> list:
            return list(
                connection.execute(
                    f'SELECT COUNT(*), BIT_XOR(HASH({columns}, {date_expr})) FROM "{DATASET}"."{table}" {where}',
                    {"d": dt.date.fromisoformat(day)} if "$d" in where + date_expr else None,
                ).fetchone()
            )

        live = fingerprint("options_chain", "", "$d")
        asset = fingerprint("options_chain_history", "WHERE snapshot_date = $d", "snapshot_date")
        copy = fingerprint(BARE_TABLE, "WHERE snapshot_date = $d", "snapshot_date")
        history_total = connection.execute(f'SELECT COUNT(*) FROM "{DATASET}"."options_chain_history"').fetchone()[0]
    finally:
        connection.close()
    return {
        "live": live,
        "asset_partition": asset,
        "bare_copy": copy,
        "history_rows_total": int(history_total),
        "same_rows": live == asset == copy and history_total == live[0],
    }


# ---- parent side -------------------------------------------------------------------------------


def run(scale: str = "full") -> dict:
    tickers = TICKERS[scale]
    with child_steps(_THIS, "archive", "archive_bench.duckdb", "db_path") as (child, db_path):
        prepared = child("setup", "setup", tickers=tickers, day=DAY)
        runs: dict[str, list[dict]] = {"asset": [], "bare": [], "materialize": []}
        for number in range(1, REPEATS + 1):
            child("reset", f"reset-history-{number}a", which="history")
            runs["asset"].append(child("asset_direct", f"asset-{number}", tickers=tickers, day=DAY))
            child("reset", f"reset-bare-{number}", which="bare")
            runs["bare"].append(child("bare", f"bare-{number}", day=DAY))
            child("reset", f"reset-history-{number}b", which="history")
            runs["materialize"].append(child("asset_materialize", f"materialize-{number}", tickers=tickers, day=DAY))
        checked = child("verify", "verify", day=DAY)
        child("reset", "reset-history-profile", which="history")
        profiled = child("asset_direct", "asset-profile", tickers=tickers, day=DAY, profile=True)
        # The partition now exists: a re-run replaces it (its DELETE removes a whole day).
        rerun = child("asset_direct", "asset-profile-rerun", tickers=tickers, day=DAY, profile=True)
        database_mb = Path(db_path).stat().st_size / 2**20

    return summarise(scale, tickers, prepared, runs, checked, profiled, rerun, database_mb)


def summarise(scale, tickers, prepared, runs, checked, profiled, rerun, database_mb) -> dict:
    rows = prepared["rows"]
    for kind, results in runs.items():
        for result in results:
            if result["rows"] != rows:
                raise AssertionError(f"{kind} archived {result['rows']} rows; the live table holds {rows}")
    asset_s = median([r["seconds"] for r in runs["asset"]])
    bare_s = median([r["seconds"] for r in runs["bare"]])
    bare_insert_s = median([r["insert_s"] for r in runs["bare"]])
    materialize_s = median([r["seconds"] for r in runs["materialize"]])
    materialize_body_s = median([r["metadata_seconds"] for r in runs["materialize"]])
    ratio = asset_s / bare_s
    materialize_ratio = materialize_s / bare_s
    # Robustness views (the headline stays the median): the fastest run of each side, and CPU
    # seconds, which a busy neighbour on the machine inflates much less than wall time.
    min_ratio = min(r["seconds"] for r in runs["asset"]) / min(r["seconds"] for r in runs["bare"])
    asset_cpu, bare_cpu = median([r["cpu_s"] for r in runs["asset"]]), median([r["cpu_s"] for r in runs["bare"]])
    cpu_ratio = asset_cpu / bare_cpu
    spread = {kind: max(r["seconds"] for r in rs) / min(r["seconds"] for r in rs) for kind, rs in runs.items()}
    loads = [r["load_before"] for rs in runs.values() for r in rs]
    noisy = max(spread["asset"], spread["bare"]) > 1.25
    rss = {kind: max(r["peak_rss_mb"] for r in results) for kind, results in runs.items()}
    hwm = {kind: max(r["vm_hwm_mb"] or 0 for r in results) for kind, results in runs.items()}
    before = {kind: max(r["rss_before_mb"] or 0 for r in results) for kind, results in runs.items()}
    checks = runs["materialize"][-1]["checks"]
    check_step_s = median([r["check_step_s"] for r in runs["materialize"]])
    failed_checks = sorted(name for name, passed in checks.items() if not passed)
    full = scale == "full"

    def per_run(kind: str) -> str:
        return ", ".join(f"{r['seconds']:.2f}" for r in runs[kind])

    def steps(profile: dict) -> str:
        return "; ".join(f"{label} {seconds:.3f}" for label, seconds in profile["breakdown"])

    summary = [
        f"archive {fmt_int(rows)} rows: asset {asset_s:.2f} s vs bare INSERT…SELECT {bare_s:.2f} s "
        f"-> ratio {ratio:.2f} (target <= {RATIO_TARGET}); peak RSS asset {rss['asset']:.0f} MB "
        f"(target < {RSS_TARGET_MB} MB)",
        f"  scale {scale}: {tickers:,} underlyings, {prepared['underlyings']:,} with contracts, trading day {DAY}; "
        f"medians of {REPEATS} alternating runs, each in a fresh process on the same DuckDB file "
        f"({database_mb:.0f} MB at the end)",
        "  asset = options_chain_history invoked directly (build_asset_context): connect, ensure_tables, schema check, "
        "date check, bad-quote screen (duplicates, option types, non-finite values), DELETE, INSERT…SELECT, "
        "COMMIT, close (the asset checks are their own step)",
        "  bare  = duckdb.connect, one INSERT…SELECT (autocommit) into a copy of the history table, close",
        f"  materialize() wall, asset plus Dagster run machinery (ephemeral instance): {materialize_s:.2f} s "
        f"-> {materialize_ratio:.2f} x bare; the asset's own 'seconds' metadata inside it {materialize_body_s:.2f} s; "
        f"the check step (7 checks, 3 queries) {check_step_s:.2f} s",
        f"  rows/s: asset {rows / asset_s:,.0f}, bare {rows / bare_s:,.0f}; bare INSERT statement alone "
        f"{bare_insert_s:.2f} s (connect {median([r['connect_s'] for r in runs['bare']]):.3f} s, "
        f"close {median([r['close_s'] for r in runs['bare']]):.3f} s)",
        f"  peak RSS (ru_maxrss, max over runs): asset {rss['asset']:.0f} MB, materialize {rss['materialize']:.0f} MB, "
        f"bare {rss['bare']:.0f} MB; RSS after imports, before the timed call: asset {before['asset']:.0f} MB, "
        f"materialize {before['materialize']:.0f} MB, bare {before['bare']:.0f} MB",
        f"  per run (s): asset [{per_run('asset')}], bare [{per_run('bare')}], materialize [{per_run('materialize')}]; "
        f"1-min load average before the timed steps {min(loads):.2f}..{max(loads):.2f} on {cpu_count()} CPUs",
        f"  robustness: ratio of the fastest runs {min_ratio:.2f}; CPU seconds (all threads) asset {asset_cpu:.2f} "
        f"vs bare {bare_cpu:.2f} -> {cpu_ratio:.2f}"
        + (
            f"; NOISY: run-to-run spread asset x{spread['asset']:.2f}, bare x{spread['bare']:.2f} "
            f"(something else was using the CPUs)"
            if noisy
            else ""
        ),
        f"  setup (untimed, own process): chain generated in {prepared['generate_s']:.1f} s, loaded with "
        f"replace_live_chain in {prepared['load_s']:.1f} s, peak RSS {prepared['peak_rss_mb']:.0f} MB",
        f"  same rows: {checked['same_rows']} (live table, asset partition and bare copy: equal count and row hash); "
        f"checks failed: {', '.join(failed_checks) or 'none'}",
        f"  profiled asset run, empty partition ({profiled['seconds']:.2f} s): {steps(profiled)}",
        f"  profiled re-run replacing the partition ({rerun['seconds']:.2f} s): {steps(rerun)}",
    ]
    metrics = [
        row(
            f"one full-market partition ({fmt_int(rows)} contracts) through the options_chain_history asset body: "
            "schema check, date check, bad-quote screen, DELETE, INSERT … SELECT, COMMIT (median of runs)",
            f"{asset_s:.2f} s",
            reference=f"bare INSERT … SELECT of the same rows into a copy of the table, same file: {bare_s:.2f} s",
            ratio=f"{ratio:.2f}",
            target=f"<= {RATIO_TARGET}",
            met=ratio <= RATIO_TARGET,
            full=full,
        ),
        row(
            "peak RSS of the archiving process (asset, direct)",
            f"{rss['asset']:.0f} MB",
            reference=f"bare: {rss['bare']:.0f} MB",
            ratio=f"{rss['asset'] / rss['bare']:.2f}",
            target=f"< {RSS_TARGET_MB} MB",
            met=rss["asset"] < RSS_TARGET_MB,
            full=full,
        ),
        row(
            "the same partition through dg.materialize (asset + its checks as a second step + Dagster's run machinery)",
            f"{materialize_s:.2f} s (check step {check_step_s:.2f} s), peak RSS {rss['materialize']:.0f} MB",
            reference=f"bare: {bare_s:.2f} s",
            ratio=f"{materialize_ratio:.2f}",
            target=f"peak RSS < {RSS_TARGET_MB} MB",
            met=rss["materialize"] < RSS_TARGET_MB,
            full=full,
        ),
        row(
            "robustness: ratio of the fastest runs / of CPU seconds",
            f"{min_ratio:.2f} / {cpu_ratio:.2f}",
            reference="the same views of the bare statement",
        ),
    ]
    return {
        "summary": summary,
        "metrics": metrics,
        "details": {
            "scale": scale,
            "tickers": tickers,
            "trading_day": DAY,
            "repeats": REPEATS,
            "rows": rows,
            "ratio": round(ratio, 4),
            "materialize_ratio": round(materialize_ratio, 4),
            "min_ratio": round(min_ratio, 4),
            "cpu_ratio": round(cpu_ratio, 4),
            "asset_cpu_s_median": asset_cpu,
            "bare_cpu_s_median": bare_cpu,
            "spread_max_over_min": {k: round(v, 3) for k, v in spread.items()},
            "noisy": noisy,
            "load_before_range": [min(loads), max(loads)],
            "asset_s_median": asset_s,
            "bare_s_median": bare_s,
            "bare_insert_s_median": bare_insert_s,
            "materialize_s_median": materialize_s,
            "materialize_body_s_median": materialize_body_s,
            "check_step_s_median": check_step_s,
            "peak_rss_mb": rss,
            "vm_hwm_mb": hwm,
            "rss_before_timed_call_mb": before,
            "setup": prepared,
            "runs": runs,
            "verify": checked,
            "profile_empty_partition": profiled,
            "profile_rerun_replacing_partition": rerun,
            "database_mb": round(database_mb, 1),
            "ratio_met": ratio <= RATIO_TARGET,
            "rss_met": max(rss["asset"], rss["materialize"]) < RSS_TARGET_MB,
        },
    }
