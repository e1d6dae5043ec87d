"""Substrate builders: from a substrate name and a size to a :class:`Lattice` with site types.

Units: lengths and positions in Å, areal densities in sites per Å² (as in ``kmc_ald.units``).

Every substrate is a periodic 2D lattice of adsorption sites in the plane z = 0 (site positions
are stored at z = 0; exporters add adsorbate heights). Substrate atoms, used only for export to
ASE, sit at or below z = 0, except terminations and hydroxyl H which stick out up to ~2 Å.

Kinds (``kmc_ald.substrates.SUBSTRATES``, the one registry the schema reads too):

* ``square``, ``triangular``, ``honeycomb``: textbook lattices for validation models, one site
  type ``site``, no substrate atoms. The nearest-neighbour distance is 1 Å unless ``spacing``
  says otherwise (for the honeycomb, ``spacing`` is the bond length, so |a1| = sqrt(3) * spacing).
* ``graphene``: a site is a carbon atom (top site) of the honeycomb lattice, a = 2.46 Å,
  C-C 1.42 Å, 3 neighbours. Site types ``pristine`` (C), ``vacancy`` (missing C; the site stays
  in the lattice so a metal atom can adsorb there), ``pyridinic_N`` and ``graphitic_N`` (an N atom
  at the site; the vacancy next to a real pyridinic N is not modelled geometrically).
* ``graphene_hollow``: a site is the hollow at the centre of a carbon hexagon, where Ni, Co and
  other strongly binding adatoms sit: a triangular lattice, a = 2.46 Å, 6 neighbours, over the
  carbon honeycomb (two C per site). Site types ``pristine``, ``vacancy`` (one of the hexagon's
  carbons is missing) and ``pyridinic_N`` (one is N). Being triangular, it carries a stack: Ni(111)
  continues it almost without strain (Ni-Ni 2.49 Å, 1.3 % larger).
* ``mxene``: Ti3C2Tx; a site is the termination site (T) above one surface Ti, in the fcc hollow
  over the inner Ti layer: triangular lattice, a = 3.07 Å, 6 neighbours. Site types ``O``,
  ``OH``, ``F`` and ``bare_Ti`` (a termination vacancy exposing Ti). Only the top surface is
  modelled: the slab is Ti3C2 plus the top terminations, the bottom side is left bare.
* ``oxide``: a hydroxylated amorphous Al2O3 surface approximated by a triangular lattice of
  surface oxygen sites, nearest-neighbour distance 2.9 Å (13.7 sites/nm²), 6 neighbours. Site
  types ``O`` (bridging oxygen), ``OH`` (hydroxyl) and ``Al`` (a Lewis-acid Al site at an O
  vacancy), over a subsurface Al layer filling 2/3 of the hollows as in corundum.

Site types are assigned with :func:`build_lattice` as fractions of all sites or as areal
densities, drawn reproducibly from a Philox generator seeded by ``seed``.

Stacks (:func:`add_stack`, for the triangular lattices: ``triangular``, ``graphene_hollow``,
``mxene``, ``oxide``) add
layers of sites above the surface for 3D particles: an fcc(111) stack, ABC, pseudomorphic with the
surface lattice (a particle's nearest-neighbour distance is the surface's site distance), layer
k at k * sqrt(2/3) * a above the surface adsorbates. Each stacked site rests in the hollow of three
sites of the layer below; every site of the stack has site type ``stack``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from kmc_ald.errors import ScenarioError
from kmc_ald.substrates import (
    STACKABLE_KINDS,
    SUBSTRATES,
    TEXTBOOK_KINDS,
    SubstrateKind,
)
from kmc_ald.surfaces.lattice import (
    HONEYCOMB,
    SQUARE,
    TRIANGULAR,
    Lattice,
    tile,
)

if TYPE_CHECKING:
    import ase

_S3 = math.sqrt(3.0)
_CELL_HEIGHT = 20.0  # Å, the open direction; substrate atoms may lie at negative z
_OH_BOND = 0.97  # Å, O-H bond length of a surface hydroxyl

# Ti3C2 slab under the MXene termination sites, as (symbol, z [Å], hexagonal position). Ti layers
# are 2.3 Å apart (outer Ti-Ti distance ~4.6-4.7 Å in DFT Ti3C2Tx), C layers midway. The layers
# stack like TiC(111), Ti(B) C(C) Ti(A) C(B) Ti(C), so consecutive layers never sit on top of each
# other; with a = 3.07 Å the lateral offset between positions is a/sqrt(3) = 1.77 Å, giving Ti-C
# 2.11 Å (DFT ~2.1-2.2 Å). The termination site at position A is the fcc hollow above the inner
# Ti, and a T atom 1.0 Å above the top Ti is 2.04 Å from its three Ti (Ti-O ~2.0 Å in Ti3C2O2).
_MXENE_SLAB = (("Ti", 0.0, "B"), ("C", -1.15, "C"), ("Ti", -2.3, "A"),
               ("C", -3.45, "B"), ("Ti", -4.6, "C"))
_MXENE_TERMINATION_Z = 1.0  # Å above the top Ti layer
# Hexagonal stacking positions, fractional along (a1, a2) of a triangular cell.
_HEX_POSITION = {"A": (0.0, 0.0), "B": (1 / 3, 1 / 3), "C": (2 / 3, 2 / 3)}
# Oxide: one subsurface Al per octahedral hollow (position C) except every third, in a
# sqrt(3) x sqrt(3) R30 pattern, so Al/O = 2/3 as in Al2O3 (exact when nx and ny are multiples of
# 3). At 1.0 Å below the O plane the Al-O distance is 1.95 Å (1.85-1.97 Å in alumina).
_OXIDE_AL_Z = -1.0


#: The motif of each ``SubstrateKind.motif`` name.
MOTIFS = {"square": SQUARE, "triangular": TRIANGULAR, "honeycomb": HONEYCOMB}



def _kind(kind: str) -> SubstrateKind:
    if kind not in SUBSTRATES:
        raise ScenarioError(
            f"unknown substrate kind {kind!r}; allowed kinds: {', '.join(SUBSTRATES)}")
    return SUBSTRATES[kind]


def _lattice_constant(kind: SubstrateKind, spacing: float | None) -> float:
    """|a1| [Å]: the kind's own value, or the one implied by a nearest-neighbour ``spacing``."""
    if spacing is None:
        return kind.lattice_constant
    if not kind.textbook:
        raise ScenarioError(
            f"spacing={spacing!r} cannot be set for substrate {kind.name!r}, whose lattice "
            f"constant is fixed at {kind.lattice_constant} Å; spacing applies only to "
            f"{', '.join(TEXTBOOK_KINDS)}")
    if isinstance(spacing, bool) or not isinstance(spacing, (int, float)) or not (
            math.isfinite(spacing) and spacing > 0):
        raise ScenarioError(f"spacing={spacing!r} must be a positive length in Å")
    return float(spacing) * (_S3 if kind.name == "honeycomb" else 1.0)


