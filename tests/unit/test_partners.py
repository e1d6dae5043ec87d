"""Two-site events whose partner lies in a farther neighbour shell or on given site types.

The channels are checked against a plain-Python recount after a run (so the update reach is
right too), against the site counts of known shells (8 second neighbours on the square lattice,
12 on the triangular one), against the bipartite Hf-O graph of HfO2 (a second-shell hop never
leaves its sublattice), and every ensemble replica against the serial solver.
"""
from __future__ import annotations

import numpy as np
import pytest

from kmc_ald.engine.solvers import parallel_unsupported
from kmc_ald.errors import ScenarioError
from kmc_ald.model.compile import reachable_species
from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation
from tests.support.models import ensemble_equal_to_serial, reference_site_rates, scenario

ase = pytest.importorskip("ase")
from tests.unit.test_structure import monoclinic_hfo2  # noqa: E402

MIXED = """
species: [A, B, C]
events:
  - {name: land, equation: "* -> A", rate: {A: 1 1/s}}
  - {name: far_hop, equation: "A + * -> * + A", rate: {A: 20 1/s}, partner: {shell: second}}
  - name: near_hop
    equation: "A + * -> * + A"
    rate: {A: 5 1/s}
    partner: {site_types: [Hf]}
  - name: far_pair
    equation: "A + A -> B + *"
    rate: {A: 3 1/s}
    partner: {shell: 2, site_types: [O]}
  - {name: third, equation: "B + A -> C + *", rate: {A: 2 1/s}, partner: {shell: 3}}
  - {name: on_Hf, equation: "A -> *", rate: {A: 4 1/s}, site_types: [Hf]}
recipe:
  temperature: 300 K
  cycles: 2
  phases: [{name: run, duration: 0.4 s}]
"""


def hfo2_scenario(tmp_path, text: str = MIXED):
    ase.io.write(tmp_path / "hfo2.extxyz", monoclinic_hfo2() * (2, 2, 2))
    body = f"description: partners on HfO2\nsubstrate: {{from: hfo2.extxyz, " \
           f"cutoff: {{Hf-O: 2.5 Å}}}}\n{text}"
    return loads_scenario(body, "partners.yaml", base=tmp_path)


@pytest.mark.parametrize("lattice, second", [("square", 8), ("triangular", 12)])
def test_a_full_lattice_has_one_channel_per_second_neighbour(lattice, second):
    """Every site full: A + A -> * + * on the second shell opens exactly one channel per
    second neighbour of each site."""
    sc = scenario("""
species: [A]
events:
  - {name: annihilate, equation: "A + A -> * + *", rate: {A: 1 1/s}, partner: {shell: 2}}
""", lattice=lattice, size=12)
    sim = Simulation(sc, seed=1)
    sim.state.occupation[:] = 1
    sim.solver.start_phase(sim.state, 0)
    assert sim.solver.total_rate() == pytest.approx(sim.lattice.n_sites * second, rel=1e-12)


def test_incremental_rates_with_farther_partners_equal_a_recount(tmp_path):
    """After a run with first-, second- and third-shell pairs, a partner type and a site type,
    every site's rate equals the recount from the rules, and every event has run."""
    sim = Simulation(hfo2_scenario(tmp_path), seed=3)
    sim.run()
    np.testing.assert_allclose(sim.solver.site_rates(), reference_site_rates(sim), rtol=1e-12,
                               atol=0)
    assert (sim.state.event_counts > 0).all(), sim.state.event_counts


def test_a_second_shell_hop_never_leaves_its_sublattice(tmp_path):
    """On the bipartite Hf-O graph the second neighbours of an O site are O sites: walkers that
    land on O and hop on the second shell stay on O; hopping on the first shell they reach Hf;
    on the first shell but only onto O sites, they cannot hop at all."""
    land = '  - {name: land, equation: "* -> A", rate: {A: 1 1/s}, site_types: [O]}\n'
    recipe = "recipe: {temperature: 300 K, cycles: 1, phases: [{name: run, duration: 1 s}]}\n"
    hops = {"partner: {shell: 2}": True, "partner: {shell: 1}": False,
            "partner: {site_types: [O]}": None}
    for partner, stays in hops.items():
        sc = hfo2_scenario(tmp_path, "species: [A]\nevents:\n" + land + (
            '  - {name: hop, equation: "A + * -> * + A", rate: {A: 50 1/s}, '
            + partner + '}\n') + recipe)
        sim = Simulation(sc, seed=4)
        sim.run()
        hf = sim.lattice.site_type == sim.lattice.site_type_names.index("Hf")
        occ, (landed, hopped) = sim.state.occupation, sim.state.event_counts
        assert occ.sum() == landed > 30  # walkers are conserved
        if stays is None:
            assert hopped == 0 and (occ[hf] == 0).all(), partner
        else:
            assert hopped > 1000 and bool((occ[hf] == 0).all()) == stays, partner


