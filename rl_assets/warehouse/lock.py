"""One process at a time on a DuckDB file: an exclusive OS lock on `<file>.lock`, held for a whole
run (or a session outside a run), so no other process writes between two steps of a run.

DuckDB's own file lock lasts only while a connection is open, and a run opens one per asset.
flock is released by the OS when the holder dies, so a killed process never wedges the file. The
hold is re-entrant within the process that has it: a run's sessions, and nested sessions, reuse it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.2


class WarehouseLockTimeout(TimeoutError):
    """Another process held the warehouse for longer than this one would wait."""


class WarehouseLockUnavailable(OSError):
    """The lock file cannot be created or opened (a read-only folder, a missing one, ...)."""


def lock_path(database: str | Path) -> Path:
    return Path(f"{database}.lock")


@dataclass
class _Hold:
    fd: int
    pid: int  # the process that took it: a forked child does not inherit the hold
    depth: int


_holds: dict[Path, _Hold] = {}
_holds_guard = threading.Lock()


def holder(database: str | Path) -> str:
    """Who holds (or last held) the lock, as the holder wrote it: 'pid N (purpose) since T'."""
    try:
        text = lock_path(database).read_text().strip()
    except OSError:
        text = ""
    return text or "an unknown process"


@contextmanager
def holding(
    database: str | Path, purpose: str, timeout_seconds: float, log: Callable[[str], None] = print
) -> Iterator[None]:
    """Hold the warehouse at `database` exclusively for the body. Another process waits up to
    `timeout_seconds`, logging who holds it, then raises WarehouseLockTimeout naming the holder."""
    key = lock_path(database).resolve()
    with _holds_guard:
        hold = _holds.get(key)
        if hold is not None and hold.pid == os.getpid():
            hold.depth += 1
        else:
            fd = _acquire(Path(database), purpose, timeout_seconds, log)
            hold = _holds[key] = _Hold(fd, os.getpid(), 1)
    try:
        yield
    finally:
        with _holds_guard:
            hold.depth -= 1
            if hold.depth == 0:
                del _holds[key]
                os.ftruncate(hold.fd, 0)  # no stale holder named once it is free
                os.close(hold.fd)  # closing the descriptor releases the flock


def _acquire(database: Path, purpose: str, timeout_seconds: float, log: Callable[[str], None]) -> int:
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise WarehouseLockUnavailable(
            error.errno, f"cannot create the warehouse lock file {path}: {error.strerror}"
        ) from None
    deadline = time.monotonic() + timeout_seconds
    waiting_logged = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                held_by = holder(database)
                if time.monotonic() >= deadline:
                    raise WarehouseLockTimeout(
                        f"the warehouse {database} is held by {held_by}; gave up after "
                        f"{timeout_seconds:g} s (the lock file is {path})"
                    ) from None
                if not waiting_logged:
                    log(f"waiting up to {timeout_seconds:g} s for the warehouse {database}: held by {held_by}")
                    waiting_logged = True
                time.sleep(POLL_SECONDS)
    except BaseException:
        os.close(fd)
        raise
    since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} ({purpose}) since {since}\n".encode(), 0)
    return fd
