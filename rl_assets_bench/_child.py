"""Child-process entry point: `python -m rl_assets_bench._child module:function args.json result.json`.

Calls the function with the JSON arguments and writes its dict, plus this process's peak memory,
to result.json. Kept free of heavy imports so the measured peak is the function's own.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys


def _proc_status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (VmHWM, VmRSS) in MB; None where there is no /proc."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_now_mb() -> float | None:
    """Current resident set size of this process in MB (for baselines inside a child)."""
    return _proc_status_mb("VmRSS")


def peak_rss_mb() -> float:
    """ru_maxrss of this process in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    target, args_path, result_path = argv
    module_name, function_name = target.split(":")
    with open(args_path) as f:
        kwargs = json.load(f)
    function = getattr(importlib.import_module(module_name), function_name)
    result = dict(function(**kwargs))
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    hwm = _proc_status_mb("VmHWM")
    result["vm_hwm_mb"] = None if hwm is None else round(hwm, 1)
    with open(result_path, "w") as f:
        json.dump(result, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
