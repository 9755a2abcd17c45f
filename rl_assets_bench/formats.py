"""Chain-format benchmark (issue 18): one full-market day in a vendor's layout archived through its
format (the generated SELECT: renames, units, sentinels, value maps, OCC parsing, epoch times, the
whole source row kept as JSON) against the bare INSERT ... SELECT of the same rows in the contract's
layout, in one run.

Target: mapped archive <= 1.3 x bare, for a full-market day (~1.45M contracts).

The vendor layout is Schwab's (rl_assets/formats/presets/schwab.yaml): IV in percent with -999
sentinels, CALL/PUT, padded OCC symbols parsed for the underlying and expiration, epoch-ms quote
times, and 12 columns beyond what the contract reads (kept in source_row), with every greek present so
the ratio measures the mapping, not the solver. Also measured, as context: the contract layout through
the same archive_chain (identity), and the HistoricalOptionData layout, whose missing rho makes every
row go through the IV/greeks solver (rl_assets.market.implied).

Each timed step runs in a fresh child process (rl_assets_bench.run_child), alternating, after an
untimed reset of its target table; medians over the rounds.
"""

from __future__ import annotations

import time

from rl_assets_bench import child_steps, cpu_seconds, fmt_int, median, row, warm_duckdb_python
from rl_assets_bench.archive import DATASET, DAY, SEED, TICKERS
from rl_assets_bench.archive import bare as archive_bare
from rl_assets_bench.archive import reset as archive_reset

REPEATS = 3
RATIO_TARGET = 1.3
VENDOR_TABLES = {"schwab": "schwab_chain", "historicaloptiondata": "hod_chain"}
_THIS = __name__

# The contract's rows in Schwab's layout (one row per contract, as the chain API's fields), built in
# DuckDB from the live table.
SCHWAB_LAYOUT = f"""
CREATE OR REPLACE TABLE "{DATASET}"."schwab_chain" AS SELECT
    'OPRA' AS exchangeName,
    upper(option_type) AS putCall,
    rpad(underlying, 6, ' ') || strftime(expiration, '%y%m%d') || CASE option_type WHEN 'call' THEN 'C' ELSE 'P' END
        || lpad(CAST(CAST(round(strike * 1000) AS BIGINT) AS VARCHAR), 8, '0') AS symbol,
    underlying || ' ' || strftime(expiration, '%b %d %Y') || ' ' || CAST(strike AS VARCHAR) || ' ' || option_type
        AS description,
    bid, ask, last, round((bid + ask) / 2, 3) AS mark,
    10 AS bidSize, 10 AS askSize,
    last AS highPrice, last AS lowPrice, last AS openPrice, last AS closePrice,
    volume AS totalVolume, open_interest AS openInterest,
    CAST(epoch_ms(quote_time) AS BIGINT) AS quoteTimeInLong,
    CAST(epoch_ms(quote_time) AS BIGINT) - 60000 AS tradeTimeInLong,
    COALESCE(implied_volatility * 100, -999) AS volatility,
    COALESCE(delta, -999) AS delta, COALESCE(gamma, -999) AS gamma, COALESCE(theta, -999) AS theta,
    COALESCE(vega, -999) AS vega, COALESCE(rho, -999) AS rho,
    strike AS strikePrice, dte AS daysToExpiration, 100 AS multiplier,
    underlying_price AS underlyingPrice
FROM "{DATASET}"."options_chain"
"""
# The same rows in HistoricalOptionData's layout (a date only, MM/DD/YYYY; no rho).
HISTORICALOPTIONDATA_LAYOUT = f"""
CREATE OR REPLACE TABLE "{DATASET}"."hod_chain" AS SELECT
    underlying, underlying_price AS underlying_last, 'W' AS exchange, contract_symbol AS optionroot,
    '' AS optionext, option_type AS type, strftime(expiration, '%m/%d/%Y') AS expiration,
    strftime(quote_time AT TIME ZONE 'America/New_York', '%m/%d/%Y') AS quotedate, strike, last, bid, ask,
    volume, open_interest AS openinterest, implied_volatility AS impliedvol, delta,
    gamma * 100 AS gamma, theta * 100 AS theta, vega * 100 AS vega,  -- per 100-share contract, as the vendor
    '' AS optionalias
FROM "{DATASET}"."options_chain"
"""


