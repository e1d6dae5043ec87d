"""Atomistic structures of a simulated surface, for ASE and OVITO.

A lattice KMC state is a species index per site. :class:`StructureBuilder` turns it into an
``ase.Atoms``: the substrate atoms (graphene C and N, the MXene slab and its terminations, the
oxide's O, H and Al) and, on each occupied site, the atoms of what the site holds, taken from the
species' formula (``deposit.composition``, or the species name when it is a formula). Every
symbol is a real element, so every ASE writer and viewer works; a species with no formula (the
textbook ``A``) is drawn as one noble-gas atom (``MARKERS``), its name kept in the
``kmc_species`` array.

Geometry, schematic and unrelaxed (a starting point for DFT or a force field, not a result):

* the anchor atom of a fragment (the deposited element if the formula has it, else its first
  heavy atom) sits ``ADSORBATE_HEIGHT`` above the site's top substrate atom, or above the site
  where there is none (a vacancy); sites of upper layers (3D particles) keep their own height;
* a species without the deposited element that contains the element of the site's top
  substrate atom (``OH`` on an oxide O) shares that atom instead of adding one;
* where a site type is also a species (the oxide's ``OH``), the species is the truth: the
  substrate keeps only the site's base atom, and the species adds the rest;
* other heavy atoms spread over a hemisphere around the anchor, hydrogens over a second one
  outside it (no bonds are implied beyond the anchor's).

Per-atom arrays: ``kmc_species`` (the species name, ``substrate`` for the support; not
``species``, which extended XYZ, ASE and OVITO reserve for the chemical symbol), ``site_type``
(``bulk`` for substrate atoms below the sites), ``layer`` (-1 for the substrate),
``cluster_id`` (the cluster of the deposited element's atoms, -1 elsewhere; every adsorbate
atom takes part when the scenario has no deposit section) and ``site_index`` (-1 for bulk
atoms). ``info`` holds ``time`` [s], ``cycle``, ``phase``, ``step`` (events executed),
``replica`` and ``coverage_<species>`` (fraction of surface sites).
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kmc_ald.analysis.clusters import cluster_labels
from kmc_ald.analysis.cycles import element_atoms
from kmc_ald.engine.recipe import Observer, snapshot_due
from kmc_ald.errors import KmcAldError, RunFileError, writing
from kmc_ald.surfaces.lattice import Lattice
from kmc_ald.surfaces.structure import STRUCTURE

#: Vacuum above the highest atom of an exported structure [Å].
VACUUM = 15.0

if TYPE_CHECKING:
    import ase

    from kmc_ald.io.runfile import RunRecord
    from kmc_ald.scenario.schema import Scenario

ADSORBATE_HEIGHT = 2.0  # Å, anchor atom above the site's top substrate atom (Pt-C ~2.0-2.1 Å)
METAL_BOND = 2.0  # Å, a metal anchor to its ligand atoms
COVALENT_BOND = 1.45  # Å, between light heavy atoms (C-C 1.5, C-O 1.4)
H_BOND = 1.05  # Å, X-H
MARKERS = ("Ar", "Kr", "Xe", "Ne", "Rn", "He")
_NOT_FILES = {"mysql", "postgresql", "bundletrajectory"}  # servers and directories
_NONMETALS = {"H", "He", "B", "C", "N", "O", "F", "Ne", "Si", "P", "S", "Cl", "Ar", "As", "Se",
              "Br", "Kr", "Te", "I", "Xe", "Rn"}


class ExportError(KmcAldError, ValueError):
    """A structure export was asked for something the run or ASE cannot give."""

    exit_code = 2


def _shell(radius: float, n: int, spacing: float = 1.5) -> float:
    """A hemisphere radius [Å] of at least ``radius`` with room for ``n`` atoms ``spacing``
    apart."""
    return max(radius, spacing * float(np.sqrt(n / (2 * np.pi))))


def _hemisphere(n: int) -> np.ndarray:
    """``n`` unit vectors spread evenly over the upper hemisphere (a Fibonacci spiral); one
    points straight up."""
    if n == 1:
        return np.array([[0.0, 0.0, 1.0]])
    k = np.arange(n) + 0.5
    z = 1.0 - 0.75 * k / max(n, 1)  # polar angles up to ~75°, away from the surface
    phi = k * np.pi * (3.0 - np.sqrt(5.0))
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


@cache
def fragment(formula: str, element: str | None, site_element: str | None
             ) -> tuple[tuple[str, ...], np.ndarray, bool]:
    """The atoms a species with ``formula`` puts on a site, relative to its anchor.

    Args:
        formula: What the site holds (e.g. ``C8H13Pt``).
        element: The deposited element, anchored first when present.
        site_element: Element of the site's top substrate atom (None at a vacancy).

    Returns:
        ``(symbols, offsets [Å] from the anchor, shared)``; ``shared``: the anchor is the site's
        own substrate atom, so the first symbol is not drawn again.
    """
    from ase.formula import Formula

    counts = Formula(formula).count()
    heavy = [s for s in counts if s != "H"]
    if element in counts:
        anchor, shared = element, False
    elif site_element in counts:
        anchor, shared = site_element, True
    else:
        anchor, shared = (heavy[0] if heavy else "H"), False
    rest = dict(counts)
    rest[anchor] -= 1
    others = [s for s in heavy for _ in range(rest.get(s, 0))]
    bond = COVALENT_BOND if anchor in _NONMETALS else METAL_BOND
    heavy_shell = _shell(bond, len(others))
    symbols, offsets = [anchor], [np.zeros(3)]
    for s, d in zip(others, _hemisphere(len(others))):
        symbols.append(s)
        offsets.append(heavy_shell * d)
    n_h = rest.get("H", 0)
    # hydrogens on an outer shell, over the ligands (or bonded to a light anchor: O-H)
    inner = heavy_shell + H_BOND if others else (H_BOND if anchor in _NONMETALS else 1.6)
    for d in _hemisphere(n_h):
        symbols.append("H")
        offsets.append(_shell(inner, n_h) * d)
    return tuple(symbols), np.array(offsets), shared


class StructureBuilder:
    """Builds ``ase.Atoms`` of one scenario's surface from occupation arrays (see the module
    docstring for what is drawn and where).

    Args:
        scenario: The run's scenario (its deposit section names the element and formulas).
        lattice: The run's lattice (with its substrate atoms).
        species: Species names by index (index 0: empty).
    """

    def __init__(self, scenario: Scenario, lattice: Lattice, species: tuple[str, ...]):
        self.scenario, self.lattice, self.species = scenario, lattice, tuple(species)
        deposit = scenario.deposit
        self.element = deposit.element if deposit is not None else None
        composition = dict(deposit.composition) if deposit is not None else {}
        markers = iter(MARKERS * (1 + len(species) // len(MARKERS)))
        self.formula = [None] + [composition.get(s) or _as_formula(s) or next(markers)
                                 for s in self.species[1:]]
        self.in_cluster = element_atoms(deposit, self.species) > 0
        # substrate: where a site type is also a species, keep only the site's base atom
        names = lattice.site_type_names
        tracked = np.isin(lattice.site_type, [names.index(n) for n in names
                                              if n in self.species])
        sites, z = lattice.substrate_sites, lattice.substrate_positions[:, 2]
        keep = np.ones(len(sites), dtype=bool)
        at_tracked = (sites >= 0) & tracked[np.maximum(sites, 0)]
        if at_tracked.any():
            base = np.full(lattice.n_sites, np.inf)
            np.minimum.at(base, sites[at_tracked], z[at_tracked])
            keep[at_tracked] = z[at_tracked] <= base[sites[at_tracked]]
        self._substrate = np.flatnonzero(keep)
        # the top substrate atom of each site: its element and height
        self.top_z = np.zeros(lattice.n_sites)
        self.top_element = np.full(lattice.n_sites, "", dtype=object)
        on_site = self._substrate[sites[self._substrate] >= 0]
        for atom in on_site[np.argsort(z[on_site], kind="stable")]:  # highest written last
            self.top_z[sites[atom]] = z[atom]
            self.top_element[sites[atom]] = lattice.substrate_symbols[atom]
        # how far above its top atom an adsorbate sits; a site of a structure without an atom
        # of its own (a SPPARKS site, an empty lattice position) holds it at the site itself
        self.lift = np.full(lattice.n_sites, ADSORBATE_HEIGHT)
        if lattice.name == STRUCTURE:
            bare = np.ones(lattice.n_sites, dtype=bool)
            bare[sites[on_site]] = False
            self.top_z[bare], self.lift[bare] = lattice.positions[bare, 2], 0.0
        # stacked sites: their height above the adsorbates of the surface, whose highest is the base
        upper = lattice.layer > 0
        if lattice.stacked and upper.any():
            self.top_z[upper] = self.top_z[~upper].max() + lattice.positions[upper, 2]

    def atoms(self, occupation: np.ndarray, **info: Any) -> ase.Atoms:
        """The surface with ``occupation`` (species index per site) as ``ase.Atoms``; keyword
        arguments go to ``atoms.info``, with the coverages added."""
        import ase

        lat = self.lattice
        occupation = np.asarray(occupation)
        sub = self._substrate
        sub_sites = lat.substrate_sites[sub]
        symbols = [lat.substrate_symbols[i] for i in sub]
        positions = [lat.substrate_positions[sub]]
        species = ["substrate"] * len(sub)
        site_type = [lat.site_type_names[lat.site_type[s]] if s >= 0 else "bulk"
                     for s in sub_sites]
        layer = [np.full(len(sub), -1)]
        site_index = [sub_sites]
        members = self.in_cluster[occupation]
        label = cluster_labels(members, lat.neighbours)
        cluster = [np.full(len(sub), -1)]
        occupied = np.flatnonzero(occupation > 0)
        # one fragment per (species, top substrate element): place every such site at once
        keys = np.array([f"{occupation[i]}|{self.top_element[i]}" for i in occupied], dtype=object)
        for key in dict.fromkeys(keys):
            sites = occupied[keys == key]
            k = int(occupation[sites[0]])
            syms, offsets, shared = fragment(self.formula[k], self.element,
                                             self.top_element[sites[0]] or None)
            first = 1 if shared else 0
            syms, offsets = syms[first:], offsets[first:]
            n, m = len(syms), len(sites)
            anchor = lat.positions[sites].copy()
            anchor[:, 2] = self.top_z[sites] + (0.0 if shared else self.lift[sites])
            symbols.extend(syms * m)
            positions.append((anchor[:, None, :] + offsets[None]).reshape(-1, 3))
            species.extend([self.species[k]] * (n * m))
            site_type.extend(np.repeat(np.array(lat.site_type_names, dtype=object)
                                       [lat.site_type[sites]], n))
            layer.append(np.repeat(lat.layer[sites], n))
            site_index.append(np.repeat(sites, n))
            in_cluster = (np.array([s == self.element for s in syms]) if self.element
                          else np.ones(n, dtype=bool))
            ids = np.where(members[sites], label[sites], -1)
            cluster.append(np.where(in_cluster[None, :], ids[:, None], -1).ravel())
        positions = np.concatenate(positions)
        cell = np.array(lat.cell, dtype=float)
        # vacuum above the highest atom (the cell is not periodic along z, but DFT codes make
        # it so): the slab's thickness plus VACUUM, whatever grows on it
        z = positions[:, 2]
        cell[2] = [0.0, 0.0, max(cell[2, 2], z.max(initial=0.0) - min(z.min(initial=0.0), 0.0)
                                 + VACUUM)]
        atoms = ase.Atoms(symbols=symbols, positions=positions, cell=cell,
                          pbc=[True, True, False])
        atoms.wrap()
        width = max(len(s) for s in (*self.species, "substrate"))
        atoms.new_array("kmc_species", np.array(species, dtype=f"<U{width}"))
        names = max(len(s) for s in (*lat.site_type_names, "bulk"))
        atoms.new_array("site_type", np.array(site_type, dtype=f"<U{names}"))
        for name, parts in (("layer", layer), ("cluster_id", cluster), ("site_index", site_index)):
            atoms.new_array(name, np.concatenate(parts).astype(np.int64))
        surface = occupation[lat.layer == 0]
        counts = np.bincount(surface, minlength=len(self.species))
        atoms.info.update(info)
        for name, c in zip(self.species[1:], counts[1:]):
            atoms.info[f"coverage_{name}"] = float(c / len(surface))
        return atoms


def _as_formula(name: str) -> str | None:
    """``name`` when it is a chemical formula of real elements (``OH``, ``PtO``), else None."""
    from ase.data import atomic_numbers
    from ase.formula import Formula

    if not re.fullmatch(r"([A-Z][a-z]?\d*)+", name):
        return None
    try:
        elements = Formula(name).count()
    except ValueError:
        return None
    return name if all(e in atomic_numbers for e in elements) else None


# -- from a run file ----------------------------------------------------------------------------
def builder_for_run(run: RunRecord) -> StructureBuilder:
    """The structure builder of a run file: on the lattice stored in it, so that atoms do not
    change when the builders do (a file from before the whole lattice was stored gets its
    lattice rebuilt from the scenario, checked against the stored site types)."""
    import h5py

    from kmc_ald.io.runfile import read_lattice
    from kmc_ald.model.compile import compile_scenario
    from kmc_ald.scenario.load import loads_scenario

    scenario = loads_scenario(run.scenario, f"{run.path}:parameters/scenario", run.overrides)
    lattice = read_lattice(run.path)
    if lattice is not None:
        return StructureBuilder(scenario, lattice, run.species)
    lattice = compile_scenario(scenario).lattice
    with h5py.File(run.path, "r", swmr=True) as f:
        stored = f["kmc_ald/lattice/site_type"][()]
    if stored.shape != lattice.site_type.shape or not np.array_equal(stored, lattice.site_type):
        raise RunFileError(f"{run.path}: the stored lattice differs from the one its scenario "
                           "builds now (written by another kmc-ald version?); cannot place atoms")
    return StructureBuilder(scenario, lattice, run.species)


def frame_atoms(run: RunRecord, builder: StructureBuilder, frame: int, replica: int = 0) -> ase.Atoms:
    """One stored snapshot of a run as ``ase.Atoms``."""
    occupation = run.snapshot(frame)
    replicas = occupation.shape[0] if occupation.ndim == 2 else 1
    if not 0 <= replica < replicas:
        raise ExportError(f"replica {replica} does not exist: the run has {replicas} "
                          f"(0-{replicas - 1})")
    if occupation.ndim == 2:
        occupation = occupation[replica]
    meta = run.snapshots
    return builder.atoms(occupation, time=float(meta["time"][frame]),
                         cycle=int(meta["cycle"][frame]), phase=str(meta["phase"][frame]) or "start",
                         step=int(meta["step"][frame]), replica=replica, frame=frame % run.n_frames)


def to_atoms(source: Any, frame: int = -1, *, replica: int = 0) -> ase.Atoms:
    """The surface as ``ase.Atoms``.

    Args:
        source: A run file path, a :class:`~kmc_ald.io.runfile.RunRecord`, or a simulation (anything
            with ``scenario``, ``lattice``, ``mechanism`` and ``state``: its current surface).
        frame: Snapshot index in the run file (negative counts from the end); ignored for a
            simulation.
        replica: Which replica, for runs with several.
    """
    from kmc_ald.io.runfile import RunRecord, read_run

    if isinstance(source, str | Path):
        source = read_run(source)
    if isinstance(source, RunRecord):
        if source.n_frames == 0:
            raise ExportError(f"{source.path} holds no snapshots (output.snapshots.at is empty, "
                              "or the file predates snapshots)")
        select_frames(str(frame), source.n_frames)  # a clear error for a bad index
        return frame_atoms(source, builder_for_run(source), frame, replica)
    state = source.state
    builder = StructureBuilder(source.scenario, source.lattice, source.mechanism.species)
    occupation = state.occupation if state.occupation.ndim == 1 else state.occupation[replica]
    phases = source.scenario.recipe.phases
    phase = phases[state.phase].name if state.phase < len(phases) else ""
    return builder.atoms(occupation, time=float(state.time), cycle=int(state.cycle),
                         phase=phase, step=int(state.events), replica=replica)


def select_frames(selection: str, n_frames: int) -> list[int]:
    """Frame indices from ``last``, ``all``, an index ``i`` or a slice ``i:j[:k]`` (Python's
    rules, negative from the end)."""
    allowed = "'last', 'all', an index i, or a slice i:j or i:j:k (negative counts from the end)"
    text = selection.strip()
    if n_frames == 0:
        raise ExportError("the run holds no snapshots")
    if text == "last":
        return [n_frames - 1]
    if text == "all":
        return list(range(n_frames))
    parts = text.split(":")
    try:
        numbers = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise ExportError(f"frame selection {selection!r} is not one of: {allowed}") from None
    if len(parts) == 1:
        index = numbers[0]
        if index is None or not -n_frames <= index < n_frames:
            raise ExportError(f"frame {selection!r} does not exist: the run holds {n_frames} "
                              f"snapshots (0 to {n_frames - 1}, or -{n_frames} to -1)")
        return [index % n_frames]
    if len(parts) > 3 or (len(parts) == 3 and numbers[2] == 0):
        raise ExportError(f"frame selection {selection!r} is not one of: {allowed}")
    frames = list(range(n_frames))[slice(*numbers)]
    if not frames:
        raise ExportError(f"frame selection {selection!r} selects none of the {n_frames} "
                          f"snapshots (0 to {n_frames - 1})")
    return frames


def writable_formats() -> dict[str, bool]:
    """ASE formats that can be written, each with whether it holds several frames."""
    from ase.io.formats import ioformats
    return {name: not f.single for name, f in sorted(ioformats.items())
            if f.can_write and name not in _NOT_FILES}


def resolve_format(path: Path, fmt: str | None, n_frames: int) -> str:
    """The ASE format to write ``path`` in, checked against the number of frames."""
    formats = writable_formats()
    if fmt is None:
        from ase.io.formats import filetype
        try:
            fmt = filetype(str(path), read=False)
        except ValueError:
            fmt = None
        if fmt is None or fmt not in formats:
            raise ExportError(f"cannot tell the format from the name {path.name!r}; pass "
                              f"--format, one of: {', '.join(formats)}")
    if fmt not in formats:
        raise ExportError(f"unknown or read-only format {fmt!r}; ASE writes: "
                          f"{', '.join(formats)}")
    if n_frames > 1 and not formats[fmt]:
        many = ", ".join(f for f, multi in formats.items() if multi)
        raise ExportError(f"format {fmt!r} holds one frame but {n_frames} are selected; choose "
                          f"one (--frames last, or an index) or a trajectory format: {many}")
    return fmt


def export(run_path: str | Path, output: str | Path, frames: str = "last",
           fmt: str | None = None, replica: int = 0) -> tuple[int, str]:
    """Write snapshots of a run file with ASE; returns (frames written, format).

    The run file is only read. Several frames of a trajectory format go to one file (extended
    XYZ, with per-frame atom counts and the custom arrays, is what OVITO reads).
    """
    from ase.io import write

    from kmc_ald.io.runfile import read_run

    run = read_run(run_path)
    if run.n_frames == 0:
        raise ExportError(f"{run.path} holds no snapshots (output.snapshots.at is empty, or the "
                          "file predates snapshots)")
    indices = select_frames(frames, run.n_frames)
    output = Path(output)
    fmt = resolve_format(output, fmt, len(indices))
    if not output.parent.exists():
        raise ExportError(f"cannot write {output}: directory {output.parent} does not exist")
    builder = builder_for_run(run)
    images = [frame_atoms(run, builder, i, replica) for i in indices]
    # POSCAR: one block per element (ASE's sort), as DFT codes and pseudopotential lists expect
    options = {"sort": True} if fmt == "vasp" else {}
    with writing(output, "the structure file"):
        write(output, images if len(images) > 1 else images[0], format=fmt, **options)
    return len(images), fmt


class TrajectoryStream:
    """Appends snapshots to an extended-XYZ file while a run goes (``output.trajectory``)."""

    def __init__(self, path: str | Path, scenario: Scenario, lattice: Lattice,
                 species: tuple[str, ...], *, append: bool = False, overwrite: bool = False):
        self.path = Path(path)
        if self.path.exists() and not (append or overwrite):
            raise RunFileError(f"{self.path} exists (output.trajectory); remove it, or pass "
                               "--overwrite to replace it")
        self.builder = StructureBuilder(scenario, lattice, species)
        with writing(self.path, "the trajectory (output.trajectory)"):
            self._file = open(self.path, "a" if append else "w")  # noqa: SIM115 - closed by close()

    def write(self, occupation: np.ndarray, **info: Any) -> None:
        from ase.io import write

        occupation = occupation if occupation.ndim == 1 else occupation[0]
        write(self._file, self.builder.atoms(occupation, **info), format="extxyz")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class TrajectoryObserver(Observer):
    """Streams every snapshot of a running recipe (kmc_ald.engine.recipe) into an extended-XYZ
    file (``output.trajectory``), at the points ``output.snapshots`` asks for."""

    def __init__(self, stream: TrajectoryStream, model, state):
        self.stream, self.model, self.state = stream, model, state

    def start(self, summary) -> None:
        state = self.state
        if state.cycle == 0 and state.phase == 0 and state.events == 0 and \
                snapshot_due(self.model, -1, 0):
            self.stream.write(state.occupation, cycle=0, phase="", time=state.time,
                              step=state.events)

    def phase_end(self, phase_index: int, row: tuple) -> None:
        state = self.state
        if snapshot_due(self.model, phase_index, state.cycle):
            self.stream.write(state.occupation, cycle=state.cycle + 1, phase=row[1],
                              time=state.time, step=state.events)

    def close(self) -> None:
        self.stream.close()
