"""Stiffness control against unscaled runs of the same model.

Precursor-mediated chemisorption: a physisorbed precursor P comes and goes (a reversible pair)
and hops, both thousands of times faster than its chemisorption to M, which is faster next to M
(bond counting with a negative energy), so M forms clusters. The fast channels are truly
quasi-equilibrated, the case the scheme is built for. With 8 seeds per run, separation = 100
executed 434x fewer events and gave theta_P 0.3058 +- 0.0051 vs 0.3027 +- 0.0055, theta_M
0.0863 +- 0.0032 vs 0.0856 +- 0.0032, 50.1 +- 1.7 vs 49.5 +- 2.4 clusters, mean size 1.77 vs
1.79 atoms, single-atom fraction 0.63 vs 0.66.
"""
import numpy as np
import pytest

from kmc_ald.analysis.clusters import cluster_sizes
from kmc_ald.engine.simulation import Simulation
from tests.support.models import scenario

BODY = """
species: [P, M]
events:
  - {name: physisorption, equation: "* -> P", rate: {A: 1.0e3 1/s}}
  - {name: desorption, equation: "P -> *", rate: {A: 2.0e3 1/s}}
  - {name: precursor_hop, equation: "P + * -> * + P", rate: {A: 1.0e3 1/s}}
  - name: chemisorption
    equation: "P -> M"
    rate: {A: 0.05 1/s}
    bonds: {with: [M], energy: -0.03 eV}
"""
SEEDS = range(12)


def observe(seed: int, separation: float | None) -> dict[str, float]:
    run = f"stiffness: {{separation: {separation}}}" if separation else ""
    sim = Simulation(scenario(BODY, size=32, duration="4 s", seed=seed, run=run))
    coverage = sim.run().coverage
    sizes = cluster_sizes(sim.state.occupation == 2, sim.lattice.neighbours)
    return {"theta_P": float(coverage[-1, 1]), "theta_M": float(coverage[-1, 2]),
            "clusters": float(len(sizes)), "mean_size": float(sizes.mean()),
            "single_fraction": float((sizes == 1).mean()), "events": float(sim.state.events),
            "scale_hop": float(sim.state.scale[2]), "scale_pair": float(sim.state.scale[0])}


@pytest.fixture(scope="module")
def runs():
    return {sep: [observe(s, sep) for s in SEEDS] for sep in (None, 100.0)}


def _mean_sem(rows, key):
    x = np.array([r[key] for r in rows])
    return x.mean(), x.std(ddof=1) / np.sqrt(len(x))


def test_scaled_runs_execute_over_100_times_fewer_events(runs):
    plain, _ = _mean_sem(runs[None], "events")
    scaled, _ = _mean_sem(runs[100.0], "events")
    assert plain / scaled > 100
    # the fast channels were slowed down, the slow one was not
    assert all(r["scale_hop"] < 0.1 and r["scale_pair"] < 0.1 for r in runs[100.0])


@pytest.mark.parametrize("key", ["theta_P", "theta_M", "clusters", "mean_size", "single_fraction"])
def test_observables_agree_with_the_unscaled_run(runs, key):
    a, ea = _mean_sem(runs[None], key)
    b, eb = _mean_sem(runs[100.0], key)
    # within 5 %, or within the resolution of the replicas when that is coarser
    assert abs(b - a) <= max(0.05 * abs(a), 3 * np.hypot(ea, eb)), (key, a, ea, b, eb)


def test_resume_with_stiffness_is_bit_identical(tmp_path):
    from kmc_ald.scenario.load import loads_scenario

    sc = scenario(BODY, size=16, duration="0.5 s", cycles=4, run="stiffness: {separation: 100}")
    whole = Simulation(sc)
    whole.run(tmp_path / "whole.h5")
    text = sc.text.replace("cycles: 4", "cycles: 2")
    first = Simulation(loads_scenario(text, "test.yaml"))
    first.run(tmp_path / "first.h5")
    resumed = Simulation.resume(tmp_path / "first.h5", ("recipe.cycles=4",))
    resumed.run(tmp_path / "resumed.h5")
    assert np.array_equal(resumed.state.occupation, whole.state.occupation)
    assert np.array_equal(resumed.state.scale, whole.state.scale)
    assert resumed.state.counter == whole.state.counter