# ---- child-side steps (fresh processes; heavy imports inside) ---------------------------------


def setup(db_path: str, tickers: int, day: str) -> dict:
    """The day's synthetic chain as rl-assets' live table and in the two vendor layouts."""
    from rl_assets.archive import replace_live_chain
    from rl_assets.market.synthetic import SyntheticMarket
    from rl_assets.warehouse.duckdb_backend import open_duckdb

    chain = SyntheticMarket(seed=SEED, tickers=tickers).chain(day)
    with open_duckdb(db_path, DATASET) as wh:
        wh.ensure_tables()
        rows = replace_live_chain(wh, chain)
        wh.connection.execute(SCHWAB_LAYOUT)
        wh.connection.execute(HISTORICALOPTIONDATA_LAYOUT)
        columns = {layout: len(wh.columns(table)) for layout, table in VENDOR_TABLES.items()}
        wh.connection.execute("CHECKPOINT")
    return {"rows": rows, "underlyings": int(chain["underlying"].nunique()), "vendor_columns": columns}


def reset(db_path: str, which: str) -> dict:
    return archive_reset(db_path, which)


def bare(db_path: str, day: str) -> dict:
    return archive_bare(db_path, day)


def archived(db_path: str, day: str, layout: str) -> dict:
    """archive_chain of the day through `layout`'s format ('contract': the live table itself);
    timed from connect to close."""
    import datetime as dt

    import duckdb

    from rl_assets.archive import LIVE_TABLE, archive_chain, live_chain_source
    from rl_assets.settings import DEFAULT_DUCKDB_MEMORY_LIMIT
    from rl_assets.warehouse.duckdb_backend import DuckDBBackend

    table = VENDOR_TABLES.get(layout, LIVE_TABLE)
    warm_duckdb_python()
    cpu, started = cpu_seconds(), time.perf_counter()
    connection = duckdb.connect(db_path, config={"memory_limit": DEFAULT_DUCKDB_MEMORY_LIMIT})
    try:
        wh = DuckDBBackend(connection, DATASET)
        report = archive_chain(wh, dt.date.fromisoformat(day), live_chain_source(wh, table, layout))
    finally:
        connection.close()
    finished, cpu = time.perf_counter(), cpu_seconds() - cpu
    return {
        "seconds": round(finished - started, 4),
        "cpu_s": round(cpu, 4),
        "rows": report.rows,
        "computed_iv": report.computed.implied_volatility,
        "computed_greeks": report.computed.greeks,
        "no_iv": report.computed.no_iv,
    }


def verify(db_path: str, day: str) -> dict:
    """The mapped partition holds the live table's contracts with the same quotes and greeks."""
    import duckdb

    connection = duckdb.connect(db_path, read_only=True)
    try:
        differing = connection.execute(
            f"""
            SELECT COUNT(*) FROM "{DATASET}"."options_chain" AS live
            FULL JOIN (SELECT * FROM "{DATASET}"."options_chain_history" WHERE snapshot_date = DATE '{day}') AS h
                ON replace(h.contract_symbol, ' ', '') = live.contract_symbol
            WHERE h.contract_symbol IS NULL OR live.contract_symbol IS NULL
                OR h.bid IS DISTINCT FROM live.bid OR h.ask IS DISTINCT FROM live.ask
                OR abs(h.implied_volatility - live.implied_volatility) > 1e-12
                OR h.delta IS DISTINCT FROM live.delta OR h.underlying IS DISTINCT FROM live.underlying
                OR h.expiration IS DISTINCT FROM live.expiration OR h.quote_time IS DISTINCT FROM live.quote_time
            """
        ).fetchone()[0]
        kept = connection.execute(
            f"""SELECT COUNT(*) FROM "{DATASET}"."options_chain_history"
            WHERE json_extract_string(source_row, '$.exchangeName') = 'OPRA'"""
        ).fetchone()[0]
    finally:
        connection.close()
    return {"differing_rows": int(differing), "rows_with_source_row": int(kept)}


# ---- parent side -------------------------------------------------------------------------------


