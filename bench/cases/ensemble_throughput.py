"""Aggregate throughput of the ensemble solver against the serial exact solver, in one run.

``python -m bench.cases.ensemble_throughput [--backend cpu|gpu] [--replicas 1 2 4 ...]
[--out DIR]`` writes ``ensemble_throughput-<backend>.json`` and ``.png``. For each bundled ALD
scenario (a 10 nm x 10 nm cell, a few cycles) it runs the whole recipe the way ``kmc-ald run``
does (run_recipe: phases, samples, chunks; no observers), first with the serial exact solver for
a few seeds one after another, then with the ensemble solver for each number of replicas, and
reports executed events per second of wall time summed over replicas, and the ratio to the
serial solver. Replicas wait for each other at every sample time, so when a few replicas carry
most of the events (a mobile cluster on one surface, nothing on another) the speedup is bounded
by the slowest replica of each interval: ``sync_bound`` is that bound for the measured work.
Compilation is excluded (a warm-up run first); the ensemble runs are the same trajectories as
the serial ones (replica r = seed S + r), so the two count the same events.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from kmc_ald.engine.backends.base import select_ensemble_backend
from kmc_ald.engine.recipe import Observer, run_recipe
from kmc_ald.engine.solvers.ensemble import EnsembleSolver
from kmc_ald.engine.solvers.exact import ExactSolver
from kmc_ald.engine.state import State
from kmc_ald.model.compile import compile_scenario
from kmc_ald.model.points import point_set
from kmc_ald.resources import bundled_scenarios
from kmc_ald.scenario.load import load_scenario

#: The cells: about 10 nm x 10 nm, a few cycles each.
CASES = {
    "al2o3_tma_h2o": ("substrate.size=[10 nm, 10 nm]", "recipe.cycles=5"),
    "pt_n_graphene": ("substrate.size=[10 nm, 10 nm]", "recipe.cycles=20"),
}
SEED = 1
SERIAL_SEEDS = 4


def serial_rate(model) -> dict:
    """Events per second of the serial exact solver over a few seeds, one after another."""
    events, wall = 0, 0.0
    for r in range(SERIAL_SEEDS):
        solver = ExactSolver(model, SEED + r)
        state = State(model.occupation.copy(), np.zeros(model.mechanism.n_events, np.int64))
        t0 = time.perf_counter()
        run_recipe(model, solver, state)
        wall += time.perf_counter() - t0
        events += state.events
    return {"events": events, "seconds": wall, "events_per_s": events / wall}


class IntervalWork(Observer):
    """Events of each replica in each sample interval: the work between two synchronisations."""

    def __init__(self, state: State):
        self.state, self.rows, self.last = state, [], None

    def sample(self, t: float, coverage: np.ndarray) -> None:
        now = self.state.event_counts.sum(axis=-1)
        if self.last is not None:
            self.rows.append(now - self.last)
        self.last = now


def sync_bound(work: np.ndarray, threads: int) -> float:
    """The largest speedup over one thread that ``threads`` threads can reach when every
    replica waits for the others at each sample: per interval, the slowest replica or the
    interval's work shared out evenly, whichever takes longer."""
    total = work.sum()
    longest = np.maximum(work.max(axis=1), work.sum(axis=1) / threads).sum()
    return float(total / longest) if longest > 0 else float("nan")


def ensemble_rate(model, replicas: int, backend: str, threads: int) -> dict:
    solver = EnsembleSolver(point_set([model]), SEED, replicas, select_ensemble_backend(backend))
    state = solver.initial_state()
    work = IntervalWork(state)
    t0 = time.perf_counter()
    run_recipe(model, solver, state, [work])
    wall = time.perf_counter() - t0
    return {"replicas": replicas, "events": state.events, "seconds": wall,
            "events_per_s": state.events / wall,
            "sync_bound": sync_bound(np.array(work.rows), threads),
            "largest_replica_share": float(state.event_counts.sum(axis=1).max() / state.events),
            "bytes_per_replica": solver.memory_per_replica, "launch_groups": len(solver.groups)}