def test_species_reach_only_the_site_types_their_events_allow(tmp_path):
    """Landing on O and hopping onto O only, A can never sit on Hf; hopping onto any type it
    can (what ``kmc-ald check`` and the compile's checks read)."""
    for partner, on_hf in (("partner: {site_types: [O]}", False), ("partner: {shell: 1}", True)):
        sc = hfo2_scenario(tmp_path, "species: [A]\nevents:\n"
                           '  - {name: land, equation: "* -> A", rate: {A: 1 1/s}, '
                           'site_types: [O]}\n'
                           '  - {name: hop, equation: "A + * -> * + A", rate: {A: 1 1/s}, '
                           + partner + "}\nrecipe: {temperature: 300 K, cycles: 1, phases: "
                           "[{name: run, duration: 1 s}]}\n")
        sim = Simulation(sc)
        can = reachable_species(sim.model)
        hf, o = (sim.lattice.site_type_names.index(n) for n in ("Hf", "O"))
        assert can[o, 1] and bool(can[hf, 1]) == on_hf, partner


def test_every_ensemble_replica_equals_the_serial_solver_with_farther_partners(
        ensemble_backend, tmp_path):
    """Second- and third-shell partners and partner types through every ensemble backend,
    kernels/ensemble.cu (host shim) included: each replica is the serial run."""
    sim = ensemble_equal_to_serial(hfo2_scenario(tmp_path), seed=8)
    assert (sim.state.event_counts > 0).all()


def test_the_parallel_solver_refuses_farther_partners_with_the_reason(tmp_path):
    sim = Simulation(hfo2_scenario(tmp_path))
    why = parallel_unsupported(sim.model)
    assert why is not None and "far_hop" in why.reason and why.path == ("events", 1, "partner")


