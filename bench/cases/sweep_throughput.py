"""Throughput of a sweep, three ways in one run: one core, both cores through the ensemble, and
a 2-worker Dask LocalCluster; and Dask's overhead per point.

``python -m bench.cases.sweep_throughput [--points 64] [--replicas 16] [--cycles 3] [--out DIR]``
writes ``sweep_throughput.json``. The sweep: ``al2o3_tma_h2o`` on its 10 nm x 10 nm cell, the
temperature over 100-300 degC in ``--points`` points, ``--replicas`` replicas each. Each mode
runs the whole sweep into a fresh folder (kmc_ald.sweep.run.run_sweep: batching, atomic point
files, sweep.h5) after a warm-up that compiles the kernels, and the tables of the three are
checked to be identical. Dask's overhead per point is the wall time the cluster adds beyond its
tasks' own compute time (``workers x wall - sum of task times``) divided by the points, as a
fraction of one point's compute time; the cluster's start-up (processes, and each worker loading
the compiled kernels) is a fixed cost, reported apart.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import h5py
import numba
import pandas as pd

from kmc_ald.sweep.results import load_table
from kmc_ald.sweep.run import run_sweep
from kmc_ald.sweep.spec import loads_sweep


def sweep_text(points: int, replicas: int, cycles: int) -> str:
    return json.dumps({"scenario": "al2o3_tma_h2o", "set": [f"recipe.cycles={cycles}"],
                       "axes": [{"path": "recipe.temperature",
                                 "range": f"100 degC..300 degC, {points} points"}],
                       "replicas": replicas, "seed": 1})


def task_seconds(folder: Path) -> float:
    """Compute time of the point tasks, summed (each point file stores its share)."""
    return sum(h5py.File(p, "r").attrs["wall_time"] for p in (folder / "points").glob("*.h5"))


def warm_up(text: str) -> None:
    """Compile (or load) the kernels in this process: a small sweep into a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        run_sweep(loads_sweep(text, "<warm-up>"), folder, backend="cpu")


def timed(mode: str, sweep, folder: Path, **options) -> tuple[dict, pd.DataFrame]:
    t0 = time.perf_counter()
    outcome = run_sweep(sweep, folder, backend="cpu", **options)
    wall = time.perf_counter() - t0
    row = {"seconds": wall, "points_per_s": len(sweep.points) / wall, "events": outcome.events,
           "events_per_s": outcome.events / wall, "task_seconds": task_seconds(folder)}
    print(f"{mode:30s} {wall:7.2f} s  "
          f"{len(sweep.points) / wall:6.2f} points/s  {outcome.events / wall:.3g} events/s",
          flush=True)
    return row, load_table(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    args = parser.parse_args()
    sweep = loads_sweep(sweep_text(args.points, args.replicas, args.cycles), "<bench>")
    threads = numba.get_num_threads()
    root = Path(tempfile.mkdtemp(prefix="kmc_ald_sweep_bench_"))
    rows, tables = {}, {}
    try:
        warm_up(sweep_text(2, 2, 1))
        for mode, n in (("one core", 1), ("ensemble, all cores", threads)):
            numba.set_num_threads(n)
            rows[mode], tables[mode] = timed(mode, sweep,
                                             root / mode.split(",")[0].replace(" ", "_"))
            numba.set_num_threads(threads)
        from distributed import Client, LocalCluster
        t0 = time.perf_counter()
        env = {"NUMBA_NUM_THREADS": str(max(1, threads // 2)), "OMP_NUM_THREADS": "1"}
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None, env=env) as cluster, Client(cluster):
            address = cluster.scheduler_address
            client = Client(address)
            client.run(warm_up, sweep_text(2, 2, 1))  # on every worker
            client.close()
            startup = time.perf_counter() - t0  # cluster up, and each worker's kernels loaded
            mode = "dask LocalCluster, 2 workers"
            rows[mode], tables[mode] = timed(mode, sweep, root / "dask", scheduler=address)
        rows[mode]["cluster_startup_s"] = startup
    finally:
        shutil.rmtree(root, ignore_errors=True)
    first = next(iter(tables.values()))
    for table in tables.values():
        pd.testing.assert_frame_equal(first, table)  # however the sweep ran
    dask = rows["dask LocalCluster, 2 workers"]
    per_point = dask["task_seconds"] / len(sweep.points)
    overhead = (2 * dask["seconds"] - dask["task_seconds"]) / len(sweep.points)
    out = {"machine": platform.processor() or platform.machine(), "threads": threads,
           "points": args.points, "replicas": args.replicas, "cycles": args.cycles,
           "modes": rows, "dask_overhead_per_point_s": overhead,
           "point_compute_s": per_point, "dask_overhead_fraction": overhead / per_point,
           "dask_cluster_startup_s": dask["cluster_startup_s"],
           "tables_identical": True}
    print(f"Dask: {overhead * 1e3:.1f} ms per point of overhead against {per_point * 1e3:.1f} ms "
          f"of compute ({100 * overhead / per_point:.1f} %); start-up "
          f"{dask['cluster_startup_s']:.1f} s once", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep_throughput.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
