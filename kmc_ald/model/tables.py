"""The tables a kernel reads, as named bundles.

A kernel takes a handful of bundles instead of a long positional list of arrays: a new per-site
or per-event table is one field here, filled once in the ``*_tables`` function below, and read
by name in the kernels that need it; no call site in between changes. The bundles are
NamedTuples defined at module level, so numba types them as tuples of arrays (passed by value,
no reference counting) and caches the kernels compiled for them. Units as in
kmc_ald.model.compile (rates in 1/s).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kmc_ald.surfaces.lattice import Lattice


class SiteTables(NamedTuple):
    """Per-site lattice tables (``n`` sites; -1 pads every neighbour list)."""

    site_type: np.ndarray  # uint8 [n]
    neighbours: np.ndarray  # int32 [n, degree]: pair partners and hop targets
    bond_neighbours: np.ndarray  # int32 [n, n_nearest]: the neighbours bonds are counted over
    near: np.ndarray  # int32 [n, width]: sites by hop distance, nearest first (footprints)
    near_count: np.ndarray  # int32 [n, radius + 1]: entries of ``near`` within f hops
    support: np.ndarray  # int32 [n, 3] (or [n, 0] on a flat lattice): what a site rests on
    supported: np.ndarray  # int32 [n, 3] (or [n, 0]): what rests on a site


class EventTables(NamedTuple):
    """Per-event mechanism tables (``e`` events), independent of phase and temperature."""

    order: np.ndarray  # int32 [e]: events grouped by the species on their first site
    offset: np.ndarray  # int32 [n_species + 1]: CSR offsets into ``order``
    sites_per_event: np.ndarray  # int32 [e]: 1 or 2
    site_in: np.ndarray  # int32 [e, 2]
    site_out: np.ndarray  # int32 [e, 2]
    count_mask: np.ndarray  # uint64 [e]: species counted as bonds (bit mask)
    footprint: np.ndarray  # int32 [e]: neighbour shells that must be free of block_mask
    block_mask: np.ndarray  # uint64 [e]
    solid: np.uint64  # species that hold up a stacked site (bit mask)
    partner_shell: np.ndarray  # int32 [e]: shell of a two-site event's partner (0: one site)
    partner_ok: np.ndarray  # uint8 [e, n_site_types]: the partner's site type is allowed


def site_tables(lattice: Lattice, radius: int) -> SiteTables:
    """The lattice's tables, with neighbour shells out to ``radius`` hops (at least 1)."""
    near, near_count = lattice.near_table(max(1, radius))
    c = np.ascontiguousarray
    return SiteTables(c(lattice.site_type), c(lattice.neighbours),
                      c(lattice.neighbours[:, :lattice.n_nearest]), near, near_count,
                      c(lattice.support), c(lattice.supported))


def event_tables(mechanism, rates) -> EventTables:
    """The tables of a mechanism (kmc_ald.model.compile.Mechanism) and of the partner site
    types its rate tables resolved on the lattice."""
    m, c = mechanism, np.ascontiguousarray
    return EventTables(c(m.event_order), c(m.event_offset), c(m.sites_per_event), c(m.site_in),
                       c(m.site_out), c(m.count_mask, dtype=np.uint64), c(m.footprint),
                       c(m.block_mask, dtype=np.uint64), np.uint64(m.solid_mask),
                       c(m.partner_shell, dtype=np.int32), c(rates.partner_ok, dtype=np.uint8))


class MigrationTables(NamedTuple):
    """Cluster migration by thinning (kmc_ald.engine.solvers.exact); inert without it."""

    migrating: np.ndarray  # bool [e]: the pseudo-events of cluster migration
    members: np.uint64  # species that make up a migrating cluster (bit mask)
    accept: np.ndarray  # float64 [max_size + 1]: (2 / s)^(1 + alpha), the thinning ratio at size s
    max_size: int  # larger clusters do not move
    translations: np.ndarray  # int32 [n_translations, n]: where each site goes ([1, n] unused)
    pinned: np.ndarray  # bool [n_site_types]: a cluster touching such a site does not move


def migration_tables(mechanism, lattice: Lattice, rates) -> MigrationTables:
    """The migration tables (translations are built only when some cluster can move)."""
    migrating = np.ascontiguousarray(mechanism.migrating)
    moving = bool(migrating.any())
    translations = (lattice.translations if moving
                    else np.zeros((1, lattice.n_sites), np.int32))
    max_size = int(mechanism.migration_max_size)
    sizes = np.arange(1, max_size + 1, dtype=np.float64)
    # tabulated once, so that every kernel (numba or CUDA) compares with the same doubles
    accept = np.concatenate([[0.0], (2.0 / sizes) ** (1.0 + float(mechanism.migration_exponent))])
    return MigrationTables(migrating, np.uint64(mechanism.migration_mask), accept, max_size,
                           translations, np.ascontiguousarray(rates.pinned))
