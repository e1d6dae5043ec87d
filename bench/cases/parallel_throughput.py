"""Throughput of the parallel solver against the exact solver, measured in the same run.

``python -m bench.cases.parallel_throughput [--backend cpu|gpu] [--sizes 256 1024] [--out DIR]``
writes ``parallel_throughput-<backend>.json``. For each model and lattice it reports site
updates per second (sites swept, each site once per sweep; the sweep skips over the sites that
are not candidates) and executed events per second of the parallel solver at the default
step_probability, the exact solver's events per second on the same model and lattice, and
their ratio. A replica batch (1000 x 32x32) is measured too. Timing: warm-up sweeps first (JIT
and kernel compilation excluded), the device synchronised before the clock stops (the GPU
backend copies the event counts back), best of 3.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation

# A multi-species mechanism with everything a sweep can meet: adsorption with a footprint,
# desorption, hops with nearest-neighbour bond counting, and a two-site ligand exchange.
MIXED = """
description: multi-species benchmark mechanism
substrate: {lattice: square, size: [%d, %d]}
species: [P, L, O]
events:
  - {name: adsorb, equation: "* -> P", rate: {A: 1 1/s}, footprint: 1}
  - {name: desorb, equation: "P -> *", rate: {A: 0.2 1/s}}
  - name: hop
    equation: "P + * -> * + P"
    rate: {A: 20 1/s}
    bonds: {with: [P, L], energy: 0.01 eV}
  - {name: exchange, equation: "P + O -> L + *", rate: {A: 5 1/s}}
  - {name: oxidise, equation: "* -> O", rate: {A: 0.5 1/s}}
  - {name: o_desorb, equation: "O -> *", rate: {A: 0.5 1/s}}
  - {name: burn, equation: "L -> *", rate: {A: 1 1/s}}
recipe: {temperature: 300 K, cycles: 1, phases: [{name: run, duration: 1000 s}]}
run: {seed: 1}
"""
LANGMUIR = """
description: Langmuir benchmark
substrate: {lattice: square, size: [%d, %d]}
species: [A]
events:
  - {name: adsorb, equation: "* -> A", rate: {A: 2 1/s}}
  - {name: desorb, equation: "A -> *", rate: {A: 1 1/s}}
recipe: {temperature: 300 K, cycles: 1, phases: [{name: run, duration: 1000 s}]}
run: {seed: 1}
"""
MODELS = {"langmuir": LANGMUIR, "mixed": MIXED}


def parallel_rate(text: str, backend: str, replicas: int, sweeps: int) -> dict:
    sim = Simulation(loads_scenario(text), solver="parallel", backend=backend, replicas=replicas)
    solver, state = sim.solver, sim.state
    solver.start_phase(state, 0)
    solver.backend.sweeps(0, 20)  # warm-up and reach a busy state
    solver.backend.event_counts()
    best = None
    for rep in range(3):
        before = solver.backend.event_counts().sum()
        t0 = time.perf_counter()
        solver.backend.sweeps(20 + rep * sweeps, sweeps)
        after = solver.backend.event_counts().sum()  # copies back: the device has finished
        wall = time.perf_counter() - t0
        if best is None or wall < best[0]:
            best = (wall, int(after - before))
    wall, events = best
    updates = sweeps * sim.lattice.n_sites * replicas
    return {"sweeps": sweeps, "replicas": replicas, "seconds": wall,
            "site_updates_per_s": updates / wall, "events_per_s": events / wall,
            "events_per_site_update": events / updates, "tau": solver.tau}


def exact_rate(text: str, events: int = 2_000_000) -> float:
    sim = Simulation(loads_scenario(text), solver="exact")
    sim.solver.start_phase(sim.state, 0)
    sim.solver.advance(sim.state, 1e9, False, 200_000)  # warm-up, into a busy state
    best = 0.0
    for _ in range(3):
        n0, t0 = sim.state.events, time.perf_counter()
        sim.solver.advance(sim.state, 1e9, False, events)
        best = max(best, (sim.state.events - n0) / (time.perf_counter() - t0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu", choices=("cpu", "gpu"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    args = parser.parse_args()
    rows = []
    for model, template in MODELS.items():
        for L in args.sizes:
            text = template % (L, L)
            sweeps = max(2, int(2e7 / (L * L)))
            par = parallel_rate(text, args.backend, 1, sweeps)
            ex = exact_rate(text)
            rows.append({"model": model, "lattice": f"{L}x{L}", **par, "exact_events_per_s": ex,
                         "ratio_events": par["events_per_s"] / ex if ex else float("nan")})
            print(f"{model:9s} {L:5d}^2  parallel {par['site_updates_per_s']:.3g} site updates/s "
                  f"{par['events_per_s']:.3g} events/s  exact {ex:.3g} events/s  ratio "
                  f"{par['events_per_s'] / ex:.2f}", flush=True)
        text = template % (32, 32)
        par = parallel_rate(text, args.backend, 1000, 20)
        ex = exact_rate(text)
        rows.append({"model": model, "lattice": "1000 x 32x32", **par, "exact_events_per_s": ex,
                     "ratio_events": par["events_per_s"] / ex if ex else float("nan")})
        print(f"{model:9s} 1000x32^2 parallel {par['site_updates_per_s']:.3g} site updates/s "
              f"{par['events_per_s']:.3g} events/s  exact (one 32^2) {ex:.3g} events/s", flush=True)
    import numba
    out = {"backend": args.backend, "machine": platform.processor() or platform.machine(),
           "threads": numba.get_num_threads(), "step_probability": 0.02, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"parallel_throughput-{args.backend}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
