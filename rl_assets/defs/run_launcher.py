"""The embedded instance's run launcher: Dagster's default one, plus a health check of each run
worker so that run monitoring fails a run whose process is gone.

Without it a crash of the whole `dagster dev` process tree leaves the killed run STARTED for ever
(the code server fails orphaned runs only while it lives), holding the "warehouse" pool's one slot,
and every later run waits in the queue. Run monitoring asks the launcher about a STARTED run's
worker only when the launcher supports it, and DefaultRunLauncher does not.

The run worker's pid comes from the run's own engine events ("Started process for run (pid: N)"
for a queued run; "Executing steps in process (pid: N)" for a CLI or Python run). For one machine:
the embedded instance's daemon and run workers share it.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

# /proc's start times are in clock ticks since a boot time given in whole seconds.
START_TIME_SLACK_SECONDS = 2.0


class MonitoredRunLauncher(dg.DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        recorded = self._run_worker(run.run_id)
        if recorded is None:
            # Monitoring fails a run on any answer but RUNNING: a run that has not yet recorded
            # its pid is left alone (its runtime limit still applies).
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run worker's pid is not recorded yet")
        pid, recorded_at = recorded
        problem = process_gone(pid, recorded_at)
        if problem:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker (pid {pid}) {problem}")
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker (pid {pid}) is alive")

    def _run_worker(self, run_id: str) -> tuple[int, float] | None:
        """The newest pid a run's engine events recorded, and when."""
        found = None
        for entry in self._instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            data = entry.dagster_event.engine_event_data if entry.dagster_event else None
            pid = data.metadata.get("pid") if data else None
            if pid is not None:
                found = (int(pid.value), entry.timestamp)
        return found


def process_gone(pid: int, recorded_at: float) -> str | None:
    """Why process `pid`, recorded alive at `recorded_at` (epoch seconds), is no longer that
    process; None while it runs."""
    stat = Path(f"/proc/{pid}/stat")
    if not Path("/proc/self/stat").exists():  # no /proc (macOS): existence only
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "no longer exists"
        except PermissionError:
            pass
        return None
    try:
        # The command name in parentheses may hold spaces: the fields after it are fixed.
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return "no longer exists"
    if fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent
        return "has exited"
    started = boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    if started > recorded_at + START_TIME_SLACK_SECONDS:
        return "no longer exists: its pid now belongs to a process started after the run"
    return None


def boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime line")
