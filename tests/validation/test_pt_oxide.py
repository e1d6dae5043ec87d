"""Pt on alumina (scenarios/pt_oxide.yaml): the O2 exposure per cycle decides nucleation.

Grillo et al. (Small 14, 1800765 (2018), TiO2 powder): below a threshold O2 exposure the Pt stays
atomically dispersed and hardly grows; above it (about 120 mbar s) the loading rises steeply into
particles. Thermal Pt ALD on oxides starts with a long nucleation delay (Knoops et al., ECS Trans.
16, 209 (2008)) before it grows steadily. Three exposures, 1, 10 and 100 mbar s per cycle, on
8 nm x 8 nm (about 30 s in all): 1 and 10 for 60 cycles, 100 for 120 cycles; and the invariants
of a stacked run.
"""
import numpy as np
import pytest

from kmc_ald.analysis.cycles import nucleation_delay
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.conftest import ROOT
from tests.support.models import supports_hold

SCENARIO = ROOT / "scenarios/pt_oxide.yaml"
EXPOSURES = (1, 10, 100)  # mbar s per cycle: O2 at 10, 100, 1000 Pa for the 10 s pulse
CYCLES = {1: 60, 10: 60, 100: 120}  # 100 mbar s: ~40 cycles to nucleate, then it levels off


@pytest.fixture(scope="module")
def runs():
    out = {}
    for exposure in EXPOSURES:
        sc = load_scenario(SCENARIO, (f"recipe.cycles={CYCLES[exposure]}",
                                      "substrate.size=[8 nm, 8 nm]", "substrate.stack.layers=20",
                                      f"recipe.phases[2].gas.O2={10 * exposure} Pa"))
        sim = Simulation(sc)
        out[exposure] = (sim, sim.run())
    return out


def _at(runs, exposure, key, cycle=None):
    column = runs[exposure][1].cycles[key]
    return float(column[-1 if cycle is None else cycle - 1])


def _events(sim, name):
    return int(sim.state.event_counts[sim.mechanism.event_names.index(name)].sum())


def test_low_exposure_keeps_single_atoms_at_the_oh_sites(runs):
    low = runs[1][0]
    assert _at(runs, 1, "single_atom_fraction") > 0.6
    assert np.count_nonzero(low.state.occupation[low.lattice.layer > 0]) == 0
    # no autocatalytic growth: nearly every Pt came by ligand exchange with an OH
    assert _events(low, "chemisorption_on_Pt") < 0.1 * _events(low, "chemisorption_OH")


def test_high_exposure_grows_3d_particles_autocatalytically(runs):
    high = runs[100][0]
    assert _at(runs, 100, "single_atom_fraction") < 0.1
    pt = np.isin(high.state.occupation, [high.mechanism.species.index(s) for s in ("Pt", "PtO")])
    assert np.count_nonzero(pt & (high.lattice.layer > 0)) > 0.3 * np.count_nonzero(pt)
    assert high.lattice.layer[pt].max() >= 3
    assert _events(high, "chemisorption_on_Pt") > 5 * _events(high, "chemisorption_OH")
    # small clusters diffuse and merge while O2 is on
    assert high.state.event_counts[high.mechanism.migrating].sum() > 20


def test_loading_rises_steeply_with_o2_exposure(runs):
    loading = [_at(runs, e, "deposited", cycle=60) for e in EXPOSURES]
    assert loading[0] < loading[1] < loading[2]
    # the steep part lies between 10 and 100 mbar s: a tenfold exposure gives > 3x the Pt there
    assert loading[2] > 3 * loading[1]
    assert loading[1] < 3 * loading[0]


def test_a_nucleation_delay_then_steady_growth(runs):
    """At 100 mbar s the first cycles add a few hundredths of a Pt per nm^2 (slow exchange with
    OH); growth speeds up as the first particles appear and then levels off."""
    growth = runs[100][1].cycles["growth"]
    assert nucleation_delay(growth) > 15
    assert growth[:10].mean() < 0.2 * growth[60:].mean()
    assert 0.65 < growth[90:120].mean() / growth[60:90].mean() < 1.35


def test_invariants(runs):
    for sim, summary in runs.values():
        c = summary.cycles
        np.testing.assert_allclose(c["deposited"], c["metal_atoms"], rtol=1e-12)
        assert np.all((summary.coverage >= 0) & (summary.coverage <= 1))
        solid = [sim.mechanism.species.index(s) for s in ("Pt", "PtO")]
        assert supports_hold(sim.lattice, sim.state.occupation, solid)