def cells_for_length(kind: str, length_x: float, length_y: float,
                     spacing: float | None = None) -> tuple[int, int]:
    """Unit cells along a and b whose extent is closest to the requested lengths [Å].

    Lets scenarios state the cell size in Å (published ALD KMC uses 10-20 nm cells) whatever the
    substrate. For the non-rectangular cells the extent along a is |a1| * nx and along b the
    projected height |a2| * sin(60°) * ny. Each count is at least 1.
    """
    k = _kind(kind)
    a = _lattice_constant(k, spacing)
    for label, length in (("length_x", length_x), ("length_y", length_y)):
        if isinstance(length, bool) or not isinstance(length, (int, float)) or not (
                math.isfinite(length) and length > 0):
            raise ScenarioError(f"{label}={length!r} must be a positive length in Å")
    (x1, y1), (x2, y2) = MOTIFS[k.motif].a1, MOTIFS[k.motif].a2
    extent_a = math.hypot(x1, y1) * a
    extent_b = abs(x1 * y2 - y1 * x2) / math.hypot(x1, y1) * a  # |a2| sin(angle between a1, a2)
    return max(1, round(length_x / extent_a)), max(1, round(length_y / extent_b))


MIN_CELLS = 3  # fewer cells along a direction make a site its own (periodic) neighbour


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    try:
        nx, ny = shape
    except (TypeError, ValueError):
        raise ScenarioError(f"shape={shape!r} must be two cell counts (nx, ny)") from None
    for n in (nx, ny):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ScenarioError(
                f"shape={tuple(shape)!r}: cell counts must be integers >= 1, got {n!r}")
        if n < MIN_CELLS:
            raise ScenarioError(
                f"shape={tuple(shape)!r}: at least {MIN_CELLS} unit cells are needed along each "
                "direction; with fewer, a periodic site is its own neighbour, or the same "
                "neighbour twice")
    return int(nx), int(ny)


