"""What training reads of rl_dataset (rl_assets/training_data.py, sql/rl_dataset_training_rows.sql): a
per-day sample chosen in the warehouse, bounded, stratified by underlying and moneyness, seeded, the
as-of filter applied before the read, read a few days per statement; on DuckDB and on the emulator.

The oracle is the sampling rule recomputed here in pandas with hashlib's MD5 (the SQL's draw), so
both backends must pick exactly the rows the documented rule picks."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from rl_assets import calendar
from rl_assets.schema import RL_DATASET_COLUMNS
from rl_assets.training_data import NoTrainingRows, SamplingPolicy, read_training_rows, statement_windows
from rl_assets_tests.oracles import expected_training_sample

DAYS = calendar.trading_days(dt.date(2025, 3, 3), dt.date(2025, 3, 14))  # 10 sessions
CROWDED = {DAYS[0]: 260, DAYS[4]: 180}  # days with more candidates than the cap; the others hold 30
CAP = 50


def _rows() -> pd.DataFrame:
    """rl_dataset rows: three underlyings of unequal size, log-moneyness spread over every bucket,
    a few rows not labelled (reward NULL), label_end_date three sessions on."""
    rng = np.random.default_rng(7)
    parts = []
    for day in DAYS:
        n = CROWDED.get(day, 30)
        underlying = rng.choice(["AAA", "BBB", "CCC"], n, p=[0.6, 0.3, 0.1])
        frame = pd.DataFrame({
            "snapshot_date": day, "underlying": underlying,
            "contract_symbol": [f"{u}{day:%y%m%d}C{i:05d}" for i, u in enumerate(underlying)],
            "log_moneyness": rng.uniform(-0.3, 0.3, n),
            "reward": rng.normal(size=n), "hit_50": pd.array(rng.uniform(size=n) < 0.2, dtype="boolean"),
            "label_end_date": calendar.shift_trading_days(day, 3),
        })  # fmt: skip
        unlabelled = rng.uniform(size=n) < 0.05
        frame.loc[unlabelled, "reward"] = np.nan
        frame.loc[unlabelled, "hit_50"] = pd.NA
        parts.append(frame)
    frame = pd.concat(parts, ignore_index=True)
    full = pd.DataFrame({column: frame.get(column) for column in RL_DATASET_COLUMNS})
    text = {"option_type": "call", "exit_reason": "horizon"}
    for column, value in text.items():
        full[column] = value
    for column in ("strike", "bid", "ask", "underlying_price", "entry_price"):
        full[column] = 1.0
    full["expiration"] = full["snapshot_date"] + dt.timedelta(days=30)
    full["quote_time"] = pd.Timestamp("2025-03-03 21:00", tz="UTC")
    full["technicals_incomplete"] = False
    full["is_call"] = True
    full["missing_quotes"] = 0
    return full


@pytest.fixture
def filled(warehouse):
    rows = _rows()
    warehouse.load_frame("rl_dataset", rows, replace_table=False)
    return warehouse, rows


def _keys(frame: pd.DataFrame) -> set:
    return set(zip(frame["snapshot_date"], frame["contract_symbol"], strict=True))


def test_the_sample_is_the_documented_stratified_per_day_cut(filled):
    wh, rows = filled
    policy = SamplingPolicy(max_per_day=CAP, seed=5, candidates_per_read=100)
    sample = read_training_rows(wh, policy)
    assert _keys(sample) == expected_training_sample(rows, CAP, 5, dt.date(9999, 12, 31))
    per_day = sample.groupby("snapshot_date").size()
    labelled = rows[rows["reward"].notna()].groupby("snapshot_date").size()
    assert (per_day[list(CROWDED)] == CAP).all()
    quiet = [d for d in DAYS if d not in CROWDED]
    assert (per_day[quiet] == labelled[quiet]).all()  # a day under the cap is read whole
    # Stratified: on a crowded day each underlying keeps its share of the day, within the rounding.
    day = sample[sample["snapshot_date"] == DAYS[0]]
    everything = rows[(rows["snapshot_date"] == DAYS[0]) & rows["reward"].notna()]
    for underlying, count in everything.groupby("underlying").size().items():
        share = CAP * count / len(everything)
        assert abs((day["underlying"] == underlying).sum() - share) <= 3
    assert sample["reward"].notna().all()
    assert list(sample.columns[:3]) == ["snapshot_date", "contract_symbol", "underlying"]
    assert sample["delta"].dtype == np.float32  # features compact


def test_the_same_seed_reads_the_same_rows_in_any_chunking_and_another_seed_others(filled):
    wh, _ = filled
    one = read_training_rows(wh, SamplingPolicy(max_per_day=CAP, seed=1, candidates_per_read=10**9))
    chunked = read_training_rows(wh, SamplingPolicy(max_per_day=CAP, seed=1, candidates_per_read=1))
    pd.testing.assert_frame_equal(one, chunked)
    other = read_training_rows(wh, SamplingPolicy(max_per_day=CAP, seed=2))
    assert _keys(other) != _keys(one) and len(other) == len(one)


def test_labels_known_before_the_cutoff_only_and_clear_errors(filled):
    wh, rows = filled
    cutoff = DAYS[7]
    sample = read_training_rows(wh, SamplingPolicy(max_per_day=CAP, seed=5), labels_before=cutoff)
    assert (sample["label_end_date"] < cutoff).all()
    assert _keys(sample) == expected_training_sample(rows, CAP, 5, cutoff)
    with pytest.raises(NoTrainingRows, match="before 2025-03-06"):
        read_training_rows(wh, SamplingPolicy(), labels_before=DAYS[3])  # DAYS[0]'s labels end on DAYS[3]


def test_an_empty_rl_dataset_and_bad_policies_are_named(warehouse):
    with pytest.raises(NoTrainingRows, match="materialise rl_dataset first"):
        read_training_rows(warehouse)
    for field in ("max_per_day", "max_rows", "candidates_per_read"):
        with pytest.raises(ValueError, match=f"{field} must be >= 1"):
            SamplingPolicy(**{field: 0})
    assert math.isfinite(SamplingPolicy().max_per_day)


def test_a_history_longer_than_the_row_budget_gets_a_smaller_per_day_cap(filled):
    wh, rows = filled
    policy = SamplingPolicy(max_per_day=CAP, max_rows=200, seed=5)  # 10 days: 20 rows a day
    assert policy.rows_per_day(len(DAYS)) == 20
    sample = read_training_rows(wh, policy)
    assert sample.groupby("snapshot_date").size().max() == 20 and len(sample) <= 200
    assert _keys(sample) == expected_training_sample(rows, 20, 5, dt.date(9999, 12, 31))
    assert SamplingPolicy(max_per_day=CAP, max_rows=10**9).rows_per_day(len(DAYS)) == CAP


def test_statements_group_whole_days_up_to_the_candidate_budget():
    days = DAYS[:5]
    assert statement_windows(days, [30, 30, 30, 260, 30], 100) == [
        (DAYS[0], DAYS[2]), (DAYS[3], DAYS[3]), (DAYS[4], DAYS[4]),
    ]  # fmt: skip
    assert statement_windows(days, [30] * 5, 10**9) == [(DAYS[0], DAYS[4])]
    assert statement_windows(days, [30] * 5, 1) == [(d, d) for d in days]


def test_duckdb_lets_go_of_the_blocks_a_read_cached_and_keeps_its_memory_limit(tmp_path):
    """Without it a long history read a day at a time grows the process to DuckDB's memory limit
    (the training benchmark measured +57 MB a full-market day)."""
    import duckdb

    from rl_assets.warehouse.duckdb_backend import DuckDBBackend

    connection = duckdb.connect(str(tmp_path / "w.duckdb"), config={"memory_limit": "1GB"})
    wh = DuckDBBackend(connection, "rl_test", "1GB")
    connection.execute("CREATE TABLE rl_test.big AS SELECT range AS i, random() AS x FROM range(8000000)")
    connection.execute("CHECKPOINT")
    connection.close()
    connection = duckdb.connect(str(tmp_path / "w.duckdb"), config={"memory_limit": "1GB"})
    wh = DuckDBBackend(connection, "rl_test", "1GB")

    def cached_mb() -> float:
        (used,) = connection.execute(
            "SELECT COALESCE(SUM(memory_usage_bytes), 0) / 1e6 FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
        ).fetchone()
        return used

    limit = connection.execute("SELECT current_setting('memory_limit')").fetchone()
    wh.read_sql("SELECT SUM(x) FROM big")
    assert cached_mb() > 50  # the table's blocks (compressed), kept after the statement
    wh.release_cached_blocks()
    assert cached_mb() <= 32 * 2**20 / 1e6  # evicted down to the 32 MB the limit is lowered to
    assert connection.execute("SELECT current_setting('memory_limit')").fetchone() == limit
    with pytest.raises(ValueError, match="not a size"):
        DuckDBBackend(connection, "rl_test", "1GB'; DROP TABLE big; --")


def test_an_as_of_before_any_label_on_an_empty_rl_dataset_still_says_to_materialise_it(warehouse):
    with pytest.raises(NoTrainingRows, match="materialise rl_dataset first"):
        read_training_rows(warehouse, labels_before=DAYS[3])
