"""`python -m rl_assets_bench [--only NAME] [--scale small|full]`: run the benchmarks, print a
markdown table and write bench_results/results.json."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import time

from rl_assets_bench import BENCHMARKS, REPO_ROOT, SCALES, markdown_table


def _load(target: str):
    module_name, function_name = target.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rl_assets_bench", description=__doc__)
    parser.add_argument(
        "--only", choices=sorted(BENCHMARKS), action="append", help="run only this benchmark (repeatable); default: all"
    )
    parser.add_argument(
        "--scale",
        choices=SCALES,
        default="full",
        help="full: the sizes DESIGN.md's targets are stated for (default); small: a quick check",
    )
    parser.add_argument(
        "--output",
        default=str(REPO_ROOT / "bench_results" / "results.json"),
        help="JSON results file (default: bench_results/results.json)",
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
        print(markdown_table(results))
        # Keep earlier results of benchmarks not run this time (e.g. after --only).
        output = os.path.abspath(args.output)
        os.makedirs(os.path.dirname(output), exist_ok=True)
        try:
            with open(output) as f:
                stored = json.load(f)
        except (OSError, ValueError):
            stored = {}
        stored.setdefault("benchmarks", {}).update(results)
        stored["machine"] = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        }
        with open(output, "w") as f:
            json.dump(stored, f, indent=2, default=str)
        print(f"\nresults written to {output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
