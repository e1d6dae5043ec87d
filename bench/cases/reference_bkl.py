"""Hand-written single-model BKL codes: the speed baseline for kmc-ald's exact solver.

Each model is written the fastest simple way we know that is still exact (rejection-free,
continuous time), for one square periodic lattice of n x n sites, with an xorshift64* generator:

* Langmuir adsorption/desorption: per-site rate k_a if empty, k_d if occupied. The sites are kept
  in one array partitioned into [occupied | empty] with a position index, so an event is chosen in
  O(1) (class, then uniform member) and executed in O(1) (one swap across the boundary).
* Deposition, diffusion and irreversible aggregation (DDA, critical nucleus i = 1): deposition at F
  per empty site; a monomer with no occupied neighbour hops at D per direction (all four
  neighbours are then empty, so its rate is exactly 4 D); an atom with any occupied neighbour is
  immobile. Two O(1) sets: empty sites (partitioned array as above) and mobile monomers (array
  with a position index). One uniform number picks class, member and direction.

Units: time in s, rates in 1/s. Sanity checks (``check_langmuir``, ``check_dda``) make sure the
baseline is the real model and not a toy loop.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_XS_MUL = np.uint64(0x2545F4914F6CDD1D)
_S12, _S25, _S27, _S11 = np.uint64(12), np.uint64(25), np.uint64(27), np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _next(x):
    """xorshift64*: (new state, uniform double in [0, 1))."""
    x ^= x >> _S12
    x ^= x << _S25
    x ^= x >> _S27
    return x, float((x * _XS_MUL) >> _S11) * _TWO_M53


def square_neighbours(n: int) -> np.ndarray:
    """Neighbour table int32 [n*n, 4] of an n x n periodic square lattice (site = x * n + y)."""
    x, y = np.divmod(np.arange(n * n), n)
    nb = np.stack([((x + 1) % n) * n + y, ((x - 1) % n) * n + y,
                   x * n + (y + 1) % n, x * n + (y - 1) % n], axis=1)
    return np.ascontiguousarray(nb, dtype=np.int32)


def seed_state(seed: int) -> np.ndarray:
    """A non-zero xorshift state (splitmix64 of the seed) as uint64[1]."""
    z = (int(seed) + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return np.array([z or 1], dtype=np.uint64)


# --------------------------------------------------------------------------------------------
# Langmuir adsorption / desorption
# --------------------------------------------------------------------------------------------

@njit(cache=True)
def _langmuir_advance(occ, order, pos, n_occ, rng, clock, k_a, k_d, t_stop, max_events):
    """Run until the clock would pass t_stop or max_events are done; returns (n_occ, executed).

    ``order[:n_occ]`` are the occupied sites, ``order[n_occ:]`` the empty ones; pos[i] is the
    index of site i in ``order``. ``clock`` (float64[1], s) and ``rng`` (uint64[1]) in place.
    """
    n = occ.shape[0]
    x = rng[0]
    t = clock[0]
    executed = 0
    while executed < max_events:
        r_des = k_d * n_occ
        total = r_des + k_a * (n - n_occ)
        x, u1 = _next(x)
        t_new = t - math.log(1.0 - u1) / total
        if t_new > t_stop:
            break
        t = t_new
        x, u = _next(x)
        u *= total
        if u < r_des:                      # desorption: a uniform occupied site
            p = min(int(u / k_d), n_occ - 1)
            i = order[p]
            last = n_occ - 1
            other = order[last]
            order[p], order[last] = other, i
            pos[other], pos[i] = p, last
            occ[i] = 0
            n_occ -= 1
        else:                              # adsorption: a uniform empty site
            p = min(n_occ + int((u - r_des) / k_a), n - 1)
            i = order[p]
            other = order[n_occ]
            order[p], order[n_occ] = other, i
            pos[other], pos[i] = p, n_occ
            occ[i] = 1
            n_occ += 1
        executed += 1
    rng[0] = x
    clock[0] = t
    return n_occ, executed


class LangmuirBKL:
    """Langmuir model on an n x n lattice, starting empty at t = 0 s."""

    def __init__(self, n: int, k_a: float = 2.0, k_d: float = 1.0, seed: int = 1):
        self.n_sites = n * n
        self.k_a, self.k_d = float(k_a), float(k_d)
        self.occ = np.zeros(self.n_sites, dtype=np.uint8)
        self.order = np.arange(self.n_sites, dtype=np.int64)
        self.pos = np.arange(self.n_sites, dtype=np.int64)
        self.n_occ = 0
        self.rng = seed_state(seed)
        self.clock = np.zeros(1)
        self.events = 0

    @property
    def time(self) -> float:
        return float(self.clock[0])

    def advance(self, t_stop: float = math.inf, max_events: int = 1 << 62) -> int:
        self.n_occ, executed = _langmuir_advance(self.occ, self.order, self.pos, self.n_occ,
                                                 self.rng, self.clock, self.k_a, self.k_d,
                                                 float(t_stop), int(max_events))
        self.events += int(executed)
        return int(executed)

    def coverage(self) -> float:
        return self.n_occ / self.n_sites


# --------------------------------------------------------------------------------------------
# Deposition, diffusion, irreversible aggregation
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _drop(x, mob, mpos, n_mob):
    """Remove site x from the mobile list if it is there; returns the new list length."""
    p = mpos[x]
    if p >= 0:
        n_mob -= 1
        other = mob[n_mob]
        mob[p] = other
        mpos[other] = p
        mpos[x] = -1
    return n_mob


@njit(cache=True, inline="always")
def _land(x, skip, occ, nb, mob, mpos, n_mob):
    """Site x has just become occupied (its neighbour ``skip`` just emptied, or -1).

    Every occupied neighbour is now bonded and immobile; x is mobile iff it has none.
    Returns the new mobile-list length.
    """
    alone = True
    for d in range(4):
        y = nb[x, d]
        if y != skip and occ[y] != 0:
            alone = False
            n_mob = _drop(y, mob, mpos, n_mob)
    if alone:
        mob[n_mob] = x
        mpos[x] = n_mob
        n_mob += 1
    return n_mob


@njit(cache=True)
def _dda_advance(occ, nb, order, pos, n_occ, mob, mpos, n_mob, rng, clock, counts, F, D,
                 t_stop, max_events):
    """Run until the clock would pass t_stop or max_events are done.

    Returns (n_occ, n_mob, executed). ``order``/``pos``: sites partitioned [occupied | empty];
    ``mob[:n_mob]``/``mpos``: the mobile monomers (mpos = -1 if not mobile). ``counts``:
    int64[2] (depositions, hops).
    """
    n = occ.shape[0]
    x = rng[0]
    t = clock[0]
    executed = 0
    while executed < max_events:
        r_hop = 4.0 * D * n_mob
        total = r_hop + F * (n - n_occ)
        if not total > 0.0:
            break
        x, u1 = _next(x)
        t_new = t - math.log(1.0 - u1) / total
        if t_new > t_stop:
            break
        t = t_new
        x, u = _next(x)
        u *= total
        if u < r_hop:                                   # hop of a mobile monomer
            k = min(int(u / D), 4 * n_mob - 1)
            i = mob[k >> 2]
            j = nb[i, k & 3]
            occ[i] = 0
            occ[j] = 1
            pi, pj = pos[i], pos[j]                     # i leaves, j joins the occupied part
            order[pi], order[pj] = j, i
            pos[i], pos[j] = pj, pi
            n_mob = _drop(i, mob, mpos, n_mob)          # i was a monomer: all its other
            n_mob = _land(j, i, occ, nb, mob, mpos, n_mob)  # neighbours are empty
            counts[1] += 1
        else:                                           # deposition on a uniform empty site
            p = min(n_occ + int((u - r_hop) / F), n - 1)
            i = order[p]
            other = order[n_occ]
            order[p], order[n_occ] = other, i
            pos[other], pos[i] = p, n_occ
            occ[i] = 1
            n_occ += 1
            n_mob = _land(i, -1, occ, nb, mob, mpos, n_mob)
            counts[0] += 1
        executed += 1
    rng[0] = x
    clock[0] = t
    return n_occ, n_mob, executed


class DdaBKL:
    """Deposition + diffusion + irreversible aggregation on an n x n lattice, empty at t = 0 s."""

    def __init__(self, n: int, F: float = 1.0, D: float = 1.0e5, seed: int = 1):
        self.n_sites = n * n
        self.F, self.D = float(F), float(D)
        self.nb = square_neighbours(n)
        self.occ = np.zeros(self.n_sites, dtype=np.uint8)
        self.order = np.arange(self.n_sites, dtype=np.int64)
        self.pos = np.arange(self.n_sites, dtype=np.int64)
        self.mob = np.zeros(self.n_sites, dtype=np.int64)
        self.mpos = np.full(self.n_sites, -1, dtype=np.int64)
        self.n_occ = self.n_mob = 0
        self.rng = seed_state(seed)
        self.clock = np.zeros(1)
        self.counts = np.zeros(2, dtype=np.int64)
        self.events = 0

    @property
    def time(self) -> float:
        return float(self.clock[0])

    def advance(self, t_stop: float = math.inf, max_events: int = 1 << 62) -> int:
        self.n_occ, self.n_mob, executed = _dda_advance(
            self.occ, self.nb, self.order, self.pos, self.n_occ, self.mob, self.mpos, self.n_mob,
            self.rng, self.clock, self.counts, self.F, self.D, float(t_stop), int(max_events))
        self.events += int(executed)
        return int(executed)


@njit(cache=True)
def cluster_sizes(occ, nb):
    """Sizes of the connected clusters of occupied sites (nearest-neighbour, periodic)."""
    n = occ.shape[0]
    seen = np.zeros(n, dtype=np.uint8)
    stack = np.empty(n, dtype=np.int64)
    sizes = []
    for s in range(n):
        if occ[s] == 0 or seen[s]:
            continue
        seen[s] = 1
        top = 0
        stack[0] = s
        top = 1
        size = 0
        while top > 0:
            top -= 1
            a = stack[top]
            size += 1
            for d in range(nb.shape[1]):
                b = nb[a, d]
                if b >= 0 and occ[b] != 0 and not seen[b]:
                    seen[b] = 1
                    stack[top] = b
                    top += 1
        sizes.append(size)
    return np.array(sizes, dtype=np.int64)


def island_density(occ: np.ndarray, nb: np.ndarray) -> float:
    """Islands (clusters of two or more atoms) per site."""
    sizes = cluster_sizes(occ, nb)
    return float(np.count_nonzero(sizes >= 2)) / occ.shape[0]


# --------------------------------------------------------------------------------------------
# Sanity checks: the reference is the real model
# --------------------------------------------------------------------------------------------

#: Island density per site at 0.1 ML for D/F = 1e5, i = 1, on large lattices.
DDA_ISLAND_DENSITY = 5.4e-3


def langmuir_ok(coverage: float, n_sites: int, k_a: float = 2.0, k_d: float = 1.0) -> bool:
    """Coverage at equilibrium within 5 binomial standard deviations (+1e-3) of k_a/(k_a+k_d)."""
    eq = k_a / (k_a + k_d)
    return abs(coverage - eq) <= 5.0 * math.sqrt(eq * (1 - eq) / n_sites) + 1e-3


def dda_ok(density: float, n_sites: int) -> bool:
    """Island density at 0.1 ML near 5.4e-3 per site; small lattices get a Poisson-size margin."""
    expected = DDA_ISLAND_DENSITY
    margin = 0.2 * expected + 5.0 * math.sqrt(expected / n_sites)
    return abs(density - expected) <= margin


def check_langmuir(n: int = 256, seed: int = 1) -> tuple[float, bool]:
    """Run the reference Langmuir model to t = 3 s; (coverage, within tolerance of 2/3)."""
    model = LangmuirBKL(n, seed=seed)
    model.advance(3.0)
    return model.coverage(), langmuir_ok(model.coverage(), model.n_sites)


def check_dda(n: int = 256, seed: int = 1) -> tuple[float, bool]:
    """Run the reference DDA model to 0.1 ML; (island density per site, near 5.4e-3)."""
    model = DdaBKL(n, seed=seed)
    model.advance(-math.log(0.9) / model.F)
    rho = island_density(model.occ, model.nb)
    return rho, dda_ok(rho, model.n_sites)


if __name__ == "__main__":
    print("Langmuir coverage at 3 s (expect 2/3):", check_langmuir())
    print("DDA island density at 0.1 ML (expect ~5.4e-3):", check_dda())
