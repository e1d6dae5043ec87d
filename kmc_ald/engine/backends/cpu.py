"""The CPU backend of the parallel solver: a numba twin of ``kernels/sweep.cu``.

Same integers, same order of channels, same Philox words as the CUDA kernel, so the two give
identical lattices and event counts (tests compare them bit for bit through the host shim).
Within a sweep the classes run in order; the (replica, member) work items of one class run in
parallel threads (``prange``), each thread counting events apart, so the result does not depend
on the number of threads.
"""
from __future__ import annotations

import numpy as np
from numba import get_num_threads, get_thread_id, njit, prange

from kmc_ald.engine.backends.base import DeviceProblem
from kmc_ald.engine.channels import KERNEL, blocked, bond_count
from kmc_ald.engine.rng import STREAM_SWEEP, philox4x32_10

_M32 = np.uint64(0xFFFFFFFF)


@njit(inline="always", **KERNEL)
def _attempt(i, o, u, site_type, nb, near, near_count, ev_order, ev_offset, ev_sites, site_in,
             count_mask, footprint, block_mask, thr):
    """The channel site i executes for the 64-bit number u: (event, partner or -1), or (-1, -1)."""
    s = o[i]
    degree = nb.shape[1]
    acc = np.uint64(0)
    for k in range(ev_offset[s], ev_offset[s + 1]):
        e = ev_order[k]
        f = footprint[e]
        if f > 0 and blocked(i, f, block_mask[e], o, near, near_count):
            continue
        t = np.uint64(thr[e, site_type[i], bond_count(i, count_mask[e], o, nb)])
        if t == 0:
            continue
        if ev_sites[e] == 1:
            acc += t
            if u < acc:
                return e, -1
        else:
            sj = site_in[e, 1]
            for d in range(degree):
                if o[nb[i, d]] != sj:
                    continue
                acc += t
                if u < acc:
                    return e, nb[i, d]
    return -1, -1


@njit(parallel=True, nogil=True, cache=True)
def _sweeps(first_step, n_steps, members, class_offsets, occ, site_type, nb, near, near_count,
            ev_order, ev_offset, ev_sites, site_in, site_out, count_mask, footprint, block_mask,
            thr, counts, keys, chunks):
    """Sweep every class in order, n_steps times; the (replica, member) work items of a class run
    in parallel chunks. ``counts`` is [threads, replicas, events]: each thread counts apart."""
    n_replicas = occ.shape[0]
    for step in range(first_step, first_step + n_steps):
        c_lo = np.uint64(step) & _M32
        c_hi = np.uint64(step) >> np.uint64(32)
        for c in range(class_offsets.shape[0] - 1):
            lo = class_offsets[c]
            n = class_offsets[c + 1] - lo
            work = n * n_replicas
            n_chunks = min(work, chunks)
            for chunk in prange(n_chunks):
                tid = get_thread_id()
                for w in range(chunk * work // n_chunks, (chunk + 1) * work // n_chunks):
                    r = w // n
                    _attempt_and_apply(members[lo + w - r * n], r, c_lo, c_hi, occ[r], site_type,
                                       nb, near, near_count, ev_order, ev_offset, ev_sites,
                                       site_in, site_out, count_mask, footprint, block_mask, thr,
                                       counts[tid, r], keys[r, 0], keys[r, 1])


@njit(inline="always", **KERNEL)
def _attempt_and_apply(i, r, c_lo, c_hi, o, site_type, nb, near, near_count, ev_order, ev_offset,
                       ev_sites, site_in, site_out, count_mask, footprint, block_mask, thr, counts,
                       k0, k1):
    x0, x1, _, _ = philox4x32_10(c_lo, c_hi, i, STREAM_SWEEP, k0, k1)
    u = (x0 << np.uint64(32)) | x1
    e, j = _attempt(i, o, u, site_type, nb, near, near_count, ev_order, ev_offset, ev_sites,
                    site_in, count_mask, footprint, block_mask, thr)
    if e >= 0:
        o[i] = site_out[e, 0]
        if j >= 0:
            o[j] = site_out[e, 1]
        counts[e] += 1


class NumbaBackend:
    """Sweeps on the CPU with numba, the members of each class spread over the threads."""

    name = "cpu"

    def load(self, problem: DeviceProblem, occupation: np.ndarray) -> None:
        self.p = problem
        self._occ = np.ascontiguousarray(occupation, dtype=np.uint8).copy()
        self._threads = get_num_threads()
        self._counts = np.zeros((self._threads, problem.n_replicas, len(problem.event_sites)),
                                dtype=np.uint64)

    def set_thresholds(self, thresholds: np.ndarray) -> None:
        self._thr = np.ascontiguousarray(thresholds, dtype=np.uint64)

    def sweeps(self, first_step: int, n_steps: int) -> None:
        p = self.p
        _sweeps(np.int64(first_step), np.int64(n_steps), p.members, p.class_offsets, self._occ,
                p.site_type, p.neighbours, p.near, p.near_count, p.event_order, p.event_offset,
                p.event_sites, p.site_in, p.site_out, p.count_mask, p.footprint, p.block_mask,
                self._thr, self._counts, p.keys, np.int64(16 * self._threads))

    def occupation(self) -> np.ndarray:
        return self._occ.copy()

    def event_counts(self) -> np.ndarray:
        return self._counts.sum(axis=0).astype(np.int64)
