"""The CPU backend of the parallel solver: a numba twin of ``kernels/sweep.cu``.

Same integers, same order of channels, same Philox words as the CUDA kernel, so the two give
identical lattices and event counts (tests compare them bit for bit through the host shim).
Within a sweep the classes run in order; the (replica, domain) work items of one class run in
parallel threads (``prange``), each thread counting events apart, so the result does not depend
on the number of threads.
"""
from __future__ import annotations

import numpy as np
from numba import (
    get_num_threads,
    get_thread_id,
    njit,
    parallel_chunksize,
    prange,
    set_num_threads,
)

from kmc_ald.engine.backends.base import DeviceProblem, Surfaces
from kmc_ald.engine.bkl import BROKEN, DONE, Problem, Scratch, SumTree, advance_surface, build_tree, scratch
from kmc_ald.engine.channels import KERNEL, blocked, bond_count
from kmc_ald.engine.rng import STREAM_SWEEP, STREAM_SWEEP_START, philox4x32_10

_M32 = np.uint64(0xFFFFFFFF)


@njit(inline="always", **KERNEL)
def _attempt(i, o, u, sites, events, thr):
    """The channel site i executes for the 64-bit number u: (event, partner or -1), or (-1, -1)."""
    s = o[i]
    nb = sites.neighbours
    degree = nb.shape[1]
    acc = np.uint64(0)
    for k in range(events.offset[s], events.offset[s + 1]):
        e = events.order[k]
        f = events.footprint[e]
        if f > 0 and blocked(i, f, events.block_mask[e], o, sites.near, sites.near_count):
            continue
        t = np.uint64(thr[e, sites.site_type[i], bond_count(i, events.count_mask[e], o, nb)])
        if t == 0:
            continue
        if events.sites_per_event[e] == 1:
            acc += t
            if u < acc:
                return e, -1
        else:
            sj = events.site_in[e, 1]
            for d in range(degree):
                if o[nb[i, d]] != sj:
                    continue
                acc += t
                if u < acc:
                    return e, nb[i, d]
    return -1, -1


@njit(inline="always", **KERNEL)
def _gap(z, gaps):
    """Members skipped before the next candidate: how many leading entries of the decreasing
    table (length a power of two) exceed z. Halvings without branches, then the last entry."""
    g = 0
    step = gaps.shape[0] >> 1
    while step > 0:
        g += step * np.int64(z < gaps[g + step - 1])
        step >>= 1
    return g + np.int64(z < gaps[g])


