"""A single adatom's continuous-time random walk against its exact mean-square displacement.

The adatom hops to each of its z neighbours at rate k ("A + * -> * + A", rate per direction).
Hops are independent, with zero mean and squared length a^2, so for every window tau (not only
asymptotically)

    <r^2>(tau) = z k a^2 tau = 4 D tau,   D = z k a^2 / 4,   <r>(tau) = 0,

with z = 4 (square) or 6 (triangular) and a = 1 Å. One long trajectory is sampled every tau0;
sample-to-sample displacements are unwrapped with the lattice's minimum image (rms step
sqrt(z k tau0) = 4.5-5.5 Å, against a half box of 64 Å, so the nearest image is never ambiguous),
and cut into non-overlapping windows, which are independent (Markov, memoryless hops).
Tolerances: 4 standard errors of the mean over those windows.
"""
import numpy as np
import pytest

from kmc_ald.simulation import Simulation
from tests.support.models import scenario

HOP = """
species: [A]
events:
  - name: hop
    equation: "A + * -> * + A"
    rate: {A: 1.0 1/s}
"""

K = 1.0  # hop rate per direction [1/s]
TAU0 = 5.0  # sampling interval [s]
SAMPLES = 16000


def _trajectory(lattice: str, seed: int) -> np.ndarray:
    """Unwrapped in-plane positions [Å] of the lone adatom every TAU0, ``[SAMPLES + 1, 2]``."""
    sim = Simulation(scenario(HOP, lattice=lattice, size=128), seed=seed)
    state, solver, lat = sim.state, sim.solver, sim.lattice
    a = sim.mechanism.species.index("A")
    start = lat.n_sites // 2 + 64  # any site; the walk does not care
    state.occupation[start] = a
    solver.start_phase(state, 0)
    sites = np.empty(SAMPLES + 1, dtype=np.int64)
    sites[0] = start
    for n in range(1, SAMPLES + 1):
        while not solver.advance(state, n * TAU0, False):
            pass
        (where,) = np.flatnonzero(state.occupation)  # exactly one adatom, always
        sites[n] = where
    steps = lat.minimum_image(np.diff(lat.positions[sites], axis=0))[:, :2]
    half_box = 0.5 * min(np.linalg.norm(lat.cell[0, :2]), np.linalg.norm(lat.cell[1, :2]))
    assert np.abs(steps).max() < 0.5 * half_box  # unwrapping unambiguous
    return np.vstack([np.zeros(2), np.cumsum(steps, axis=0)])


@pytest.mark.parametrize("lattice, z, seed", [("square", 4, 11), ("triangular", 6, 12)])
def test_single_adatom_mean_square_displacement(lattice, z, seed):
    """Mean r^2 over non-overlapping windows of tau = 5 s and 20 s vs 4 D tau = z k a^2 tau.

    Square: 20 and 80 Å^2; triangular: 30 and 120 Å^2. 16000 windows at 5 s and 4000 at 20 s,
    so SEM ~ 1 % and 1.6 %; each mean within 4 SEM. Checking two lags checks linearity in tau
    (the diffusion coefficient D = z k a^2 / 4 is the same at both). Also the mean displacement
    vector of the 5 s windows is zero within 4 SEM per component (no drift), and the
    mean x^2 - y^2 is zero within 4 SEM (isotropy).
    """
    path = _trajectory(lattice, seed)
    D = z * K * 1.0**2 / 4.0
    for lag in (1, 4):
        windows = path[::lag]
        d = np.diff(windows, axis=0)
        r2 = (d**2).sum(axis=1)
        tau = lag * TAU0
        mean, sem = r2.mean(), r2.std(ddof=1) / np.sqrt(len(r2))
        assert len(r2) >= 2000
        assert abs(mean - 4 * D * tau) < 4 * sem, (lattice, tau, mean, 4 * D * tau, sem)
        assert sem < 0.02 * 4 * D * tau
    d = np.diff(path, axis=0)
    drift, drift_sem = d.mean(axis=0), d.std(axis=0, ddof=1) / np.sqrt(len(d))
    assert np.all(np.abs(drift) < 4 * drift_sem), (drift, drift_sem)
    anisotropy = d[:, 0] ** 2 - d[:, 1] ** 2  # same windows: compare the paired difference
    aniso_sem = anisotropy.std(ddof=1) / np.sqrt(len(anisotropy))
    assert abs(anisotropy.mean()) < 4 * aniso_sem, (anisotropy.mean(), aniso_sem)
