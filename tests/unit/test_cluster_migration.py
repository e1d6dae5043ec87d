"""Cluster migration and coalescence: jump rates against k(s) = A s^-alpha per direction, random
walk statistics, conservation, pinning, the size cut-off and rigid 3D particles."""
import math

import numpy as np
import pytest

from kmc_ald.analysis.clusters import cluster_labels
from kmc_ald.errors import ScenarioError
from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation
from tests.support.models import scenario, supports_hold

INERT = """
species: [M]
events:
  - name: leave
    equation: "M -> *"
    rate: {A: 0 1/s}
cluster_migration: {species: [M], A: %s, size_exponent: %s%s}
"""


def _compact(sim, size):
    """A compact cluster of ``size`` sites grown around site 0 (breadth first)."""
    nb, chosen = sim.lattice.neighbours, [0]
    while len(chosen) < size:
        chosen += [j for j in nb[chosen].ravel() if j not in chosen][: size - len(chosen)]
    return np.array(chosen)


def _centre(lattice, sites):
    """Centre of a cluster that may straddle the periodic boundary [Å]."""
    p = lattice.positions[sites]
    return p[0] + lattice.minimum_image(p - p[0]).mean(axis=0)


@pytest.mark.parametrize("size, alpha", [(2, 1.0), (3, 1.0), (5, 1.5)])
def test_jump_rate_and_random_walk(size, alpha):
    """Jumps of one cluster on an empty lattice are Poisson with rate z k(s) (thinning accepts
    (2/s)^(1+alpha) of the candidates); the walk is isotropic with <r^2> = jumps a^2."""
    k1, duration, seeds = 200.0, 0.25, 24
    sc = scenario(INERT % (f"{k1} 1/s", alpha, ""), lattice="triangular", size=64,
                  duration=f"{duration} s", samples=2)
    jumps, r2, dxy = [], [], []
    for seed in range(seeds):
        sim = Simulation(sc, seed=seed)
        lat, sites = sim.lattice, _compact(sim, size)
        sim.state.occupation[sites] = 1
        sim.run()
        after = np.flatnonzero(sim.state.occupation)
        assert len(after) == size
        # a rigid translation: every old site, shifted by one vector, is a new site
        shift = lat.minimum_image(_centre(lat, after) - _centre(lat, sites))
        gap = lat.minimum_image(lat.positions[sites][:, None] + shift - lat.positions[after])
        assert np.allclose(np.linalg.norm(gap, axis=-1).min(axis=1), 0.0, atol=1e-9)
        jumps.append(sim.state.event_counts[-1])
        r2.append(float(shift[:2] @ shift[:2]))
        dxy.append(shift[:2])
    expected = 6 * k1 * size**-alpha * duration
    assert abs(np.mean(jumps) - expected) < 4 * math.sqrt(expected / seeds)
    # <r^2> = (jumps) a^2 for a walk of unit steps, a = 1 on the textbook lattice
    ratio = np.array(r2) / np.maximum(jumps, 1)
    assert abs(ratio.mean() - 1.0) < 4 * ratio.std(ddof=1) / math.sqrt(seeds)
    dxy = np.array(dxy)
    assert (np.abs(dxy.mean(axis=0)) < 4 * dxy.std(axis=0, ddof=1) / math.sqrt(seeds)).all()


def test_coalescence_conserves_atoms_and_respects_pinning_and_size_cut():
    """Migrating clusters only merge (no hops here, so the number of clusters never rises),
    atoms are conserved, and clusters that touch a pinning site or exceed max_size stay put."""
    text = scenario(INERT % ("2000 1/s", 0.5, ", max_size: 6, pinned_by: [OH]"),
                    lattice="triangular", size=40, samples=8, duration="0.5 s").text
    text = text.replace("lattice: triangular", "lattice: oxide, site_types: {OH: 0.5 1/nm^2}")
    sc = loads_scenario(text, "coalescence.yaml")
    sim = Simulation(sc, seed=0)
    rng = np.random.default_rng(4)
    occ = sim.state.occupation
    occ[rng.random(sim.lattice.n_sites) < 0.12] = 1
    nb = sim.lattice.neighbours
    label = cluster_labels(occ > 0, nb)
    size = np.bincount(label[label >= 0])
    pinned_type = sim.lattice.site_type_names.index("OH")
    pinned = np.unique(label[(sim.lattice.site_type == pinned_type) & (label >= 0)])
    immobile = np.isin(label, pinned) | ((label >= 0) & (size[np.maximum(label, 0)] > 6))
    assert immobile.any() and (~immobile & (occ > 0)).any()
    n_atoms, clusters, jumps = int(occ.sum()), [len(size)], 0
    for seed in range(1, 5):  # four runs, each starting where the last ended
        sim = Simulation(sc, seed=seed)
        sim.state.occupation[:] = occ
        sim.run()
        occ = sim.state.occupation
        assert int(occ.sum()) == n_atoms
        clusters.append(int(cluster_labels(occ > 0, nb).max()) + 1)
        jumps += int(sim.state.event_counts[-1])
    assert all(b <= a for a, b in zip(clusters, clusters[1:])) and clusters[-1] < clusters[0]
    assert (occ[immobile] == 1).all()
    assert jumps > 100


