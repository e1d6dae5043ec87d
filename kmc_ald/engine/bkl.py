"""The kernels of rejection-free, continuous-time kinetic Monte Carlo (BKL / Gillespie) on one surface.

Method: Bortz, Kalos & Lebowitz, J. Comput. Phys. 17, 10 (1975); Gillespie, J. Comput. Phys.
22, 403 (1976). Each site's total rate (the sum over the channels that start at it) is a leaf of an
8-ary sum tree. An event is chosen in O(log n) by descending the tree with one uniform number,
then among the site's channels; the clock advances by an exponential waiting time with the total
rate. After an event only the sites whose rates can have changed are recomputed: those within
the reach of the species a site lost and gained (the footprints they block, 1 where bonds count
them, the shell of the pair events that need them) whose own events read one of those species
at that distance (``Reach``). The serial exact solver
(kmc_ald.engine.solvers.exact) and the ensemble solver's CPU backend call them;
kernels/ensemble.cu repeats them in CUDA, operation for operation, and tests compare the two bit
for bit. Units: time in s, rates in 1/s.

Random numbers come from Philox4x32-10 keyed by the seed and counted by the number of draws, so a
solver's whole state is (occupation, clock, draw counter): the tree is rebuilt from the
occupation, bit for bit, when a phase starts or a run resumes.

Stopping rules keep trajectories independent of how often the caller looks:

* stopping to sample inside a phase leaves the pending event pending: the next call redraws the
  same numbers from the same counter and executes it;
* at the end of a phase, the pending draw is consumed and the clock set to the phase end; rates
  change there, and the memoryless waiting time restarts with the next phase's rates.

Cluster migration (``cluster_migration`` in a scenario) is a non-local event: the rate of a whole
cluster depends on its size, which no site knows. It runs by thinning (Lewis & Shedler, Naval Res.
Logist. Q. 26, 403 (1979)): every atom with a cluster neighbour carries a candidate channel at a
constant rate that bounds its share of its cluster's jump rate (kmc_ald.model.compile). When a
candidate is drawn, the solver walks the cluster (at most ``max_size + 1`` atoms), accepts with
the ratio of the true to the candidate rate, picks a translation, and moves the cluster if every
target site is free. A rejected candidate is a null event: the clock has advanced, nothing changed,
and it is not counted as an event. The trajectory is exact in distribution and as reproducible as
any other (the acceptance and direction come from a second Philox sub-stream of the same draw).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from kmc_ald.engine.channels import KERNEL, blocked, bond_count, stays_stacked
from kmc_ald.engine.rng import STREAM_EXACT, draw, exponential, unit_interval
from kmc_ald.model.tables import (
    EventTables,
    MigrationTables,
    SiteTables,
    event_tables,
    migration_tables,
    site_tables,
)

#: advance_surface's status: the stop time is reached; the event budget ran out first; or a
#: drawn site with a positive rate offered no open channel (a broken invariant: a bug)
DONE, MORE, BROKEN = 0, 1, 2
ARITY = 8  # children per node of the sum tree: 8 doubles = one 64-byte cache line


class SumTree(NamedTuple):
    """The 8-ary sum tree of site rates: node k has children 8k+1 .. 8k+8; leaves are sites."""

    values: np.ndarray  # float64 [first_leaf + 8^depth] [1/s]
    first_leaf: int  # nodes above the leaf level


class Reach(NamedTuple):
    """Which sites a change at a site x can change the rates of: x, and those within r hops,
    ``near[x, :near_count[x, r]]``, whose events read what x lost or gained at their distance
    from x. r is the larger ``radius`` of the species x held and holds."""

    radius: np.ndarray  # int32 [n_species]: hops within which holding it matters to others
    depends: int  # the largest radius: what a cluster move refreshes
    #: uint64 [n_species, depends + 1]: bit s' of reads[s, d] is set when a site holding s has
    #: an event that reads species s' d hops away (partner, bond count, footprint)
    reads: np.ndarray


class Scratch(NamedTuple):
    """Work space for cluster walks and moves."""

    mark: np.ndarray  # int64 [n]: the stamp of the walk that last reached each site
    stamp: np.ndarray  # int64 [1]
    cluster: np.ndarray  # int64 [n]: the sites of the current cluster
    carried: np.ndarray  # uint8 [n]: their species while they move


@njit(inline="always", **KERNEL)
def _pairs_with(i, e, j, sj, occ, sites, events):
    """Whether partner slot j (-1: none) opens a channel of two-site event e at site i: it holds
    the second species on an allowed site type, and the stack stays held up afterwards."""
    return (j >= 0 and occ[j] == sj and events.partner_ok[e, sites.site_type[j]] != 0
            and stays_stacked(i, events.site_out[e, 0], j, events.site_out[e, 1], occ,
                              sites.support, sites.supported, events.solid))


@njit(inline="always", **KERNEL)
def _slots(i, e, sites, events):
    """(first, stop): the partner slots of two-site event e at site i, in its neighbour list for
    the first shell, else in its row of the near table at the shell's hop distance."""
    s = events.partner_shell[e]
    if s == 1:
        return 0, sites.neighbours.shape[1]
    return sites.near_count[i, s - 1], sites.near_count[i, s]


