"""Stacked lattices (3D particles): geometry, the support rules, and layer-by-layer filling
against its exact solution."""
import math

import numpy as np
import pytest
from scipy.integrate import quad

from kmc_ald.errors import ScenarioError
from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation
from kmc_ald.surfaces.builders import add_stack, build_lattice
from tests.support.models import scenario, supports_hold

STACK = """
species: [M]
events:
  - name: deposit
    equation: "* -> M"
    rate: {A: %s}
%s
"""


def stacked(body, *, layers=2, size=12, duration="1 s", samples=10, seed=1):
    """A triangular-lattice model whose surface starts full of M, with a stack above it."""
    sc = scenario(body, lattice="triangular", size=size, duration=duration, samples=samples,
                  seed=seed)
    return loads_scenario(sc.text, "stacked.yaml", ("substrate.initial={site: M}",
                                                    f"substrate.stack={{layers: {layers}, "
                                                    "solid: [M]}"))


def test_fcc_geometry():
    a = 2.9
    lat = add_stack(build_lattice("oxide", (6, 9)), 3)
    n0 = 54
    assert lat.n_sites == 4 * n0 and lat.n_layers == 4 and lat.n_nearest == 12
    assert lat.site_type_names[-1] == "stack" and lat.n_surface_sites == n0
    np.testing.assert_allclose(lat.positions[lat.layer == 2, 2], 2 * a * math.sqrt(2 / 3))
    nb = lat.neighbours
    for cols, distance, count in ((slice(0, 12), a, 12), (slice(12, 18), a * math.sqrt(2), 6)):
        for i in range(lat.n_sites):
            js = nb[i, cols][nb[i, cols] >= 0]
            d = np.linalg.norm(lat.minimum_image(lat.positions[js] - lat.positions[i]), axis=1)
            np.testing.assert_allclose(d, distance, rtol=1e-12)
            if lat.layer[i] in (1, 2):  # inner layers have every neighbour
                assert len(js) == count
            assert i in nb[js].ravel() or not len(js)  # the table is symmetric
    # support: the three sites one layer down; layer 0 rests on the substrate
    assert (lat.support[lat.layer == 0] == -1).all() and (lat.supported[lat.layer == 3] == -1).all()
    assert (lat.layer[lat.support[lat.layer == 2]] == 1).all()
    flat = build_lattice("oxide", (6, 9))
    assert not flat.stacked and flat.n_nearest == flat.degree == 6


def test_stack_needs_a_triangular_lattice_and_the_exact_solver():
    text = scenario(STACK % ("1 1/s", ""), lattice="honeycomb", size=4).text
    with pytest.raises(ScenarioError) as err:
        loads_scenario(text, "t.yaml", ("substrate.stack={layers: 2, solid: [M, X]}",))
    message = str(err.value)
    assert "substrate.stack" in message and "triangular lattice" in message
    assert "species 'X' is not listed" in message
    sc = stacked(STACK % ("1 1/s", ""))
    with pytest.raises(ScenarioError, match="substrate.stack"):
        Simulation(sc, solver="parallel")


def _second_layer(k, t):
    """P(a layer-2 site is filled at t): its own rate-k clock starts when the last of its three
    independent layer-1 supports has filled (CDF (1 - e^-ks)^3)."""
    density = lambda s: 3 * k * math.exp(-k * s) * (1 - math.exp(-k * s)) ** 2  # noqa: E731
    return quad(lambda s: density(s) * (1 - math.exp(-k * (t - s))), 0, t)[0]


def test_layers_fill_as_their_exact_solution():
    """Deposition at rate k on every held-up empty site: layer 1 is Langmuir, layer 2 waits for
    its supports. Mean over 8 runs of 3 x 144 sites, within 4 standard errors."""
    k = 1.0
    sc = stacked(STACK % (f"{k} 1/s", ""), layers=2, duration="2 s", samples=4)
    fills = []
    for seed in range(8):
        sim = Simulation(sc, seed=seed)
        sim.run()
        occ = sim.state.occupation
        assert supports_hold(sim.lattice, occ, [1])
        fills.append([(occ[sim.lattice.layer == layer] == 1).mean() for layer in (1, 2)])
    fills = np.array(fills)
    mean, sem = fills.mean(axis=0), fills.std(axis=0, ddof=1) / np.sqrt(len(fills))
    expected = np.array([1 - math.exp(-2 * k), _second_layer(k, 2.0)])
    assert np.all(np.abs(mean - expected) < 4 * sem + 1e-3), (mean, expected, sem)
    assert expected[1] < expected[0] - 0.2  # the second layer really lags


def test_hops_keep_the_stack_held_up_and_conserve_atoms():
    """Deposition plus bond-counted hops in and between layers: the support rules hold at every
    sample, atoms are conserved, and atoms move up and down."""
    hop = """
  - name: hop
    equation: "M + * -> * + M"
    rate: {A: 1.0e5 1/s, Ea: {default: 0.05 eV, stack: -0.2 eV}}
    bonds: {with: [M], energy: 0.1 eV}
"""
    sc = stacked(STACK % ("1 1/s", hop), layers=4, duration="3 s", samples=6, size=10)
    sim = Simulation(sc, seed=3)
    summary = sim.run()
    lat, occ = sim.lattice, sim.state.occupation
    assert supports_hold(lat, occ, [1])
    deposited = summary.state.event_counts[0]
    assert np.count_nonzero(occ[lat.layer > 0] == 1) == deposited > 20
    assert summary.state.event_counts[1] > 1000
    assert np.count_nonzero(occ[lat.layer >= 2]) > 0


def test_a_particle_at_the_top_of_the_stack_is_reported(caplog):
    sim = Simulation(stacked(STACK % ("50 1/s", ""), layers=1, duration="1 s"))
    with caplog.at_level("WARNING", logger="kmc_ald"):
        sim.run()
    assert sim.state.occupation[sim.lattice.layer == 1].any()
    assert "reached the top of the stack (substrate.stack.layers = 1)" in caplog.text


def test_second_shell_hops_on_a_stack_keep_every_rate_right():
    """A hop to the second shell on a stack: whether it may land depends on what holds up its
    partner, one hop beyond it, so a change there reaches three hops. After the run every site's
    rate equals the one rebuilt from the occupation, and the supports hold."""
    far = """
  - name: far_hop
    equation: "M + * -> * + M"
    rate: {A: 50 1/s}
    partner: {shell: 2}
"""
    sc = stacked(STACK % ("1 1/s", far), layers=4, duration="3 s", samples=6, size=8)
    sim = Simulation(sc, seed=1)
    sim.solver.start_phase(sim.state, 0)
    for t in np.linspace(0.1, 3.0, 30):
        sim.solver.advance(sim.state, t, False, 10**9)
        kept = sim.solver.site_rates().copy()
        sim.solver.start_phase(sim.state, 0)  # rebuilds every rate from the occupation
        np.testing.assert_array_equal(kept, sim.solver.site_rates(), err_msg=f"t = {t} s")
    assert supports_hold(sim.lattice, sim.state.occupation, [1])
    assert sim.state.event_counts[1] > 100