def _site_counts(kind: SubstrateKind, site_types: dict[str, tuple[str, float]], n_sites: int,
                 area: float) -> list[tuple[str, int]]:
    """Number of sites of each requested type, in the order the dict lists them."""
    counts = []
    for name, spec in site_types.items():
        if name not in kind.site_types:
            raise ScenarioError(
                f"unknown site type {name!r} for substrate {kind.name!r}; allowed: "
                f"{', '.join(kind.site_types)}")
        if name == kind.default_site_type:
            raise ScenarioError(
                f"site type {name!r} is the default of substrate {kind.name!r} and gets every "
                f"site not assigned another type; list only the other types "
                f"({', '.join(kind.site_types[1:]) or 'none'})")
        try:
            mode, value = spec
        except (TypeError, ValueError):
            raise ScenarioError(
                f"site type {name!r}: expected ('fraction', x) or ('density', n), got {spec!r}"
            ) from None
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
                math.isfinite(value)):
            raise ScenarioError(f"site type {name!r}: {mode} {value!r} is not a finite number")
        if mode == "fraction":
            if not 0.0 <= value <= 1.0:
                raise ScenarioError(
                    f"site type {name!r}: fraction {value!r} is outside [0, 1]")
            count = round(value * n_sites)
        elif mode == "density":
            if value < 0.0:
                raise ScenarioError(
                    f"site type {name!r}: density {value!r} sites/Å² must be >= 0")
            count = round(value * area)
        else:
            raise ScenarioError(
                f"site type {name!r}: unknown mode {mode!r}; allowed: 'fraction', 'density'")
        counts.append((name, int(count)))
    return counts


def _assign_site_types(kind: SubstrateKind, site_types: dict[str, tuple[str, float]] | None,
                       n_sites: int, area: float, seed: int) -> np.ndarray:
    site_type = np.zeros(n_sites, dtype=np.uint8)
    if not site_types:
        return site_type
    rng = np.random.Generator(np.random.Philox(seed))
    for name, count in _site_counts(kind, site_types, n_sites, area):
        free = np.flatnonzero(site_type == 0)
        if count > free.size:
            raise ScenarioError(
                f"site type {name!r}: asked for {count} sites but only {free.size} of "
                f"{n_sites} are still {kind.default_site_type!r} on this "
                f"{kind.name} lattice")
        chosen = rng.choice(free, size=count, replace=False)
        site_type[chosen] = kind.site_types.index(name)
    return site_type


