"""Atoms of a simulated surface: what is drawn, every ASE format read back, OVITO, clear errors,
and a run file that export never changes."""
import hashlib
from collections import Counter

import numpy as np
import pytest
from ase.io import read

from kmc_ald.analysis.clusters import cluster_labels
from kmc_ald.io.runfile import read_run
from kmc_ald.io.structures import ExportError, export, fragment, select_frames, to_atoms
from kmc_ald.resources import resolve_scenario
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.support.models import scenario

ARRAYS = ("kmc_species", "site_type", "layer", "cluster_id", "site_index")


@pytest.fixture(scope="module")
def pt_run(tmp_path_factory):
    """A short Pt on N-graphene run on a small sheet, snapshots at every pulse end."""
    path = tmp_path_factory.mktemp("pt") / "pt.h5"
    sc = load_scenario(resolve_scenario("pt_n_graphene"), (
        "recipe.cycles=6", "substrate.size=[6 nm, 6 nm]",
        "substrate.site_types.pyridinic_N=0.01", "substrate.site_types.vacancy=0.005",
        "output.snapshots.at=[start, end_of_pulse, end_of_cycle]"))
    sim = Simulation(sc)
    sim.run(path)
    return path, sim


def test_atoms_hold_every_metal_atom_in_its_cluster(pt_run):
    path, sim = pt_run
    run = read_run(path)
    atoms = to_atoms(run, -1)
    occ = run.snapshot(-1)
    # every Pt on the surface is drawn once, on its site, with its cluster
    symbols = np.array(atoms.get_chemical_symbols())
    pt = np.flatnonzero(symbols == "Pt")
    held = np.isin(occ, [sim.mechanism.species.index(s) for s in ("PtL", "Pt", "PtO")])
    assert len(pt) == np.count_nonzero(held) > 0
    assert sorted(atoms.arrays["site_index"][pt]) == sorted(np.flatnonzero(held))
    labels = cluster_labels(held, sim.lattice.neighbours)
    assert np.array_equal(atoms.arrays["cluster_id"][pt], labels[atoms.arrays["site_index"][pt]])
    assert np.all(atoms.arrays["cluster_id"][symbols != "Pt"] == -1)
    # the substrate is all there: graphene C and N, none at vacancies
    sub = atoms.arrays["kmc_species"] == "substrate"
    assert sub.sum() == len(sim.lattice.substrate_symbols)
    assert np.all(atoms.arrays["layer"][sub] == -1) and np.all(atoms.arrays["layer"][~sub] == 0)
    assert "vacancy" not in set(atoms.arrays["site_type"][sub])
    # every adsorbate atom sits above the sheet, inside the periodic cell
    assert np.all(atoms.positions[~sub, 2] >= 1.0)
    frac = atoms.get_scaled_positions(wrap=False)[:, :2]
    assert np.all((frac > -1e-9) & (frac < 1 + 1e-9))
    assert atoms.pbc.tolist() == [True, True, False]
    assert atoms.info["cycle"] == 6 and atoms.info["time"] == pytest.approx(sim.state.time)
    cov = np.bincount(occ, minlength=4) / len(occ)
    assert atoms.info["coverage_PtO"] == pytest.approx(cov[3])


def test_fragments_have_the_formula_and_sensible_distances():
    symbols, offsets, shared = fragment("C8H13Pt", "Pt", "C")
    assert Counter(symbols) == {"C": 8, "H": 13, "Pt": 1} and not shared
    assert symbols[0] == "Pt"
    d = np.linalg.norm(offsets[:, None] - offsets[None], axis=-1)[np.triu_indices(len(symbols), 1)]
    assert d.min() > 0.8  # no two atoms on top of each other
    assert np.all(offsets[:, 2] >= 0)  # the ligands point away from the surface
    # OH on a surface O shares that O: only the H is added
    symbols, offsets, shared = fragment("OH", None, "O")
    assert symbols == ("O", "H") and shared and offsets[1, 2] == pytest.approx(1.05)


