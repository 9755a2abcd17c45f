"""`make demo-real`: the graph on a real chain, the VXX month shipped with the tests
(rl_assets_tests/data/vxx_options_2016-12.csv.gz: HistoricalOptionData's layout, 20 sessions of
December 2016, MIT; see rl_assets_tests/data/README.md), or your own files (--files, --format), in
files mode (RL_ASSETS_MARKET=files), run by the code location's own jobs as from the UI:

    archive_job   the files imported session by session into options_chain_history, price_data
                  built from the chain (close-only bars: the file has no price history), technicals
    dataset_job   rl_state for every session, then rl_dataset for those whose next three sessions
                  are in the files

It writes its own DuckDB file (data/real.duckdb), never `make demo`'s, and prints what the month
holds and what it is too short for. The models are not trained: their walk-forward evaluation needs
more labelled sessions than a month has, and the demo says how many.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)

from rl_assets import calendar  # noqa: E402
from rl_assets.defs.assets.models import TrainingConfig  # noqa: E402
from rl_assets.defs.checks import BLOCKING_CHECKS  # noqa: E402
from rl_assets.defs.code_location import build_definitions  # noqa: E402
from rl_assets.defs.demo import _metadata, _Runner  # noqa: E402
from rl_assets.defs.partitions import range_run_tags  # noqa: E402
from rl_assets.files import date_in_name, list_files  # noqa: E402
from rl_assets.reward import HORIZON_DAYS  # noqa: E402
from rl_assets.settings import DATA_DIR, REPO_ROOT, Settings  # noqa: E402

VXX_MONTH = REPO_ROOT / "rl_assets_tests" / "data" / "vxx_options_2016-12.csv.gz"
# The technicals' longest windows, in sessions of price history (rl_assets/technicals.py).
LONGEST_WINDOWS = {"sma_200": 200, "sma_50": 50, "macd_signal": 34, "adx_14": 28, "sma_20 / bb / realized_vol_20": 20}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", default=str(VXX_MONTH), help="chain files: a folder, a glob or a file")
    parser.add_argument("--format", default="historicaloptiondata", help="their chain format (a preset or YAML)")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2016, 12, 1), help="first session")
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2016, 12, 30), help="last session")
    parser.add_argument("--duckdb", default=str(DATA_DIR / "real.duckdb"), help="the DuckDB file it writes")
    args = parser.parse_args(argv)
    sessions = calendar.trading_days(args.start, args.end)
    if len(sessions) <= HORIZON_DAYS:
        parser.error(f"{args.start} .. {args.end} has {len(sessions)} sessions: labels need {HORIZON_DAYS} after a day")
    first, last = sessions[0], sessions[-1]
    labelled_end = calendar.shift_trading_days(last, -HORIZON_DAYS)

    settings = Settings(
        market="files",
        chain_files=args.files,
        chain_format=args.format,
        start_date=first,
        duckdb_path=args.duckdb,
        model_store=str(DATA_DIR / "real-models"),
    )
    run = _Runner(build_definitions(settings), dg.DagsterInstance.get(), stages=3)
    files = list_files(args.files)
    dated = [d for d in (date_in_name(f) for f in files) if d is not None]
    print(f"rl-assets real-data demo: {len(files)} file(s) in {args.format!r} layout, sessions {first} .. {last}")
    if dated:
        print(f"files named for {min(dated)} .. {max(dated)}")
    print(f"warehouse: DuckDB file {settings.duckdb_path} (files mode, schema {settings.dataset})", flush=True)

    started = time.perf_counter()
    imported, _ = run(
        "archive_job", f"import {first} .. {last} from the files, prices from the chain, technicals (one run)",
        ("options_chain_history", "price_data", "technicals_history"), tags=range_run_tags(first, last),
    )  # fmt: skip
    state_run, _ = run("dataset_job", f"rl_state {first} .. {last}", ("rl_state",), tags=range_run_tags(first, last))
    dataset_run, _ = run(
        "dataset_job", f"rl_dataset {first} .. {labelled_end}: the sessions whose next {HORIZON_DAYS} are in the files",
        ("rl_dataset",), tags=range_run_tags(first, labelled_end),
    )  # fmt: skip

    history = _metadata(imported, "options_chain_history")
    prices = _metadata(imported, "price_data")
    technicals = _metadata(imported, "technicals_history")
    state = _metadata(state_run, "rl_state")
    labels = _metadata(dataset_run, "rl_dataset")
    missing = history["sessions_without_data"]
    print()
    print(
        f"options_chain_history {first} .. {last}: {history['sessions_archived']} sessions, "
        f"{history['dagster/row_count']:,} contracts from {history['files_read']} file(s); without data: "
        f"{', '.join(missing) if missing else 'none'}; {history['saturday_expirations_read_as_friday']:,} rows "
        f"listed on a Saturday read as the Friday session; greeks computed where the vendor had none (or "
        f"placeholders): {history['computed_greeks']:,} rows"
    )
    print(
        f"price_data: {prices['dagster/row_count']:,} close-only bars from the chain's underlying price "
        f"({prices['tickers']} underlying(s)); no open/high/low/volume in the files, none invented"
    )
    print(f"technicals_history: {technicals['dagster/row_count']:,} rows")
    incomplete = state.get("technicals_incomplete_rows")
    print(
        f"rl_state: {state['dagster/row_count']:,} candidate contracts"
        + (f", {incomplete:,} of them with incomplete technicals (flagged, kept)" if incomplete is not None else "")
    )
    print(
        f"rl_dataset {first} .. {labelled_end}: {labels['dagster/row_count']:,} rows, hit_50 base rate "
        f"{labels['hit_50_base_rate']:.1%}, mean reward {labels['mean_reward']:+.1%}, exits {labels['exits']}"
    )
    labelled = len([d for d in calendar.trading_days(first, labelled_end) if str(d) not in missing])
    needed = TrainingConfig().evaluation().min_dates
    print()
    print(f"What {len(sessions) - len(missing)} sessions are too few for:")
    print(
        f"  - the models: walk-forward evaluation needs {needed} labelled sessions; these files give {labelled} "
        "(not trained: no honest out-of-sample number can come from one month)"
    )
    short = [f"{name} ({rows} sessions)" for name, rows in LONGEST_WINDOWS.items() if rows > len(sessions)]
    print(f"  - technicals longer than the history stay NULL: {', '.join(short) or 'none'}; OHLC-based ones (ATR, ADX)")
    print("    and volume_ratio_20 stay NULL with close-only bars")
    print(
        "  - statistics: one underlying over one month is one volatility regime; the base rate and mean reward "
        "above describe December 2016's VXX, not a strategy"
    )
    line, failed = run.checks()
    blocking = sorted(set(failed) & BLOCKING_CHECKS)
    if blocking:
        line += f" (blocking: {', '.join(blocking)})"
    elif failed:
        line += " (none blocking: the real data's quirks, see make ui)"
    print(line)
    print(f"total {time.perf_counter() - started:.1f} s in {len(run.results)} runs. Explore them: make ui")


if __name__ == "__main__":
    main()
