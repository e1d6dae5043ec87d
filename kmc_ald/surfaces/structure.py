"""Lattices from outside kmc-ald: any structure ASE reads, and SPPARKS ``read_sites`` files.

Lengths in Å. A substrate read from a structure is a site graph rather than a tiled motif:

* **From atoms** (:func:`lattice_from_atoms`; ``ase.io.read`` for files): the sites are the atoms
  of chosen elements or tags; two sites are nearest neighbours when they lie within a distance
  cutoff (one length, or one per pair of elements), found by ASE's neighbour list under the
  structure's periodic boundary conditions; a site's type is its element, its tag or the value
  of a per-atom array. Every atom of the structure is kept for export.
* **From a SPPARKS site file** (:func:`read_spparks_sites`, the format of SPPARKS' ``read_sites``
  command): sites, their coordinates and their neighbours are listed in the file; a site's type
  is one of its integer ``Values`` (``i1``, ``i2``, ...). Its box is the periodic cell.

Degrees may differ from site to site: -1 pads the neighbour table, and every kernel skips it.
The structure must be periodic along its first two cell vectors, the surface plane. Coverages
and the gas flux per site count the *surface* sites (``surface``): all sites, those within a
depth of the topmost one, or those of given site types; they get ``layer`` 0 and every other
site ``layer`` 1 (so a slab's buried sites do not dilute the flux per site). A site graph has no
translation symmetry kmc-ald knows, so cluster migration and stacks of layers need a built-in
substrate.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kmc_ald.errors import ScenarioError
from kmc_ald.surfaces.lattice import Lattice

if TYPE_CHECKING:
    import ase

#: ``Lattice.name`` of every lattice read from a structure.
STRUCTURE = "structure"
#: The format name of SPPARKS site files (``substrate.format``).
SPPARKS = "spparks"
class StructureError(ScenarioError):
    """A structure that cannot become a lattice because of one of its options (``option``:
    ``cutoff``, ``sites``, ...); the message names the option, ``detail`` is the rest."""

    def __init__(self, option: str, detail: str):
        super().__init__(f"{option}: {detail}")
        self.option, self.detail = option, detail


_OPEN_HEIGHT = 20.0  # Å, the cell's third vector where a structure leaves it zero


def _kind_name(value: Any, kind_names: dict | None) -> str:
    """The site-type name of one per-site value: its entry in ``kind_names``, else itself."""
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        value = int(value)
        if kind_names and value in kind_names:
            return str(kind_names[value])
    return str(value)


def _site_types(values: np.ndarray, kind_names: dict | None, what: str
                ) -> tuple[np.ndarray, tuple[str, ...]]:
    """(site_type uint8, names in order of first appearance) of per-site values."""
    if kind_names:
        present = {int(v) for v in values} if values.dtype.kind in "iu" else set()
        unused = [k for k in kind_names if k not in present]
        if unused:
            raise StructureError("kind_names", f"{what} has no site with value(s) "
                                               f"{', '.join(map(str, unused))} (values present: "
                                               f"{', '.join(map(str, sorted(present))) or 'none'})")
    names = [_kind_name(v, kind_names) for v in values]
    order = tuple(dict.fromkeys(names))
    if len(order) > 255:
        raise ScenarioError(f"{what} gives {len(order)} different site types; at most 255 are "
                            "supported")
    bad = [n for n in order if not n or any(c.isspace() or c in "+[]" for c in n)]
    if bad:
        raise ScenarioError(f"{what}: site-type name {bad[0]!r} is not one word; name it with "
                            "kind_names")
    index = {n: i for i, n in enumerate(order)}
    return np.array([index[n] for n in names], dtype=np.uint8), order


def _surface_layer(positions: np.ndarray, site_type: np.ndarray, names: tuple[str, ...],
                   surface: float | list[str] | None) -> np.ndarray:
    """``layer`` of every site: 0 for the surface sites, 1 for the rest."""
    if surface is None:
        return np.zeros(len(site_type), dtype=np.int16)
    if isinstance(surface, (int, float)):
        z = positions[:, 2]
        on_top = z >= z.max(initial=0.0) - float(surface)
    else:
        unknown = [s for s in surface if s not in names]
        if unknown:
            raise StructureError("surface", f"site type {unknown[0]!r} is not in the structure "
                                            f"(site types: {', '.join(names)})")
        on_top = np.isin(site_type, [names.index(s) for s in surface])
    return np.where(on_top, 0, 1).astype(np.int16)


def _neighbour_table(i: np.ndarray, j: np.ndarray, d: np.ndarray | None, n_sites: int
                     ) -> np.ndarray:
    """int32 [n_sites, max degree]: each site's neighbours, padded with -1; nearest first (then
    by index), or in the order given when ``d`` is None."""
    order = np.argsort(i, kind="stable") if d is None else np.lexsort((j, d, i))
    i, j = i[order], j[order]
    counts = np.bincount(i, minlength=n_sites)
    degree = int(counts.max(initial=0))
    table = np.full((n_sites, max(degree, 1)), -1, dtype=np.int32)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(i)) - start[i]
    table[i, slot] = j
    return table


def _check_graph(table: np.ndarray, what: str) -> None:
    """A site may not be its own neighbour nor meet a neighbour twice (a cell too small for the
    cutoff, where a site sees its own or another's periodic image)."""
    rows = np.arange(table.shape[0])[:, None]
    self_loop = np.flatnonzero((table == rows).any(axis=1))
    if self_loop.size:
        raise ScenarioError(f"{what}: site index {int(self_loop[0])} is its own neighbour (through a "
                            "periodic image): the cell is too small for the cutoff; repeat "
                            "the structure along a and b, or lower the cutoff")
    srt = np.sort(table, axis=1)
    twice = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
    if twice.any():
        site = int(np.flatnonzero(twice.any(axis=1))[0])
        raise ScenarioError(f"{what}: site index {site} meets the same neighbour through two periodic "
                            "images: the cell is too small for the cutoff; repeat the structure "
                            "along a and b, or lower the cutoff")
    if not (table >= 0).any():
        raise ScenarioError(f"{what}: no two sites are neighbours; raise the cutoff")
    i = np.repeat(np.arange(table.shape[0]), table.shape[1])
    j = table.ravel()
    i, j = i[j >= 0], j[j >= 0]
    n = np.int64(table.shape[0])
    missing = ~np.isin(j.astype(np.int64) * n + i, i * n + j.astype(np.int64))
    if missing.any():
        a, b = int(i[missing][0]), int(j[missing][0])
        raise ScenarioError(f"{what}: site index {b} is a neighbour of site index {a} but not "
                            "the other way round; neighbours go both ways")


def _cell(cell: np.ndarray) -> np.ndarray:
    cell = np.array(cell, dtype=np.float64)
    if not np.any(cell[2]):
        cell[2] = [0.0, 0.0, _OPEN_HEIGHT]
    return cell


def _cutoff_for(cutoff: float | dict[str, float]) -> float | dict[tuple[str, str], float]:
    """ASE's form of a cutoff: one length, or {(symbol, symbol): length} in both orders."""
    if not isinstance(cutoff, dict):
        return float(cutoff)
    pairs: dict[tuple[str, str], float] = {}
    for key, value in cutoff.items():
        a, b = key.split("-")
        pairs[(a, b)] = pairs[(b, a)] = float(value)
    return pairs


def lattice_from_atoms(atoms: ase.Atoms, cutoff: float | dict[str, float], *,
                       sites: list[str | int] | None = None, site_kinds: str = "element",
                       kind_names: dict[int, str] | None = None,
                       surface: float | list[str] | None = None,
                       positions_only: list[str] | None = None) -> Lattice:
    """The site graph of a structure.

    Args:
        atoms: The structure, periodic along its first two cell vectors.
        cutoff: Nearest-neighbour distance cutoff [Å]: one length, or one per element pair
            written ``"Hf-O"`` (pairs not listed are never neighbours).
        sites: Elements (``"O"``) and tags (integers) whose atoms are sites; default: every atom.
        site_kinds: What names a site's type: ``"element"``, ``"tag"``, or the name of a
            per-atom array of ``atoms.arrays`` (integers or strings).
        kind_names: Names of integer kinds (tags, integer arrays), e.g. ``{1: "OH"}``.
        surface: The sites that count for coverages and the flux per site: None (all), a depth
            [Å] below the topmost site, or a list of site types.
        positions_only: Site types whose atoms only mark positions (an empty growth volume):
            they are left out of the substrate kept for export.

    Raises:
        ScenarioError: the structure is not periodic in-plane, no atom is a site, the site kind
            is unknown, the cutoff yields no neighbours, or the cell is too small for it.
    """
    from ase.neighborlist import neighbor_list

    pbc = [bool(p) for p in atoms.pbc]
    if not (pbc[0] and pbc[1]):
        raise ScenarioError(f"the structure must be periodic along its first two cell vectors "
                            f"(the surface plane); its pbc is {pbc}")
    cell = np.array(atoms.cell, dtype=np.float64)
    if not np.linalg.norm(np.cross(cell[0], cell[1])) > 0:
        raise ScenarioError("the structure's first two cell vectors span no area")
    symbols = np.array(atoms.get_chemical_symbols(), dtype=object)
    tags = atoms.get_tags()
    if sites is None:
        chosen = np.ones(len(atoms), dtype=bool)
    else:
        chosen = np.zeros(len(atoms), dtype=bool)
        for item in sites:
            hit = (tags == item) if isinstance(item, int) else (symbols == item)
            if not hit.any():
                present = ", ".join(dict.fromkeys(symbols)) or "none"
                what = f"tag {item}" if isinstance(item, int) else f"element {item!r}"
                tag_list = ", ".join(map(str, sorted(set(tags))))
                raise StructureError("sites", f"no atom of the structure has {what} (elements: "
                                              f"{present}; tags: {tag_list})")
            chosen |= hit
    index = np.flatnonzero(chosen)
    if site_kinds == "element":
        values = symbols[index].astype(str)
    elif site_kinds == "tag":
        values = tags[index]
    elif site_kinds in atoms.arrays and np.asarray(atoms.arrays[site_kinds]).ndim == 1:
        values = np.asarray(atoms.arrays[site_kinds])[index]
    else:
        per_atom = [k for k, v in atoms.arrays.items() if np.asarray(v).ndim == 1
                    and k not in ("numbers",)]
        raise StructureError("site_kinds", f"{site_kinds!r} is neither 'element', 'tag' nor a "
                                           f"per-atom array of the structure (arrays: "
                                           f"{', '.join(per_atom) or 'none'})")
    site_type, names = _site_types(values, kind_names, f"site_kinds {site_kinds!r}")
    sub = atoms[index]
    if isinstance(cutoff, dict):
        elements = set(symbols[index])
        for key in cutoff:
            missing = [s for s in key.split("-") if s not in elements]
            if missing:
                raise StructureError("cutoff", f"{key!r} names {missing[0]!r}, which no site is "
                                               f"(site elements: {', '.join(sorted(elements))})")
    if not np.any(sub.cell[2]):  # ASE's neighbour list needs a full cell; the third is open
        thickness = float(np.ptp(sub.positions[:, 2])) if len(sub) else 0.0
        sub.cell[2] = [0.0, 0.0, _OPEN_HEIGHT + thickness]
        sub.pbc = [True, True, False]
    i, j, d = neighbor_list("ijd", sub, _cutoff_for(cutoff))
    neighbours = _neighbour_table(i, j, d, len(sub))
    _check_graph(neighbours, f"cutoff {cutoff}")
    positions = np.ascontiguousarray(sub.positions, dtype=np.float64)
    atom_sites = np.full(len(atoms), -1, dtype=np.int32)
    atom_sites[index] = np.arange(len(index), dtype=np.int32)
    kept = np.ones(len(atoms), dtype=bool)
    for name in positions_only or ():
        if name not in names:
            raise StructureError("positions_only", f"no site has type {name!r} (site types: "
                                                   f"{', '.join(names)})")
        kept[index[site_type == names.index(name)]] = False
    return Lattice(
        name=STRUCTURE,
        positions=positions,
        cell=_cell(cell),
        neighbours=neighbours,
        site_type=site_type,
        site_type_names=names,
        layer=_surface_layer(positions, site_type, names, surface),
        shape=(1, 1),
        substrate_symbols=tuple(str(s) for s in symbols[kept]),
        substrate_positions=np.array(atoms.positions[kept], dtype=np.float64),
        substrate_sites=atom_sites[kept],
    )


def is_spparks_sites(path: Path) -> bool:
    """Whether a file looks like a SPPARKS site file: a ``N sites`` header and a ``Sites``
    section within its first lines."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = [next(f, "") for _ in range(40)]
    except OSError:
        return False
    return (any(re.fullmatch(r"\s*\d+\s+sites\s*", line) for line in head)
            and any(line.strip() == "Sites" for line in head))


_HEADER = {"dimension": 1, "sites": 1, "max neighbors": 1, "id offset": 1, "xlo xhi": 2,
           "ylo yhi": 2, "zlo zhi": 2}


def read_spparks_sites(path: str | Path, *, site_kinds: str = "i1",
                       kind_names: dict[int, str] | None = None,
                       surface: float | list[str] | None = None,
                       box: tuple[float, float, float] | None = None) -> Lattice:
    """A lattice from a SPPARKS site file (the input of its ``read_sites`` command).

    The file holds a title line, a header (``N sites``, ``N max neighbors``, ``xlo xhi``, ...),
    then the ``Sites`` (id x y z), ``Neighbors`` (id and its neighbours' ids) and optionally
    ``Values`` (id and the integer per-site values i1, i2, ...) sections; ids run from 1.

    Args:
        site_kinds: The ``Values`` column that names a site's type (``"i1"``, ``"i2"``, ...); a
            file without Values has one site type, ``site``.
        kind_names: Names of its integer values, e.g. ``{1: "O", 2: "OH"}``.
        surface: As for :func:`lattice_from_atoms`.
        box: Edge lengths [Å] of the box, when its coordinates are not in Å (SPPARKS' own
            examples often use a unit box); coordinates are scaled along each axis.

    Raises:
        ScenarioError: the file cannot be read as a site file (naming the line), or a named
            column or value does not exist.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read the site file ({err})") from None

    def bad(k: int, why: str) -> ScenarioError:
        return ScenarioError(f"{path}, line {k + 1}: {why}")

    header: dict[str, list[float]] = {}
    k = 1
    while k < len(lines) and lines[k].strip() not in ("Sites", "Neighbors", "Values"):
        text = lines[k].split("#")[0].strip()
        if text:
            for key, n in _HEADER.items():
                words = text.split()
                if " ".join(words[n:]) == key:
                    try:
                        header[key] = [float(w) for w in words[:n]]
                    except ValueError:
                        raise bad(k, f"cannot read the numbers of {key!r}") from None
                    break
            else:
                raise bad(k, f"unknown header line {text!r} (known: {', '.join(_HEADER)})")
        k += 1
    if "sites" not in header:
        raise ScenarioError(f"{path}: no 'N sites' header line; not a SPPARKS site file")
    n = int(header["sites"][0])
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    while k < len(lines):
        name = lines[k].strip()
        if not name:
            k += 1
            continue
        if name not in ("Sites", "Neighbors", "Values"):
            raise bad(k, f"expected a section (Sites, Neighbors, Values), got {name!r}")
        k += 1
        rows = []
        while k < len(lines) and len(rows) < n:
            words = lines[k].split("#")[0].split()
            if words:
                rows.append((k, words))
            k += 1
        if len(rows) < n:
            raise ScenarioError(f"{path}: section {name} has {len(rows)} lines, the header "
                                f"says {n} sites")
        sections[name] = rows
    for needed in ("Sites", "Neighbors"):
        if needed not in sections:
            raise ScenarioError(f"{path}: no {needed} section")

    def site_id(k: int, word: str) -> int:
        try:
            value = int(word)
        except ValueError:
            raise bad(k, f"{word!r} is not a site id") from None
        if not 1 <= value <= n:
            raise bad(k, f"site id {value} is outside 1..{n}")
        return value - 1

    positions = np.zeros((n, 3))
    for k, words in sections["Sites"]:
        if len(words) < 4:
            raise bad(k, "a site line is: id x y z")
        i = site_id(k, words[0])
        try:
            positions[i] = [float(w) for w in words[1:4]]
        except ValueError:
            raise bad(k, "cannot read the coordinates") from None
    pairs: list[tuple[int, int]] = []
    for k, words in sections["Neighbors"]:
        i = site_id(k, words[0])
        pairs.extend((i, site_id(k, w)) for w in words[1:] if w != "0")
    lo = np.array([header.get(key, [0.0, 1.0])[0] for key in ("xlo xhi", "ylo yhi", "zlo zhi")])
    hi = np.array([header.get(key, [0.0, 1.0])[1] for key in ("xlo xhi", "ylo yhi", "zlo zhi")])
    edges = hi - lo
    if not (edges > 0).all():
        raise ScenarioError(f"{path}: the box has an edge of length <= 0 ({edges.tolist()})")
    scale = np.ones(3) if box is None else np.asarray(box, dtype=float) / edges
    positions = (positions - lo) * scale
    cell = np.diag(edges * scale)
    i, j = (np.array(x, dtype=np.int64) for x in zip(*pairs)) if pairs else (
        np.zeros(0, np.int64), np.zeros(0, np.int64))
    neighbours = _neighbour_table(i, j, None, n)  # in the file's order, as SPPARKS reads it
    _check_graph(neighbours, str(path))
    if "Values" in sections:
        rows = sections["Values"]
        width = min(len(w) for _, w in rows) - 1
        column = re.fullmatch(r"i(\d+)", site_kinds)
        if column is None or not 1 <= int(column.group(1)) <= width:
            columns = ", ".join(f"i{c}" for c in range(1, width + 1))
            raise StructureError("site_kinds", f"{site_kinds!r} is not a Values column of "
                                               f"{path} (columns: {columns})")
        c = int(column.group(1))
        values = np.zeros(n, dtype=np.int64)
        for k, words in rows:
            i = site_id(k, words[0])
            try:
                values[i] = int(words[c])
            except ValueError:
                raise bad(k, f"value i{c} {words[c]!r} is not an integer") from None
    else:
        values = np.array(["site"] * n)
    site_type, names = _site_types(values, kind_names, f"{path} {site_kinds}")
    return Lattice(
        name=STRUCTURE,
        positions=np.ascontiguousarray(positions),
        cell=cell,
        neighbours=neighbours,
        site_type=site_type,
        site_type_names=names,
        layer=_surface_layer(positions, site_type, names, surface),
        shape=(1, 1),
    )


def read_structure(path: str | Path, fmt: str | None = None, **options: Any) -> Lattice:
    """The lattice of a structure file: a SPPARKS site file (``fmt="spparks"``, or detected),
    or any file ASE reads (``fmt`` an ASE format name, or guessed from the file).

    ``options`` go to :func:`read_spparks_sites` or :func:`lattice_from_atoms`.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such structure file")
    if fmt == SPPARKS or (fmt is None and is_spparks_sites(path)):
        return read_spparks_sites(path, **options)
    import ase.io

    try:
        atoms = ase.io.read(path, format=fmt)
    except Exception as err:  # ASE raises many kinds for files it cannot parse
        raise ScenarioError(f"{path}: ASE cannot read the structure"
                            f"{f' as {fmt!r}' if fmt else ''} ({type(err).__name__}: {err})"
                            ) from None
    return lattice_from_atoms(atoms, **options)


def spparks_site_text(lattice: Lattice, values: np.ndarray | None = None,
                      title: str = "kmc-ald lattice") -> str:
    """A lattice as a SPPARKS site file (positions in Å, the cell as an orthogonal box), so that
    SPPARKS can run on kmc-ald's lattices; ``values`` int [n_sites, k] become the Values
    section."""
    cell = lattice.cell
    if np.count_nonzero(cell - np.diag(np.diag(cell))):
        raise ValueError("a SPPARKS box is orthogonal; this lattice's cell is not")
    n = lattice.n_sites
    out = [title, "", "3 dimension", f"{n} sites",
           f"{int((lattice.neighbours >= 0).sum(axis=1).max(initial=0))} max neighbors"]
    out += [f"0 {cell[a, a]:.10g} {ax}lo {ax}hi" for a, ax in enumerate("xyz")]
    out += ["", "Sites", ""]
    out += [f"{i + 1} {x:.10g} {y:.10g} {z:.10g}" for i, (x, y, z) in enumerate(lattice.positions)]
    out += ["", "Neighbors", ""]
    out += [" ".join([str(i + 1), *(str(j + 1) for j in row if j >= 0)])
            for i, row in enumerate(lattice.neighbours)]
    if values is not None:
        out += ["", "Values", ""]
        out += [" ".join([str(i + 1), *map(str, row)]) for i, row in enumerate(values)]
    return "\n".join(out) + "\n"

