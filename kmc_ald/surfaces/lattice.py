"""The lattice every solver runs on: sites, their types and fixed-degree neighbour tables.

Lengths are in Å. The surface is periodic along the first two cell vectors and open along the
third. Every substrate (graphene, MXene, oxide, and the textbook square, triangular and honeycomb
lattices) reduces to one :class:`Lattice`: a set of adsorption sites, each with a site type and a
fixed number of neighbours, so that kernels can index the neighbour table directly.

Sites carry a ``layer`` index: 0 is the surface; higher layers are the sites of a stack above
it, where 3D particles grow (``kmc_ald.surfaces.builders.add_stack``). A stacked lattice is the
same data structure: its neighbour table lists the in-layer neighbours, then the sites below and
above (together the 12 nearest neighbours of fcc, over which bonds are counted), then the second
neighbours one layer down and up across a step edge, the end points of interlayer hops; -1 pads
it. ``support`` and ``supported`` say which sites hold which up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class Lattice:
    """A periodic lattice of adsorption sites (all arrays are read-only numpy arrays).

    Attributes:
        name: The builder that made it (``"square"``, ``"graphene"``, ...).
        positions: Site positions [Å], float64 ``[n_sites, 3]``.
        cell: Periodic cell [Å], rows are the vectors a, b, c; periodic along a and b.
        neighbours: Neighbour site indices, int32 ``[n_sites, degree]``.
        site_type: Site-type index of each site, uint8 ``[n_sites]``.
        site_type_names: Name of each site-type index.
        layer: Layer of each site (0 = surface), int16 ``[n_sites]``.
        shape: Number of unit cells along a and b.
        substrate_symbols: Chemical symbols of the substrate atoms (for export to ASE).
        substrate_positions: Positions of the substrate atoms [Å], float64 ``[n_atoms, 3]``.
        substrate_sites: The site each substrate atom belongs to (the atom at a site, or a
            termination on it), -1 for atoms below the sites; int32 ``[n_atoms]``.
        n_nearest: ``neighbours[:, :n_nearest]`` are the nearest neighbours (in the layer, and
            below and above it), over which bonds are counted; the columns after them (stacked
            lattices only) are second neighbours one layer down or up across a step edge.
            Stacked lattices pad with -1 where a layer has no such neighbour.
        support: The sites a site rests on, int32 ``[n_sites, 3]`` (-1 in layer 0); a site of a
            higher layer can hold an adsorbate only while all of them hold a solid species.
            ``[n_sites, 0]`` for a flat lattice.
        supported: The sites resting on a site, int32 ``[n_sites, 3]`` (-1 in the top layer).
    """

    name: str
    positions: np.ndarray
    cell: np.ndarray
    neighbours: np.ndarray
    site_type: np.ndarray
    site_type_names: tuple[str, ...]
    layer: np.ndarray
    shape: tuple[int, int]
    substrate_symbols: tuple[str, ...] = ()
    substrate_positions: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    substrate_sites: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    n_nearest: int = -1
    support: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    supported: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))

    def __post_init__(self) -> None:
        if self.n_nearest < 0:
            object.__setattr__(self, "n_nearest", self.degree)
        for name in ("support", "supported"):
            if getattr(self, name).shape[0] != self.n_sites:
                object.__setattr__(self, name, np.zeros((self.n_sites, 0), np.int32))
        for name in ("positions", "cell", "neighbours", "site_type", "layer", "substrate_positions",
                     "substrate_sites", "support", "supported"):
            getattr(self, name).setflags(write=False)

    @property
    def stacked(self) -> bool:
        """Whether sites are stacked above the surface (3D particles)."""
        return self.support.shape[1] > 0

    @property
    def n_layers(self) -> int:
        return int(self.layer.max(initial=0)) + 1

    @property
    def n_sites(self) -> int:
        return int(self.site_type.shape[0])

    @property
    def degree(self) -> int:
        return int(self.neighbours.shape[1])

    @cached_property
    def n_surface_sites(self) -> int:
        """Sites in layer 0: the denominator of every coverage."""
        return int(np.count_nonzero(self.layer == 0))

    @cached_property
    def surface_first(self) -> bool:
        """Whether the layer-0 sites are the first n_surface_sites (the builders' order), so
        that the surface of an occupation array is a view ``occupation[..., :n]``."""
        return bool(np.all(self.layer[:self.n_surface_sites] == 0))

    @property
    def area(self) -> float:
        """Area of the periodic surface cell [Å²]."""
        return float(np.linalg.norm(np.cross(self.cell[0], self.cell[1])))

    @property
    def site_area(self) -> float:
        """Surface area per surface site [Å²]; converts gas fluxes into per-site rates."""
        return self.area / self.n_surface_sites

    def site_type_counts(self) -> dict[str, int]:
        counts = np.bincount(self.site_type, minlength=len(self.site_type_names))
        return {name: int(c) for name, c in zip(self.site_type_names, counts)}

    def shells(self, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Sites within ``radius`` neighbour hops of each site, the site itself excluded.

        Returns:
            ``(sites, distance)``, int32 ``[n_sites, width]`` each, sorted by hop distance,
            padded with -1 (rows differ only when a small periodic lattice wraps onto itself).
        """
        n = self.n_sites
        seen = np.arange(n, dtype=np.int64)[:, None]
        frontier = seen
        rings, dists = [], []
        for r in range(1, radius + 1):
            cand = self.neighbours[np.maximum(frontier, 0)].reshape(n, -1).astype(np.int64)
            cand[np.repeat(frontier < 0, self.degree, axis=1)] = -1
            cand = np.sort(cand, axis=1)
            cand[:, 1:][cand[:, 1:] == cand[:, :-1]] = -1
            in_seen = (cand[:, :, None] == seen[:, None, :]).any(axis=2)
            cand[in_seen] = -1
            cand = -np.sort(-cand, axis=1)  # valid (>= 0) entries first
            width = int((cand >= 0).sum(axis=1).max()) if cand.size else 0
            ring = cand[:, :width]
            rings.append(ring)
            dists.append(np.where(ring >= 0, r, -1))
            seen = np.concatenate([seen, ring], axis=1)
            frontier = ring
        if not rings:
            return np.zeros((n, 0), np.int32), np.zeros((n, 0), np.int32)
        return (np.concatenate(rings, axis=1).astype(np.int32),
                np.concatenate(dists, axis=1).astype(np.int32))

    def near_table(self, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """The neighbour shells as kernels read them.

        Returns:
            ``(near, count)``: ``near`` int32 [n_sites, width] holds the sites within ``radius``
            hops, nearest first and every valid entry before the -1 padding; ``count[i, f]`` is
            how many of them lie within f hops (so a kernel loops ``m < count[i, f]`` and never
            meets padding), for f = 0..radius.
        """
        near, dist = self.shells(radius)
        order = np.argsort(near < 0, axis=1, kind="stable")
        near = np.take_along_axis(near, order, axis=1)
        dist = np.take_along_axis(dist, order, axis=1)
        count = np.zeros((self.n_sites, radius + 1), dtype=np.int32)
        for f in range(radius + 1):
            count[:, f] = np.count_nonzero((dist >= 1) & (dist <= f), axis=1)
        return np.ascontiguousarray(near, dtype=np.int32), count

    @cached_property
    def translations(self) -> np.ndarray:
        """Where each site goes under the shortest lattice translations (what a whole cluster
        jumps by): int32 ``[n_translations, n_sites]``, each row a permutation that keeps every
        site in its layer and basis position (6 rows on hexagonal lattices, 4 on square ones).
        Computed once, read-only.

        Relies on the builders' site order (a lattice read from a structure has no known
        translations, and raises ValueError), ``layer * n_surface_sites + (j * nx + i) * n_basis +
        b`` for cell (i, j) and basis site b.
        """
        if self.name == "structure":  # kmc_ald.surfaces.structure.STRUCTURE
            raise ValueError("a lattice read from a structure has no known lattice translations")
        nx, ny = self.shape
        n0 = self.n_surface_sites
        n_basis = n0 // (nx * ny)
        a1, a2 = self.cell[0, :2] / nx, self.cell[1, :2] / ny
        offsets = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]
        length = [float(np.linalg.norm(di * a1 + dj * a2)) for di, dj in offsets]
        shortest = [o for o, d in zip(offsets, length) if d <= min(length) * (1 + 1e-9)]
        site = np.arange(self.n_sites)
        k, rest = np.divmod(site, n0)
        cell_index, b = np.divmod(rest, n_basis)
        j, i = np.divmod(cell_index, nx)
        table = np.stack([k * n0 + (((j + dj) % ny) * nx + (i + di) % nx) * n_basis + b
                          for di, dj in shortest]).astype(np.int32)
        table.setflags(write=False)
        return table

    def minimum_image(self, displacement: np.ndarray) -> np.ndarray:
        """Wrap in-plane displacement vectors [Å] into the periodic cell (nearest image)."""
        cell2 = self.cell[:2, :2]
        frac = np.asarray(displacement)[..., :2] @ np.linalg.inv(cell2)
        frac -= np.round(frac)
        out = np.array(displacement, dtype=float, copy=True)
        out[..., :2] = frac @ cell2
        return out


@dataclass(frozen=True)
class PeriodicMotif:
    """A 2D Bravais lattice with a basis and nearest-neighbour bonds, in units of cells.

    ``bonds[b]`` lists, for basis site ``b``, its neighbours as ``(basis, d_i, d_j)``: basis index
    of the neighbour and its cell offset along a and b.
    """

    a1: tuple[float, float]
    a2: tuple[float, float]
    basis: tuple[tuple[float, float], ...]  # fractional coordinates of the basis sites
    bonds: tuple[tuple[tuple[int, int, int], ...], ...]


_S3 = float(np.sqrt(3.0))
SQUARE = PeriodicMotif((1.0, 0.0), (0.0, 1.0), ((0.0, 0.0),),
                       (((0, 1, 0), (0, 0, 1), (0, -1, 0), (0, 0, -1)),))
TRIANGULAR = PeriodicMotif((1.0, 0.0), (0.5, _S3 / 2), ((0.0, 0.0),),
                           (((0, 1, 0), (0, 0, 1), (0, -1, 1), (0, -1, 0), (0, 0, -1), (0, 1, -1)),))
# Honeycomb with lattice constant 1 (bond length 1/sqrt(3)); sublattice A at 0, B at (a1+a2)/3.
HONEYCOMB = PeriodicMotif((1.0, 0.0), (0.5, _S3 / 2), ((0.0, 0.0), (1 / 3, 1 / 3)),
                          (((1, 0, 0), (1, -1, 0), (1, 0, -1)),
                           ((0, 0, 0), (0, 1, 0), (0, 0, 1))))


def tile(motif: PeriodicMotif, nx: int, ny: int, lattice_constant: float,
         height: float = 20.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeat a motif nx × ny times.

    Site index = (j * nx + i) * n_basis + b for cell (i, j) and basis site b.

    Returns:
        ``(positions [Å], cell [Å], neighbours)``.
    """
    nb = len(motif.basis)
    a1 = np.array([*motif.a1, 0.0]) * lattice_constant
    a2 = np.array([*motif.a2, 0.0]) * lattice_constant
    i, j, b = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nb), indexing="xy")
    # meshgrid 'xy' gives arrays indexed [j, i, b]; flatten in that order = our site index order
    i, j, b = (x.transpose(0, 1, 2).reshape(-1) for x in (i, j, b))
    frac = np.array(motif.basis)[b]
    positions = (i[:, None] + frac[:, :1]) * a1 + (j[:, None] + frac[:, 1:2]) * a2
    degree = len(motif.bonds[0])
    neighbours = np.empty((nx * ny * nb, degree), dtype=np.int32)
    for basis in range(nb):
        rows = b == basis
        for k, (nbasis, di, dj) in enumerate(motif.bonds[basis]):
            ni, nj = (i[rows] + di) % nx, (j[rows] + dj) % ny
            neighbours[rows, k] = (nj * nx + ni) * nb + nbasis
    cell = np.array([a1 * nx, a2 * ny, [0.0, 0.0, height]])
    return positions, cell, neighbours
