"""The parallel solver's bias against the exact solver as a function of step_probability.

``python -m bench.cases.parallel_bias [--replicas 64] [--out bench/results]`` writes
``parallel_bias.json`` and ``parallel_bias.png``. For three textbook models it runs the exact
solver once per seed and the parallel solver as one replica batch at each step_probability p, and
reports the difference of the means with its standard error (combined over both sides):

* Langmuir (k_a = 2, k_d = 1 1/s, 32x32): coverage at t = 0.2 s, mid-transient;
* RSA with nearest-neighbour exclusion (64x64): jamming coverage;
* deposition + diffusion + irreversible aggregation (D/F = 100, 64x64): island density at 0.1 ML.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from kmc_ald.analysis.clusters import island_density
from kmc_ald.resources import bundled_scenarios
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation

STEP_PROBABILITIES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)

MODELS = {
    "langmuir": ("langmuir", ("substrate.size=[32, 32]", "recipe.phases[0].duration=0.2 s",
                              "output.samples_per_phase=1"), "coverage at t = 0.2 s"),
    "rsa": ("rsa_square", ("substrate.size=[64, 64]", "recipe.phases[0].duration=20 s",
                           "output.samples_per_phase=1"), "jamming coverage"),
    "nucleation": ("island_nucleation", ("substrate.size=[64, 64]", "events[1].rate.A=100 1/s",
                                         "output.samples_per_phase=1"),
                   "island density at 0.1 ML, D/F = 100"),
}


def observe(model: str, coverage: np.ndarray, occupation: np.ndarray, neighbours) -> float:
    if model == "nucleation":
        return island_density(occupation, neighbours)
    return float(coverage[-1, 1])


def measure(model: str, replicas: int) -> dict:
    name, overrides, what = MODELS[model]
    path = bundled_scenarios()[name]
    exact = []
    for seed in range(replicas):
        sim = Simulation(load_scenario(path, overrides), seed=seed, solver="exact")
        summary = sim.run()
        exact.append(observe(model, summary.coverage, sim.state.occupation, sim.lattice.neighbours))
    exact = np.array(exact)
    rows = []
    for p in STEP_PROBABILITIES:
        sc = load_scenario(path, (*overrides, f"run.step_probability={p}"))
        sim = Simulation(sc, seed=100_000, solver="parallel", backend="cpu", replicas=replicas)
        t0 = time.perf_counter()
        summary = sim.run()
        wall = time.perf_counter() - t0
        par = np.array([observe(model, summary.coverage[:, r], sim.state.occupation[r],
                                sim.lattice.neighbours) for r in range(replicas)])
        sem = float(np.sqrt(exact.var(ddof=1) / replicas + par.var(ddof=1) / replicas))
        diff = float(par.mean() - exact.mean())
        rows.append({"step_probability": p, "parallel": float(par.mean()), "bias": diff,
                     "bias_se": sem, "relative_bias": diff / float(exact.mean()),
                     "relative_bias_se": sem / float(exact.mean()), "wall_s": wall})
    return {"observable": what, "exact": float(exact.mean()),
            "exact_se": float(exact.std(ddof=1) / np.sqrt(replicas)), "rows": rows}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    for (model, res), marker in zip(results["models"].items(), "osD"):
        p = np.array([r["step_probability"] for r in res["rows"]])
        rel = np.array([r["relative_bias"] for r in res["rows"]])
        err = np.array([r["relative_bias_se"] for r in res["rows"]])
        ax.errorbar(p, 100 * rel, yerr=100 * 2 * err, marker=marker, capsize=3,
                    label=f"{model}: {res['observable']}")
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.axvline(0.02, color="0.5", ls=":", lw=1.0)
    ax.text(0.021, ax.get_ylim()[1] * 0.9, "default", color="0.4", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("step_probability p (largest probability of a site changing per sweep)")
    ax.set_ylabel("parallel − exact  [% of exact]  (±2 s.e.)")
    ax.set_title(f"Bias of the parallel solver, {results['replicas']} replicas per point")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    args = parser.parse_args()
    results = {"replicas": args.replicas,
               "models": {m: measure(m, args.replicas) for m in MODELS}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "parallel_bias.json").write_text(json.dumps(results, indent=1))
    plot(results, args.out / "parallel_bias.png")
    for model, res in results["models"].items():
        print(f"{model}: {res['observable']}, exact {res['exact']:.5g} ± {res['exact_se']:.2g}")
        for r in res["rows"]:
            print(f"  p = {r['step_probability']:<6} bias {100 * r['relative_bias']:+6.2f}% "
                  f"± {100 * r['relative_bias_se']:.2f}%  ({r['wall_s']:.1f} s)")


if __name__ == "__main__":
    main()
