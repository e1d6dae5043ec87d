"""The rules that decide which channels are open at a site, shared by the CPU kernels.

A channel of event e at site i is open when i holds the event's first species, no site within the
event's footprint holds a blocking species, and, for a two-site event, a neighbour holds the
second species, and, on a stacked lattice, the sites it leaves occupied stay held up. Its rate
depends on the number of bonded neighbours. The exact solver and the
parallel solver's numba backend both use these helpers; kernels/sweep.cu states the same rules in
CUDA, and tests compare it with the numba backend bit for bit. Species sets are uint64 bit masks.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Every kernel is compiled without numba's reference counting (NRT): none of them allocates, and
# with NRT numba wraps each array passed to a helper in an incref/decref pair that its pruning
# pass cannot remove once the helper has branches -- measured at about 60 ns per call, more than
# the rest of an event. (_nrt is numba's own switch for this.)
KERNEL = {"cache": True, "nogil": True, "_nrt": False}

_ONE = np.uint64(1)


@njit(inline="always", **KERNEL)
def blocked(i, f, mask, occ, near, near_count):
    """Whether a site within f hops of site i holds a species of ``mask``."""
    for m in range(near_count[i, f]):
        if (mask >> np.uint64(occ[near[i, m]])) & _ONE:
            return True
    return False


@njit(inline="always", **KERNEL)
def bond_count(i, mask, occ, nb):
    """How many neighbours of site i hold a species of ``mask`` (-1 entries: no neighbour)."""
    n = 0
    if mask != np.uint64(0):
        for d in range(nb.shape[1]):
            j = nb[i, d]
            if j >= 0:
                n += np.int64((mask >> np.uint64(occ[j])) & _ONE)
    return n


@njit(inline="always", **KERNEL)
def stays_stacked(i, si, j, sj, occ, support, supported, solid):
    """Whether leaving species si on site i (and sj on j, when j >= 0) keeps a stacked lattice
    physical: every occupied stacked site rests on three solid sites, and nothing rests on a site
    that is not solid. Always true on a flat lattice (no support columns)."""
    if support.shape[1] == 0:
        return True
    for c in range(2):
        x = i if c == 0 else j
        if x < 0:
            break
        s = si if c == 0 else sj
        if s != 0:
            for m in range(support.shape[1]):
                b = support[x, m]
                if b < 0:
                    break
                sb = si if b == i else (sj if b == j else occ[b])
                if not (solid >> np.uint64(sb)) & _ONE:
                    return False
        if not (solid >> np.uint64(s)) & _ONE:
            for m in range(supported.shape[1]):
                a = supported[x, m]
                if a < 0:
                    continue
                sa = si if a == i else (sj if a == j else occ[a])
                if sa != 0:
                    return False
    return True
