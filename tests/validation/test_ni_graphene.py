"""Ni on defective graphene (scenarios/ni_graphene.yaml): defect-selective nucleation and the
growth per cycle.

M. Kim et al. (ACS Omega 4, 11126 (2019)), Ni(Chex)(Cp) + NH3 at 340 degC: on graphene the Ni
deposits selectively at defects, at about 0.27 A/cycle. Three seeds of the bundled 10 nm x 10 nm,
40-cycle scenario (under a second each), an early snapshot, and a closed Ni film.
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
    """After 6 cycles every Ni cluster in the surface layer holds a vacancy site, although the
    precursor sticks beside any Ni: nothing nucleates on the pristine basal plane."""
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
    # and Ni does spread beyond the defects: most surface Ni is on pristine sites
    assert np.count_nonzero((label >= 0) & ~vacancy) > np.count_nonzero((label >= 0) & vacancy)


def test_ni_on_a_closed_ni_film_is_self_limiting():
    """Kim et al. report self-limiting growth: on a closed Ni film a doubled precursor pulse adds
    less than 10 % more Ni per cycle (the value itself, 0.46 A/cycle against the measured 1.1, is
    not reproduced: see the scenario's description)."""
    film = ("substrate.initial={pristine: Ni, vacancy: Ni}", "substrate.size=[3 nm, 3 nm]",
            "substrate.stack.layers=14", "recipe.cycles=8")
    gpc = []
    for pulse in ("1 s", "2 s"):
        summary = Simulation(load_scenario(SCENARIO, (*film, f"recipe.phases[0].duration="
                                                      f"{pulse}"))).run()
        gpc.append(summary.cycles["growth_thickness"][2:].mean())
    assert 0.3 < gpc[0] < 1.1
    assert abs(gpc[1] - gpc[0]) < 0.1 * gpc[0], gpc


def test_invariants(runs):
    for sim, summary in runs:
        c = summary.cycles
        np.testing.assert_allclose(c["deposited"], c["metal_atoms"], rtol=1e-12)
        assert np.all((summary.coverage >= 0) & (summary.coverage <= 1))
        ni = [sim.mechanism.species.index("Ni")]
        assert supports_hold(sim.lattice, sim.state.occupation, ni)
        # the stack is tall enough: nothing reached its top layer
        assert not sim.state.occupation[sim.lattice.layer == sim.lattice.n_layers - 1].any()
