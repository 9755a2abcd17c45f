"""The file-import benchmark (rl_assets_bench.files) at a toy size, its steps run in this process: the
daily files it writes move the generated day to each session (every session's file is archived as
that session, with all its rows), the reference reads the same rows, and nothing is left behind."""

import gzip

import duckdb
import pytest

from rl_assets_bench import files as bench
from rl_assets_bench._child import peak_rss_mb


def in_process(work):
    """child_steps' launcher, without the fresh process: call the step and add what _child adds."""

    def child(function, label, **kwargs):
        return {**getattr(bench, function)(work=work, **kwargs), "peak_rss_mb": peak_rss_mb()}

    return child


def test_a_toy_run_imports_every_session_of_every_file_kind(tmp_path):
    work = str(tmp_path / "work")
    result = bench.measure(in_process(work), work, "small", tickers=4, count=2, kinds=list(bench.KINDS))
    details = result["details"]
    rows = details["rows_per_session"]
    assert rows > 0 and details["sessions"] == 2
    for kind in bench.KINDS:
        assert details["reference"][kind]["rows"] == 2 * rows
        imports = details["imports"][kind]
        assert sorted(imports) == ["1", "2"]
        # summarise already refuses a run whose sessions lack rows; the per-day counts say it again here
        assert list(imports["2"]["rows_per_day"].values()) == [rows] * 2
    assert len(result["metrics"]) == 2 * len(bench.KINDS)
    assert all(metric["met"] is None for metric in result["metrics"])  # a toy run is not judged
    assert not list(tmp_path.rglob("*.duckdb*"))


def test_each_file_is_the_generated_day_moved_to_its_session(tmp_path):
    work = tmp_path / "work"
    prepared = bench.setup(str(work), tickers=4, day=bench.DAY, sessions=3, kinds=["csv.gz", "parquet"])
    assert prepared["days"] == ["2025-01-02", "2025-01-03", "2025-01-06"]
    with gzip.open(prepared["files"]["csv.gz"][2], "rt") as text:
        assert text.readline().startswith("underlying,underlying_last,exchange,optionroot")
    readers = {"csv.gz": "read_csv({!r}, all_varchar = true)", "parquet": "read_parquet({!r})"}
    for kind, reader in readers.items():
        for day, path in zip(prepared["days"], prepared["files"][kind], strict=True):
            quotedates, too_early, weekdays, symbols_off = duckdb.sql(
                f"""
                WITH f AS (
                    SELECT CAST(strptime(quotedate, '%m/%d/%Y') AS DATE) AS quotedate,
                        CAST(strptime(expiration, '%m/%d/%Y') AS DATE) AS expiration, optionroot
                    FROM {reader.format(path)}
                )
                SELECT list(DISTINCT CAST(quotedate AS VARCHAR)), count(*) FILTER (WHERE expiration < quotedate),
                    list(DISTINCT dayofweek(expiration)),
                    count(*) FILTER (WHERE optionroot[-15:-10] != strftime(expiration, '%y%m%d'))
                FROM f
                """
            ).fetchone()
            assert quotedates == [day]
            assert too_early == 0 and symbols_off == 0
            assert set(weekdays) <= {1, 2, 3, 4, 5}
    assert not (work / "generate.duckdb").exists()


def test_the_session_count_and_file_kinds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(bench.SESSIONS_VARIABLE, "250")
    assert bench.session_count("full") == 250
    assert bench.checkpoints(250) == [62, 125, 250]
    assert bench.checkpoints(1) == [1]
    monkeypatch.setenv(bench.SESSIONS_VARIABLE, "a year")
    with pytest.raises(ValueError, match="whole number of sessions"):
        bench.session_count("full")
    monkeypatch.delenv(bench.KINDS_VARIABLE, raising=False)
    assert bench.file_kinds() == ["csv.gz", "parquet"]
    monkeypatch.setenv(bench.KINDS_VARIABLE, " parquet ")
    assert bench.file_kinds() == ["parquet"]
    monkeypatch.setenv(bench.KINDS_VARIABLE, "parquet,xlsx")
    with pytest.raises(ValueError, match="unknown file kind.*xlsx"):
        bench.file_kinds()
