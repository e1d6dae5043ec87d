"""ALD growth observables (kmc_ald.analysis.growth): doses, the steady growth line and its
x-intercept, Puurunen's growth types, film mass and thickness per cycle; each against numbers
worked out by hand."""
import numpy as np
import pytest

from kmc_ald.analysis.growth import (
    LANGMUIR_PA_S,
    growth_type,
    pulse_doses,
    steady_line,
    summarize_growth,
)
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.conftest import SCENARIOS

TORR = 101325.0 / 760.0


def test_a_pulse_dose_is_pressure_times_time_in_pa_s_mbar_s_and_langmuir():
    """0.1 Torr for 0.1 s = 0.01 Torr s = 1e4 L (1 L = 1e-6 Torr s) = 1.3332 Pa s."""
    doses = pulse_doses(load_scenario(SCENARIOS / "al2o3_tma_h2o.yaml").recipe)
    assert [(d.phase, d.gas) for d in doses] == [("tma_pulse", "TMA"), ("h2o_pulse", "H2O")]
    for dose in doses:
        assert dose.pa_s == pytest.approx(0.01 * TORR, rel=1e-12)
        assert dose.mbar_s == pytest.approx(0.01 * TORR / 100, rel=1e-12)
        assert dose.langmuir == pytest.approx(1e4, rel=1e-12)
    assert LANGMUIR_PA_S == pytest.approx(1.333224e-4, rel=1e-6)


def test_the_steady_line_meets_zero_deposit_at_the_nucleation_delay():
    """No growth for 10 cycles, then 2 atoms/nm^2 per cycle: deposited(n) = 2 (n - 10) for
    n > 10, so the x-intercept of the steady line is exactly 10 cycles; growth from the first
    cycle gives 0, and a faster start (enhanced) a negative intercept."""
    n = np.arange(1, 41)
    slope, start = steady_line(np.where(n > 10, 2.0 * (n - 10), 0.0))
    assert slope == pytest.approx(2.0) and start == pytest.approx(10.0)
    assert steady_line(1.5 * n)[1] == pytest.approx(0.0, abs=1e-9)
    enhanced = np.cumsum(np.where(n <= 5, 4.0, 2.0))
    assert steady_line(enhanced)[1] == pytest.approx(-5.0)
    assert np.isnan(steady_line(np.zeros(20))[1])


@pytest.mark.parametrize(("series", "expected"), [
    (np.full(40, 2.0), "linear"),
    (np.r_[np.full(5, 4.0), np.full(35, 2.0)], "substrate-enhanced"),
    (np.r_[np.linspace(0.1, 2.0, 15), np.full(25, 2.0)], "substrate-inhibited type 1"),
    (np.r_[np.linspace(0.1, 3.0, 10), np.linspace(3.0, 2.0, 10), np.full(20, 2.0)],
     "substrate-inhibited type 2"),
    (np.zeros(40), "no growth"),
])
def test_growth_types_follow_puurunens_classification(series, expected):
    rng = np.random.default_rng(3)
    assert growth_type(series) == expected
    noisy = series * (1 + 0.03 * rng.standard_normal(series.size))  # 3 % noise: the same type
    assert growth_type(noisy) == expected


def test_film_mass_thickness_and_coverage_per_cycle_from_a_run():
    """Al2O3: each Al brings half an Al2O3 (50.98 g/mol), so growth_mass = growth x 50.98 / N_A
    x 1e14 x 1e9 ng/cm^2; thickness = deposited / 100 x atomic volume / 10 nm with the atomic
    volume M / (2 rho N_A); the deposit is a film under the surface (no Al left on the surface
    species after the water pulse), and its growth linear."""
    scenario = load_scenario(SCENARIOS / "al2o3_tma_h2o.yaml",
                             ("recipe.cycles=12", "substrate.size=[5 nm, 5 nm]"))
    cycles = Simulation(scenario, seed=3).run().cycles
    half_al2o3 = (2 * 26.9815385 + 3 * 15.999) / 2
    avogadro = 6.02214076e23
    np.testing.assert_allclose(cycles["growth_mass"],
                               cycles["growth"] * half_al2o3 / avogadro * 1e23, rtol=1e-12)
    volume = half_al2o3 / (3.0 * avogadro) * 1e24  # [Å^3] per Al
    np.testing.assert_allclose(cycles["thickness"], cycles["deposited"] / 100 * volume / 10,
                               rtol=1e-12)
    assert np.all(cycles["covered_fraction"] == 0)
    summary = summarize_growth(cycles, "Al")
    assert summary.buried and summary.growth_type == "linear"
    assert summary.steady_ng_cm2 == pytest.approx(summary.steady_atoms * half_al2o3 / avogadro
                                                  * 1e23, rel=1e-9)
    assert summary.closure_cycle is None
