"""File-import benchmark (issue 19): daily full-market files in a vendor's layout (HistoricalOptionData's,
as CSV.gz and as Parquet) imported into options_chain_history through rl_assets.files.import_chain_files
(what the options_chain_history asset calls in RL_ASSETS_MARKET=files mode) against DuckDB's own
`INSERT INTO t SELECT * FROM read_csv(file)` / `read_parquet(file)` of the same files, one file at a
time, into a plain table (no mapping, no checks), in one run.

Targets: import <= 1.3 x the reference, per format; peak memory of the importing process flat in the
number of sessions.

Layout of one run (every step a fresh child process, see rl_assets_bench.run_child):

1. setup (untimed): one full-market day from the synthetic market (archive benchmark's seed, day
   and universe), put in HistoricalOptionData's layout by formats.HISTORICALOPTIONDATA_LAYOUT, then
   written out once per session as a daily file of each format, its dates moved to that session
   (generating a year of distinct synthetic days would take hours): quotedate is the session,
   every expiration moves by the whole weeks that keep it on its weekday and on or after the
   session, and the OCC symbol is rewritten for the new expiration;
2. per format: the reference over all N files, then the import of the first N/4, N/2 and N
   sessions (one import_chain_files call each, over the whole folder, like a backfill of that
   range), each into a fresh database removed afterwards. The N run gives the ratio; the three
   runs' peak RSS show whether memory grows with the number of sessions.

N (sessions) defaults to 4, what fits in ~10 minutes on the reference machine (2 CPUs: the import
runs 7 sessions per format, ~25 s each, HistoricalOptionData's missing rho computing greeks for every
row) with ~0.7 GB of files and ~2 GB for the largest database. RL_ASSETS_BENCH_FILE_SESSIONS=N runs
more: 250 is a whole year (hours, ~40 GB of files and ~130 GB for the largest database, more than most
disks; the setup refuses when the files alone would not fit).
Everything is written under one scratch folder (rl_assets_bench.child_steps), removed at the end.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rl_assets_bench import child_steps, cpu_count, cpu_seconds, fmt_int, median, row, warm_duckdb_python
from rl_assets_bench.archive import DATASET, DAY, SEED, TICKERS
from rl_assets_bench.formats import HISTORICALOPTIONDATA_LAYOUT, VENDOR_TABLES

CHAIN_FORMAT = "historicaloptiondata"
SESSIONS = {"small": 4, "full": 4}
SESSIONS_VARIABLE = "RL_ASSETS_BENCH_FILE_SESSIONS"
KINDS_VARIABLE = "RL_ASSETS_BENCH_FILE_KINDS"
FIRST_SESSION = "2025-01-02"  # the first default partition: the sessions are consecutive from here
# File kind -> (file name suffix, DuckDB COPY options, DuckDB reader the reference uses). The CSV is
# gzipped afterwards at level 1 in Python: DuckDB's own gzip writer takes ~45 s a full-market file.
KINDS = {
    "csv.gz": (".csv.gz", "FORMAT csv, HEADER true", "read_csv"),
    "parquet": (".parquet", "FORMAT parquet", "read_parquet"),
}
RATIO_TARGET = 1.3
# Memory is flat when the N-session import peaks less than this much above the N/4 one (the scale
# benchmark's rule for a bounded peak).
FLAT_GROWTH = 1.25
DISK_MARGIN_BYTES = 2 * 2**30
_THIS = __name__


def session_count(scale: str) -> int:
    """Sessions to import: RL_ASSETS_BENCH_FILE_SESSIONS, else the scale's default."""
    value = os.environ.get(SESSIONS_VARIABLE) or SESSIONS[scale]
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{SESSIONS_VARIABLE} must be a whole number of sessions, got {value!r}") from None
    if count < 1:
        raise ValueError(f"the files benchmark needs at least 1 session, got {count}")
    return count


def file_kinds() -> list[str]:
    """File kinds to write and import: RL_ASSETS_BENCH_FILE_KINDS (comma-separated), else all."""
    value = os.environ.get(KINDS_VARIABLE, "").strip()
    kinds = [kind.strip() for kind in value.split(",") if kind.strip()] if value else list(KINDS)
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"{KINDS_VARIABLE}: unknown file kind(s) {unknown}; choose from {', '.join(KINDS)}")
    return kinds


