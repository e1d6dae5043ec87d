"""Run the benchmark suite and write one results JSON: ``python -m bench.run [--suite quick|full]``.

The file is ``<out>/<UTC date>-<host>-cpu.json``; it records the machine and the library versions
next to every (model, size) row, so that tables from different machines are never mixed up.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

SUITES = {"quick": [64, 256], "full": [64, 256, 1024]}
REPO = Path(__file__).resolve().parents[1]


def git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10, check=True)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def solver_hash() -> str:
    """sha256 (first 16 hex digits) of the exact solver's source (the solver and its kernels):
    identifies it in a dirty tree."""
    import hashlib

    engine = REPO / "kmc_ald" / "engine"
    try:
        data = b"".join((engine / name).read_bytes() for name in ("solvers/exact.py", "bkl.py"))
    except OSError:
        return "unknown"
    return hashlib.sha256(data).hexdigest()[:16]


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else (platform.processor() or "unknown")


def machine() -> dict:
    import numba
    import numpy

    return {
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "NUMBA_NUM_THREADS": os.environ.get("NUMBA_NUM_THREADS", str(numba.config.NUMBA_NUM_THREADS)),
    }


def format_table(rows: list[dict]) -> str:
    head = f"{'model':9s} {'sites':>11s} {'events':>10s} {'best s':>8s} {'median s':>8s} " \
           f"{'kmc-ald ev/s':>12s} {'ref ev/s':>10s} {'ratio':>6s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        k, ref = r["kmc_ald"], r["reference"]
        n = r["size"]
        lines.append(f"{r['model']:9s} {f'{n[0]}x{n[1]}':>11s} {k['events']:10d} "
                     f"{k['seconds_best']:8.3f} {k['seconds_median']:8.3f} "
                     f"{k['events_per_s']:12.3e} {ref['events_per_s']:10.3e} {r['ratio']:6.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="full",
                        help="quick: 64^2 and 256^2 sites; full: also 1024^2 (default)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results",
                        help="folder for the results JSON (default bench/results)")
    args = parser.parse_args(argv)

    from bench.cases import exact_throughput

    now = dt.datetime.now(dt.UTC)
    info = machine()
    sizes = SUITES[args.suite]
    print(f"kmc-ald benchmark, suite {args.suite} ({', '.join(f'{n}^2' for n in sizes)} sites) "
          f"on {info['cpu_model']} ({info['cpu_count']} cores)", flush=True)
    t0 = time.perf_counter()
    rows = exact_throughput.run(sizes, log=lambda line: print(line, flush=True))
    result = {
        "schema": 1,
        "suite": args.suite,
        "git_sha": git_sha(),
        "exact_solver_sha256": solver_hash(),
        "date": now.isoformat(timespec="seconds"),
        "machine": info,
        "device": "cpu",
        "threads_used": 1,
        "wall_time_s": time.perf_counter() - t0,
        "cases": {"exact_throughput": rows},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9_.-]+", "_", info["host"]) or "host"
    path = args.out / f"{now:%Y-%m-%d}-{host}-cpu.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print()
    print(format_table(rows))
    print(f"\nwrote {path}  ({result['wall_time_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
