"""Substrates read from structures: ASE's atoms and files, SPPARKS site files, and their errors.

The site graphs are checked against the built-in lattices they reproduce and against the known
coordination of monoclinic HfO2; trajectories on a graph read from a file equal those on the
built-in lattice bit for bit, on every backend of the ensemble solver.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from kmc_ald.errors import ScenarioError
from kmc_ald.scenario.load import load_scenario, loads_scenario
from kmc_ald.simulation import Simulation
from kmc_ald.surfaces.builders import build_lattice
from kmc_ald.surfaces.structure import (
    lattice_from_atoms,
    read_spparks_sites,
    read_structure,
    spparks_site_text,
)
from tests.conftest import SCENARIOS
from tests.support.models import ensemble_equal_to_serial

ase = pytest.importorskip("ase")
from ase.build import graphene  # noqa: E402
from ase.spacegroup import crystal  # noqa: E402


def monoclinic_hfo2() -> ase.Atoms:
    """Baddeleyite-type HfO2 (P2_1/c): a = 5.117, b = 5.175, c = 5.291 Å, beta = 99.22 deg,
    Hf, O1 and O2 on 4e sites (Ruh & Corfield, J. Am. Ceram. Soc. 53, 126 (1970))."""
    return crystal(["Hf", "O", "O"], basis=[(0.2759, 0.0412, 0.2078), (0.0690, 0.3315, 0.3467),
                                            (0.4497, 0.7576, 0.4800)],
                   spacegroup=14, cellpar=[5.117, 5.1754, 5.2915, 90, 99.216, 90])


def pairs(lattice) -> set[tuple[int, int]]:
    nb = lattice.neighbours
    return {(i, int(j)) for i in range(lattice.n_sites) for j in nb[i] if j >= 0}


def test_graphene_from_ase_is_the_built_in_graphene_graph():
    """ASE's graphene sheet with a 1.6 A cutoff: the same sites, area and bonds as the built-in
    honeycomb (sites matched by position)."""
    sheet = graphene(a=2.46, vacuum=None) * (6, 6, 1)
    sheet.pbc = [True, True, False]
    lat = lattice_from_atoms(sheet, 1.6)
    ref = build_lattice("graphene", (6, 6))
    assert lat.n_sites == ref.n_sites == 72 and lat.degree == 3
    assert math.isclose(lat.area, ref.area, rel_tol=1e-12)
    assert lat.site_type_names == ("C",) and lat.n_surface_sites == 72
    # match each ASE atom to the built-in site at the same place (up to a lattice translation)
    shift = ref.positions[0] - lat.positions[0]
    gap = ref.minimum_image(lat.positions[:, None] + shift - ref.positions[None])
    match = np.linalg.norm(gap, axis=-1).argmin(axis=1)
    assert len(set(match.tolist())) == 72
    mapped = {(int(match[i]), int(match[j])) for i, j in pairs(lat)}
    assert mapped == pairs(ref)
    assert len(lat.substrate_symbols) == 72 and (lat.substrate_sites == np.arange(72)).all()


def test_monoclinic_hfo2_has_sevenfold_hf_and_three_and_fourfold_o():
    """The Hf-O cutoff of 2.5 A (bonds 2.04-2.25 A, the next Hf-O at 3.58 A) gives the known
    coordination of baddeleyite: Hf 7, O1 3, O2 4; degrees differ per site and pad with -1."""
    bulk = monoclinic_hfo2() * (2, 2, 2)
    lat = lattice_from_atoms(bulk, {"Hf-O": 2.5})
    degree = (lat.neighbours >= 0).sum(axis=1)
    kinds = np.array(lat.site_type_names)[lat.site_type]
    assert sorted(lat.site_type_names) == ["Hf", "O"]
    assert (degree[kinds == "Hf"] == 7).all()
    assert sorted(np.unique(degree[kinds == "O"], return_counts=True)[1].tolist()) == [32, 32]
    assert set(degree[kinds == "O"].tolist()) == {3, 4}
    assert lat.degree == 7 and (lat.neighbours[degree == 3, 3:] == -1).all()
    # only Hf-O pairs are neighbours: O-O at 2.5 A and less are not listed
    assert all(kinds[i] != kinds[j] for i, j in pairs(lat))


def test_sites_kinds_tags_and_the_surface_depth_of_a_slab():
    """Sites from tags, kinds from a per-atom array with names, and a surface depth: the flux
    area per site and the coverage denominator count the surface sites only."""
    slab = ase.build.surface(monoclinic_hfo2(), (0, 0, 1), 2, vacuum=8.0) * (2, 2, 1)
    z = slab.positions[:, 2]
    top = z.max()
    slab.set_tags(np.where(np.array(slab.get_chemical_symbols()) == "O", 1, 2))
    slab.new_array("role", np.where(z > top - 1.5, 7, 8))
    lat = lattice_from_atoms(slab, {"O-O": 3.0}, sites=[1], site_kinds="role",
                             kind_names={7: "top", 8: "bulk"}, surface=["top"])
    assert lat.n_sites == int((np.array(slab.get_chemical_symbols()) == "O").sum())
    n_top = int(((z > top - 1.5) & (slab.get_tags() == 1)).sum())
    assert 0 < lat.n_surface_sites == n_top < lat.n_sites
    assert math.isclose(lat.site_area, lat.area / n_top)
    assert len(lat.substrate_symbols) == len(slab)  # the Hf atoms are kept for export
    by_depth = lattice_from_atoms(slab, 3.0, sites=["O"], surface=1.5)
    assert by_depth.n_surface_sites == n_top


def test_a_spparks_site_file_reproduces_the_built_in_lattice_and_its_trajectories(tmp_path):
    """A built-in square lattice written as a SPPARKS site file and read back is the same graph
    in the same neighbour order, so island nucleation runs bit for bit the same on it."""
    ref = build_lattice("square", (16, 16))
    path = tmp_path / "square.sites"
    path.write_text(spparks_site_text(ref))
    lat = read_spparks_sites(path)
    np.testing.assert_array_equal(lat.neighbours, ref.neighbours)
    np.testing.assert_allclose(lat.positions, ref.positions)
    assert lat.area == ref.area
    quick = ("recipe.phases[0].duration=2 s", "events[1].rate.A=100 1/s")
    built_in = load_scenario(SCENARIOS / "island_nucleation.yaml",
                             ("substrate.size=[16, 16]", *quick))
    text = (SCENARIOS / "island_nucleation.yaml").read_text()
    text = text.replace("lattice: square\n  size: [256, 256]", f"from: {path}")
    from_file = loads_scenario(text, "from_file.yaml", quick)
    assert from_file.substrate.from_ == str(path)
    runs = []
    for sc in (built_in, from_file):
        sim = Simulation(sc, seed=3)
        sim.run()
        runs.append(sim.state)
    np.testing.assert_array_equal(runs[0].occupation, runs[1].occupation)
    np.testing.assert_array_equal(runs[0].event_counts, runs[1].event_counts)
    assert runs[0].event_counts[1] > 100  # atoms hopped


def test_spparks_values_name_site_types_and_set_the_initial_surface(tmp_path):
    """Values column i1 (SPPARKS' per-site integer) names the site types through kind_names,
    ``initial`` puts species on them, and the surface is the sites of chosen types."""
    ref = build_lattice("square", (8, 8))
    values = np.zeros((ref.n_sites, 2), dtype=int)
    values[::4, 0] = 2
    path = tmp_path / "square.sites"
    path.write_text(spparks_site_text(ref, values))
    text = f"""
description: SPPARKS sites
substrate:
  from: {path.name}
  kind_names: {{0: vacancy, 2: OH}}
  surface: [OH]
  box: [16 Å, 16 Å, 20 Å]
  initial: {{OH: OH}}
species: [OH, H2O]
gases: {{H2O: {{formula: H2O}}}}
events:
  - {{name: adsorb, equation: "OH + H2O(g) -> H2O", sticking: 0.5}}
recipe:
  temperature: 300 K
  cycles: 1
  phases: [{{name: pulse, duration: 1e-9 s, gas: {{H2O: 1 Pa}}}}]
"""
    sc = loads_scenario(text, "spparks.yaml", base=tmp_path)
    sim = Simulation(sc, seed=0)
    lat = sim.lattice
    assert lat.site_type_names == ("OH", "vacancy") and lat.n_surface_sites == 16
    assert np.isclose(lat.area, 16 * 16) and np.isclose(lat.site_area, lat.area / 16)
    assert (sim.state.occupation[::4] == 1).all() and sim.state.occupation.sum() == 16
    np.testing.assert_allclose(lat.positions[:, :2], ref.positions[:, :2] * 2, atol=1e-5)


def test_every_ensemble_replica_equals_the_serial_solver_on_a_graph_of_mixed_degree(
        ensemble_backend, tmp_path):
    """Hops and pair reactions on HfO2's Hf-O graph (degrees 3, 4 and 7, -1 padded), through
    the ensemble backends, kernels/ensemble.cu included: each replica is the serial run."""
    ase.io.write(tmp_path / "hfo2.extxyz", monoclinic_hfo2() * (2, 2, 2))
    text = """
description: hops on a mixed graph
substrate: {from: hfo2.extxyz, cutoff: {Hf-O: 2.5 Å}}
species: [A, B]
events:
  - {name: land, equation: "* -> A", rate: {A: 1 1/s}}
  - {name: hop, equation: "A + * -> * + A", rate: {A: 50 1/s, Ea: {default: 0 eV, Hf: 0.02 eV}}}
  - {name: pair, equation: "A + A -> B + *", rate: {A: 5 1/s}}
recipe:
  temperature: 300 K
  cycles: 2
  phases: [{name: run, duration: 0.5 s}]
"""
    sim = ensemble_equal_to_serial(loads_scenario(text, "mixed.yaml", base=tmp_path), seed=5)
    assert (sim.state.event_counts[:, 1:] > 10).all()


def test_the_parallel_solver_runs_langmuir_on_a_graph_within_its_bias(tmp_path):
    """The parallel solver's update classes on a graph come from a greedy colouring; Langmuir
    coverage at 5 s is theta_eq = 2/3 within its step bias and the replica noise."""
    sheet = graphene(a=2.46, vacuum=None) * (24, 24, 1)
    sheet.pbc = [True, True, False]
    ase.io.write(tmp_path / "g.extxyz", sheet)
    text = (SCENARIOS / "langmuir.yaml").read_text().replace(
        "lattice: square\n  size: [64, 64]", "from: g.extxyz\n  cutoff: 1.6 Å")
    sc = loads_scenario(text, "langmuir.yaml", base=tmp_path)
    theta = [Simulation(sc, seed=s, solver="parallel").run().coverage[-1][1] for s in range(3)]
    sem = np.sqrt((2 / 3) * (1 / 3) / 1152 / 3)
    assert abs(np.mean(theta) - 2 / 3) < 0.02 * 2 / 3 + 4 * sem


def test_export_places_adsorbates_on_their_atoms_and_on_bare_sites(tmp_path):
    """A structure's adsorbate sits ADSORBATE_HEIGHT above its site atom; on a SPPARKS site
    (no atom of its own) it sits at the site."""
    from kmc_ald.io.structures import ADSORBATE_HEIGHT, to_atoms

    sheet = graphene(a=2.46, vacuum=None) * (4, 4, 1)
    sheet.pbc = [True, True, False]
    ase.io.write(tmp_path / "g.extxyz", sheet)
    body = """
species: [OH]
events: [{name: land, equation: "* -> OH", rate: {A: 1 1/s}}]
recipe: {temperature: 300 K, cycles: 1, phases: [{name: run, duration: 1 s}]}
"""
    sc = loads_scenario(f"description: x\nsubstrate: {{from: g.extxyz, cutoff: 1.6 Å}}\n{body}",
                        "g.yaml", base=tmp_path)
    sim = Simulation(sc, seed=0)
    sim.state.occupation[5] = 1
    atoms = to_atoms(sim)
    o = atoms[(atoms.arrays["kmc_species"] == "OH") & (atoms.numbers == 8)]
    assert len(o) == 1 and np.isclose(o.positions[0, 2], sheet.positions[5, 2] + ADSORBATE_HEIGHT)
    path = tmp_path / "sq.sites"
    path.write_text(spparks_site_text(build_lattice("square", (4, 4))))
    sc = loads_scenario(f"description: x\nsubstrate: {{from: sq.sites}}\n{body}", "s.yaml",
                        base=tmp_path)
    sim = Simulation(sc, seed=0)
    sim.state.occupation[5] = 1
    atoms = to_atoms(sim)
    o = atoms[atoms.numbers == 8]
    assert len(o) == 1 and np.isclose(o.positions[0, 2], 0.0)


def test_positions_only_sites_show_what_they_hold_and_nothing_when_empty(tmp_path):
    """A growth volume: with positions_only, a site's own atom is not exported; an empty site
    shows nothing, an occupied one its species at the site."""
    from kmc_ald.io.structures import to_atoms

    sheet = graphene(a=2.46, vacuum=None) * (4, 4, 1)
    sheet.pbc = [True, True, False]
    ase.io.write(tmp_path / "g.extxyz", sheet)
    sc = loads_scenario("description: x\nsubstrate: {from: g.extxyz, cutoff: 1.6 Å, "
                        f"positions_only: [C]}}\n{BODY}", "g.yaml", base=tmp_path)
    sim = Simulation(sc, seed=0)
    assert len(to_atoms(sim)) == 0
    sim.state.occupation[[3, 7]] = 1
    atoms = to_atoms(sim)
    assert len(atoms) == 2 and set(atoms.arrays["kmc_species"]) == {"A"}
    np.testing.assert_allclose(np.sort(atoms.positions[:, 2]), np.sort(sheet.positions[[3, 7], 2]))


# -- errors -------------------------------------------------------------------------------------
def _scenario_error(text: str, tmp_path) -> str:
    with pytest.raises(ScenarioError) as err:
        sc = loads_scenario(text, "bad.yaml", base=tmp_path)
        Simulation(sc)
    return str(err.value)


BODY = """
species: [A]
events: [{name: land, equation: "* -> A", rate: {A: 1 1/s}}]
recipe: {temperature: 300 K, cycles: 1, phases: [{name: run, duration: 1 s}]}
"""


@pytest.mark.parametrize("substrate, where, message", [
    ("{from: g.extxyz}", "substrate.cutoff", "needs the nearest-neighbour distance cutoff"),
    ("{from: g.extxyz, cutoff: 0.5 Å}", "substrate.from", "no two sites are neighbours"),
    ("{from: g.extxyz, cutoff: 9 Å}", "substrate.from", "the cell is too small for the cutoff"),
    ("{from: g.extxyz, cutoff: 1.6 Å, sites: [Pt]}", "substrate.sites",
     "no atom of the structure has element 'Pt'"),
    ("{from: g.extxyz, cutoff: {C-N: 1.6 Å}}", "substrate.cutoff", "names 'N', which no site is"),
    ("{from: g.extxyz, cutoff: 1.6 Å, site_kinds: charge}", "substrate.site_kinds",
     "neither 'element', 'tag' nor a per-atom array"),
    ("{from: g.extxyz, cutoff: 1.6 Å, surface: [O]}", "substrate.surface",
     "site type 'O' is not in the structure"),
    ("{from: g.extxyz, cutoff: 1.6 Å, site_kinds: tag, kind_names: {3: X}}",
     "substrate.kind_names", "no site with value(s) 3"),
    ("{from: missing.extxyz, cutoff: 1.6 Å}", "substrate.from", "no such structure file"),
    ("{from: g.extxyz, cutoff: 1.6 Å, size: [4, 4]}", "substrate", "remove size"),
    ("{lattice: square, size: [4, 4], cutoff: 1.6 Å}", "substrate",
     "describe a substrate read from a structure file"),
    ("{size: [4, 4]}", "substrate", "give 'lattice'"),
    ("{from: g.extxyz, cutoff: {C: 1.6 Å}}", "substrate.cutoff", "two element symbols"),
    ("{from: slab.extxyz, cutoff: 1.6 Å}", "substrate.from", "periodic along its first two"),
    ("{from: sq.sites, cutoff: 1.6 Å}", "substrate.cutoff", "is a SPPARKS site file"),
    ("{from: sq.sites, site_kinds: i3}", "substrate.site_kinds", "not a Values column"),
    ("{from: broken.sites}", "substrate.from", "line 12: site id 99 is outside 1..16"),
    ("{from: oneway.sites}", "substrate.from", "not the other way round"),
    ("{from: g.extxyz, cutoff: 1.6 Å, positions_only: [Hf]}", "substrate.positions_only",
     "no site has type 'Hf' (site types: C)"),
    ("{from: sq.sites, positions_only: [C]}", "substrate.positions_only", "have no atoms"),
])
def test_bad_structures_are_located_errors(substrate, where, message, tmp_path):
    sheet = graphene(a=2.46, vacuum=None) * (3, 3, 1)
    sheet.pbc = [True, True, False]
    ase.io.write(tmp_path / "g.extxyz", sheet)
    flat = sheet.copy()
    flat.pbc = [True, False, False]
    ase.io.write(tmp_path / "slab.extxyz", flat)
    square = build_lattice("square", (4, 4))
    text = spparks_site_text(square, np.zeros((16, 2), dtype=int))
    (tmp_path / "sq.sites").write_text(text)
    lines = text.splitlines()
    lines[11] = "99 0 0 0"
    (tmp_path / "broken.sites").write_text("\n".join(lines))
    one_way = text.replace("\n1 2 5 4 13\n", "\n1 2 5 4\n")
    assert one_way != text
    (tmp_path / "oneway.sites").write_text(one_way)
    shown = _scenario_error(f"description: x\nsubstrate: {substrate}\n{BODY}", tmp_path)
    assert where in shown and message in shown, shown


def test_cluster_migration_on_a_graph_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "sq.sites"
    path.write_text(spparks_site_text(build_lattice("square", (4, 4))))
    text = (f"description: x\nsubstrate: {{from: sq.sites}}\n{BODY}"
            "cluster_migration: {species: [A], A: 1 1/s}\n")
    shown = _scenario_error(text, tmp_path)
    assert "cluster_migration" in shown and "a substrate read from a structure" in shown


def test_a_relative_structure_path_is_stored_absolute(tmp_path):
    """The run file and the sweep workers get the scenario's text: its structure path is made
    absolute against the scenario's folder, so it names the same file from anywhere."""
    path = tmp_path / "sq.sites"
    path.write_text(spparks_site_text(build_lattice("square", (4, 4))))
    sc = loads_scenario(f"description: x\nsubstrate: {{from: sq.sites}}\n{BODY}", "s.yaml",
                        base=tmp_path)
    assert sc.substrate.from_ == str(path.resolve()) and str(path.resolve()) in sc.text
    assert read_structure(sc.substrate.from_).n_sites == 16
