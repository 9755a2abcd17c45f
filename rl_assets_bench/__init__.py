"""Benchmarks for docs/design.md's Performance targets (`python -m rl_assets_bench`, `make bench`).

Each benchmark is a function `run(scale: str) -> dict`, registered by name in BENCHMARKS as
"module:function" so the runner imports only what it runs. The dict it returns holds:

- "summary": the line(s) to print, each number labelled with what it measures;
- "metrics": rows for the markdown table: {"metric", "value", "target", "met"} ("target" and
  "met" may be None for context numbers);
- "details": anything else worth keeping in bench_results/results.json.

Timed work runs in fresh child processes (`run_child`), so that each measurement starts cold in
the same way and its peak RSS (getrusage's ru_maxrss, cross-checked with /proc's VmHWM) is that
child's own. This parent process stays small (no pandas, DuckDB or Dagster imported here): Linux
carries a parent's resident memory at fork time into the child's ru_maxrss.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

SCALES = ("small", "full")

BENCHMARKS: dict[str, str] = {
    "archive": "rl_assets_bench.archive:run",
    "formats": "rl_assets_bench.formats:run",
    "files": "rl_assets_bench.files:run",
    "technicals": "rl_assets_bench.technicals:run",
    "implied": "rl_assets_bench.implied:run",
    "dataset": "rl_assets_bench.dataset:run",
    "models": "rl_assets_bench.models:run",
    "training": "rl_assets_bench.training:run",
    "scale": "rl_assets_bench.scale:run",
}

REPO_ROOT = Path(__file__).resolve().parents[1]


class ChildFailed(RuntimeError):
    """A benchmark child process exited with an error; the message carries its log's tail."""


def run_child(target: str, kwargs: dict, *, log_dir: Path, label: str, timeout: float = 1800) -> dict:
    """Run `target` ("module:function") with keyword arguments `kwargs` in a fresh interpreter.

    Returns the function's dict plus "peak_rss_mb" (ru_maxrss of the child) and "vm_hwm_mb"
    (the kernel's high-water mark of the child's own address space) and "child_wall_s" (the
    whole child, interpreter start and imports included). The child's stdout/stderr go to
    log_dir/<label>.log.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rl-assets-bench-child-") as scratch:
        args_path, result_path = Path(scratch) / "args.json", Path(scratch) / "result.json"
        args_path.write_text(json.dumps(kwargs))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        log_path = log_dir / f"{label}.log"
        started = time.perf_counter()
        with open(log_path, "w") as log:
            completed = subprocess.run(
                [sys.executable, "-m", "rl_assets_bench._child", target, str(args_path), str(result_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO_ROOT,
                timeout=timeout,
            )
        wall = time.perf_counter() - started
        if completed.returncode != 0 or not result_path.exists():
            tail = log_path.read_text()[-4000:]
            raise ChildFailed(f"{label} ({target}) exited with {completed.returncode}; log {log_path}:\n{tail}")
        result = json.loads(result_path.read_text())
    result["child_wall_s"] = round(wall, 3)
    return result


@contextmanager
def child_steps(
    module: str, benchmark: str, file_name: str, path_argument: str
) -> Iterator[tuple[Callable[..., dict], str]]:
    """For one benchmark run: a scratch file path in a temp dir (removed afterwards), and a
    launcher `child(function, label, **kwargs)` that runs `module`'s function in a fresh process
    with {path_argument: the scratch path} plus kwargs, logging to
    bench_results/logs/<benchmark>/<label>.log. Yields (child, path)."""
    logs = REPO_ROOT / "bench_results" / "logs" / benchmark
    # RL_ASSETS_BENCH_KEEP=1 keeps the scratch warehouses for a look afterwards (path in the logs).
    keep = os.environ.get("RL_ASSETS_BENCH_KEEP") == "1"
    with tempfile.TemporaryDirectory(prefix=f"rl-assets-bench-{benchmark}-", delete=not keep) as scratch:
        path = str(Path(scratch) / file_name)

        def child(function: str, label: str, **kwargs) -> dict:
            return run_child(f"{module}:{function}", {path_argument: path, **kwargs}, log_dir=logs, label=label)

        yield child, path


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def fmt_int(n: int) -> str:
    return f"{n:,}"


def row(
    metric: str,
    value: str,
    *,
    reference: str | None = None,
    ratio: str | None = None,
    target: str | None = None,
    met: bool | None = None,
    full: bool = True,
) -> dict:
    """A row of the report: what was measured, the reference measured in the same run beside it,
    their ratio, and the target where docs/design.md or an issue states one. Targets are stated for the
    full scale: a small run is a quick check, so its rows say so and are not judged."""
    if target is not None and not full:
        target, met = target + " (full scale only)", None
    return {"metric": metric, "value": value, "reference": reference, "ratio": ratio, "target": target, "met": met}


REPORT_COLUMNS = ("benchmark", "what", "measured", "reference (same run)", "ratio", "target", "met")


def markdown_table(results: dict[str, dict]) -> str:
    """One row per metric of every benchmark, with the scale and date each was measured at."""
    lines = ["| " + " | ".join(REPORT_COLUMNS) + " |", "|" + "---|" * len(REPORT_COLUMNS)]
    for name, result in results.items():
        for metric in result.get("metrics", []):
            met = metric.get("met")
            cells = [
                name,
                metric["metric"],
                metric["value"],
                metric.get("reference") or "",
                metric.get("ratio") or "",
                metric.get("target") or "",
                "" if met is None else ("yes" if met else "**no**"),
            ]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


# ---- measurements taken inside a child process (shared by every benchmark) --------------------


def rss_now_mb_rounded() -> float | None:
    """The child's resident memory now, in MB (None where /proc is missing)."""
    from rl_assets_bench._child import rss_now_mb

    value = rss_now_mb()
    return None if value is None else round(value, 1)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads, DuckDB's included)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> float:
    """The 1-minute load average: how busy the machine was around a timed step."""
    import os

    return round(os.getloadavg()[0], 2)


def cpu_count() -> int:
    import os

    return os.cpu_count() or 1


def timed_call(function, *args, **kwargs):
    """Call `function` once, timed: (its result, seconds, CPU seconds, load and RSS before)."""
    import time

    baseline, load = rss_now_mb_rounded(), load_average()
    cpu, started = cpu_seconds(), time.perf_counter()
    result = function(*args, **kwargs)
    finished, cpu = time.perf_counter(), cpu_seconds() - cpu
    return result, {
        "seconds": round(finished - started, 4),
        "cpu_s": round(cpu, 4),
        "load_before": load,
        "rss_before_mb": baseline,
    }


def warm_duckdb_python() -> None:
    """Pay the DuckDB Python module's one-off lazy work before a timer starts, on a throwaway
    in-memory database: its first bound parameter imports pandas (over a second when nothing
    imported it yet), which would otherwise land inside whichever timed statement came first."""
    import datetime as dt

    import duckdb
    import pandas  # noqa: F401  (the asset's process imports it anyway; see above)

    with duckdb.connect(":memory:") as scratch:
        scratch.execute(
            "SELECT $d::DATE, $t::TIMESTAMPTZ", {"d": dt.date(2025, 1, 2), "t": dt.datetime.now(dt.UTC)}
        ).fetchall()


def code_location(**settings):
    """The code location's definitions, built as rl_assets/definitions.py builds them, from
    Settings(**settings) instead of the environment."""
    from rl_assets.defs.code_location import build_definitions
    from rl_assets.settings import Settings

    return build_definitions(Settings(**settings))