def textbook_batches(backend: str, replicas: int = 1000, size: int = 32) -> list[dict]:
    """Where the two solvers meet: many small textbook lattices (the parallel solver's
    benchmark models, kmc_ald's bench/cases/parallel_throughput.py), timed in a busy state by
    both solvers in this run."""
    from bench.cases.parallel_throughput import MODELS, parallel_rate
    from kmc_ald.scenario.load import loads_scenario

    rows = []
    for name, template in MODELS.items():
        text = template % (size, size)
        model = compile_scenario(loads_scenario(text))
        solver = EnsembleSolver(point_set([model]), SEED, replicas,
                                select_ensemble_backend(backend))
        state = solver.initial_state()
        solver.start_phase(state, 0)
        solver.advance(state, 1e9, False, 2000)  # warm-up, into a busy state
        best = 0.0
        for _ in range(3):
            n0, t0 = state.events, time.perf_counter()
            solver.advance(state, 1e9, False, 20_000)
            best = max(best, (state.events - n0) / (time.perf_counter() - t0))
        par = parallel_rate(text, backend, replicas, 20)["events_per_s"]
        rows.append({"model": name, "batch": f"{replicas} x {size}x{size}",
                     "ensemble_events_per_s": best, "parallel_events_per_s": par,
                     "ensemble_over_parallel": best / par})
        print(f"{name}: {replicas} x {size}^2  ensemble {best:.3g} events/s, parallel solver "
              f"{par:.3g} events/s ({best / par:.2f} x)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu", choices=("cpu", "gpu"))
    parser.add_argument("--replicas", type=int, nargs="+",
                        default=[1, 2, 4, 8, 16, 32, 64, 128, 256])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    args = parser.parse_args()
    import numba
    threads = numba.get_num_threads() if args.backend == "cpu" else 1 << 30
    cases = []
    for name, overrides in CASES.items():
        model = compile_scenario(load_scenario(bundled_scenarios()[name], overrides))
        warm = compile_scenario(load_scenario(bundled_scenarios()[name],
                                              (*overrides, "recipe.cycles=1")))
        ensemble_rate(warm, 2, args.backend, threads)  # compile (numba) or load (NVRTC) the kernels
        serial_rate(warm)
        serial = serial_rate(model)
        print(f"{name}: {model.lattice.n_sites} sites, serial exact {serial['events_per_s']:.3g} "
              "events/s", flush=True)
        rows = []
        for replicas in args.replicas:
            row = ensemble_rate(model, replicas, args.backend, threads)
            row["ratio_to_serial"] = row["events_per_s"] / serial["events_per_s"]
            rows.append(row)
            print(f"  {replicas:6d} replicas  {row['events_per_s']:.3g} events/s  "
                  f"{row['ratio_to_serial']:.2f} x serial  ({row['seconds']:.2f} s; "
                  f"largest replica {100 * row['largest_replica_share']:.0f} % of the events, "
                  f"sync bound {row['sync_bound']:.2f} x)", flush=True)
        cases.append({"scenario": name, "overrides": list(overrides),
                      "sites": model.lattice.n_sites, "serial": serial, "ensemble": rows})
    out = {"backend": args.backend, "machine": platform.processor() or platform.machine(),
           "threads": numba.get_num_threads(), "cases": cases,
           "textbook_batches": textbook_batches(args.backend)}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"ensemble_throughput-{args.backend}"
    stem.with_suffix(".json").write_text(json.dumps(out, indent=1))
    plot(out, stem.with_suffix(".png"))


def plot(result: dict, path: Path) -> None:
    """Speedup over the serial exact solver against replicas, with the sync bound of each case."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for case in result["cases"]:
        reps = [r["replicas"] for r in case["ensemble"]]
        line, = ax.plot(reps, [r["ratio_to_serial"] for r in case["ensemble"]], "o-",
                        label=f"{case['scenario']} ({case['serial']['events_per_s']:.2g} "
                              "events/s serial)")
        ax.plot(reps, [r["sync_bound"] for r in case["ensemble"]], "--", lw=1,
                color=line.get_color(),
                label=f"{case['scenario']}: bound of the per-sample rendezvous (kernels only)")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("replicas")
    ax.set_ylabel("aggregate events/s ÷ serial exact solver [1]")
    ax.set_title(f"ensemble solver on {result['backend']}, {result['threads']} threads, "
                 f"10 nm × 10 nm cells", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