@njit(parallel=True, nogil=True, cache=True)
def _sweeps(first_step, n_steps, members, class_offsets, domain_offsets, domain_size, occ,
            sites, events, thr, gaps, counts, keys, chunks):
    """Sweep every class in order, n_steps times; the (replica, domain) work items of a class run
    in parallel chunks. ``counts`` is [threads, replicas, events]: each thread counts apart."""
    n_replicas = occ.shape[0]
    for step in range(first_step, first_step + n_steps):
        c_lo = np.uint64(step) & _M32
        c_hi = np.uint64(step) >> np.uint64(32)
        for c in range(class_offsets.shape[0] - 1):
            lo = class_offsets[c]
            n = class_offsets[c + 1] - lo
            n_domains = domain_offsets[c + 1] - domain_offsets[c]
            work = n_domains * n_replicas
            n_chunks = min(work, chunks)
            for chunk in prange(n_chunks):
                tid = get_thread_id()
                for w in range(chunk * work // n_chunks, (chunk + 1) * work // n_chunks):
                    r = w // n_domains
                    k = w - r * n_domains
                    first = lo + k * domain_size
                    _sweep_domain(members[first:first + min(domain_size, n - k * domain_size)],
                                  np.uint64(domain_offsets[c] + k), c_lo, c_hi, occ[r],
                                  sites, events, thr, gaps, counts[tid, r], keys[r, 0],
                                  keys[r, 1])


@njit(inline="always", **KERNEL)
def _sweep_domain(dom, d, c_lo, c_hi, o, sites, events, thr, gaps, counts, k0, k1):
    """The candidates of one domain (the members ``dom``), found by geometric skipping."""
    x = philox4x32_10(c_lo, c_hi, d >> np.uint64(2), STREAM_SWEEP_START, k0, k1)
    pos = _gap(x[d & np.uint64(3)], gaps)
    j = np.uint64(0)
    while pos < dom.shape[0]:
        i = dom[pos]
        x0, x1, x2, _ = philox4x32_10(c_lo, c_hi, d, STREAM_SWEEP + (j << np.uint64(8)), k0, k1)
        u = (x0 << np.uint64(32)) | x1
        e, partner = _attempt(i, o, u, sites, events, thr)
        if e >= 0:
            o[i] = events.site_out[e, 0]
            if partner >= 0:
                o[partner] = events.site_out[e, 1]
            counts[e] += 1
        pos += 1 + _gap(x2, gaps)
        j += np.uint64(1)


#: Candidates per class sweep that one more thread needs to pay for its wake-up and barrier.
MIN_CANDIDATES_PER_THREAD = 4096


class NumbaBackend:
    """Sweeps on the CPU with numba, the members of each class spread over the threads."""

    name = "cpu"

    def load(self, problem: DeviceProblem, occupation: np.ndarray) -> None:
        self.p = problem
        self._occ = np.ascontiguousarray(occupation, dtype=np.uint8).copy()
        self._threads = get_num_threads()
        self._domains = problem.domain_offsets
        # each thread's counters are padded by a cache line (8 x uint64), so that two threads
        # never write to the same line (false sharing halved the 2-thread throughput)
        self._n_events = len(problem.events.sites_per_event)
        self._counts = np.zeros((self._threads, problem.n_replicas, self._n_events + 8),
                                dtype=np.uint64)

    def set_thresholds(self, thresholds: np.ndarray, gaps: np.ndarray) -> None:
        self._thr = np.ascontiguousarray(thresholds, dtype=np.uint64)
        self._gaps = np.ascontiguousarray(gaps, dtype=np.uint32)
        self._sweep_threads = self._threads_for(gaps)

    def _threads_for(self, gaps: np.ndarray) -> int:
        """Threads worth waking for one class sweep: every class ends at a barrier, which costs
        more than a few thousand candidates on a busy machine (2 threads ran 4-7x slower than
        one on small lattices). The candidate probability q is the gap table's first entry."""
        q = 1.0 - float(gaps[0]) / 2.0**32 if gaps.size else 1.0
        per_class = q * self.p.members.shape[0] * self.p.n_replicas / max(
            1, self.p.class_offsets.shape[0] - 1)
        return int(min(self._threads, max(1, per_class // MIN_CANDIDATES_PER_THREAD)))

    def sweeps(self, first_step: int, n_steps: int) -> None:
        p, threads = self.p, self._sweep_threads
        previous = get_num_threads()
        set_num_threads(threads)  # the results do not depend on it
        try:
            _sweeps(np.int64(first_step), np.int64(n_steps), p.members, p.class_offsets,
                    self._domains, np.int64(p.domain_size), self._occ, p.sites, p.events,
                    self._thr, self._gaps, self._counts, p.keys, np.int64(16 * threads))
        finally:
            set_num_threads(previous)

    def occupation(self) -> np.ndarray:
        return self._occ.copy()

    def event_counts(self) -> np.ndarray:
        return self._counts[:, :, :self._n_events].sum(axis=0).astype(np.int64)


# -- the ensemble solver: the exact solver's kernels, one replica per thread ----------------------

@njit(parallel=True, nogil=True, cache=True)
def _advance_replicas(occ, counts, clock, counter, keys, point, done, tree_values, first_leaf,
                      mark, stamp, cluster, carried, sites, events, rate, reach, moves, t_stop,
                      end_of_phase, max_events, executed, rejected, local_clock, local_counts,
                      local_stamp):
    """Run kmc_ald.engine.bkl.advance_surface on every replica not yet ``done`` (in parallel
    threads; each replica owns its rows, so the result does not depend on the threads).

    What a replica writes at every event (clock, event counts, walk stamp) goes to the running
    thread's own cache lines (``local_*`` [threads, ...]) and back to the replica's row after:
    adjacent replicas' rows share cache lines, and threads writing them at every event would
    stall each other."""
    for r in prange(occ.shape[0]):
        executed[r] = 0
        rejected[r] = 0
        if done[r]:
            continue
        tid = get_thread_id()
        n_events = counts.shape[1]
        local_clock[tid, 0] = clock[r]
        local_stamp[tid, 0] = stamp[r, 0]
        for e in range(n_events):
            local_counts[tid, e] = counts[r, e]
        status, c, ex, rj = advance_surface(
            occ[r], sites, events, rate[point[r]], SumTree(tree_values[r], first_leaf), reach,
            moves, Scratch(mark[r], local_stamp[tid, :1], cluster[r], carried[r]),
            local_counts[tid, :n_events], local_clock[tid, :1], counter[r],
            np.uint64(keys[r, 0]), np.uint64(keys[r, 1]), t_stop, end_of_phase, max_events)
        clock[r] = local_clock[tid, 0]
        stamp[r, 0] = local_stamp[tid, 0]
        for e in range(n_events):
            counts[r, e] = local_counts[tid, e]
        counter[r] = c
        executed[r] = ex
        rejected[r] = rj
        done[r] = 1 if status == DONE else (2 if status == BROKEN else 0)


@njit(parallel=True, nogil=True, cache=True)
def _build_trees(occ, point, tree_values, first_leaf, sites, events, rate):
    for r in prange(occ.shape[0]):
        build_tree(SumTree(tree_values[r], first_leaf), occ[r], sites, events, rate[point[r]])


class NumbaEnsemble:
    """The ensemble solver's replicas on the CPU: numba threads over replicas, in place on the
    host arrays it is given (no copies)."""

    name = "cpu"

    def load(self, problem: Problem, surfaces: Surfaces) -> None:
        self.p, self.s = problem, surfaces
        g = surfaces.occupation.shape[0]
        self._tree = np.zeros((g, problem.tree_size))
        self._scratch = scratch(problem.scratch_size, g)
        self._executed = np.zeros(g, np.int64)
        self._rejected = np.zeros(g, np.int64)
        # per thread, padded to whole cache lines (8 x 8 bytes)
        threads, events = get_num_threads(), surfaces.event_counts.shape[1]
        self._local = (np.zeros((threads, 8)), np.zeros((threads, 8 * (events // 8 + 1)), np.int64),
                       np.zeros((threads, 8), np.int64))

    def set_rates(self, rate: np.ndarray) -> None:
        self._rate = np.ascontiguousarray(rate, dtype=np.float64)
        p, s = self.p, self.s
        _build_trees(s.occupation, s.point, self._tree, p.first_leaf, p.sites, p.events,
                     self._rate)

    def advance(self, t_stop: float, end_of_phase: bool, max_events: int) -> tuple[int, int]:
        p, s, w = self.p, self.s, self._scratch
        with parallel_chunksize(1):  # replicas differ in work by orders: hand them out one by one
            _advance_replicas(s.occupation, s.event_counts, s.clock, s.counter, s.keys, s.point,
                              s.done, self._tree, p.first_leaf, w.mark, w.stamp, w.cluster,
                              w.carried, p.sites, p.events, self._rate, p.reach, p.moves,
                              float(t_stop), bool(end_of_phase), np.int64(max_events),
                              self._executed, self._rejected, *self._local)
        return int(self._executed.sum()), int(self._rejected.sum())

    def site_rates(self) -> np.ndarray:
        first = self.p.first_leaf
        return self._tree[:, first:first + self.s.occupation.shape[1]].copy()

    def sync(self) -> None:
        """The host arrays are the replicas' state already."""
