"""A real `dagster dev` (webserver + daemon) on localhost, on a temporary instance and warehouse."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rl_assets.defs.resources import WAREHOUSE_POOL
from rl_assets.settings import REPO_ROOT

LOCATION, REPOSITORY = "rl_assets", "__repository__"


@dataclass(frozen=True)
class DagsterServer:
    url: str
    home: Path
    duckdb_path: Path
    log: Path
    pid: int  # dagster dev's

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def launch(self, job: str, assets: list[str], tags: dict[str, str]) -> str:
        """Submit a run as the UI does (it goes through the run queue); returns its id."""
        data = self.graphql(
            """mutation Launch($params: ExecutionParams!) {
                 launchRun(executionParams: $params) {
                   __typename
                   ... on LaunchRunSuccess { run { runId } }
                   ... on PythonError { message }
                   ... on RunConfigValidationInvalid { errors { message } }
                 }
               }""",
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": LOCATION,
                        "repositoryName": REPOSITORY,
                        "jobName": job,
                        "assetSelection": [{"path": [asset]} for asset in assets],
                    },
                    "runConfigData": {},
                    "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
                }
            },
        )["launchRun"]
        if data["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launchRun failed: {data}")
        return data["run"]["runId"]

    def run_ids(self) -> list[str]:
        return [
            r["runId"]
            for r in self.graphql("{ runsOrError { ... on Runs { results { runId } } } }")["runsOrError"]["results"]
        ]

    def run_tags(self, run_id: str) -> dict[str, str]:
        run = self.graphql(
            "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } } } }", {"id": run_id}
        )["runOrError"]
        return {tag["key"]: tag["value"] for tag in run["tags"]}

    def launched_by_hand(self, run_ids: set[str]) -> set[str]:
        """Of these runs, the ones launched from the UI or the API: not a sensor's (the labels
        sensor launches labels_job after each successful daily run) or a schedule's."""
        automatic = {"dagster/sensor_name", "dagster/schedule_name"}
        return {run_id for run_id in run_ids if not automatic & set(self.run_tags(run_id))}

    def run(self, run_id: str) -> dict:
        return self.graphql(
            """query Run($id: ID!) { runOrError(runId: $id) {
                 ... on Run { status startTime endTime } } }""",
            {"id": run_id},
        )["runOrError"]

    def wait_for(self, run_ids: list[str], timeout: float = 300) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        while True:
            runs = {run_id: self.run(run_id) for run_id in run_ids}
            if all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs.values()):
                return runs
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs still in progress after {timeout} s: {runs}; see {self.log}")
            time.sleep(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_dagster(folder: Path, universe: int = 2):
    """`dagster dev` on the project's workspace and dagster.yaml, with its own DAGSTER_HOME, DuckDB
    file and model store under `folder` (a second call on the same folder restarts on the same
    instance); stopped (the whole process group) on exit."""
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    restart = (home / "dagster.yaml").exists()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": str(REPO_ROOT),
        "RL_ASSETS_DUCKDB_PATH": str(folder / "warehouse.duckdb"),
        "RL_ASSETS_MODEL_STORE": str(folder / "models"),
        "RL_ASSETS_UNIVERSE": str(universe),
    }
    log = folder / "dagster_dev.log"
    if log.exists():  # a restart: keep the earlier log beside it
        log.rename(folder / f"dagster_dev.{time.time_ns()}.log")
    dagster = Path(sys.executable).with_name("dagster")
    if not restart:  # as `make ui` does: the pool's limit exists before the first run is queued
        subprocess.run([str(dagster), "instance", "concurrency", "set", WAREHOUSE_POOL, "1"], env=env, check=True)
    command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = DagsterServer(f"http://127.0.0.1:{port}", home, folder / "warehouse.duckdb", log, process.pid)
    try:
        _wait_until_loaded(server, process)
        yield server
    finally:
        _stop(process)


def _wait_until_loaded(server: DagsterServer, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {process.returncode}: {server.log.read_text()[-3000:]}")
        try:
            entries = server.graphql(
                "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
            )["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except OSError:
            pass  # not listening yet
        time.sleep(1)
    raise TimeoutError(f"dagster dev did not load the code location in {timeout} s: {server.log.read_text()[-3000:]}")


def kill_process_tree(pid: int) -> list[int]:
    """SIGKILL a process and all its descendants at once, as a crash or an OOM kill of the whole
    tree would (nothing gets to clean up); returns their pids. Frozen first, so none forks or
    exits in between."""
    tree = [pid]
    children = _children()
    for parent in tree:
        tree.extend(children.get(parent, []))
    for signal_number in (signal.SIGSTOP, signal.SIGKILL):
        for member in tree:
            try:
                os.kill(member, signal_number)
            except ProcessLookupError:
                pass
    return tree


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: dagster dev stops its children
        process.wait(timeout=30)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        pass
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
