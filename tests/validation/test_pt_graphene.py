"""Pt on N-doped graphene (scenarios/pt_n_graphene.yaml), with the shared Pt fragment.

Cheng et al. (Nat. Commun. 7, 13638 (2016)), as the seed review reads it: after 50 cycles most Pt
atoms are isolated at N or defect sites, and "size and density" of the Pt are "controlled by
adjusting the number of ALD growth cycles".
FITTED: the anchor sticking, to most Pt single at 50 cycles.
HELD OUT: the Pt-on-Pt steps (fitted on a Pt film, tests/validation/test_pt_oxide.py); that the
number of Pt species per area and their size both grow from 50 to 150 cycles, the anchors filling
over the cycles rather than in the first pulse; that clusters grow only from anchoring sites.
8 replicas of the bundled 40 nm x 40 nm scenario (about 400 Pt atoms at 150 cycles; ~30 s).
"""
import numpy as np
import pytest
from ase.formula import Formula

from kmc_ald.analysis.clusters import cluster_labels
from kmc_ald.analysis.cycles import mean_sem
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.conftest import ROOT

SCENARIO = ROOT / "scenarios/pt_n_graphene.yaml"
REPLICAS = 8


@pytest.fixture(scope="module")
def run():
    sim = Simulation(load_scenario(SCENARIO), solver="exact", backend="cpu", replicas=REPLICAS)
    return sim, sim.run()


def _stat(run, key, cycle):
    """Mean over replicas at a cycle, and its standard error."""
    mean, sem = mean_sem(np.asarray(run[1].cycles[key], dtype=float)[cycle - 1], axis=0)
    return float(mean), float(sem)


def _grows(run, key, first, last):
    a, ea = _stat(run, key, first)
    b, eb = _stat(run, key, last)
    return b - a > 3 * np.hypot(ea, eb), (a, ea, b, eb)


def test_enough_atoms_for_the_statistics(run):
    area_nm2 = run[0].lattice.n_sites * run[0].lattice.site_area / 100.0
    atoms = _stat(run, "deposited", 150)[0] * area_nm2 * REPLICAS
    assert atoms > 300


def test_fitted_most_atoms_are_single_at_50_cycles(run):
    single, err = _stat(run, "single_atom_fraction", 50)
    assert single - 2 * err > 0.5


def test_held_out_density_and_size_grow_with_cycle_number(run):
    for key in ("deposited", "clusters", "mean_cluster_size"):
        grows, numbers = _grows(run, key, 50, 150)
        assert grows, (key, numbers)
    # the anchors fill over the cycles, not in the first pulse
    grows, numbers = _grows(run, "anchoring_occupied", 10, 100)
    assert grows, numbers
    assert _stat(run, "anchoring_occupied", 1)[0] < 0.5 * _stat(run, "anchoring_occupied", 150)[0]
    # and clusters take over from single atoms
    single_150, e150 = _stat(run, "single_atom_fraction", 150)
    single_50, e50 = _stat(run, "single_atom_fraction", 50)
    assert single_150 < single_50 - 3 * np.hypot(e50, e150)


def test_held_out_every_cluster_holds_an_anchoring_site(run):
    """Nothing nucleates on the basal plane: every Pt cluster on every replica contains an N or
    vacancy site, although the precursor lands anywhere next to Pt."""
    sim, _ = run
    m, lattice = sim.mechanism, sim.lattice
    anchors = np.isin(np.array(lattice.site_type_names)[lattice.site_type],
                      sim.scenario.deposit.anchoring)
    pt = [m.species.index(s) for s in ("PtL", "Pt", "PtO")]
    basal = 0
    for occupation in np.asarray(sim.state.occupation):
        labels = cluster_labels(np.isin(occupation, pt), lattice.neighbours[:, :lattice.n_nearest])
        anchored = np.unique(labels[anchors & (labels >= 0)])
        assert np.array_equal(anchored, np.arange(labels.max() + 1))
        basal += np.count_nonzero((labels >= 0) & ~anchors)
    assert basal > 100  # and most of the Pt does sit on the basal plane, around the anchors


def test_invariants(run):
    sim, summary = run
    c = summary.cycles
    # every Pt atom taken from the gas is on the surface, in a cluster
    np.testing.assert_allclose(c["deposited"], c["metal_atoms"], rtol=1e-12)
    assert np.all((summary.coverage >= 0) & (summary.coverage <= 1))
    assert np.all((c["anchoring_occupied"] >= 0) & (c["anchoring_occupied"] <= 1))
    # carbon, replica by replica: on the surface + released = consumed (ligands conserved)
    deposit, m = sim.scenario.deposit, sim.mechanism
    carbon = np.array([Formula(deposit.composition[s]).count().get("C", 0)
                       if s in deposit.composition else 0 for s in m.species])
    gas_c = np.array([Formula(sim.scenario.gases[g].formula).count().get("C", 0)
                      for g in m.gases])
    for occupation, counts in zip(np.asarray(sim.state.occupation),
                                  np.asarray(sim.state.event_counts)):
        on_surface = carbon @ np.bincount(occupation, minlength=len(m.species))
        assert on_surface + (counts @ m.gas_out) @ gas_c == (counts @ m.gas_in) @ gas_c
