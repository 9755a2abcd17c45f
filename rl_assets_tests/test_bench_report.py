"""The benchmark runner's README table: rewritten only from results that cover every benchmark, so
a run with --only (or a fresh machine's first run) never drops the other benchmarks' rows."""

from rl_assets_bench import BENCHMARKS
from rl_assets_bench.__main__ import README_END, README_START, readme_refusal, write_into_readme


def test_the_readme_table_is_left_alone_while_a_benchmark_has_no_results():
    partial = {"benchmarks": {"archive": {}, "formats": {}}}
    refusal = readme_refusal(partial)
    assert refusal is not None and "technicals" in refusal and "archive" not in refusal.split("have no")[1]
    assert readme_refusal({"benchmarks": dict.fromkeys(BENCHMARKS, {})}) is None


def test_the_table_is_replaced_between_its_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\nafter\n")
    write_into_readme(readme, "new table")
    assert readme.read_text() == f"intro\n{README_START}\nnew table\n{README_END}\nafter\n"