def test_check_shows_where_each_pair_finds_its_partner(tmp_path):
    from typer.testing import CliRunner

    from kmc_ald.cli import app
    hfo2_scenario(tmp_path)
    (tmp_path / "partners.yaml").write_text("description: partners\nsubstrate: {from: "
                                            "hfo2.extxyz, cutoff: {Hf-O: 2.5 Å}}\n" + MIXED)
    result = CliRunner().invoke(app, ["check", str(tmp_path / "partners.yaml")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for label in ("far_hop (partner: shell 2)", "near_hop (partner: on Hf)",
                  "far_pair (partner: shell 2; on O)", "third (partner: shell 3)"):
        assert label in result.output, result.output
    assert "exact solver" in result.output  # the parallel solver's refusal, with the reason


def test_an_event_and_its_reverse_share_the_partner_shell(tmp_path):
    """An event's reverse has its partner in the same shell: each hop undoes itself, and the
    first-shell hop is not taken for the reverse of the second-shell one."""
    mech = Simulation(hfo2_scenario(tmp_path)).mechanism
    names = list(mech.event_names)
    assert mech.reverse[names.index("far_hop")] == names.index("far_hop")
    assert mech.reverse[names.index("near_hop")] == names.index("near_hop")
    np.testing.assert_array_equal(mech.partner_shell, [0, 2, 1, 2, 3, 0])


@pytest.mark.parametrize("event, where, message", [
    ('{name: e, equation: "A + * -> * + A", rate: {A: 1 1/s}, partner: {shell: fourth}}',
     "events[0].partner.shell", "first, second or third"),
    ('{name: e, equation: "A + * -> * + A", rate: {A: 1 1/s}, partner: {shell: 4}}',
     "events[0].partner.shell", "less than or equal to 3"),
    ('{name: e, equation: "A + * -> * + A", rate: {A: 1 1/s}, partner: {site_types: [Zr]}}',
     "events[0].partner.site_types[0]", "site type 'Zr' does not exist"),
    ('{name: e, equation: "* -> A", rate: {A: 1 1/s}, site_types: [Hf, Zr]}',
     "events[0].site_types[1]", "site type 'Zr' does not exist"),
    ('{name: e, equation: "* -> A", rate: {A: 1 1/s}, partner: {shell: 2}}',
     "events[0]", "'* -> A' involves one site"),
])
def test_bad_partners_are_located_errors(event, where, message, tmp_path):
    text = ("species: [A]\nevents:\n  - " + event + "\nrecipe: {temperature: 300 K, cycles: 1, "
            "phases: [{name: run, duration: 1 s}]}\n")
    with pytest.raises(ScenarioError) as err:
        Simulation(hfo2_scenario(tmp_path, text))
    shown = str(err.value)
    assert where in shown and message in shown, shown


FAR_READERS = """
species: [A, B, C, D, E]
events:
  - {name: land, equation: "* -> A", rate: {A: 2 1/s}}
  - {name: land_B, equation: "* -> B", rate: {A: 0.5 1/s}}
  - {name: land_E, equation: "* -> E", rate: {A: 1 1/s}}
  - name: guarded_hop
    equation: "A + * -> * + A"
    rate: {A: 30 1/s}
    partner: {shell: 2}
    footprint: {shells: 4, blocked_by: [B]}
  - name: counted
    equation: "A -> C"
    rate: {A: 3 1/s}
    bonds: {with: [E], min: 1}
  - {name: pair_D, equation: "C + D -> D + D", rate: {A: 4 1/s}, partner: {shell: 3}}
  - {name: seed_D, equation: "E -> D", rate: {A: 2 1/s}}
  - {name: leave, equation: "E -> *", rate: {A: 1 1/s}}
recipe:
  temperature: 300 K
  cycles: 2
  phases: [{name: run, duration: 0.4 s}]
"""


def test_a_change_refreshes_the_sites_within_the_reach_of_what_it_changes(tmp_path):
    """How far a site's change reaches follows what the others read: a species that blocks a
    four-hop footprint reaches 4 hops, a counted one 1, a second-shell partner 2 (third: 3), an
    unread one only its own site. After a run with a footprint on a pair event, every site's
    rate equals the recount at every one of 40 stops of a run (so nothing the shorter reach
    skips was needed)."""
    sim = Simulation(hfo2_scenario(tmp_path, FAR_READERS), seed=5)
    radius = dict(zip(sim.mechanism.species, sim.mechanism.change_radius))
    assert radius == {"empty": 2, "A": 0, "B": 4, "C": 0, "D": 3, "E": 1}
    sim.solver.start_phase(sim.state, 0)
    for t in np.linspace(0.05, 2.0, 40):
        sim.solver.advance(sim.state, t, False, 10**9)
        np.testing.assert_allclose(sim.solver.site_rates(), reference_site_rates(sim),
                                   rtol=1e-12, atol=0, err_msg=f"t = {t} s")
    assert (sim.state.event_counts > 0).all(), dict(zip(sim.mechanism.event_names,
                                                       sim.state.event_counts))


def test_a_footprint_on_a_pair_event_guards_its_first_site(tmp_path):
    """A two-site event with a footprint cannot start at a site with a blocker within the
    footprint (4 hops), and can where the blocker is farther away (5 hops)."""
    sim = Simulation(hfo2_scenario(tmp_path, FAR_READERS), seed=5)
    lat, species, occ = sim.lattice, sim.mechanism.species, sim.state.occupation
    near, dist = lat.shells(5)
    i = 0
    hop = sim.rates.rate[0, sim.mechanism.event_names.index("guarded_hop"), lat.site_type[i], 0]
    for d, open_channels in ((4, 0), (5, int((dist[i] == 2).sum()))):
        occ[:] = 0
        occ[i] = species.index("A")
        occ[near[i][dist[i] == d][0]] = species.index("B")
        sim.solver.start_phase(sim.state, 0)
        # A at i has no E neighbour, so the hop is its only open event
        assert sim.solver.site_rates()[i] == pytest.approx(hop * open_channels, rel=1e-12), d
