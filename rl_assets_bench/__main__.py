"""`python -m rl_assets_bench [--only NAME] [--scale small|full] [--readme]`: run the benchmarks,
print the report (one markdown table, every benchmark's figures with the reference measured in the
same run beside each), write bench_results/results.json and bench_results/report.md, and with
--readme replace the table in README.md between its bench markers."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from rl_assets_bench import BENCHMARKS, REPO_ROOT, SCALES, markdown_table


def _load(target: str):
    module_name, function_name = target.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def store_results(output: Path, results: dict[str, dict]) -> dict:
    """Merge this run's results into the JSON file, keeping benchmarks not run this time (--only)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        stored = json.loads(output.read_text())
    except (OSError, ValueError):
        stored = {}
    stored.setdefault("benchmarks", {}).update(results)
    stored["benchmarks"] = {name: stored["benchmarks"][name] for name in BENCHMARKS if name in stored["benchmarks"]}
    stored["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    output.write_text(json.dumps(stored, indent=2, default=str))
    return stored


def render_report(stored: dict) -> str:
    """The report: when and where each benchmark ran, then one table of every figure."""
    machine = stored["machine"]
    runs = ", ".join(
        f"{name} {result['finished_at'][:10]} ({result['scale']} scale, {result['wall_s']:.0f} s)"
        for name, result in stored["benchmarks"].items()
    )
    sections = [
        f"Measured by `make bench` on {machine['cpus']} CPUs / {machine['memory_gb']:.0f} GB, Python "
        f"{machine['python']}: {runs}.",
        markdown_table(stored["benchmarks"]),
    ]
    # A benchmark may add a table of its own below the shared one (the scale run's sizes).
    sections += [
        f"{name}:\n\n{result['markdown']}" for name, result in stored["benchmarks"].items() if result.get("markdown")
    ]
    return "\n\n".join(sections)


README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def readme_refusal(stored: dict) -> str | None:
    """Why README's table must not be rewritten from `stored`: the table is rendered from the stored
    results alone, so a benchmark missing there (a fresh machine, a run with --only) would lose its
    rows. None when every benchmark has results."""
    missing = [name for name in BENCHMARKS if name not in stored.get("benchmarks", {})]
    if not missing:
        return None
    return (
        f"README.md left alone: the stored results have no {', '.join(missing)} (its rows would vanish from the "
        "table); run those too (`make bench` runs all)"
    )


def write_into_readme(readme: Path, report: str) -> None:
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{readme} has no {README_START} ... {README_END} block to replace")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{report}\n{README_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rl_assets_bench", description=__doc__)
    parser.add_argument(
        "--only", choices=sorted(BENCHMARKS), action="append", help="run only this benchmark (repeatable); default: all"
    )
    parser.add_argument(
        "--scale",
        choices=SCALES,
        default="full",
        help="full: the sizes docs/design.md's targets are stated for (default); small: a quick check",
    )
    parser.add_argument(
        "--output",
        default=str(REPO_ROOT / "bench_results" / "results.json"),
        help="JSON results file (default: bench_results/results.json)",
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help="also write the report into README.md, between the bench:start and bench:end markers",
    )
    args = parser.parse_args(argv)

    names = args.only or list(BENCHMARKS)
    results: dict[str, dict] = {}
    failed: list[str] = []
    for name in names:
        print(f"== {name} (scale {args.scale}) ...", flush=True)
        started = time.perf_counter()
        try:
            result = _load(BENCHMARKS[name])(scale=args.scale)
        except Exception as error:  # report and go on with the other benchmarks
            print(f"{name} FAILED: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        result["wall_s"] = round(time.perf_counter() - started, 1)
        result["scale"] = args.scale
        result["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        results[name] = result
        print("\n".join(result["summary"]), flush=True)
        print(f"   ({name} took {result['wall_s']} s in all, setup included)\n", flush=True)

    if results:
        output = Path(args.output).resolve()
        stored = store_results(output, results)
        report = render_report(stored)
        print("\n" + report)
        output.with_name("report.md").write_text(report + "\n")
        print(f"\nresults written to {output} and {output.with_name('report.md')}")
        refusal = readme_refusal(stored) if args.readme else None
        if args.readme and args.scale != "full":
            print("README.md left alone: its table holds full-scale figures only")
        elif refusal:
            print(refusal)
        elif args.readme:
            write_into_readme(REPO_ROOT / "README.md", report)
            print("README.md's benchmark table updated")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
