"""Submonolayer nucleation with irreversible aggregation: island density vs D/F.

Monomers land at F = 1 1/s per empty site, hop at D per direction, and stop for good as soon as
they touch another atom (bonds {with: [A], max: 0}: critical nucleus i = 1). Scaling theory and
the KMC of Amar, Family & Lam, PRB 50, 8781 (1994) give N ~ (D/F)^(-chi) with chi = 1/3 for
i = 1 at fixed coverage. The prefactor is NOT taken from that paper: the reference island
densities at theta = 0.1 ML (N = 5.44e-3, 2.56e-3, 1.17e-3 islands per site at D/F = 1e5,
1e6, 1e7, i.e. N ~ 0.25 (D/F)^(-1/3) and a fitted exponent of 0.334) come from an independent KMC
of this exact model (D per direction, 2048x2048 lattice, 8 seeds).

Islands are the nearest-neighbour connected clusters of 2 or more atoms on the periodic lattice.
Replicas run two at a time in threads (the solver releases the GIL).
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from kmc_ald.analysis.clusters import island_density
from kmc_ald.simulation import Simulation
from tests.support.models import scenario

NUCLEATION = """
species: [A]
events:
  - name: deposition
    equation: "* -> A"
    rate: {A: 1.0 1/s}
  - name: hop
    equation: "A + * -> * + A"
    rate: {A: %r 1/s}
    bonds: {with: [A], max: 0}
"""

DURATION = -float(np.log(0.9))  # [s] at F = 1 1/s: 0.1 ML deposited on the empty sites
SIZE = 384  # 147456 sites: ~170 islands per run at D/F = 1e7, island spacing ~29 sites
REPLICAS = 12
REFERENCE = {1e5: 5.44e-3, 1e6: 2.56e-3, 1e7: 1.17e-3}  # independent KMC, 2048^2, 8 seeds
REFERENCE_CHI = 0.334  # slope of -log N vs log(D/F) through the reference values
ALLOWANCE = 0.02  # relative: the reference's own uncertainty (see the test) and lattice size


def test_island_count_on_a_hand_made_configuration():
    """The cluster counter: wrap-around joins, diagonal contacts do not, monomers do not count."""
    sc = scenario(NUCLEATION % 1.0, size=8)
    lat = Simulation(sc, seed=1).lattice
    grid = np.zeros((8, 8), dtype=np.uint8)  # [row j, column i], site index j * 8 + i
    grid[0, 0] = grid[0, 7] = 1  # one island across the periodic boundary
    grid[3, 3] = grid[4, 4] = 1  # two diagonal monomers: no island
    grid[6, 2] = grid[6, 3] = grid[7, 3] = 1  # an L-trimer
    grid[2, 6] = 1  # a monomer
    assert np.allclose(lat.positions[9, :2], [1.0, 1.0])  # the layout assumed above
    assert island_density(grid.ravel(), lat.neighbours) * 64 == 2


def _densities(ratio: float) -> np.ndarray:
    """Island density per site at 0.1 ML for REPLICAS independent runs at D/F = ratio."""
    sc = scenario(NUCLEATION % float(ratio), size=SIZE, duration=f"{DURATION!r} s", samples=1)
    sims = [Simulation(sc, seed=int(np.log10(ratio)) * 100 + r) for r in range(REPLICAS)]

    def run(sim):
        summary = sim.run()
        return island_density(sim.state.occupation, sim.lattice.neighbours), summary.coverage[-1, 1]

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = np.array(list(pool.map(run, sims)))
    theta = results[:, 1]
    assert abs(theta.mean() - 0.1) < 4 * theta.std(ddof=1) / np.sqrt(REPLICAS)  # E[theta] = 0.1
    return results[:, 0]


@pytest.mark.slow
def test_island_density_scales_as_the_minus_one_third_power_of_D_over_F():
    """Island density at 0.1 ML for D/F = 1e5, 1e6, 1e7 on 384x384, 12 replicas each.

    Compared, with SEM the standard error over the 12 replicas at each D/F (0.4-1.5 %):
    * N(D/F) vs the independent reference values above, within 4 SEM + 2 % of the reference.
      The 2 % covers the reference's own uncertainty and 384^2 vs 2048^2: at D/F = 1e5 this
      engine (68 replicas, 256^2-512^2) and a separate 40-line monomer-list KMC of the same
      model (160 replicas of 256^2) both give N = 5.37e-3 +- 0.01e-3, 1.2 % below 5.44e-3;
    * the exponent chi, the least-squares slope of -ln N on ln(D/F), must lie in [0.30, 0.37]
      (Amar, Family & Lam: 1/3 for i = 1) and within 4 standard errors of the reference slope
      0.334, its standard error propagated from the per-point SEMs (~0.003).
    """
    ratios = np.array(sorted(REFERENCE))
    mean, sem = np.zeros(3), np.zeros(3)
    for k, ratio in enumerate(ratios):
        n = _densities(ratio)
        mean[k], sem[k] = n.mean(), n.std(ddof=1) / np.sqrt(len(n))
        assert mean[k] * SIZE**2 > 120  # well-resolved island counts per run
    for k, ratio in enumerate(ratios):
        ref = REFERENCE[ratio]
        assert abs(mean[k] - ref) < 4 * sem[k] + ALLOWANCE * ref, (ratio, mean[k], sem[k], ref)
    x, y, y_se = np.log(ratios), -np.log(mean), sem / mean
    w = (x - x.mean()) / ((x - x.mean()) ** 2).sum()  # slope = sum(w * y)
    chi, chi_se = (w * y).sum(), np.sqrt((w**2 * y_se**2).sum())
    assert 0.30 <= chi <= 0.37, (chi, chi_se)
    assert abs(chi - REFERENCE_CHI) < 4 * chi_se, (chi, chi_se)
    assert chi_se < 0.01
