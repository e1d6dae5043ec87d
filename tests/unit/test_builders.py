"""Substrate builders: geometry, site-type assignment, substrate atoms and error messages."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kmc_ald.errors import ScenarioError
from kmc_ald.surfaces.builders import (
    SUBSTRATES,
    build_lattice,
    cells_for_length,
    substrate_atoms,
)

S3 = math.sqrt(3.0)
# kind -> (nearest-neighbour distance [Å], degree, basis sites per cell)
EXPECTED = {
    "square": (1.0, 4, 1),
    "triangular": (1.0, 6, 1),
    "honeycomb": (1.0, 3, 2),
    "graphene": (2.46 / S3, 3, 2),
    "graphene_hollow": (2.46, 6, 1),
    "mxene": (3.07, 6, 1),
    "oxide": (2.9, 6, 1),
}


def test_substrates_cover_every_kind() -> None:
    assert set(SUBSTRATES) == set(EXPECTED)
    for name, kind in SUBSTRATES.items():
        assert kind.name == name
        assert kind.site_types[0] == kind.default_site_type
        assert kind.description


@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("shape", [(4, 5), (7, 3)])
def test_geometry(kind: str, shape: tuple[int, int]) -> None:
    nn, degree, n_basis = EXPECTED[kind]
    lat = build_lattice(kind, shape)
    nx, ny = shape
    assert lat.n_sites == nx * ny * n_basis
    assert lat.degree == degree
    assert lat.shape == shape
    assert lat.positions.dtype == np.float64 and lat.positions.shape == (lat.n_sites, 3)
    assert np.all(lat.positions[:, 2] == 0.0)
    assert lat.neighbours.dtype == np.int32
    assert lat.site_type.dtype == np.uint8 and np.all(lat.site_type == 0)
    assert lat.layer.dtype == np.int16 and np.all(lat.layer == 0)
    assert lat.site_type_names == SUBSTRATES[kind].site_types
    # every bond has the nearest-neighbour length
    d = lat.positions[lat.neighbours] - lat.positions[:, None, :]
    dist = np.linalg.norm(lat.minimum_image(d), axis=-1)
    np.testing.assert_allclose(dist, nn, rtol=1e-12)
    # neighbour relation is symmetric and has no self or repeated neighbours
    for s in range(lat.n_sites):
        row = lat.neighbours[s]
        assert s not in row
        assert len(set(row.tolist())) == degree
        for t in row:
            assert s in lat.neighbours[t]


def test_graphene_bond_is_1_42_angstrom() -> None:
    lat = build_lattice("graphene", (3, 3))
    d = lat.minimum_image(lat.positions[lat.neighbours[0]] - lat.positions[0])
    np.testing.assert_allclose(np.linalg.norm(d, axis=-1), 1.42, atol=1e-3)


def test_spacing_sets_nearest_neighbour_distance() -> None:
    for kind in ("square", "triangular", "honeycomb"):
        lat = build_lattice(kind, (4, 4), spacing=2.5)
        d = lat.minimum_image(lat.positions[lat.neighbours] - lat.positions[:, None, :])
        np.testing.assert_allclose(np.linalg.norm(d, axis=-1), 2.5, rtol=1e-12)
    assert np.linalg.norm(build_lattice("honeycomb", (4, 4), spacing=2.5).cell[0]) == (
        pytest.approx(4 * 2.5 * S3))


def test_site_areas() -> None:
    assert build_lattice("graphene", (5, 4)).site_area == pytest.approx(5.2408 / 2, abs=1e-4)
    assert build_lattice("graphene", (5, 4)).site_area == pytest.approx(2.6204, abs=1e-4)
    assert build_lattice("mxene", (5, 4)).site_area == pytest.approx(S3 / 2 * 3.07**2, rel=1e-12)
    assert build_lattice("mxene", (5, 4)).site_area == pytest.approx(8.16, abs=5e-3)
    # 13.7 O sites per nm² on the oxide
    assert 100.0 / build_lattice("oxide", (5, 4)).site_area == pytest.approx(13.73, abs=0.01)
    assert build_lattice("square", (5, 4)).site_area == pytest.approx(1.0)


def test_cells_for_length_graphene_100_angstrom() -> None:
    nx, ny = cells_for_length("graphene", 100.0, 100.0)
    lat = build_lattice("graphene", (nx, ny))
    extent_a = np.linalg.norm(lat.cell[0])
    extent_b = lat.cell[1, 1]  # projected height of the b side
    assert abs(extent_a - 100.0) <= 2.46 / 2
    assert abs(extent_b - 100.0) <= 2.46 * S3 / 2 / 2
    assert (nx, ny) == (41, 47)


def test_cells_for_length_other_kinds() -> None:
    assert cells_for_length("square", 10.0, 20.0) == (10, 20)
    assert cells_for_length("square", 10.0, 20.0, spacing=2.0) == (5, 10)
    assert cells_for_length("triangular", 10.0, 10.0 * S3 / 2) == (10, 10)
    assert cells_for_length("mxene", 0.1, 0.1) == (1, 1)
    nx, ny = cells_for_length("oxide", 200.0, 150.0)
    assert abs(nx * 2.9 - 200.0) <= 2.9 / 2 and abs(ny * 2.9 * S3 / 2 - 150.0) <= 2.9 * S3 / 4


def test_fractions_exact_counts() -> None:
    lat = build_lattice("mxene", (20, 20), {"F": ("fraction", 0.35), "OH": ("fraction", 0.1),
                                            "bare_Ti": ("fraction", 0.013)}, seed=3)
    n = lat.n_sites
    assert lat.site_type_counts() == {
        "O": n - round(0.35 * n) - round(0.1 * n) - round(0.013 * n),
        "OH": round(0.1 * n), "F": round(0.35 * n), "bare_Ti": round(0.013 * n)}


def test_density_exact_counts() -> None:
    lat = build_lattice("graphene", (30, 30), {"vacancy": ("density", 0.002),
                                               "graphitic_N": ("density", 0.0105)}, seed=1)
    counts = lat.site_type_counts()
    assert counts["vacancy"] == round(0.002 * lat.area)
    assert counts["graphitic_N"] == round(0.0105 * lat.area)
    assert counts["pyridinic_N"] == 0
    assert sum(counts.values()) == lat.n_sites


def test_fraction_zero_and_one() -> None:
    assert build_lattice("oxide", (4, 4), {"OH": ("fraction", 0.0)}).site_type_counts()["OH"] == 0
    lat = build_lattice("oxide", (4, 4), {"OH": ("fraction", 1.0), "Al": ("fraction", 0.0)})
    assert lat.site_type_counts() == {"O": 0, "OH": 16, "Al": 0}


def test_seed_reproducible() -> None:
    spec = {"vacancy": ("fraction", 0.05), "pyridinic_N": ("fraction", 0.03)}
    a = build_lattice("graphene", (10, 10), spec, seed=7)
    b = build_lattice("graphene", (10, 10), spec, seed=7)
    c = build_lattice("graphene", (10, 10), spec, seed=8)
    np.testing.assert_array_equal(a.site_type, b.site_type)
    assert not np.array_equal(a.site_type, c.site_type)
    assert a.site_type_counts() == c.site_type_counts()
    assert a.substrate_symbols == b.substrate_symbols
    np.testing.assert_array_equal(a.substrate_positions, b.substrate_positions)


def test_site_type_index_matches_names() -> None:
    lat = build_lattice("oxide", (5, 5), {"Al": ("fraction", 0.2), "OH": ("fraction", 0.4)})
    assert lat.site_type_names == ("O", "OH", "Al")
    assert np.count_nonzero(lat.site_type == 2) == 5
    assert np.count_nonzero(lat.site_type == 1) == 10


def test_lattice_is_read_only() -> None:
    lat = build_lattice("graphene", (3, 3))
    with pytest.raises(ValueError, match="read-only"):
        lat.site_type[0] = 1


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_substrate_atoms_cell_and_pbc(kind: str) -> None:
    import ase

    lat = build_lattice(kind, (6, 6))
    atoms = substrate_atoms(lat)
    assert isinstance(atoms, ase.Atoms)
    assert atoms.pbc.tolist() == [True, True, False]
    np.testing.assert_allclose(atoms.cell.array, lat.cell)
    assert len(atoms) == len(lat.substrate_symbols) == lat.substrate_positions.shape[0]
    assert lat.substrate_positions.dtype == np.float64
    if kind in ("square", "triangular", "honeycomb"):
        assert len(atoms) == 0
    else:  # no two atoms on top of each other (closest pair: O-H 0.97 Å)
        d = atoms.get_all_distances(mic=True) + np.eye(len(atoms)) * 1e3
        assert d.min() > 0.9


def test_graphene_atoms_with_vacancies_and_nitrogen() -> None:
    lat = build_lattice("graphene", (20, 20), {"vacancy": ("fraction", 0.02),
                                               "pyridinic_N": ("fraction", 0.01),
                                               "graphitic_N": ("fraction", 0.015)}, seed=5)
    counts = lat.site_type_counts()
    atoms = substrate_atoms(lat)
    assert counts["vacancy"] == round(0.02 * lat.n_sites) == 16
    assert len(atoms) == lat.n_sites - counts["vacancy"]
    symbols = atoms.get_chemical_symbols()
    assert symbols.count("N") == counts["pyridinic_N"] + counts["graphitic_N"]
    assert symbols.count("C") == counts["pristine"]
    np.testing.assert_allclose(atoms.positions[:, 2], 0.0)
    # each atom sits on a non-vacancy site
    occupied = lat.positions[lat.site_type != 1]
    np.testing.assert_allclose(np.sort(atoms.positions, axis=0), np.sort(occupied, axis=0))


def test_graphene_hollow_atoms_form_the_honeycomb_around_the_sites() -> None:
    lat = build_lattice("graphene_hollow", (12, 12), {"vacancy": ("fraction", 0.05),
                                                      "pyridinic_N": ("fraction", 0.03)}, seed=3)
    counts = lat.site_type_counts()
    atoms = substrate_atoms(lat)
    symbols = atoms.get_chemical_symbols()
    assert len(atoms) == 2 * lat.n_sites - counts["vacancy"]
    assert symbols.count("N") == counts["pyridinic_N"]
    d = atoms.get_all_distances(mic=True) + np.eye(len(atoms)) * 1e3
    np.testing.assert_allclose(d.min(axis=1), 2.46 / S3, rtol=1e-9)  # C-C 1.42 Å
    # every site sits at the centre of its hexagon: 6 atoms (or 5 at a vacancy) at 1.42 Å
    site_atom = lat.minimum_image(atoms.positions[None] - lat.positions[:, None])
    around = (np.linalg.norm(site_atom, axis=-1) < 1.43).sum(axis=1)
    assert around.min() >= 4 and np.median(around) == 6


def test_translations_move_every_site_by_one_lattice_vector() -> None:
    from kmc_ald.surfaces.builders import add_stack
    for lat, count in ((build_lattice("honeycomb", (5, 4)), 6), (build_lattice("square", (4, 6)), 4),
                       (add_stack(build_lattice("oxide", (4, 5)), 2), 6)):
        shift = lat.translations
        assert shift.shape == (count, lat.n_sites)
        for row in shift:
            assert np.array_equal(np.sort(row), np.arange(lat.n_sites))  # a permutation
            assert np.array_equal(lat.layer[row], lat.layer)
            d = lat.minimum_image(lat.positions[row] - lat.positions)
            np.testing.assert_allclose(d, np.broadcast_to(d[0], d.shape), atol=1e-9)  # one vector
            np.testing.assert_allclose(np.linalg.norm(d[0]), np.linalg.norm(lat.cell[0]) /
                                       lat.shape[0], rtol=1e-9)


def test_mxene_atoms() -> None:
    lat = build_lattice("mxene", (6, 6), {"OH": ("fraction", 0.25), "F": ("fraction", 0.25),
                                          "bare_Ti": ("fraction", 0.1)}, seed=2)
    c = lat.site_type_counts()
    symbols = substrate_atoms(lat).get_chemical_symbols()
    n = lat.n_sites
    assert symbols.count("Ti") == 3 * n and symbols.count("C") == 2 * n
    assert symbols.count("O") == c["O"] + c["OH"]
    assert symbols.count("H") == c["OH"]
    assert symbols.count("F") == c["F"]
    z = lat.substrate_positions[:, 2]
    ti = np.array(symbols) == "Ti"
    assert sorted(set(np.round(z[ti], 6))) == [-4.6, -2.3, 0.0]
    assert np.allclose(z[np.isin(symbols, ["O", "F"])], 1.0)
    assert np.allclose(z[np.array(symbols) == "H"], 1.97)


def test_oxide_atoms() -> None:
    lat = build_lattice("oxide", (6, 6), {"OH": ("fraction", 0.5), "Al": ("fraction", 0.1)},
                        seed=4)
    c = lat.site_type_counts()
    symbols = substrate_atoms(lat).get_chemical_symbols()
    z = lat.substrate_positions[:, 2]
    assert symbols.count("O") == c["O"] + c["OH"]
    assert symbols.count("H") == c["OH"]
    al = np.array(symbols) == "Al"
    assert np.count_nonzero(al & (z == 0.0)) == c["Al"]
    # subsurface Al: 2/3 of the O-site count, as in Al2O3, when nx and ny are multiples of 3
    assert np.count_nonzero(al & np.isclose(z, -1.0)) == 2 * lat.n_sites // 3


def test_error_unknown_kind() -> None:
    with pytest.raises(ScenarioError, match=r"'graphite'.*graphene.*mxene.*oxide"):
        build_lattice("graphite", (3, 3))
    with pytest.raises(ScenarioError, match="'graphite'"):
        cells_for_length("graphite", 10.0, 10.0)


def test_error_unknown_site_type() -> None:
    with pytest.raises(ScenarioError, match=r"'Cl'.*'mxene'.*O, OH, F, bare_Ti"):
        build_lattice("mxene", (3, 3), {"Cl": ("fraction", 0.1)})


def test_error_fraction_out_of_range() -> None:
    with pytest.raises(ScenarioError, match=r"fraction 1\.5.*\[0, 1\]"):
        build_lattice("graphene", (3, 3), {"vacancy": ("fraction", 1.5)})
    with pytest.raises(ScenarioError, match=r"fraction -0\.1"):
        build_lattice("graphene", (3, 3), {"vacancy": ("fraction", -0.1)})


def test_error_too_many_sites() -> None:
    with pytest.raises(ScenarioError, match=r"'pyridinic_N'.*asked for 12 .*only 8 of 18"):
        build_lattice("graphene", (3, 3), {"vacancy": ("fraction", 0.55),
                                           "pyridinic_N": ("fraction", 0.65)})
    with pytest.raises(ScenarioError, match=r"'OH'.*asked for 100 .*only 9"):
        build_lattice("oxide", (3, 3), {"OH": ("density", 100 / build_lattice(
            "oxide", (3, 3)).area)})


def test_error_bad_shape_and_mode() -> None:
    with pytest.raises(ScenarioError, match=r"\(0, 3\).*>= 1"):
        build_lattice("square", (0, 3))
    with pytest.raises(ScenarioError, match=r"\(2, 8\): at least 3 unit cells.*own neighbour"):
        build_lattice("square", (2, 8))
    with pytest.raises(ScenarioError, match=r"'percent'.*'fraction', 'density'"):
        build_lattice("graphene", (3, 3), {"vacancy": ("percent", 2.0)})
    with pytest.raises(ScenarioError, match=r"'pristine'.*default"):
        build_lattice("graphene", (3, 3), {"pristine": ("fraction", 0.5)})
    with pytest.raises(ScenarioError, match=r"spacing=2\.0.*'graphene'"):
        build_lattice("graphene", (3, 3), spacing=2.0)
    with pytest.raises(ScenarioError, match=r"density -0\.01"):
        build_lattice("oxide", (3, 3), {"OH": ("density", -0.01)})


def test_ase_not_imported_at_module_import() -> None:
    code = ("import sys, kmc_ald.surfaces.builders; "
            "sys.exit(1 if 'ase' in sys.modules else 0)")
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
