"""The embedded instance's run launcher tells run monitoring when a run worker's process is gone."""

import os
import signal
import subprocess
import sys
import time

import dagster as dg

from rl_assets.defs.run_launcher import MonitoredRunLauncher, process_gone
from rl_assets.settings import REPO_ROOT


def test_the_embedded_instance_monitors_runs_with_the_health_checking_launcher(tmp_path):
    (tmp_path / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_launcher, MonitoredRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0


def test_a_live_process_is_not_gone():
    assert process_gone(os.getpid(), time.time()) is None


def test_an_exited_process_is_gone_reaped_or_not():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    recorded_at = time.time()
    assert process_gone(process.pid, recorded_at) is None
    process.send_signal(signal.SIGKILL)
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped yet: a zombie
    assert process_gone(process.pid, recorded_at) == "has exited"
    process.wait()
    assert process_gone(process.pid, recorded_at) == "no longer exists"


def test_a_pid_reused_by_a_later_process_is_gone():
    # The pid's process started after the run worker was recorded with it: not that worker.
    an_hour_ago = time.time() - 3600
    started_recently = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert "started after the run" in process_gone(started_recently.pid, an_hour_ago)
    finally:
        started_recently.kill()
        started_recently.wait()
