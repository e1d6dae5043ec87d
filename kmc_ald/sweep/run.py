"""Running a sweep: points batched into ensembles, in this process or as Dask tasks, each
finished point written atomically, finished points never redone.

Points that share a lattice and a schedule (kmc_ald.model.points) run as one ensemble batch: one
GPU launch, or numba threads across the cores. With ``workers`` or a scheduler address the
batches become tasks of a Dask cluster (a LocalCluster of worker processes, or an existing
cluster, e.g. one started by dask-jobqueue on Slurm or PBS), each worker with its share of the
cores. Replica r of every point uses seed + r and equals the point run alone with that seed, so
the results are identical, bit for bit, however the sweep was cut into batches or executed.

On disk (``<output>/``): ``points/<key>.h5`` per finished point (written to a temporary name and
renamed, so a killed sweep leaves whole points only), ``points/<key>.failed.txt`` per failed
point, and ``sweep.h5``, all finished points together, rewritten at the end of each run. A
point's key hashes the scenario text, its overrides, the seed and the replicas: rerunning a
sweep skips the points whose file exists, and a changed point is a new key.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from kmc_ald.errors import writing
from kmc_ald.sweep.spec import Point, Sweep

_log = logging.getLogger("kmc_ald")

#: Per-cycle statistics tabulated per point (scalars per replica; kmc_ald.analysis.cycles).
OBSERVABLES = ("time", "deposited", "growth", "growth_thickness", "growth_mass", "thickness",
               "covered_fraction", "loading", "metal_atoms", "clusters", "mean_cluster_size",
               "mean_diameter", "mean_projected_diameter", "largest_cluster",
               "single_atom_fraction", "anchoring_occupied")


def point_key(sweep: Sweep, point: Point) -> str:
    """What identifies a point's result: scenario text, overrides, seed, replicas, and the
    version of the code and kernels that computed it (an upgrade recomputes, never mixes)."""
    from kmc_ald import __version__
    from kmc_ald.engine.backends.kernels import kernels_digest
    spec = sweep.spec
    text = json.dumps([sweep.scenario_text, list(point.overrides), spec.seed, spec.replicas,
                       __version__, kernels_digest()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write to a temporary name, sync it to disk, then rename: readers and a later run see the
    whole file or none of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_point(folder: Path, key: str, point: Point, rows: dict[str, np.ndarray],
                 events: int, wall: float) -> None:
    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(index=point.index, values=json.dumps(point.values),
                           overrides=json.dumps(point.overrides), events=events,
                           wall_time=wall)
            for name, data in rows.items():
                f.create_dataset(name, data=data)  # [cycle, replica]
    _atomic_write(folder / f"{key}.h5", write)


def run_batch(scenario_text: str, scenario_name: str, points: list[Point], keys: list[str],
              seed: int, replicas: int, backend: str, folder: str,
              scenarios: list | None = None) -> list[dict]:
    """Run points as one ensemble and write each one's file; a small summary per point.
    Each point's overrides set run.seed (= ``seed``): replica r uses seed + r.

    A plain function of picklable arguments: the task a Dask worker runs (which validates the
    points' scenarios from the text; in this process ``scenarios`` passes them). An error is written
    as each point's ``.failed.txt`` and returned, so that it does not stop the other batches.
    """
    from kmc_ald.errors import KmcAldError
    from kmc_ald.scenario.load import loads_scenario
    from kmc_ald.simulation import Simulation

    out = Path(folder)
    t0 = time.perf_counter()
    try:
        scenarios = scenarios or [loads_scenario(scenario_text, scenario_name, p.overrides)
                                  for p in points]
        sim = Simulation(scenarios[0], solver="exact", backend=backend,
                         replicas=replicas, points=scenarios[1:])
        summary = sim.run()
    except Exception as err:  # noqa: BLE001 - a failing point must not stop the others
        message = (str(err) if isinstance(err, KmcAldError)
                   else f"{type(err).__name__}: {err}")
        for key in keys:
            _atomic_write(out / f"{key}.failed.txt", lambda tmp: tmp.write_text(message))
        return [{"index": p.index, "key": k, "error": message, "events": 0}
                for p, k in zip(points, keys)]
    wall = time.perf_counter() - t0
    n_cycles = len(summary.cycles["cycle"])
    counts = sim.state.event_counts.reshape(len(points), replicas, -1).sum(axis=(1, 2))
    results = []
    for p, (point, key) in enumerate(zip(points, keys)):
        rows = {name: np.asarray(summary.cycles[name]).reshape(n_cycles, len(points), replicas)
                [:, p] for name in OBSERVABLES}
        coverage = np.asarray(summary.cycles["coverage_end_of_phase"])
        coverage = coverage.reshape(n_cycles, len(points), replicas, *coverage.shape[-2:])
        rows["coverage_end_of_cycle"] = coverage[:, p, :, -1, :]  # [cycle, replica, species]
        _write_point(out, key, point, rows, int(counts[p]), wall / len(points))
        results.append({"index": point.index, "key": key, "error": None,
                        "events": int(counts[p])})
    return results


def _checked(results: list[dict], points_dir: Path) -> list[dict]:
    """A worker's report, checked against the folder: a point is finished when its file is."""
    for r in results:
        if r["error"] is None and not (points_dir / f"{r['key']}.h5").exists():
            r["error"] = f"the worker reported point {r['index']} done, but {points_dir} has " \
                         "no file for it (do the workers see this folder?)"
    return results


def batches(sweep: Sweep, points: list[Point], max_points: int | None) -> list[list[Point]]:
    """Points grouped so that each group can share one launch (same lattice and schedule),
    and cut into groups of at most ``max_points``."""
    from kmc_ald.model.compile import compile_scenario
    from kmc_ald.model.points import differs

    groups: list[tuple[object, list[Point]]] = []
    for point in points:
        model = compile_scenario(sweep.scenario(point))
        for first, members in groups:
            if differs(first, model) is None:
                members.append(point)
                break
        else:
            groups.append((model, [point]))
    if max_points is None:
        size = max((len(members) for _, members in groups), default=1)
    else:
        size = max(1, max_points)
    return [members[i:i + size] for _, members in groups for i in range(0, len(members), size)]


def _preflight(sweep: Sweep, point: Point, backend: str, distributed: bool) -> None:
    """Refuse at once what would fail every point: a solver limit of the scenario (stiffness
    control with replicas), no deposit section (no per-cycle rows), or a GPU asked for where
    this process has none (a Dask worker may have one, so that is left to the workers)."""
    from kmc_ald.engine.solvers import exact_unsupported
    from kmc_ald.model.compile import compile_scenario

    scenario = sweep.scenario(point)
    limit = exact_unsupported(compile_scenario(scenario), replicas=max(2, sweep.spec.replicas),
                              stiffness=scenario.run.stiffness is not None)
    if limit is not None:
        raise limit.error(scenario)
    if scenario.deposit is None:
        from kmc_ald.errors import ScenarioError
        raise ScenarioError(f"{sweep.scenario_name}: a sweep records per-cycle observables "
                            "(growth, loading, clusters, coverage at each cycle end), which come "
                            "from the scenario's deposit section, and this scenario has none; "
                            "add one (as in scenarios/al2o3_tma_h2o.yaml), or run each point "
                            "with kmc-ald run")
    if backend == "gpu" and not distributed:
        from kmc_ald.engine.backends.base import select_ensemble_backend
        select_ensemble_backend("gpu")  # raises, with the reason, when there is no GPU


def replicas_per_batch(backend: str) -> int:
    """Replicas that keep the device busy: 32 per CPU thread, or 16384 on a GPU."""
    from kmc_ald.engine.backends.base import gpu_unavailable_reason
    if backend != "cpu" and gpu_unavailable_reason() is None:
        return 16384
    import numba
    return 32 * numba.get_num_threads()


@dataclass
class SweepProgress:
    """Where a sweep is; passed to the progress callback after each finished batch."""

    done: int  # points finished (computed, skipped or failed)
    total: int
    computed: int
    skipped: int
    failed: int
    events: int  # events executed by this run so far
    elapsed: float  # [s]


@dataclass
class SweepOutcome:
    """What a sweep run did: the folder, and which points it computed, skipped, or lost."""

    folder: Path
    computed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    events: int = 0
    wall_time: float = 0.0

    @property
    def sweep_file(self) -> Path:
        return self.folder / "sweep.h5"


def run_sweep(sweep: Sweep, output: str | Path, *, backend: str = "auto",
              workers: int | None = None, scheduler: str | None = None,
              max_points: int | None = None,
              progress: Callable[[SweepProgress], None] | None = None) -> SweepOutcome:
    """Run every point of a sweep not already finished in ``output``; write ``sweep.h5``.

    Args:
        workers: Run batches on a local Dask cluster of this many worker processes (each with
            cores / workers numba threads); None: in this process.
        scheduler: Address of a running Dask scheduler (``tcp://host:8786``) instead.
        max_points: Points per batch at most. Default: in this process, enough points for
            :func:`replicas_per_batch` replicas (a batch is what a kill can lose); with Dask,
            four batches per worker.
    """
    folder = Path(output)
    points_dir = folder / "points"
    keys = {p.index: point_key(sweep, p) for p in sweep.points}
    outcome = SweepOutcome(folder)
    pending = []
    for point in sweep.points:
        if (points_dir / f"{keys[point.index]}.h5").exists():
            outcome.skipped.append(point.index)
        else:
            (points_dir / f"{keys[point.index]}.failed.txt").unlink(missing_ok=True)
            pending.append(point)
    distributed = workers is not None or scheduler is not None
    if pending:
        _preflight(sweep, pending[0], backend, distributed)  # before anything is written
    with writing(folder, "the sweep folder"):
        points_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write(folder / "sweep.yaml", lambda tmp: tmp.write_text(sweep.text))
    t0 = time.perf_counter()
    spec = sweep.spec

    def report() -> None:
        if progress is not None:
            done = len(outcome.computed) + len(outcome.skipped) + len(outcome.failed)
            progress(SweepProgress(done, len(sweep.points), len(outcome.computed),
                                   len(outcome.skipped), len(outcome.failed), outcome.events,
                                   time.perf_counter() - t0))

    def record(results: list[dict]) -> None:
        for r in results:
            if r["error"] is None:
                outcome.computed.append(r["index"])
            else:
                outcome.failed[r["index"]] = r["error"]
                _log.warning("sweep point %d failed: %s", r["index"], r["error"])
            outcome.events += r["events"]
        report()

    from kmc_ald.sweep.results import write_sweep_file
    try:
        report()
        if pending and distributed:
            from kmc_ald.sweep.cluster import client_for
            with client_for(workers, scheduler) as client:
                n_workers = max(1, len(client.scheduler_info()["workers"]))
                size = max_points or max(1, -(-len(pending) // (4 * n_workers)))
                # an absolute folder: a remote worker's working directory is its own
                tasks = {client.submit(run_batch, sweep.scenario_text, sweep.scenario_name,
                                       batch, [keys[p.index] for p in batch], spec.seed,
                                       spec.replicas, backend, str(points_dir.resolve()),
                                       pure=False): batch
                         for batch in batches(sweep, pending, size)}
                from distributed import as_completed
                for future in as_completed(tasks):
                    try:
                        results = future.result()
                    except Exception as err:  # noqa: BLE001 - a lost worker, a task error
                        results = [{"index": p.index, "key": keys[p.index], "events": 0,
                                    "error": f"{type(err).__name__}: {err}"} for p in tasks[future]]
                    record(_checked(results, points_dir))
        elif pending:
            size = max_points or max(1, -(-replicas_per_batch(backend) // spec.replicas))
            for batch in batches(sweep, pending, size):
                record(run_batch(sweep.scenario_text, sweep.scenario_name, batch,
                                 [keys[p.index] for p in batch], spec.seed, spec.replicas,
                                 backend, str(points_dir), [sweep.scenario(p) for p in batch]))
    finally:  # whatever stopped the sweep, sweep.h5 holds every finished point
        outcome.wall_time = time.perf_counter() - t0
        outcome.computed.sort()
        write_sweep_file(sweep, folder, keys)
    return outcome