def run(scale: str = "full") -> dict:
    tickers = TICKERS[scale]
    with child_steps(_THIS, "formats", "formats_bench.duckdb", "db_path") as (child, db_path):
        prepared = child("setup", "setup", tickers=tickers, day=DAY)
        runs: dict[str, list[dict]] = {"mapped": [], "bare": [], "identity": []}
        for number in range(1, REPEATS + 1):
            child("reset", f"reset-history-{number}a", which="history")
            runs["mapped"].append(child("archived", f"mapped-{number}", day=DAY, layout="schwab"))
            child("reset", f"reset-bare-{number}", which="bare")
            runs["bare"].append(child("bare", f"bare-{number}", day=DAY))
            child("reset", f"reset-history-{number}b", which="history")
            runs["identity"].append(child("archived", f"identity-{number}", day=DAY, layout="contract"))
        child("reset", "reset-history-verify", which="history")
        child("archived", "mapped-verify", day=DAY, layout="schwab")
        checked = child("verify", "verify", day=DAY)
        child("reset", "reset-history-solver", which="history")
        solver = child("archived", "historicaloptiondata", day=DAY, layout="historicaloptiondata")
    return summarise(scale, tickers, prepared, runs, checked, solver)


def summarise(scale, tickers, prepared, runs, checked, solver) -> dict:
    rows = prepared["rows"]
    for kind, results in runs.items():
        for result in results:
            if result["rows"] != rows:
                raise AssertionError(f"{kind} archived {result['rows']} rows; the live table holds {rows}")
    mapped_s, bare_s, identity_s = (median([r["seconds"] for r in runs[k]]) for k in ("mapped", "bare", "identity"))
    ratio, identity_ratio, solver_ratio = mapped_s / bare_s, identity_s / bare_s, solver["seconds"] / bare_s
    full = scale == "full"
    summary = [
        f"formats {fmt_int(rows)} contracts in Schwab's layout: archived through the format {mapped_s:.2f} s vs bare "
        f"INSERT…SELECT of the contract layout {bare_s:.2f} s -> ratio {ratio:.2f} (target <= {RATIO_TARGET})",
        f"  scale {scale}: {tickers:,} underlyings, trading day {DAY}; medians of {REPEATS} alternating runs, each "
        f"in a fresh process; vendor columns {prepared['vendor_columns']}",
        f"  the contract layout through the same archive_chain (identity format): {identity_s:.2f} s -> "
        f"{identity_ratio:.2f} x bare",
        f"  HistoricalOptionData's layout (no rho: every row through the IV/greeks solver): {solver['seconds']:.2f} s "
        f"-> {solver_ratio:.2f} x bare; computed IV {fmt_int(solver['computed_iv'])}, greeks "
        f"{fmt_int(solver['computed_greeks'])}, no IV by reason {solver['no_iv']}",
        f"  verify: {checked['differing_rows']} rows differ from the live table (contract, quotes, IV, delta, "
        f"underlying, expiration, quote time); {fmt_int(checked['rows_with_source_row'])} rows keep their source row",
    ]
    metrics = [
        row(
            f"one full-market day ({fmt_int(rows)} contracts) in a vendor layout (Schwab's) archived through its format "
            "(guards, generated SELECT, source row as JSON, DELETE, INSERT, COMMIT)",
            f"{mapped_s:.2f} s",
            reference=f"bare INSERT … SELECT of the same rows in the contract's layout: {bare_s:.2f} s",
            ratio=f"{ratio:.2f}",
            target=f"<= {RATIO_TARGET}",
            met=ratio <= RATIO_TARGET and checked["differing_rows"] == 0,
            full=full,
        ),
        row(
            "the same day in HistoricalOptionData's layout (no rho: IV and greeks computed for every row)",
            f"{solver['seconds']:.2f} s",
            reference=f"bare: {bare_s:.2f} s",
            ratio=f"{solver_ratio:.2f}",
        ),
    ]
    return {
        "summary": summary,
        "metrics": metrics,
        "details": {
            "scale": scale,
            "tickers": tickers,
            "rows": rows,
            "ratio": round(ratio, 4),
            "identity_ratio": round(identity_ratio, 4),
            "solver_ratio": round(solver_ratio, 4),
            "runs": runs,
            "solver": solver,
            "verify": checked,
            "setup": prepared,
        },
    }