def test_3d_particle_moves_rigidly_on_a_stack():
    """A particle with atoms in three layers jumps as one piece: per-layer counts and every
    pairwise distance are unchanged, and every stacked atom is still held up."""
    text = scenario(INERT % ("50 1/s", 0.0, ", max_size: 40"), lattice="triangular",
                    size=16, samples=4).text
    sc = loads_scenario(text, "particle.yaml", ("substrate.stack={layers: 3, solid: [M]}",))
    sim = Simulation(sc, seed=2)
    lat, occ = sim.lattice, sim.state.occupation
    ring = lat.neighbours[0, :6]  # in-layer neighbours
    base = np.concatenate([[0], ring, lat.neighbours[ring, :6].ravel()])
    occ[np.unique(base)] = 1
    for layer in (1, 2):  # fill every site of the next layer that rests on the one below
        held = (lat.layer == layer) & (occ[np.maximum(lat.support, 0)] == 1).all(axis=1)
        occ[held] = 1
    assert supports_hold(lat, occ, [1])
    per_layer = np.bincount(lat.layer[occ > 0])
    assert len(per_layer) == 3 and per_layer[2] > 0

    def distances(o):
        p = lat.positions[o > 0]
        return np.sort(np.linalg.norm(lat.minimum_image(p[:, None] - p[None]), axis=-1).ravel())

    start = distances(occ)
    sim.run()
    assert sim.state.event_counts[-1] > 20
    assert np.array_equal(np.bincount(lat.layer[occ > 0]), per_layer)
    np.testing.assert_allclose(distances(occ), start, atol=1e-9)
    assert supports_hold(lat, occ, [1])


def test_phases_pinning_types_and_solver_are_checked():
    base = scenario(INERT % ("1 1/s", 1.0, ""), lattice="triangular", size=8).text
    with pytest.raises(ScenarioError) as err:
        loads_scenario(base, "t.yaml", ("cluster_migration.phases=[O2]",
                                        "cluster_migration.species=[X]"))
    assert "cluster_migration.phases[0]" in str(err.value) and "'O2'" in str(err.value)
    assert "species 'X' is not listed" in str(err.value)
    sc = loads_scenario(base, "t.yaml", ("cluster_migration.pinned_by=[vacancy]",))
    with pytest.raises(ScenarioError, match=r"pinned_by\[0\] = 'vacancy'\n.*does not exist"):
        Simulation(sc)
    with pytest.raises(ScenarioError, match="cluster migration runs with the exact solver"):
        Simulation(loads_scenario(base, "t.yaml"), solver="parallel")
    # a phase outside cluster_migration.phases has no migration rate at all
    sc = loads_scenario(base, "t.yaml", ("cluster_migration.phases=[run]",))
    assert Simulation(sc).rates.rate[0, -1, 0, 1] == pytest.approx(6 * 0.5 / 2)


MIXED = """
species: [M]
events:
  - {name: land, equation: "* -> M", rate: {A: 0.02 1/s}}
  - {name: hop, equation: "M + * -> * + M", rate: {A: 5 1/s},
     bonds: {with: [M], energy: 0.05 eV}}
cluster_migration: {species: [M], A: 40 1/s, size_exponent: 1.0, max_size: 12}
"""


def test_rates_after_cluster_moves_equal_a_rebuild_and_resume_is_bit_identical():
    """Moves update every rate they change (the incremental sum tree equals one rebuilt from the
    occupation), and a run continued from a saved state repeats the uninterrupted one."""
    def mixed(cycles):
        return scenario(MIXED, lattice="triangular", size=20, duration="20 s", cycles=cycles)

    whole = Simulation(mixed(4), seed=3)
    whole.run()
    assert whole.state.event_counts[-1] > 50 and whole.solver.rejected_candidates > 0
    incremental = whole.solver.site_rates()
    whole.solver.start_phase(whole.state, 0)
    np.testing.assert_array_equal(incremental, whole.solver.site_rates())
    first = Simulation(mixed(2), seed=3)
    first.run()
    resumed = Simulation(mixed(4), seed=3)
    resumed.state = first.state.copy()
    resumed.run()
    np.testing.assert_array_equal(resumed.state.occupation, whole.state.occupation)
    np.testing.assert_array_equal(resumed.state.event_counts, whole.state.event_counts)
    assert resumed.state.counter == whole.state.counter
