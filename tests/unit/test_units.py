import math

import pytest

from kmc_ald.units import KB_EV_PER_K, hertz_knudsen_flux, parse_quantity


@pytest.mark.parametrize(("text", "dimension", "expected"), [
    ("250 degC", "temperature", 523.15),
    ("300 K", "temperature", 300.0),
    ("0.1 Torr", "pressure", 13.332236842105264),
    ("1 mbar", "pressure", 100.0),
    ("96.48533212 kJ/mol", "energy", 1.0),
    ("250 meV", "energy", 0.25),
    ("2 1/s", "frequency", 2.0),
    ("2 s^-1", "frequency", 2.0),
    ("3 THz", "frequency", 3e12),
    ("1e-3 s", "time", 1e-3),
    ("20 nm", "length", 200.0),
    ("3.07 Å", "length", 3.07),
    ("5 1/nm^2", "areal density", 0.05),
    ("5 /nm2", "areal density", 0.05),
    ("72.09 g/mol", "mass", 72.09),
])
def test_parse_quantity_converts_to_internal_units(text, dimension, expected):
    assert parse_quantity(text, dimension) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("value", "dimension", "match"), [
    ("0.6 eV/K", "energy", "unknown unit 'eV/K'; an energy accepts eV"),
    ("1 s", "energy", "'s' is a unit of time, but an energy is expected"),
    (0.6, "energy", "0.6 has no unit"),
    ("fast", "time", "expected '<number> <unit>'"),
    ("12", "pressure", "'12' has no unit"),
])
def test_parse_quantity_rejects_with_what_is_allowed(value, dimension, match):
    with pytest.raises(ValueError, match=match):
        parse_quantity(value, dimension)


def test_hertz_knudsen_flux_matches_kinetic_theory():
    """J = p v_mean / (4 kB T) with v_mean = sqrt(8 kB T / (pi m)): two textbook forms agree."""
    p, T, m = 13.33, 473.15, 144.17  # TMA dimer at 0.1 Torr, 200 degC
    kb, amu = 1.380649e-23, 1.66053906660e-27
    v_mean = math.sqrt(8 * kb * T / (math.pi * m * amu))
    expected_per_m2 = p * v_mean / (4 * kb * T)
    assert hertz_knudsen_flux(p, T, m) * 1e20 == pytest.approx(expected_per_m2, rel=1e-12)
    # ald_physics.md: 1.345e23 m^-2 s^-1 for TMA at 13.33 Pa, 200 degC (aldsim)
    assert hertz_knudsen_flux(p, T, m) * 1e20 == pytest.approx(1.345e23, rel=2e-3)


def test_boltzmann_constant_in_ev():
    assert KB_EV_PER_K * 11604.518 == pytest.approx(1.0, rel=1e-6)
