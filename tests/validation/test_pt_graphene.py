"""Pt on N-doped graphene (scenarios/pt_n_graphene.yaml): the qualitative record and invariants.

Cheng et al. (Nat. Commun. 7, 13638 (2016)): after 50 cycles most Pt atoms are isolated at N or
defect sites, clusters form with more cycles, loading rises, and nothing nucleates on the
pristine basal plane. Six seeds of the bundled 20 nm x 20 nm scenario (about 0.6 s each).
"""
import numpy as np
import pytest
from ase.formula import Formula

from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.conftest import ROOT

SCENARIO = ROOT / "scenarios/pt_n_graphene.yaml"


@pytest.fixture(scope="module")
def runs():
    out = []
    for seed in range(6):
        sim = Simulation(load_scenario(SCENARIO, (f"run.seed={seed}",)))
        out.append((sim, sim.run()))
    return out


def _stat(runs, key, cycle):
    x = np.array([summary.cycles[key][cycle - 1] for _, summary in runs])
    return x.mean(), x.std(ddof=1) / np.sqrt(len(x))


def test_most_atoms_are_single_at_50_cycles_and_clusters_grow_later(runs):
    single_50, e50 = _stat(runs, "single_atom_fraction", 50)
    single_150, e150 = _stat(runs, "single_atom_fraction", 150)
    assert single_50 > 0.5
    assert single_150 < single_50 - 2 * np.hypot(e50, e150)
    assert _stat(runs, "mean_cluster_size", 150)[0] > _stat(runs, "mean_cluster_size", 50)[0]


def test_loading_rises_with_cycles(runs):
    loading = [_stat(runs, "loading", c)[0] for c in (1, 50, 100, 150)]
    assert np.all(np.diff(loading) > 0), loading


def test_pristine_basal_plane_stays_bare():
    sc = load_scenario(SCENARIO, ("substrate.site_types={}", "recipe.cycles=20"))
    summary = Simulation(sc).run()
    assert summary.cycles["deposited"][-1] == 0.0
    assert summary.state.event_counts.sum() == 0


def test_invariants(runs):
    for sim, summary in runs:
        c = summary.cycles
        # every Pt atom taken from the gas is on the surface, in a cluster
        np.testing.assert_allclose(c["deposited"], c["metal_atoms"], rtol=1e-12)
        assert np.all((summary.coverage >= 0) & (summary.coverage <= 1))
        # carbon: on the surface + released = consumed (ligands conserved)
        deposit, m = sim.scenario.deposit, sim.mechanism
        carbon = {s: Formula(f).count().get("C", 0) for s, f in deposit.composition.items()}
        on_surface = sum(carbon.get(s, 0) * n for s, n in
                         zip(m.species, np.bincount(sim.state.occupation,
                                                    minlength=len(m.species))))
        gas_c = np.array([Formula(sim.scenario.gases[g].formula).count().get("C", 0)
                          for g in m.gases])
        counts = sim.state.event_counts
        assert on_surface + (counts @ m.gas_out) @ gas_c == (counts @ m.gas_in) @ gas_c
        assert np.all((c["anchoring_occupied"] >= 0) & (c["anchoring_occupied"] <= 1))
