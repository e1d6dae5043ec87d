"""150 cycles of Pt on N-doped graphene (the bundled 40 nm x 40 nm), exact solver, with and without stiffness
control, measured in the same run.

``python -m bench.cases.pt_n_graphene [--cycles 150] [--seeds 3] [--out DIR]`` writes
``pt_n_graphene.json``: wall time, executed events and the cycle-150 statistics (loading,
single-atom fraction, mean cluster size) of each seed, unscaled (the scenario's setting) and
with ``run.stiffness.separation = 1000``. Numba compilation is excluded (one short warm-up run first).
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from kmc_ald.resources import resolve_scenario
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from kmc_ald.surfaces import lattice_for

KEYS = ("loading", "single_atom_fraction", "mean_cluster_size", "deposited")


def measure(cycles: int, seed: int, stiffness: bool) -> dict:
    sets = [f"recipe.cycles={cycles}", f"run.seed={seed}"]
    if stiffness:
        sets.append("run.stiffness={separation: 1000}")
    sim = Simulation(load_scenario(resolve_scenario("pt_n_graphene"), tuple(sets)))
    t0 = time.perf_counter()
    summary = sim.run()
    wall = time.perf_counter() - t0
    return {"seed": seed, "wall_s": wall, "events": int(sim.state.events),
            **{k: float(summary.cycles[k][-1]) for k in KEYS}}


def _surface() -> str:
    scenario = load_scenario(resolve_scenario("pt_n_graphene"))
    size = " x ".join(f"{v / 10:g} nm" for v in scenario.substrate.size)  # [Å] -> nm
    return f"{size} graphene, {lattice_for(scenario).n_sites:,} sites"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    measure(2, 0, True)  # compile
    result = {"host": platform.node(), "cpu": platform.processor() or platform.machine(),
              "cycles": args.cycles, "surface": _surface()}
    for label, stiff in (("stiffness", True), ("unscaled", False)):
        rows = [measure(args.cycles, s, stiff) for s in range(args.seeds)]
        result[label] = rows
        walls = [r["wall_s"] for r in rows]
        print(f"{label:10s} wall {np.mean(walls):.2f} s, events "
              f"{np.mean([r['events'] for r in rows]):.3g}, "
              + ", ".join(f"{k} {np.mean([r[k] for r in rows]):.3g}" for k in KEYS))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pt_n_graphene.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