def test_a_tracked_hydroxyl_site_shows_the_species_not_the_substrate_h(tmp_path):
    """On the oxide, OH is both a site type and a species: the species decides what is drawn."""
    sc = load_scenario(resolve_scenario("al2o3_tma_h2o"), ("recipe.cycles=1",
                                                            "substrate.size=[3 nm, 3 nm]"))
    sim = Simulation(sc)
    atoms = to_atoms(sim)  # the starting surface: every OH site holds an OH
    occ = sim.state.occupation
    oh = sim.mechanism.species.index("OH")
    assert sum(atoms.symbols == "H") == np.count_nonzero(occ == oh) > 0
    sim.run(tmp_path / "al.h5")
    atoms = to_atoms(sim)
    assert sum(atoms.symbols == "H") == np.count_nonzero(sim.state.occupation == oh)
    # one O per surface site, never a second O above an OH
    sites = atoms.arrays["site_index"][atoms.symbols == "O"]
    assert len(sites) == len(set(sites.tolist()))


def test_textbook_species_become_markers_with_their_name(tmp_path):
    sc = scenario("""
species: [A]
events:
  - {name: ads, equation: "* -> A", rate: {A: 1.0 1/s}}
""", size=6)
    sim = Simulation(sc)
    sim.run(tmp_path / "a.h5")
    atoms = to_atoms(tmp_path / "a.h5")
    n = np.count_nonzero(sim.state.occupation)
    assert len(atoms) == n and set(atoms.get_chemical_symbols()) <= {"Ar"}
    assert set(atoms.arrays["kmc_species"]) <= {"A"}
    # without a deposit section, islands of adsorbates are the clusters
    assert np.all(atoms.arrays["cluster_id"] >= 0)


FORMATS = [("extxyz", "s.extxyz"), ("traj", "s.traj"), ("cif", "s.cif"), ("vasp", "POSCAR"),
           ("xyz", "s.xyz"), ("xsf", "s.xsf"), ("json", "s.json"), ("proteindatabank", "s.pdb"),
           ("lammps-data", "s.lmp")]


@pytest.mark.parametrize("fmt, name", FORMATS, ids=[f for f, _ in FORMATS])
def test_every_format_reads_back(pt_run, tmp_path, fmt, name):
    path, _ = pt_run
    original = to_atoms(path, -1)
    out = tmp_path / name
    written, used = export(path, out, "last", fmt)
    assert written == 1 and used == fmt
    kwargs = {"atom_style": "atomic"} if fmt == "lammps-data" else {}
    back = read(out, format=fmt, **kwargs)
    assert len(back) == len(original)
    if fmt == "vasp":  # a POSCAR groups the atoms by element: compare them as sets
        def rows(atoms):
            return sorted(zip(atoms.get_chemical_symbols(), *np.round(atoms.positions, 3).T))
        assert rows(back) == rows(original)
        return
    if fmt != "lammps-data":  # LAMMPS data holds types, not symbols
        assert back.get_chemical_symbols() == original.get_chemical_symbols()
    assert np.allclose(back.positions, original.positions, atol=1e-3) or fmt in ("cif",)
    if fmt == "extxyz":
        for name_ in ARRAYS:
            assert np.array_equal(back.arrays[name_], original.arrays[name_]), name_
        assert back.info["cycle"] == original.info["cycle"]


def test_a_trajectory_holds_every_selected_frame(pt_run, tmp_path):
    path, _ = pt_run
    run = read_run(path)
    written, _ = export(path, tmp_path / "t.extxyz", "all")
    frames = read(tmp_path / "t.extxyz", index=":")
    assert written == len(frames) == run.n_frames == 19
    assert [f.info["cycle"] for f in frames] == list(run.snapshots["cycle"])
    # atom counts change between frames (precursor ligands come and go)
    assert len({len(f) for f in frames}) > 1
    written, _ = export(path, tmp_path / "t.traj", "1:9:4")
    assert [f.info["frame"] for f in read(tmp_path / "t.traj", index=":")] == [1, 5]


