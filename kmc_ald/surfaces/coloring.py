"""Conflict-free update classes: sites that may be updated at the same time.

An event at site i reads the sites within the mechanism's interaction range R of i (neighbour
counts, footprints, partners) and writes i and at most one neighbour. Two sites at least R + 2
neighbour hops apart (R + 1 if no event writes a neighbour) can therefore never touch the same
site, so all the sites of a class can be updated concurrently, in any order, with the same result
(Shim & Amar, Phys. Rev. B 71, 125432 (2005), use the same idea with square sublattices).

For the periodic lattices built here the classes are a periodic pattern: the class of a site is
(cell i mod k, cell j mod k, basis site) for the smallest period k that keeps members far enough
apart and divides the lattice; the pattern is checked against the neighbour shells. A greedy
colouring in site order covers lattices whose size no period divides.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kmc_ald.surfaces.lattice import Lattice


@dataclass(frozen=True, eq=False)
class UpdateClasses:
    """Sites grouped by class: members of class c are ``members[offsets[c]:offsets[c + 1]]``."""

    separation: int  # minimum hop distance between two members of one class
    class_of: np.ndarray  # int32 [n_sites]
    members: np.ndarray  # int32 [n_sites], sorted by class, then site
    offsets: np.ndarray  # int64 [n_classes + 1]

    @property
    def n_classes(self) -> int:
        return len(self.offsets) - 1


def _conflicts(class_of: np.ndarray, near: np.ndarray) -> bool:
    """True if some site shares its class with a site closer than the separation."""
    valid = near >= 0
    return bool(np.any(valid & (class_of[np.maximum(near, 0)] == class_of[:, None])))


def _periodic(lattice: Lattice, near: np.ndarray, separation: int) -> np.ndarray | None:
    nx, ny = lattice.shape
    n_basis = lattice.n_sites // (nx * ny)
    site = np.arange(lattice.n_sites)
    b, cell = site % n_basis, site // n_basis
    i, j = cell % nx, cell // nx
    for k in range(separation, 4 * separation + 1):
        if nx % k or ny % k:
            continue
        class_of = (((j % k) * k + (i % k)) * n_basis + b).astype(np.int32)
        if not _conflicts(class_of, near):
            return class_of
    return None


def _greedy(n_sites: int, near: np.ndarray) -> np.ndarray:
    class_of = np.full(n_sites, -1, dtype=np.int32)
    for s in range(n_sites):
        taken = {int(class_of[t]) for t in near[s] if t >= 0}
        c = 0
        while c in taken:
            c += 1
        class_of[s] = c
    return class_of


def update_classes(lattice: Lattice, interaction_range: int, writes_neighbour: bool = True
                   ) -> UpdateClasses:
    """Classes whose members are at least ``interaction_range + 2`` hops apart (``+ 1`` when no
    event writes a neighbour)."""
    separation = interaction_range + (2 if writes_neighbour else 1)
    near, _ = lattice.shells(separation - 1)
    class_of = _periodic(lattice, near, separation)
    if class_of is None:
        class_of = _greedy(lattice.n_sites, near)
    # renumber classes densely in order of first appearance
    _, first, dense = np.unique(class_of, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    class_of = order[dense.ravel()].astype(np.int32)
    members = np.argsort(class_of, kind="stable").astype(np.int32)
    offsets = np.searchsorted(class_of[members], np.arange(class_of.max() + 2)).astype(np.int64)
    return UpdateClasses(separation, class_of, members, offsets)
