"""Random sequential adsorption with nearest-neighbour exclusion on the square lattice.

Each empty site whose four neighbours are empty fills at 1 1/s ("* -> A" with footprint 1, no
desorption, no diffusion) until no such site is left. Reference: the jamming coverage
theta_J = 0.36413 (Evans, Rev. Mod. Phys. 65, 1281 (1993)); the high-precision value 0.3641323
comes from series extrapolation and large simulations (e.g. Gan & Wang). At late times the last
available sites are isolated and each fills at rate 1, so theta_J - theta(t) ~ exp(-t).

Tolerances are 4 standard errors from the spread over independent replicas (fixed seeds).
"""
import numpy as np

from kmc_ald.simulation import Simulation
from tests.support.models import scenario

THETA_J = 0.3641323

RSA = """
species: [A]
events:
  - name: adsorption
    equation: "* -> A"
    rate: {A: 1.0 1/s}
    footprint: 1
"""


def test_rsa_reaches_the_jamming_coverage():
    """Final coverage of 32 replicas of 256x256 after 40 s (jammed: total rate exactly 0).

    Compared: the mean jamming coverage with theta_J = 0.3641323 (Evans 1993; Gan & Wang),
    within 4 SEM over the replicas (SEM ~ 2e-4, i.e. 0.06 %). No finite-size allowance: on a
    periodic lattice RSA correlations decay faster than exponentially with distance (Evans 1993),
    so at L = 256 the finite-size shift is far below 1e-5. Also checks the exclusion rule: no two
    adsorbates are nearest neighbours, and the jammed state leaves no site with four empty
    neighbours empty.
    """
    sc = scenario(RSA, size=256, duration="40 s", samples=4)
    theta = []
    for r in range(32):
        sim = Simulation(sc, seed=200 + r)
        summary = sim.run()
        assert sim.solver.total_rate() == 0.0  # jammed: no event can happen any more
        occ = sim.state.occupation
        nb_occ = occ[sim.lattice.neighbours]
        assert not np.any((occ[:, None] == 1) & (nb_occ == 1))  # exclusion respected
        assert not np.any((occ == 0) & (nb_occ == 0).all(axis=1))  # nothing left to fill
        theta.append(summary.coverage[-1, 1])
    theta = np.array(theta)
    mean, sem = theta.mean(), theta.std(ddof=1) / np.sqrt(len(theta))
    assert abs(mean - THETA_J) < 4 * sem, (mean, sem)
    assert sem < 5e-4


def _adsorption_times_after(sc, seed, t0):
    """Run one replica to t0 [s], then to jamming one event at a time; the event times [s]."""
    sim = Simulation(sc, seed=seed)
    state, solver = sim.state, sim.solver
    solver.start_phase(state, 0)
    while not solver.advance(state, t0, False):
        pass
    times = []
    while not solver.advance(state, 1.0e3, False, 1):
        times.append(state.time)
    assert solver.total_rate() == 0.0
    return np.array(times)


def test_rsa_approaches_jamming_exponentially():
    """theta_J - theta(t) ~ exp(-t) for t >= 4 s (rate 1 per site), 32 replicas of 256x256.

    theta_J - theta(t) is the number of adsorptions still to come after t, per site. Two
    estimates of its decay rate lambda (expected exactly 1 1/s, the filling rate of an isolated
    available site; faster modes add exp(-2t) terms, measured to shift lambda by < 1 % from t = 4 s):

    * maximum likelihood: if the tail is exp(-lambda t), the event times after t0 = 4 s are
      t0 + Exponential(lambda), so lambda = n / sum(t_i - t0), with standard error lambda/sqrt(n)
      (n ~ 6800 here, SE ~ 1.2 %); asserted within 4 SE of 1;
    * the slope of a least-squares fit of log(theta_J - theta(t)) on t in [4, 9] s (Poisson
      weights), whose standard error is the jackknife over replicas; asserted within 4 SE of -1.
    """
    t0 = 4.0
    sc = scenario(RSA, size=256, duration="40 s", samples=1)
    per_replica = [_adsorption_times_after(sc, 300 + r, t0) for r in range(32)]
    times = np.concatenate(per_replica)
    n = len(times)
    lam = n / (times - t0).sum()
    assert abs(lam - 1.0) < 4 * lam / np.sqrt(n), (lam, n)

    grid = np.arange(t0, 9.0 + 1e-9, 0.25)

    def slope(replicas):
        pooled = np.sort(np.concatenate([per_replica[i] for i in replicas]))
        gap = len(pooled) - np.searchsorted(pooled, grid, side="right")  # events after t
        assert gap.min() > 0
        return np.polyfit(grid, np.log(gap), 1, w=np.sqrt(gap))[0]

    everyone = range(len(per_replica))
    fitted = slope(everyone)
    jack = np.array([slope([j for j in everyone if j != i]) for i in everyone])
    se = np.sqrt((len(jack) - 1) / len(jack) * ((jack - jack.mean()) ** 2).sum())
    assert abs(fitted + 1.0) < 4 * se, (fitted, se)
    assert se < 0.05