def test_export_never_changes_the_run_file(pt_run, tmp_path):
    path, _ = pt_run
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    export(path, tmp_path / "a.extxyz", "all")
    to_atoms(path, 3)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("selection, words", [
    ("first", "is not one of: 'last', 'all', an index"),
    ("99", "does not exist: the run holds 13 snapshots (0 to 12"),
    ("5:2", "selects none of the 13"),
    ("::0", "is not one of"),
    ("1:2:3:4", "is not one of"),
])
def test_bad_frame_selections_say_what_is_allowed(selection, words):
    with pytest.raises(ExportError) as info:
        select_frames(selection, 13)
    assert words in str(info.value)


def test_selections_follow_python_slices():
    assert select_frames("last", 5) == [4]
    assert select_frames("-2", 5) == [3]
    assert select_frames("::2", 5) == [0, 2, 4]
    assert select_frames("1:", 5) == [1, 2, 3, 4]


def test_bad_formats_say_what_is_allowed(pt_run, tmp_path):
    path, _ = pt_run
    with pytest.raises(ExportError, match="unknown or read-only format 'pdf'.*extxyz"):
        export(path, tmp_path / "x.pdf", fmt="pdf")
    with pytest.raises(ExportError, match="cannot tell the format from the name 'x.what'"):
        export(path, tmp_path / "x.what")
    with pytest.raises(ExportError, match="holds one frame but 19 are selected.*extxyz"):
        export(path, tmp_path / "POSCAR", "all", fmt="vasp")
    assert not list(tmp_path.iterdir())


def test_ovito_reads_the_trajectory(pt_run, tmp_path):
    ovito_io = pytest.importorskip("ovito.io", reason="OVITO's Python module is not installed")
    path, _ = pt_run
    export(path, tmp_path / "t.extxyz", "all")
    frames = read(tmp_path / "t.extxyz", index=":")
    pipeline = ovito_io.import_file(str(tmp_path / "t.extxyz"))
    assert pipeline.source.num_frames == len(frames)
    for k in (0, len(frames) // 2, len(frames) - 1):
        data = pipeline.compute(k)
        assert data.particles.count == len(frames[k])
        for name in ARRAYS[:4]:
            assert name in data.particles, name
        assert list(data.particles["kmc_species"][...]) == list(frames[k].arrays["kmc_species"])
        assert np.array_equal(data.particles["cluster_id"][...], frames[k].arrays["cluster_id"])
        assert data.attributes["cycle"] == frames[k].info["cycle"]


def test_the_run_file_holds_the_whole_lattice(pt_run):
    from kmc_ald.io.runfile import read_lattice
    path, sim = pt_run
    stored, built = read_lattice(path), sim.lattice
    for name in ("positions", "cell", "site_type", "layer", "neighbours", "substrate_positions",
                 "substrate_sites", "support", "supported"):
        np.testing.assert_array_equal(getattr(stored, name), getattr(built, name), err_msg=name)
        assert getattr(stored, name).dtype == getattr(built, name).dtype, name
    for name in ("name", "shape", "site_type_names", "substrate_symbols", "n_nearest"):
        assert getattr(stored, name) == getattr(built, name), name


def test_export_reads_the_stored_lattice_not_the_builders(pt_run, monkeypatch):
    """A run file exports the same atoms after the builders change: here they cannot run."""
    path, _ = pt_run
    before = to_atoms(path)

    def no_builders(*args, **kwargs):
        raise AssertionError("export rebuilt the lattice instead of reading it")

    import kmc_ald.surfaces as surfaces
    monkeypatch.setattr(surfaces, "lattice_for", no_builders)
    after = to_atoms(path)
    assert after.get_chemical_symbols() == before.get_chemical_symbols()
    np.testing.assert_array_equal(after.positions, before.positions)
