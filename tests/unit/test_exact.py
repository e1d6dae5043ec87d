"""The exact solver: its bookkeeping, determinism and restartability."""
import numpy as np
import pytest

from kmc_ald.engine.solvers.exact import ExactSolver
from kmc_ald.simulation import Simulation
from tests.support.models import reference_site_rates, scenario

RICH = """
species: [A, B, C]
events:
  - name: deposit
    equation: "* -> A"
    rate: {A: 1 1/s}
    footprint: {shells: 2, blocked_by: [B]}
  - name: hop
    equation: "A + * -> * + A"
    rate: {A: 5 1/s}
    bonds: {with: [A, B], energy: 0.02 eV, max: 3}
  - name: react
    equation: "A + B -> C + *"
    rate: {A: 2 1/s}
  - name: desorb
    equation: "C -> * + X(g)"
    rate: {A: 0.5 1/s}
  - name: convert
    equation: "A -> B"
    rate: {A: 0.3 1/s}
  - name: leave
    equation: "B -> *"
    rate: {A: 0.2 1/s}
    bonds: {with: [C], energy: 0.05 eV}
"""


def rich(**kw):
    return scenario(RICH, lattice="triangular", size=12, duration="10 s", **kw)


def test_incremental_rates_equal_a_recount_from_the_rules():
    sim = Simulation(rich(), seed=5)
    sim.run()
    np.testing.assert_allclose(sim.solver.site_rates(), reference_site_rates(sim), rtol=1e-12, atol=0)
    assert sim.solver.total_rate() == pytest.approx(reference_site_rates(sim).sum(), rel=1e-12)
    assert sim.state.events > 1000
    assert len(set(sim.state.occupation.tolist())) == 4  # all species present: all paths ran


def test_incremental_tree_is_bit_identical_to_a_rebuild():
    sim = Simulation(rich(), seed=6)
    sim.run()
    incremental = sim.solver._tree.values.copy()
    sim.solver.start_phase(sim.state, 0)
    np.testing.assert_array_equal(sim.solver._tree.values, incremental)


def test_species_change_as_the_executed_events_say():
    sim = Simulation(rich(), seed=7)
    before = np.bincount(sim.state.occupation, minlength=4)
    sim.run()
    after = np.bincount(sim.state.occupation, minlength=4)
    m = sim.mechanism
    delta = np.zeros(4, dtype=np.int64)
    for e, n in enumerate(sim.state.event_counts):
        for k in range(m.sites_per_event[e]):
            delta[m.site_in[e, k]] -= n
            delta[m.site_out[e, k]] += n
    np.testing.assert_array_equal(after - before, delta)
    assert sim.state.events == sim.state.event_counts.sum()


def test_footprint_is_never_violated():
    """RSA with nearest-neighbour exclusion: no two adsorbates are ever neighbours."""
    sc = scenario("""
species: [A]
events:
  - {name: adsorb, equation: "* -> A", rate: {A: 1 1/s}, footprint: 1}
""", size=40, duration="20 s")
    sim = Simulation(sc, seed=2)
    sim.run()
    occ = sim.state.occupation
    assert occ.sum() > 0.3 * occ.size
    assert not np.any((occ[:, None] == 1) & (occ[sim.lattice.neighbours] == 1))


def test_same_seed_same_trajectory_other_seed_other():
    a, b, c = (Simulation(rich(), seed=s) for s in (11, 11, 12))
    for sim in (a, b, c):
        sim.run()
    np.testing.assert_array_equal(a.state.occupation, b.state.occupation)
    assert a.state.time == b.state.time and a.state.counter == b.state.counter
    assert not np.array_equal(a.state.occupation, c.state.occupation)


def test_trajectory_does_not_depend_on_how_often_it_is_sampled():
    coarse, fine = Simulation(rich(samples=1), seed=3), Simulation(rich(samples=97), seed=3)
    coarse.run()
    fine.run()
    np.testing.assert_array_equal(coarse.state.occupation, fine.state.occupation)
    np.testing.assert_array_equal(coarse.state.event_counts, fine.state.event_counts)
    assert coarse.state.counter == fine.state.counter


def test_resuming_from_a_checkpoint_is_bit_identical():
    """Run 4 cycles at once, or 2 cycles, then a new Simulation from the saved state."""
    whole = Simulation(rich(cycles=4), seed=9)
    whole.run()
    first = Simulation(rich(cycles=2), seed=9)
    first.run()
    resumed = Simulation(rich(cycles=4), seed=9)
    resumed.state = first.state.copy()  # what a checkpoint stores: occupation, clock, counter
    resumed.run()
    np.testing.assert_array_equal(resumed.state.occupation, whole.state.occupation)
    np.testing.assert_array_equal(resumed.state.event_counts, whole.state.event_counts)
    assert resumed.state.time == whole.state.time
    assert resumed.state.counter == whole.state.counter


def test_advance_stops_at_the_requested_time_and_max_events():
    sim = Simulation(rich(), seed=1)
    solver: ExactSolver = sim.solver
    solver.start_phase(sim.state, 0)
    done = solver.advance(sim.state, 1e9, end_of_phase=False, max_events=10)
    assert not done and sim.state.events == 10
    assert solver.advance(sim.state, 0.5, end_of_phase=True)
    assert sim.state.time == 0.5


def test_no_possible_event_just_moves_the_clock():
    sc = scenario("""
species: [A]
events:
  - {name: leave, equation: "A -> *", rate: {A: 1 1/s}}
""", duration="2 s")
    sim = Simulation(sc, seed=1)
    summary = sim.run()
    assert sim.state.events == 0 and sim.state.time == 2.0
    assert summary.coverage[-1].tolist() == [1.0, 0.0]
