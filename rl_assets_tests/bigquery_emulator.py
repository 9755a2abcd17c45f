"""The local BigQuery emulator (local-bigquery, in its own Python 3.13 venv built by `make test`),
started on a free port for the test session and stopped after it."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rl_assets_tests.dagster_server import free_port

EMULATOR_VARIABLE = "RL_ASSETS_BQ_EMULATOR"
PROJECT = "rl-assets-test"


def emulator_executable() -> Path:
    path = os.environ.get(EMULATOR_VARIABLE, "")
    if not path or not Path(path).is_file():
        raise RuntimeError(
            f"{EMULATOR_VARIABLE}={path!r} is not the local-bigquery executable: run the tests with `make test`, "
            "which builds the emulator's venv and sets it"
        )
    return Path(path)


@contextmanager
def running_emulator(data_dir: Path, timeout: float = 60.0) -> Iterator[str]:
    """Start the emulator; yield its URL (the value of BIGQUERY_EMULATOR_HOST)."""
    executable = emulator_executable()
    port, grpc_port = free_port(), free_port()
    log = data_dir / "emulator.log"
    # Its DuckDB finds the extensions `make test` installed under the venv's own home folder.
    env = {**os.environ, "HOME": str(executable.parents[1] / "home")}
    command = [
        str(executable), "serve", "--host", "127.0.0.1", "--port", str(port), "--grpc-port", str(grpc_port),
        "--project", PROJECT, "--data-dir", str(data_dir),
    ]  # fmt: skip
    with open(log, "wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the BigQuery emulator exited ({process.returncode}): {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/bigquery/v2/projects/{PROJECT}/datasets", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the BigQuery emulator did not answer in {timeout:.0f} s") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