@njit(inline="always", **KERNEL)
def _partner(i, e, d, sites, events):
    """The site in partner slot d of event e at site i (-1: padding)."""
    if events.partner_shell[e] == 1:
        return sites.neighbours[i, d]
    return sites.near[i, d]


@njit(inline="always", **KERNEL)
def _open_rate(i, e, occ, sites, events, rate):
    """Rate of one channel of event e at site i [1/s], or 0 when its footprint is blocked
    (scanned last: a rate of 0 from the phase or the bond window needs no scan)."""
    r = rate[e, sites.site_type[i], bond_count(i, events.count_mask[e], occ,
                                               sites.bond_neighbours)]
    f = events.footprint[e]
    if r != 0.0 and f > 0 and blocked(i, f, events.block_mask[e], occ, sites.near,
                                      sites.near_count):
        return 0.0
    return r


@njit(inline="always", **KERNEL)
def _site_rate(i, occ, sites, events, rate):
    """Total rate of the channels that start at site i [1/s]."""
    s = occ[i]
    total = 0.0
    for k in range(events.offset[s], events.offset[s + 1]):
        e = events.order[k]
        r = _open_rate(i, e, occ, sites, events, rate)
        if r == 0.0:
            continue
        if events.sites_per_event[e] == 1:
            if stays_stacked(i, events.site_out[e, 0], -1, 0, occ, sites.support,
                             sites.supported, events.solid):
                total += r
        else:
            sj = events.site_in[e, 1]
            lo, hi = _slots(i, e, sites, events)
            matches = 0
            for d in range(lo, hi):
                if _pairs_with(i, e, _partner(i, e, d, sites, events), sj, occ, sites, events):
                    matches += 1
            if matches > 0:
                total += r * matches
    return total


@njit(inline="always", **KERNEL)
def _choose_channel(i, u, occ, sites, events, rate):
    """The channel at site i that ``u`` in [0, site rate) falls into: (event, neighbour or -1).

    Repeats the arithmetic of _site_rate in the same order, so the partial sums agree with the
    tree's leaf exactly; rounding at the very top falls back to the last open channel.
    """
    s = occ[i]
    last_e, last_j = -1, -1
    for k in range(events.offset[s], events.offset[s + 1]):
        e = events.order[k]
        r = _open_rate(i, e, occ, sites, events, rate)
        if r == 0.0:
            continue
        if events.sites_per_event[e] == 1:
            if not stays_stacked(i, events.site_out[e, 0], -1, 0, occ, sites.support,
                                 sites.supported, events.solid):
                continue
            if u < r:
                return e, -1
            u -= r
            last_e, last_j = e, -1
        else:
            sj = events.site_in[e, 1]
            lo, hi = _slots(i, e, sites, events)
            matches = 0
            for d in range(lo, hi):
                if _pairs_with(i, e, _partner(i, e, d, sites, events), sj, occ, sites, events):
                    matches += 1
            if matches == 0:
                continue
            if u < r * matches:
                pick = min(int(u / r), matches - 1)
                for d in range(lo, hi):
                    j = _partner(i, e, d, sites, events)
                    if _pairs_with(i, e, j, sj, occ, sites, events):
                        if pick == 0:
                            return e, j
                        pick -= 1
            u -= r * matches
            for d in range(hi - 1, lo - 1, -1):
                j = _partner(i, e, d, sites, events)
                if _pairs_with(i, e, j, sj, occ, sites, events):
                    last_e, last_j = e, j
                    break
    return last_e, last_j


@njit(inline="always", **KERNEL)
def _node_sum(values, k):
    """Sum of node k's ARITY children, added in a fixed order: a node's value depends only on
    the leaves below it, so incremental updates equal a rebuild bit for bit."""
    c = ARITY * k + 1
    acc = 0.0
    for j in range(ARITY):
        acc += values[c + j]
    return acc


@njit(inline="always", **KERNEL)
def _tree_set(tree, i, value):
    """Set leaf i and recompute its ancestors."""
    values = tree.values
    k = tree.first_leaf + i
    values[k] = value
    while k > 0:
        k = (k - 1) // ARITY
        values[k] = _node_sum(values, k)


