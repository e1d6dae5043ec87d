"""The parallel solver against the exact one, at the default accuracy (step_probability 0.02).

The parallel solver is exact only as step_probability -> 0; its bias is first order in it
(kmc_ald/engine/solvers/parallel.py). At the default the difference of every observable below
from the exact solver must lie within 4 combined standard errors of 32 replicas on each side:
the bias is within the statistical error of 32 replicas. The error-vs-step_probability curve is
in bench/README.md (python -m bench.cases.parallel_bias).
"""
import numpy as np
import pytest

from kmc_ald.analysis.clusters import island_density
from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation
from tests.support.models import scenario

REPLICAS = 32

LANGMUIR = """
species: [A]
events:
  - {name: adsorption, equation: "* -> A", rate: {A: 2 1/s}}
  - {name: desorption, equation: "A -> *", rate: {A: 1 1/s}}
"""
RSA = """
species: [A]
events:
  - {name: adsorption, equation: "* -> A", rate: {A: 1 1/s}, footprint: 1}
"""
NUCLEATION = """
species: [A]
events:
  - {name: deposition, equation: "* -> A", rate: {A: 1 1/s}}
  - {name: hop, equation: "A + * -> * + A", rate: {A: 100 1/s}, bonds: {with: [A], max: 0}}
"""


def both(body: str, observe, **kw) -> tuple[np.ndarray, np.ndarray]:
    """An observable [replicas, ...] from 32 exact runs and one 32-replica parallel run."""
    sc = scenario(body, **kw)
    assert sc.run.step_probability == 0.02  # the default is what is tested
    exact = []
    for seed in range(REPLICAS):
        sim = Simulation(sc, seed=seed, solver="exact")
        summary = sim.run()
        exact.append(observe(summary.coverage, sim.state.occupation, sim.lattice))
    par = Simulation(loads_scenario(sc.text), seed=10_000, solver="parallel", backend="cpu",
                     replicas=REPLICAS)
    summary = par.run()
    parallel = [observe(summary.coverage[:, r], par.state.occupation[r], par.lattice)
                for r in range(REPLICAS)]
    return np.array(exact), np.array(parallel)


def assert_agree(exact: np.ndarray, parallel: np.ndarray, what: str) -> None:
    sem = np.sqrt(exact.var(axis=0, ddof=1) / len(exact)
                  + parallel.var(axis=0, ddof=1) / len(parallel))
    diff = parallel.mean(axis=0) - exact.mean(axis=0)
    assert np.all(np.abs(diff) <= 4 * sem), (
        f"{what}: parallel - exact = {diff} with combined s.e. {sem} (32 + 32 replicas)")


def test_langmuir_coverage_trace():
    """The transient is where the first-order bias shows most (every site is active)."""
    exact, parallel = both(LANGMUIR, lambda cov, occ, lat: cov[1:, 1], size=32,
                           duration="0.6 s", samples=6)
    assert_agree(exact, parallel, "theta(t)")


def test_rsa_jamming_coverage():
    exact, parallel = both(RSA, lambda cov, occ, lat: cov[-1, 1], size=64, duration="20 s",
                           samples=1)
    assert_agree(exact, parallel, "theta_J")
    assert parallel.mean() == pytest.approx(0.36413, abs=4 * parallel.std(ddof=1) / 32**0.5)


def test_island_density_and_cluster_sizes():
    """Deposition, diffusion and irreversible aggregation at D/F = 100, to 0.1 ML: island density,
    and the mean size of the clusters of two or more atoms."""
    from kmc_ald.analysis.clusters import cluster_sizes

    def observe(cov, occ, lat):
        sizes = cluster_sizes(occ > 0, lat.neighbours)
        return np.array([island_density(occ, lat.neighbours), sizes[sizes >= 2].mean()])

    exact, parallel = both(NUCLEATION, observe, size=64, duration="0.10536 s", samples=1)
    assert_agree(exact, parallel, "island density, mean island size")