def checkpoints(sessions: int) -> list[int]:
    """The session counts whose imports are measured: N/4, N/2 and N (fewer when N is small)."""
    return sorted({max(1, sessions // 4), max(1, sessions // 2), sessions})


# ---- child-side steps (fresh processes; heavy imports inside) ---------------------------------


def shifted_day_sql(table: str, day, session) -> str:
    """One day of `table` (HistoricalOptionData's layout, generated for `day`) as the file of
    `session`: quotedate moved to the session; expirations moved by whole weeks (ceil of the shift)
    so each stays on its weekday and on or after the session; OCC symbols rebuilt for them."""
    weeks = -((day - session).days // 7)  # ceil((session - day) / 7)
    new_expiration = f"(CAST(strptime(expiration, '%m/%d/%Y') AS DATE) + {7 * weeks})"
    return f"""
        SELECT * REPLACE (
            underlying || strftime({new_expiration}, '%y%m%d') || right(optionroot, 9) AS optionroot,
            strftime({new_expiration}, '%m/%d/%Y') AS expiration,
            '{session:%m/%d/%Y}' AS quotedate
        ) FROM "{DATASET}"."{table}"
    """


def setup(work: str, tickers: int, day: str, sessions: int, kinds: list[str]) -> dict:
    """Generate the day, put it in the vendor's layout and write one file per session and kind under
    work/<kind>/; the generation database is removed afterwards."""
    import datetime as dt
    import gzip
    import shutil

    from rl_assets import calendar
    from rl_assets.archive import replace_live_chain
    from rl_assets.market.synthetic import SyntheticMarket
    from rl_assets.warehouse.duckdb_backend import open_duckdb

    folder = Path(work)
    folder.mkdir(parents=True, exist_ok=True)
    first = dt.date.fromisoformat(FIRST_SESSION)
    days = calendar.trading_days(first, first + dt.timedelta(days=2 * sessions + 30))[:sessions]
    generated_day = dt.date.fromisoformat(day)
    table = VENDOR_TABLES[CHAIN_FORMAT]
    started = time.perf_counter()
    chain = SyntheticMarket(seed=SEED, tickers=tickers).chain(day)
    generate_s = time.perf_counter() - started
    source_db = folder / "generate.duckdb"
    files: dict[str, list[str]] = {kind: [] for kind in kinds}
    bytes_written: dict[str, int] = {}
    started = time.perf_counter()
    with open_duckdb(str(source_db), DATASET) as wh:
        wh.connection.execute("SET enable_progress_bar = false")
        wh.ensure_tables()
        rows = replace_live_chain(wh, chain)
        del chain
        wh.connection.execute(HISTORICALOPTIONDATA_LAYOUT)
        for kind in kinds:
            suffix, options, _ = KINDS[kind]
            (folder / kind).mkdir(exist_ok=True)
            for number, session in enumerate(days):
                path = folder / kind / f"hod_{session:%Y%m%d}{suffix}"
                written = path.with_suffix("") if kind == "csv.gz" else path
                wh.connection.execute(
                    f"COPY ({shifted_day_sql(table, generated_day, session)}) TO '{written}' ({options})"
                )
                if written != path:
                    with open(written, "rb") as plain, gzip.open(path, "wb", compresslevel=1) as packed:
                        shutil.copyfileobj(plain, packed, 2**20)
                    written.unlink()
                files[kind].append(str(path))
                if number == 0:  # refuse early rather than fill the disk
                    estimate = path.stat().st_size * len(days) * len(kinds)
                    free = shutil.disk_usage(folder).free
                    if estimate + DISK_MARGIN_BYTES > free:
                        raise RuntimeError(
                            f"{len(days)} sessions of {', '.join(kinds)} files need ~{estimate / 2**30:.1f} GB "
                            f"(plus the databases); {free / 2**30:.1f} GB free under {folder}: set "
                            f"{SESSIONS_VARIABLE} lower"
                        )
            bytes_written[kind] = sum(Path(p).stat().st_size for p in files[kind])
    source_db.unlink()
    Path(f"{source_db}.wal").unlink(missing_ok=True)
    return {
        "rows": rows,
        "days": [d.isoformat() for d in days],
        "files": files,
        "bytes": bytes_written,
        "generate_s": round(generate_s, 2),
        "write_s": round(time.perf_counter() - started, 2),
    }


def _remove_database(db_path: Path) -> float:
    """Delete a step's database (with its WAL and the warehouse's lock file): its size in MB."""
    size = db_path.stat().st_size / 2**20
    for path in db_path.parent.glob(db_path.name + "*"):
        path.unlink()
    return size


def reference(work: str, files: list[str], kind: str, name: str) -> dict:
    """DuckDB's own reader: INSERT INTO a plain table SELECT * FROM read_csv / read_parquet of each
    file in turn, in a fresh database with the asset's memory limit; timed from connect to close."""
    import duckdb

    from rl_assets.settings import DEFAULT_DUCKDB_MEMORY_LIMIT

    reader = KINDS[kind][2]
    db_path = Path(work) / f"{name}.duckdb"
    warm_duckdb_python()
    cpu, started = cpu_seconds(), time.perf_counter()
    connection = duckdb.connect(str(db_path), config={"memory_limit": DEFAULT_DUCKDB_MEMORY_LIMIT})
    connection.execute(f"CREATE TABLE plain AS SELECT * FROM {reader}('{files[0]}') LIMIT 0")
    per_file, rows = [], 0
    for path in files:
        begun = time.perf_counter()
        rows += connection.execute(f"INSERT INTO plain SELECT * FROM {reader}('{path}')").fetchone()[0]
        per_file.append(round(time.perf_counter() - begun, 3))
    connection.close()
    finished, cpu = time.perf_counter(), cpu_seconds() - cpu
    database_mb = _remove_database(db_path)
    return {
        "seconds": round(finished - started, 3),
        "cpu_s": round(cpu, 3),
        "rows": int(rows),
        "per_file_s": per_file,
        "database_mb": round(database_mb, 1),
    }


def imported(work: str, folder: str, days: list[str], name: str) -> dict:
    """import_chain_files of `days` from every file in `folder`, as the asset does, into a fresh
    warehouse (Warehouse.session: the asset's DuckDB settings); timed from opening the session to
    closing it. Afterwards (untimed) the rows archived per session are counted."""
    import datetime as dt

    import duckdb

    from rl_assets.defs.resources import Warehouse
    from rl_assets.files import import_chain_files, list_files

    db_path = Path(work) / f"{name}.duckdb"
    sessions = [dt.date.fromisoformat(d) for d in days]
    warm_duckdb_python()
    cpu, started = cpu_seconds(), time.perf_counter()
    # What the files-mode asset does (defs/assets/market.py, _import_history_files), Dagster aside.
    with Warehouse(duckdb_path=str(db_path), dataset=DATASET).session() as backend:
        report = import_chain_files(backend, list_files(folder), CHAIN_FORMAT, sessions, source=folder)
    finished, cpu = time.perf_counter(), cpu_seconds() - cpu
    if report.problems() or report.sessions_without_data:
        raise AssertionError(f"import problems: {report.problems()}; without data: {report.sessions_without_data}")
    connection = duckdb.connect(str(db_path), read_only=True)
    try:
        per_day = connection.execute(
            f'SELECT CAST(snapshot_date AS VARCHAR), COUNT(*) FROM "{DATASET}"."options_chain_history" '
            "GROUP BY ALL ORDER BY 1"
        ).fetchall()
    finally:
        connection.close()
    database_mb = _remove_database(db_path)
    return {
        "seconds": round(finished - started, 3),
        "cpu_s": round(cpu, 3),
        "rows": int(report.rows),
        "rows_per_day": {day: int(count) for day, count in per_day},
        "files_read": len(report.files_read),
        "computed_greeks": sum(r.computed.greeks for r in report.archived),
        "database_mb": round(database_mb, 1),
    }


# ---- parent side -------------------------------------------------------------------------------


def run(scale: str = "full") -> dict:
    tickers, count, kinds = TICKERS[scale], session_count(scale), file_kinds()
    with child_steps(_THIS, "files", "work", "work") as (child, work):
        return measure(child, work, scale, tickers, count, kinds)


def measure(child, work: str, scale: str, tickers: int, count: int, kinds: list[str]) -> dict:
    """The run's steps through `child(function, label, **kwargs)` (a fresh process each in `run`; the
    smoke test calls them in its own process at a toy size), then the summary."""
    prepared = child("setup", "setup", tickers=tickers, day=DAY, sessions=count, kinds=kinds)
    days = prepared["days"]
    references: dict[str, dict] = {}
    imports: dict[str, dict[int, dict]] = {kind: {} for kind in kinds}
    for kind in kinds:
        label = kind.replace(".", "-")
        references[kind] = child("reference", f"reference-{label}", files=prepared["files"][kind], kind=kind,
                                 name=f"reference-{label}")  # fmt: skip
        for n in checkpoints(count):
            imports[kind][n] = child("imported", f"import-{label}-{n}", folder=str(Path(work) / kind),
                                     days=days[:n], name=f"import-{label}-{n}")  # fmt: skip
    scratch_left = sorted(p.name for p in Path(work).glob("*.duckdb*"))
    return summarise(scale, tickers, count, prepared, references, imports, scratch_left)


def summarise(scale, tickers, count, prepared, references, imports, scratch_left) -> dict:
    rows_per_day, days = prepared["rows"], prepared["days"]
    for kind, runs in imports.items():
        for n, result in runs.items():
            expected = {day: rows_per_day for day in days[:n]}
            if result["rows"] != n * rows_per_day or result["rows_per_day"] != expected:
                raise AssertionError(
                    f"{kind}: importing {n} sessions archived {result['rows']} rows, per day "
                    f"{result['rows_per_day']}; each file holds {rows_per_day}"
                )
        if references[kind]["rows"] != count * rows_per_day:
            raise AssertionError(f"{kind}: the reference read {references[kind]['rows']} rows")
    if scratch_left:
        raise AssertionError(f"databases left in the scratch folder: {scratch_left}")
    full = scale == "full"
    summary = [
        f"files: {count} sessions of {fmt_int(rows_per_day)} contracts ({tickers:,} underlyings) in "
        f"HistoricalOptionData's layout, imported through import_chain_files vs DuckDB's own reader -> INSERT "
        f"(target <= {RATIO_TARGET}, memory flat in sessions)",
        f"  scale {scale}: sessions {days[0]}..{days[-1]} (one generated day, {DAY}, moved to each); files written "
        + ", ".join(f"{kind} {prepared['bytes'][kind] / 2**20:,.0f} MB" for kind in prepared["bytes"])
        + f" in {prepared['write_s']:.0f} s; each step a fresh process on {cpu_count()} CPUs",
    ]
    metrics = []
    details = {"scale": scale, "tickers": tickers, "sessions": count, "rows_per_session": rows_per_day,
               "setup": {k: v for k, v in prepared.items() if k != "files"}, "reference": references,
               "imports": {kind: {str(n): r for n, r in runs.items()} for kind, runs in imports.items()}}  # fmt: skip
    for kind, runs in imports.items():
        ref, ours = references[kind], runs[count]
        ratio = ours["seconds"] / ref["seconds"]
        rss = {n: r["peak_rss_mb"] for n, r in runs.items()}
        smallest = min(rss)
        growth = rss[count] / rss[smallest]
        flat = growth < FLAT_GROWTH
        per_session = (rss[count] - rss[smallest]) / (count - smallest) if count > smallest else 0.0
        rows = count * rows_per_day
        summary += [
            f"  {kind}: import {ours['seconds']:.1f} s ({ours['seconds'] / count:.2f} s/session, "
            f"{rows / ours['seconds']:,.0f} rows/s) vs reference {ref['seconds']:.1f} s "
            f"({ref['seconds'] / count:.2f} s/session, {rows / ref['seconds']:,.0f} rows/s) -> ratio {ratio:.2f} "
            f"(target <= {RATIO_TARGET}: {'met' if ratio <= RATIO_TARGET else 'NOT met'}); "
            f"CPU s {ours['cpu_s']:.0f} vs {ref['cpu_s']:.0f}",
            f"  {kind}: peak RSS of the importing process by sessions imported: "
            + ", ".join(f"{n}: {mb:,.0f} MB" for n, mb in rss.items())
            + f" (x{growth:.2f} from {smallest} to {count}, {per_session:+,.0f} MB per further session: "
            f"{'flat' if flat else 'GROWS'}); reference at {count}: "
            f"{ref['peak_rss_mb']:,.0f} MB; database {ours['database_mb']:,.0f} MB (reference "
            f"{ref['database_mb']:,.0f} MB); import seconds by sessions: "
            + ", ".join(f"{n}: {r['seconds']:.1f}" for n, r in runs.items()),
        ]
        metrics += [
            row(
                f"{count} daily {kind} files ({fmt_int(rows_per_day)} contracts each, HistoricalOptionData's layout) "
                "imported into options_chain_history through import_chain_files (the files-mode asset's path)",
                f"{ours['seconds']:.1f} s ({ours['seconds'] / count:.2f} s/session, "
                f"{rows / ours['seconds']:,.0f} rows/s)",
                reference=f"INSERT … SELECT * FROM {KINDS[kind][2]}(file), one file at a time: "
                f"{ref['seconds']:.1f} s ({ref['seconds'] / count:.2f} s/session)",
                ratio=f"{ratio:.2f}",
                target=f"<= {RATIO_TARGET}",
                met=ratio <= RATIO_TARGET,
                full=full,
            ),
            row(
                f"peak RSS of the {kind} importing process after " + ", ".join(str(n) for n in rss) + " sessions",
                ", ".join(f"{mb:,.0f}" for mb in rss.values()) + " MB",
                reference=f"reference reader at {count}: {ref['peak_rss_mb']:,.0f} MB",
                ratio=f"{growth:.2f}",
                target=f"flat: < {FLAT_GROWTH} x from {smallest} to {count} sessions",
                met=flat,
                full=full,
            ),
        ]
        details[f"ratio_{kind}"] = round(ratio, 4)
        details[f"rss_growth_{kind}"] = round(growth, 4)
        details[f"rss_mb_per_session_{kind}"] = round(per_session, 1)
    details["reference_per_file_median_s"] = {k: median(r["per_file_s"]) for k, r in references.items()}
    return {"summary": summary, "metrics": metrics, "details": details}
