"""Clusters (islands) of occupied sites on a periodic lattice.

A cluster is a set of sites holding one of the chosen species, connected through the lattice's
nearest-neighbour table (which wraps around the periodic cell; -1 entries, as in stacked
lattices, are no neighbour). Densities are per site.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def cluster_labels(occupied: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Cluster index of every site (0, 1, ... over occupied sites; -1 where not occupied)."""
    i = np.repeat(np.arange(len(occupied)), neighbours.shape[1])
    j = neighbours.ravel()
    keep = (j >= 0) & occupied[i] & occupied[np.maximum(j, 0)]
    n = len(occupied)
    graph = coo_matrix((np.ones(int(keep.sum())), (i[keep], j[keep])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    out = np.full(n, -1, dtype=np.int64)
    out[occupied] = np.unique(label[occupied], return_inverse=True)[1]
    return out


def cluster_sizes(occupied: np.ndarray, neighbours: np.ndarray,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """Sizes of the connected clusters of ``occupied`` (bool [n_sites]): sites, or the sum of
    ``weights`` (e.g. atoms per site) over each cluster's sites."""
    label = cluster_labels(occupied, neighbours)
    w = None if weights is None else np.asarray(weights)[occupied]
    sizes = np.bincount(label[occupied], weights=w)
    return sizes if weights is not None else sizes.astype(np.int64)


def island_density(occupation: np.ndarray, neighbours: np.ndarray, min_size: int = 2) -> float:
    """Clusters of at least ``min_size`` occupied (non-empty) sites, per site.

    Example:
        >>> import numpy as np
        >>> ring = np.array([[1, 3], [0, 2], [1, 3], [2, 0]])   # 4 sites on a ring
        >>> island_density(np.array([1, 1, 0, 1]), ring)          # sites 3-0-1 wrap: 1 island
        0.25
    """
    sizes = cluster_sizes(np.asarray(occupation) > 0, neighbours)
    return float(np.count_nonzero(sizes >= min_size)) / len(occupation)