@njit(**KERNEL)
def build_tree(tree, occ, sites, events, rate):
    """Every leaf from the occupation, then every node: the tree of a phase's rates."""
    values, first_leaf = tree.values, tree.first_leaf
    values[:] = 0.0
    for i in range(occ.shape[0]):
        values[first_leaf + i] = _site_rate(i, occ, sites, events, rate)
    for k in range(first_leaf - 1, -1, -1):
        values[k] = _node_sum(values, k)


@njit(inline="always", **KERNEL)
def _refresh(x, r, changed, occ, sites, events, rate, tree, reach):
    """Recompute the rates that a change at site x (``changed``: the bits of the species it
    lost and gained) can have changed: x's, and those of the sites within r hops that read one
    of those species at their distance from x."""
    d = 1
    for m in range(-1, sites.near_count[x, r]):
        if m < 0:
            y = x
        else:
            while m >= sites.near_count[x, d]:
                d += 1
            y = sites.near[x, m]
            if y < 0 or (reach.reads[occ[y], d] & changed) == 0:
                continue  # its events do not look at what changed, there
        v = _site_rate(y, occ, sites, events, rate)
        if v != tree.values[tree.first_leaf + y]:
            _tree_set(tree, y, v)


@njit(inline="always", **KERNEL)
def _change(a, b):
    """The species bits of a site's change from species a to b."""
    return (np.uint64(1) << np.uint64(a)) | (np.uint64(1) << np.uint64(b))


@njit(**KERNEL)
def _collect_cluster(i, occ, sites, members, max_size, scratch):
    """Breadth-first walk of the cluster of site i: the connected sites holding ``members``
    species, and whatever rests on them. Fills ``scratch.cluster`` and marks its sites with
    ``scratch.stamp``.

    Returns:
        (sites in the cluster, member atoms); stops once there are more than max_size atoms.
    """
    bnb, supported = sites.bond_neighbours, sites.supported
    mark, stamp, cluster = scratch.mark, scratch.stamp[0], scratch.cluster
    cluster[0] = i
    mark[i] = stamp
    n, head, size = 1, 0, 0
    while head < n:
        x = cluster[head]
        head += 1
        if (members >> np.uint64(occ[x])) & np.uint64(1):
            size += 1
            if size > max_size:
                return n, size
            for d in range(bnb.shape[1]):
                y = bnb[x, d]
                if (y >= 0 and mark[y] != stamp
                        and (members >> np.uint64(occ[y])) & np.uint64(1)):
                    mark[y] = stamp
                    cluster[n] = y
                    n += 1
        for d in range(supported.shape[1]):  # what rests on x rides along
            y = supported[x, d]
            if y >= 0 and mark[y] != stamp and occ[y] != 0:
                mark[y] = stamp
                cluster[n] = y
                n += 1
    return n, size


@njit(**KERNEL)
def _translate(n, shift, occ, sites, pinned, scratch):
    """Move the n sites of the cluster to ``shift[cluster]`` if nothing forbids it: a site of a
    pinned type under it, an occupied target outside the cluster, or a support left behind."""
    site_type, support = sites.site_type, sites.support
    mark, stamp, cluster, carried = scratch.mark, scratch.stamp[0], scratch.cluster, scratch.carried
    for m in range(n):
        x = cluster[m]
        if pinned[site_type[x]] or (occ[shift[x]] != 0 and mark[shift[x]] != stamp):
            return False
        for c in range(support.shape[1]):
            if support[x, c] >= 0 and mark[support[x, c]] != stamp:
                return False
    for m in range(n):
        carried[m] = occ[cluster[m]]
        occ[cluster[m]] = 0
    for m in range(n):
        occ[shift[cluster[m]]] = carried[m]
    return True