def _cell_indices(nx: int, ny: int, n_basis: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell (i, j) of every site, in ``tile``'s order (site = (j * nx + i) * n_basis + b)."""
    cell = np.arange(nx * ny * n_basis) // n_basis
    return cell % nx, cell // nx


def _at_hex(position: str, i: np.ndarray, j: np.ndarray, cell: np.ndarray, nx: int, ny: int,
            z: float) -> np.ndarray:
    """Cartesian positions [Å] of hexagonal position A/B/C in cells (i, j) of a triangular cell."""
    fa, fb = _HEX_POSITION[position]
    a1, a2 = cell[0] / nx, cell[1] / ny
    out = (i[:, None] + fa) * a1 + (j[:, None] + fb) * a2
    out[:, 2] = z
    return out


def _substrate(kind: SubstrateKind, positions: np.ndarray, site_type: np.ndarray,
               cell: np.ndarray, nx: int, ny: int
               ) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Substrate atoms for export: (symbols, positions [Å], site of each atom or -1)."""
    names = np.array(kind.site_types)[site_type]
    sites = np.arange(len(names))
    parts: list[tuple[list[str], np.ndarray, np.ndarray]] = []

    def at_sites(symbol, sel, offset=(0.0, 0.0, 0.0)):
        parts.append(([symbol] * int(sel.sum()), positions[sel] + np.array(offset), sites[sel]))

    if kind.name == "graphene":
        keep = names != "vacancy"
        symbols = np.where(names == "pristine", "C", "N")[keep]
        parts.append((list(symbols), positions[keep], sites[keep]))
    elif kind.name == "graphene_hollow":
        # the hexagon around the hollow of cell (i, j) has its carbons at B and C of that cell
        # and of its neighbours; B of a vacancy site is missing, B of a pyridinic_N site is N
        i, j = _cell_indices(nx, ny, 1)
        first = np.where(names == "pyridinic_N", "N", "C")
        keep = names != "vacancy"
        parts.append((list(first[keep]), _at_hex("B", i[keep], j[keep], cell, nx, ny, 0.0),
                      sites[keep]))
        parts.append((["C"] * len(i), _at_hex("C", i, j, cell, nx, ny, 0.0), np.full(len(i), -1)))
    elif kind.name == "mxene":
        i, j = _cell_indices(nx, ny, 1)
        for symbol, z, pos in _MXENE_SLAB:
            parts.append(([symbol] * len(i), _at_hex(pos, i, j, cell, nx, ny, z),
                          np.full(len(i), -1)))
        up = _MXENE_TERMINATION_Z
        for name, symbol in (("O", "O"), ("OH", "O"), ("F", "F")):
            at_sites(symbol, names == name, (0.0, 0.0, up))
        at_sites("H", names == "OH", (0.0, 0.0, up + _OH_BOND))
    elif kind.name == "oxide":
        at_sites("O", (names == "O") | (names == "OH"))
        at_sites("H", names == "OH", (0.0, 0.0, _OH_BOND))
        at_sites("Al", names == "Al")
        i, j = _cell_indices(nx, ny, 1)
        filled = (i - j) % 3 != 0
        parts.append((["Al"] * int(filled.sum()),
                      _at_hex("C", i[filled], j[filled], cell, nx, ny, _OXIDE_AL_Z),
                      np.full(int(filled.sum()), -1)))
    symbols = tuple(str(s) for syms, _, _ in parts for s in syms)
    if not parts:
        return symbols, np.zeros((0, 3)), np.zeros(0, np.int32)
    return (symbols, np.concatenate([p for _, p, _ in parts]).astype(np.float64),
            np.concatenate([q for _, _, q in parts]).astype(np.int32))


def build_lattice(kind: str, shape: tuple[int, int],
                  site_types: dict[str, tuple[str, float]] | None = None, seed: int = 0,
                  spacing: float | None = None) -> Lattice:
    """Build the lattice of a substrate kind, nx × ny unit cells, with site types assigned.

    Args:
        kind: A key of ``SUBSTRATES``.
        shape: Unit cells ``(nx, ny)`` along a and b, each >= 1.
        site_types: Non-default site type -> ``("fraction", x)`` with 0 <= x <= 1 (fraction of
            all surface sites, count = round(x * n_sites)) or ``("density", n)`` with n in
            sites per Å² (count = round(n * area)); Python's ``round``, so halves go to even.
            Types are drawn in the order listed, without replacement, from sites still of the
            default type, which gets every site left over and must not be listed.
        seed: Seed of the Philox generator that picks the sites, so a scenario is reproducible.
        spacing: Nearest-neighbour distance [Å] of the square, triangular or honeycomb lattice
            (bond length for the honeycomb); not allowed for the physical substrates.

    Raises:
        ScenarioError: unknown kind or site type, bad fraction or density, more sites asked for
            than available, shape entries < 1, or spacing on a physical substrate.
    """
    k = _kind(kind)
    nx, ny = _check_shape(shape)
    a = _lattice_constant(k, spacing)
    positions, cell, neighbours = tile(MOTIFS[k.motif], nx, ny, a, height=_CELL_HEIGHT)
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    n_sites = positions.shape[0]
    area = float(abs(cell[0, 0] * cell[1, 1] - cell[0, 1] * cell[1, 0]))
    site_type = _assign_site_types(k, site_types, n_sites, area, seed)
    symbols, coords, atom_sites = _substrate(k, positions, site_type, cell, nx, ny)
    return Lattice(
        name=k.name,
        positions=positions,
        cell=np.asarray(cell, dtype=np.float64),
        neighbours=np.asarray(neighbours, dtype=np.int32),
        site_type=site_type,
        site_type_names=k.site_types,
        layer=np.zeros(n_sites, dtype=np.int16),
        shape=(nx, ny),
        substrate_symbols=symbols,
        substrate_positions=coords,
        substrate_sites=atom_sites,
    )


#: Site type of every site above the surface.
STACK_SITE_TYPE = "stack"
# Neighbours of stacked site (i, j) as cell offsets in the layer below / above (ABC stacking, layer
# k shifted by (a1 + a2) / 3 from layer k - 1): the three sites it rests on, and the three second
# neighbours one layer down across an edge of that triangle (distance sqrt(2) a, the end points of
# a hop over a step edge). The "above" offsets are their inverses.
_SUPPORT = ((0, 0), (1, 0), (0, 1))
_OVER_EDGE = ((1, 1), (1, -1), (-1, 1))


def add_stack(lattice: Lattice, layers: int) -> Lattice:
    """The lattice with ``layers`` layers of an fcc(111) stack above its surface sites.

    Neighbour columns: 6 in-layer, 3 below (support), 3 above, 3 over-edge down, 3 over-edge up;
    -1 where a layer has none. ``Lattice.support`` and ``Lattice.supported`` hold the 3 below and
    the 3 above.

    Raises:
        ScenarioError: the lattice is not triangular (one site per cell, 6 neighbours).
    """
    kind = _kind(lattice.name)
    if not kind.stackable:
        allowed = ", ".join(STACKABLE_KINDS)
        raise ScenarioError(f"a stack of layers for 3D particles needs a triangular lattice "
                            f"({allowed}); {lattice.name!r} has none")
    if layers < 1:
        raise ScenarioError(f"a stack has at least 1 layer, got {layers}")
    nx, ny = lattice.shape
    n0 = lattice.n_sites
    i, j = _cell_indices(nx, ny, 1)
    a1, a2 = lattice.cell[0] / nx, lattice.cell[1] / ny
    a = float(np.linalg.norm(a1))
    spacing = a * math.sqrt(2.0 / 3.0)  # fcc(111) interlayer distance at this site distance

    def site(k, di, dj):
        """Site index in layer k of cell (i + di, j + dj) for every cell; -1 outside the stack."""
        if not 0 <= k <= layers:
            return np.full(n0, -1, dtype=np.int64)
        return k * n0 + ((j + dj) % ny) * nx + (i + di) % nx

    rows = []
    for k in range(layers + 1):
        lateral = lattice.neighbours + k * n0
        below = [site(k - 1, di, dj) for di, dj in _SUPPORT]
        above = [site(k + 1, -di, -dj) for di, dj in _SUPPORT]
        down = [site(k - 1, di, dj) for di, dj in _OVER_EDGE]
        up = [site(k + 1, -di, -dj) for di, dj in _OVER_EDGE]
        rows.append(np.column_stack([lateral, *below, *above, *down, *up]))
    neighbours = np.concatenate(rows).astype(np.int32)
    shift = (a1 + a2) / 3.0
    positions = np.concatenate([
        lattice.positions + (k * shift if k else 0.0) + np.array([0.0, 0.0, k * spacing])
        for k in range(layers + 1)])
    frac = positions[:, :2] @ np.linalg.inv(lattice.cell[:2, :2])
    positions[:, :2] = (frac % 1.0) @ lattice.cell[:2, :2]
    names = (*lattice.site_type_names, STACK_SITE_TYPE)
    stack_type = np.full(n0 * layers, len(names) - 1, dtype=np.uint8)
    deg = lattice.degree
    return Lattice(
        name=lattice.name,
        positions=np.ascontiguousarray(positions),
        cell=np.array(lattice.cell),
        neighbours=np.ascontiguousarray(neighbours),
        site_type=np.concatenate([lattice.site_type, stack_type]),
        site_type_names=names,
        layer=np.repeat(np.arange(layers + 1, dtype=np.int16), n0),
        shape=lattice.shape,
        substrate_symbols=lattice.substrate_symbols,
        substrate_positions=np.array(lattice.substrate_positions),
        substrate_sites=np.array(lattice.substrate_sites),
        n_nearest=deg + 6,
        support=np.ascontiguousarray(neighbours[:, deg:deg + 3]),
        supported=np.ascontiguousarray(neighbours[:, deg + 3:deg + 6]),
    )


def substrate_atoms(lattice: Lattice) -> ase.Atoms:
    """The substrate atoms as ``ase.Atoms`` (periodic in-plane, open along c), for export."""
    import ase  # lazy: ase is slow to import and the CLI's --help must stay fast

    return ase.Atoms(symbols=list(lattice.substrate_symbols),
                     positions=np.array(lattice.substrate_positions, dtype=np.float64),
                     cell=np.array(lattice.cell), pbc=[True, True, False])
