"""Langmuir adsorption/desorption against its exact rate-equation solution.

Non-interacting sites each flip empty -> A at k_a and A -> empty at k_d, independently, so the
expected coverage of a finite periodic lattice is exactly the single-site probability

    theta(t) = theta_eq (1 - exp(-(k_a + k_d) t)),   theta_eq = k_a / (k_a + k_d),

with no finite-size correction. Tolerances are 4 standard errors of the mean over replicas
(fixed seeds), the replicas being fully independent runs.
"""
import numpy as np

from kmc_ald.simulation import Simulation
from tests.support.models import scenario

KB = 8.617333262e-5  # Boltzmann constant [eV/K], CODATA 2018, written out independently of kmc_ald

LANGMUIR = """
species: [A]
events:
  - name: adsorption
    equation: "* -> A"
    rate: {A: 2.0 1/s}
  - name: desorption
    equation: "A -> *"
    rate: %s
"""

REPLICAS = 16


def _traces(body, *, temperature="300 K", duration="6 s", samples=60, size=64):
    """Coverage of A [replica, sample] and the sample times [s]."""
    sc = scenario(body, size=size, duration=duration, samples=samples, temperature=temperature)
    runs = [Simulation(sc, seed=100 + r).run() for r in range(REPLICAS)]
    return runs[0].coverage_time, np.array([run.coverage[:, 1] for run in runs])


def _mean_sem(x, axis=0):
    x = np.asarray(x)
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / np.sqrt(x.shape[axis])


def test_langmuir_transient_follows_the_exact_solution():
    """Mean coverage over 16 replicas of 64x64 at t = 0.1, 0.3, 0.6, 1.0, 3.0 s vs theta(t).

    k_a = 2 1/s, k_d = 1 1/s: theta(t) = (2/3) (1 - exp(-3 t)) (exact master-equation result for
    independent sites). Each time point must lie within 4 SEM of the replica mean, with SEM the
    standard error over the 16 replicas at that time (about 0.002 at 4096 sites per replica).
    """
    ka, kd = 2.0, 1.0
    t, cov = _traces(LANGMUIR % "{A: 1.0 1/s}")
    mean, sem = _mean_sem(cov)
    for t_check in (0.1, 0.3, 0.6, 1.0, 3.0):
        k = int(np.argmin(abs(t - t_check)))
        assert abs(t[k] - t_check) < 1e-9
        expected = ka / (ka + kd) * (1.0 - np.exp(-(ka + kd) * t_check))
        assert sem[k] > 0
        assert abs(mean[k] - expected) < 4 * sem[k], (t_check, mean[k], expected, sem[k])


def test_langmuir_equilibrium_coverage_time_average():
    """Time average of the samples with t >= 3 s (60 s of relaxation times, bias < 1e-4) vs 2/3.

    Each replica's late-time average is one independent number; the tolerance is 4 SEM over the
    16 replicas of those averages. Expected theta_eq = k_a / (k_a + k_d) = 2/3.
    """
    t, cov = _traces(LANGMUIR % "{A: 1.0 1/s}")
    late = cov[:, t >= 3.0 - 1e-9].mean(axis=1)
    mean, sem = _mean_sem(late)
    assert abs(mean - 2.0 / 3.0) < 4 * sem, (mean, sem)
    assert sem < 0.002  # the test has resolving power


def test_arrhenius_desorption_sets_the_equilibrium_coverage():
    """Desorption k_d = A exp(-Ea / kB T), A = 1e9 1/s, Ea = 0.5 eV, at 280 K and 320 K.

    By hand: k_d(280 K) = 1.0009 1/s, k_d(320 K) = 13.35 1/s, so with k_a = 2 1/s
    theta_eq = k_a / (k_a + k_d) = 0.6665 and 0.1303. Compared: the compiled rate with the hand
    value (rtol 1e-12), and the time average of each replica's coverage over t >= 3 s (>= 9
    relaxation times 1/(k_a + k_d)) with theta_eq, within 4 SEM over 16 replicas. The two
    temperatures differ by ~200 SEM, so a wrong temperature path cannot pass.
    """
    body = LANGMUIR % "{A: 1.0e9 1/s, Ea: 0.5 eV}"
    measured = {}
    for temperature in (280.0, 320.0):
        kd = 1.0e9 * np.exp(-0.5 / (KB * temperature))
        sc = scenario(body, size=64, temperature=f"{temperature} K")
        compiled = Simulation(sc, seed=1).rates.rate[0, 1, 0, 0]
        np.testing.assert_allclose(compiled, kd, rtol=1e-12)
        t, cov = _traces(body, temperature=f"{temperature} K", duration="8 s", samples=80)
        late = cov[:, t >= 3.0 - 1e-9].mean(axis=1)
        mean, sem = _mean_sem(late)
        expected = 2.0 / (2.0 + kd)
        assert abs(mean - expected) < 4 * sem, (temperature, kd, mean, expected, sem)
        measured[temperature] = mean
    assert measured[280.0] - measured[320.0] > 0.5