@njit(**KERNEL)
def advance_surface(occ, sites, events, rate, tree, reach, moves, scratch, event_counts, clock,
                    counter, key0, key1, t_stop, end_of_phase, max_events):
    """Execute events until the clock would pass t_stop, or max_events are done (or as many
    rejected cluster-migration candidates).

    ``clock`` (float64[1], time of the last event or phase start [s]) and ``event_counts``
    (int64[n_events]) are updated in place. ``counter`` is the number of draws consumed so far.

    Returns:
        (status, counter, events executed, candidates rejected): status DONE when t_stop is
        reached, MORE otherwise.
    """
    values, first_leaf = tree.values, tree.first_leaf
    executed = 0
    rejected = 0
    while executed < max_events and rejected < max_events:
        total = values[0]
        if not total > 0.0:
            if end_of_phase:
                clock[0] = t_stop
            return DONE, counter, executed, rejected
        x0, x1, x2, x3 = draw(counter, 0, STREAM_EXACT, key0, key1)
        dt = exponential(x2, x3) / total
        if clock[0] + dt > t_stop:
            if end_of_phase:
                counter += 1
                clock[0] = t_stop
            return DONE, counter, executed, rejected
        counter += 1
        clock[0] += dt
        # descend the sum tree; never into a zero-rate subtree
        u = unit_interval(x0, x1) * total
        k = 0
        while k < first_leaf:
            c = ARITY * k + 1
            chosen, last, u_last = -1, 0, u
            for m in range(ARITY):
                v = values[c + m]
                if v > 0.0:
                    last, u_last = m, u
                    if u < v:
                        chosen = m
                        break
                u -= v
            if chosen < 0:  # rounding at the top end: the last child with a positive rate
                chosen, u = last, u_last
            k = c + chosen
        i = k - first_leaf
        if u >= values[k]:
            u = values[k] * 0.5
        elif u < 0.0:
            u = 0.0
        e, j = _choose_channel(i, u, occ, sites, events, rate)
        if e < 0:  # the tree and the channels disagree: stop before any wrong move
            return BROKEN, counter, executed, rejected
        if moves.migrating[e]:
            y0, y1, y2, y3 = draw(counter - 1, 1, STREAM_EXACT, key0, key1)
            scratch.stamp[0] += 1
            n, size = _collect_cluster(i, occ, sites, moves.members, moves.max_size, scratch)
            translations = moves.translations
            moved, d = False, 0
            if size <= moves.max_size and unit_interval(y0, y1) < moves.accept[size]:
                d = min(int(unit_interval(y2, y3) * translations.shape[0]),
                        translations.shape[0] - 1)
                moved = _translate(n, translations[d], occ, sites, moves.pinned, scratch)
            if not moved:
                rejected += 1
                continue
            event_counts[e] += 1
            executed += 1
            for m in range(2 * n):  # the old sites, then the new ones
                x = scratch.cluster[m] if m < n else translations[d, scratch.cluster[m - n]]
                _refresh(x, reach.depends, ~np.uint64(0), occ, sites, events, rate, tree,
                         reach)
            continue
        occ[i] = events.site_out[e, 0]
        if j >= 0:
            occ[j] = events.site_out[e, 1]
        event_counts[e] += 1
        executed += 1
        # recompute the rates that depend on the changed sites
        radius, a, b = reach.radius, events.site_in[e, 0], events.site_out[e, 0]
        _refresh(i, max(radius[a], radius[b]), _change(a, b), occ, sites, events, rate, tree,
                 reach)
        if j >= 0:
            a, b = events.site_in[e, 1], events.site_out[e, 1]
            _refresh(j, max(radius[a], radius[b]), _change(a, b), occ, sites, events, rate,
                     tree, reach)
    return MORE, counter, executed, rejected




class Problem(NamedTuple):
    """The tables the kernels read for one model, shared by every surface that runs it."""

    sites: SiteTables
    events: EventTables
    moves: MigrationTables
    reach: Reach
    first_leaf: int  # of the sum tree
    tree_size: int  # nodes of the sum tree: first_leaf + 8^depth
    scratch_size: int  # sites of cluster-walk scratch space (1 without cluster migration)


def problem_for(model) -> Problem:
    """The kernel tables of a compiled model (kmc_ald.model.compile.Model)."""
    lattice, mechanism = model.lattice, model.mechanism
    depends = mechanism.interaction_range  # 0: rates depend on the site itself only
    if lattice.stacked:
        # whether a channel at y is open depends on what holds up y and its partner j, one hop
        # beyond the farthest partner: everything within that reads everything
        depends = max(depends, 2, int(mechanism.partner_shell.max(initial=0)) + 1)
        reach = Reach(np.full(len(mechanism.species), depends, np.int32), depends,
                      np.full((len(mechanism.species), depends + 1), ~np.uint64(0), np.uint64))
    else:
        reach = Reach(mechanism.change_radius, depends, mechanism.reads(depends))
    sites = site_tables(lattice, max(mechanism.max_footprint, depends))
    moves = migration_tables(mechanism, lattice, model.rates)
    depth = 0
    while ARITY**depth < lattice.n_sites:
        depth += 1
    first_leaf = (ARITY**depth - 1) // (ARITY - 1)  # nodes above the leaf level
    return Problem(sites, event_tables(mechanism, model.rates), moves, reach, first_leaf,
                   first_leaf + ARITY**depth, lattice.n_sites if moves.migrating.any() else 1)


def scratch(size: int, replicas: int | None = None) -> Scratch:
    """Cluster-walk work space for one surface, or with a leading replica axis."""
    lead = () if replicas is None else (replicas,)
    return Scratch(np.zeros((*lead, size), np.int64), np.zeros((*lead, 1), np.int64),
                   np.zeros((*lead, size), np.int64), np.zeros((*lead, size), np.uint8))
