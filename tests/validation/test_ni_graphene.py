"""Ni on defective graphene (scenarios/ni_graphene.yaml): defect-selective nucleation and the
growth per cycle.

M. Kim et al. (ACS Omega 4, 11126 (2019)), Ni(Chex)(Cp) + NH3 at 340 degC: on graphene the Ni
deposits selectively at defects, at about 0.27 A/cycle. Three seeds of the bundled 10 nm x 10 nm,
40-cycle scenario (under a second each), plus an early snapshot and a defect-free control.
"""
import numpy as np
import pytest

from kmc_ald.analysis.clusters import cluster_labels
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.conftest import ROOT
from tests.support.models import supports_hold

SCENARIO = ROOT / "scenarios/ni_graphene.yaml"
MEASURED = 0.27  # A/cycle on graphene (Kim 2019)


@pytest.fixture(scope="module")
def runs():
    out = []
    for seed in (1, 2, 3):
        sim = Simulation(load_scenario(SCENARIO, (f"run.seed={seed}",)))
        out.append((sim, sim.run()))
    return out


def test_growth_per_cycle_matches_the_measured_average(runs):
    for _, summary in runs:
        growth = summary.cycles["growth_thickness"]
        assert abs(growth.mean() - MEASURED) < 0.3 * MEASURED, growth.mean()
        # a slow start on the few defects, faster growth once particles offer Ni facets
        assert growth[:3].mean() < 0.5 * growth[-10:].mean()


def test_ni_nucleates_only_at_defects():
    """After 6 cycles every Ni cluster in the surface layer holds a vacancy site, and without
    defects nothing deposits at all: the pristine basal plane is inert."""
    sim = Simulation(load_scenario(SCENARIO, ("recipe.cycles=6",)))
    summary = sim.run()
    lat, occ = sim.lattice, sim.state.occupation
    surface = np.flatnonzero(lat.layer == 0)
    label = cluster_labels(occ[surface] > 0, lat.neighbours[surface][:, :6])
    vacancy = lat.site_type[surface] == lat.site_type_names.index("vacancy")
    assert label.max() >= 3
    for k in range(label.max() + 1):
        assert vacancy[label == k].any(), f"cluster {k} grew on the pristine plane"
    assert summary.cycles["deposited"][-1] > 0
    clean = Simulation(load_scenario(SCENARIO, ("recipe.cycles=6", "substrate.site_types={}")))
    assert clean.run().cycles["deposited"][-1] == 0


def test_invariants(runs):
    for sim, summary in runs:
        c = summary.cycles
        np.testing.assert_allclose(c["deposited"], c["metal_atoms"], rtol=1e-12)
        assert np.all((summary.coverage >= 0) & (summary.coverage <= 1))
        ni = [sim.mechanism.species.index("Ni")]
        assert supports_hold(sim.lattice, sim.state.occupation, ni)
        # the stack is tall enough: nothing reached its top layer
        assert not sim.state.occupation[sim.lattice.layer == sim.lattice.n_layers - 1].any()
