"""Stiffness control against unscaled runs of the same model.

scenarios/precursor_mediated.yaml: a physisorbed precursor P comes and goes (a reversible pair)
and hops, both thousands of times faster than its chemisorption to M, which is faster next to M
(bond counting with a negative energy), so M forms clusters. The fast channels are truly
quasi-equilibrated, the case the scheme is built for. With 8 seeds per run, separation = 100
executed 434x fewer events and gave theta_P 0.3058 +- 0.0051 vs 0.3027 +- 0.0055, theta_M
0.0863 +- 0.0032 vs 0.0856 +- 0.0032, 50.1 +- 1.7 vs 49.5 +- 2.4 clusters, mean size 1.77 vs
1.79 atoms, single-atom fraction 0.63 vs 0.66. With 48 seeds each, unscaled exact / scaled exact
/ scaled parallel (p = 0.02): theta_M 0.0875 / 0.0858 / 0.0832 (+- 0.0016-0.0020), mean size
1.742 / 1.711 / 1.656 (+- 0.03), single-atom fraction 0.630 / 0.642 / 0.669 (+- 0.01), theta_P
0.303 / 0.303 / 0.299, 234x fewer events. The parallel solver adds a few per cent to the
control's own bias; at p = 0.005 theta_M is 0.0863 and the mean size 1.68.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from kmc_ald.analysis.clusters import cluster_sizes
from kmc_ald.resources import bundled_scenarios
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation


def model(size: int = 32, duration: str = "4 s", seed: int = 1, cycles: int = 1,
          solver: str = "exact", separation: float | None = None, samples: int = 20):
    """scenarios/precursor_mediated.yaml with the test's surface, time, seed and solver."""
    stiffness = f"{{separation: {separation}}}" if separation else "null"
    return load_scenario(bundled_scenarios()["precursor_mediated"], (
        f"substrate.size=[{size}, {size}]", f"recipe.phases[0].duration={duration}",
        f"recipe.cycles={cycles}", f"run.seed={seed}", f"run.solver={solver}",
        f"run.stiffness={stiffness}", f"output.samples_per_phase={samples}"))


SEEDS = range(12)


def observe(seed: int, separation: float | None, solver: str = "exact") -> dict[str, float]:
    sim = Simulation(model(seed=seed, solver=solver, separation=separation))
    coverage = sim.run().coverage
    sizes = cluster_sizes(sim.state.occupation == 2, sim.lattice.neighbours)
    return {"theta_P": float(coverage[-1, 1]), "theta_M": float(coverage[-1, 2]),
            "clusters": float(len(sizes)), "mean_size": float(sizes.mean()),
            "single_fraction": float((sizes == 1).mean()), "events": float(sim.state.events),
            "scale_hop": float(sim.state.scale[2]), "scale_pair": float(sim.state.scale[0])}


@pytest.fixture(scope="module")
def runs():
    with ThreadPoolExecutor(2) as pool:  # the exact solver releases the GIL: two seeds at a time
        runs = {sep: list(pool.map(observe, SEEDS, [sep] * len(SEEDS))) for sep in (None, 100.0)}
    runs["parallel"] = [observe(s, 100.0, "parallel") for s in SEEDS]
    return runs


def _mean_sem(rows, key):
    x = np.array([r[key] for r in rows])
    return x.mean(), x.std(ddof=1) / np.sqrt(len(x))


@pytest.mark.parametrize("scaled", [100.0, "parallel"])
def test_scaled_runs_execute_over_100_times_fewer_events(runs, scaled):
    plain, _ = _mean_sem(runs[None], "events")
    fewer, _ = _mean_sem(runs[scaled], "events")
    assert plain / fewer > 100
    # the fast channels were slowed down, the slow one was not
    assert all(r["scale_hop"] < 0.1 and r["scale_pair"] < 0.1 for r in runs[scaled])


@pytest.mark.parametrize("scaled", [100.0, "parallel"])
@pytest.mark.parametrize("key", ["theta_P", "theta_M", "clusters", "mean_size", "single_fraction"])
def test_observables_agree_with_the_unscaled_run(runs, key, scaled):
    """Both solvers with stiffness control against the unscaled exact solver."""
    a, ea = _mean_sem(runs[None], key)
    b, eb = _mean_sem(runs[scaled], key)
    # within 5 %, or within the resolution of the replicas when that is coarser
    assert abs(b - a) <= max(0.05 * abs(a), 3 * np.hypot(ea, eb)), (key, a, ea, b, eb)


@pytest.mark.parametrize("solver", ["exact", "parallel"])
def test_resume_with_stiffness_is_bit_identical(tmp_path, solver):
    quick = {"size": 16, "duration": "0.5 s", "solver": solver, "separation": 100}
    whole = Simulation(model(cycles=4, **quick))
    whole.run(tmp_path / "whole.h5")
    first = Simulation(model(cycles=2, **quick))
    first.run(tmp_path / "first.h5")
    resumed = Simulation.resume(tmp_path / "first.h5", ("recipe.cycles=4",))
    resumed.run(tmp_path / "resumed.h5")
    assert np.array_equal(resumed.state.occupation, whole.state.occupation)
    assert np.array_equal(resumed.state.scale, whole.state.scale)
    assert resumed.state.counter == whole.state.counter
