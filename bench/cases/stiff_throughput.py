"""Simulated time per wall-clock second on a stiff mechanism, with and without stiffness control.

``python -m bench.cases.stiff_throughput [--backend cpu|gpu] [--sizes 256 1024] [--out DIR]``
writes ``stiff_throughput-<backend>.json``. The model is scenarios/precursor_mediated.yaml: a
precursor that comes, goes and hops at ~10^3 1/s, and chemisorbs at 0.05 1/s. Events per second
say little here (scaled runs execute fewer events for the same physics), so the figure of merit
is simulated seconds per wall second, for the exact and the parallel solver, unscaled and with
``run.stiffness.separation = 100``, measured in the same run on the same lattice. Each run is
first warmed up (compilation, and the scale factors settling), then advanced for about
``--seconds`` of wall time. The runs end at different simulated times, so their coverages are
recorded but not comparable; the agreement of the scaled runs with the unscaled exact solver is
measured in tests/validation/test_stiffness.py.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from kmc_ald.resources import bundled_scenarios
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation

CHUNK = 1 << 18  # candidates or events per advance call


def simulated_rate(size: int, solver: str, separation: float | None, backend: str,
                   seconds: float) -> dict:
    stiffness = f"{{separation: {separation}}}" if separation else "null"
    sc = load_scenario(bundled_scenarios()["precursor_mediated"], (
        f"substrate.size=[{size}, {size}]", "recipe.phases[0].duration=1e6 s",
        f"run.solver={solver}", f"run.stiffness={stiffness}"))
    sim = Simulation(sc, backend=backend if solver == "parallel" else None)
    solver_, state = sim.solver, sim.state
    solver_.start_phase(state, 0)
    # warm-up: 0.2 s lets the scale factors settle; unscaled runs need only equilibrate theta_P
    warm = 0.2 if separation else 2e-3
    while not solver_.advance(state, warm, False, CHUNK):
        pass
    t_sim, events, t0 = state.time, state.events, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        solver_.advance(state, 1e6, False, CHUNK)
    wall = time.perf_counter() - t0
    solver_.advance(state, state.time, False, 1)  # the occupation back from the device
    theta = sim.coverage()
    return {"size": f"{size}x{size}", "solver": solver, "separation": separation,
            "backend": sim.backend, "wall_s": wall, "simulated_s": state.time - t_sim,
            "simulated_s_per_wall_s": (state.time - t_sim) / wall,
            "events_per_s": (state.events - events) / wall,
            "end_time_s": state.time, "theta_P": float(theta[1]), "theta_M": float(theta[2]),
            "scale": state.scale.tolist(),
            "tau": getattr(solver_, "tau", None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu", choices=("cpu", "gpu"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--seconds", type=float, default=3.0, help="wall time per run")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        runs = [simulated_rate(size, solver, sep, args.backend, args.seconds)
                for solver in ("exact", "parallel") for sep in (None, 100.0)]
        base = runs[0]["simulated_s_per_wall_s"]
        for r in runs:
            r["speedup_vs_exact_unscaled"] = r["simulated_s_per_wall_s"] / base
            label = f"{r['solver']}{' + stiffness' if r['separation'] else ''}"
            print(f"{size:5d}^2 {label:22s} {r['simulated_s_per_wall_s']:.3g} s/s  "
                  f"{r['events_per_s']:.3g} events/s  x{r['speedup_vs_exact_unscaled']:.3g}  "
                  f"(t = {r['end_time_s']:.3g} s: theta_P {r['theta_P']:.3f}, theta_M "
                  f"{r['theta_M']:.3f})", flush=True)
        rows += runs
    import numba
    out = {"backend": args.backend, "machine": platform.processor() or platform.machine(),
           "threads": numba.get_num_threads(), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"stiff_throughput-{args.backend}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
