"""The ensemble solver: the exact solver on many independent surfaces at once.

ALD questions are ensembles (error bars on a size distribution) and sweeps (growth per cycle
against temperature), i.e. many small cells, each best run by the rejection-free algorithm of the
exact solver, whatever the stiffness of its chemistry. Every replica runs that algorithm (the
kernels of kmc_ald.engine.bkl) on its own surface, clock and Philox stream: on the CPU as numba
threads over replicas, on a GPU as one CUDA thread per replica (kernels/ensemble.cu, the same
operations in the same order). Replica r of point p uses seed + r and equals
``kmc-ald run <point p> --solver exact --seed <seed + r>`` run alone, bit for bit, whatever the
backend, the batch it shares a launch with, or the chunks the run is cut into.

Replicas of several parameter points (kmc_ald.model.points) share one launch: each carries the
index of its point into rate tables stacked per point. All replicas reach every sample time and
phase end together (a phase ends at the same t for all), so the recipe loop sees one clock;
within a sample interval each replica's clock is its own.

Memory per replica is computed before anything is allocated (:func:`bytes_per_replica`); a
batch larger than the device holds is split into launches of as many replicas as fit. Stiffness
control is refused: its windows are judged on one surface's events.
"""
from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from kmc_ald.engine.backends.base import Surfaces
from kmc_ald.engine.bkl import Problem, problem_for
from kmc_ald.engine.rng import split_seed
from kmc_ald.engine.solvers import broken_invariant, exact_unsupported
from kmc_ald.engine.state import State
from kmc_ald.errors import BackendUnavailableError
from kmc_ald.model.points import PointSet


def bytes_per_replica(problem: Problem, n_events: int) -> int:
    """Memory one replica needs on its device [bytes]: occupation, sum tree, event counts,
    cluster-walk scratch, and its scalars."""
    n_sites = problem.sites.site_type.shape[0]
    return (n_sites + 8 * problem.tree_size + 8 * n_events + 17 * problem.scratch_size
            + 8 * 6 + 4 + 1)


def available_memory(backend_name: str) -> int:
    """Memory the backend may fill with replicas [bytes]: 80 % of what is free now."""
    if backend_name == "gpu":
        import cupy
        free, _total = cupy.cuda.runtime.memGetInfo()
    else:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # not a POSIX system: do not split
            return 1 << 62
    return int(0.8 * free)


class EnsembleSolver:
    """Exact BKL on every replica of a set of parameter points.

    Args:
        points: The parameter points (kmc_ald.model.points.point_set).
        seed: Replica r of every point uses seed + r.
        replicas: Replicas per point; replica r of point p is surface ``p * replicas + r``.
        backend: A factory of ensemble backends (NumbaEnsemble, CupyEnsemble), called once per
            launch group.
        memory: Bytes the replicas may take (default: :func:`available_memory`); a batch that
            needs more is split into launches that fit.
    """

    name = "exact"
    unsupported = staticmethod(exact_unsupported)

    def __init__(self, points: PointSet, seed: int, replicas: int, backend: Callable,
                 memory: int | None = None):
        model = points.first
        limit = self.unsupported(model, replicas=max(2, replicas))
        if limit is not None:
            raise limit.error(model.scenario)
        self.points, self.model, self.replicas = points, model, int(replicas)
        self.lattice, self.mechanism, self.rates = model.lattice, model.mechanism, model.rates
        self.problem = problem_for(model)
        g = len(points) * self.replicas
        self.n_surfaces = g
        self.point = np.repeat(np.arange(len(points), dtype=np.int32), self.replicas)
        self.keys = np.array([split_seed((seed + r) % 2**64) for r in range(self.replicas)]
                             * len(points), dtype=np.uint32).reshape(g, 2)
        first = backend()
        self.backend_name = first.name
        need = bytes_per_replica(self.problem, self.mechanism.n_events)
        room = available_memory(first.name) if memory is None else int(memory)
        per_launch = min(g, room // need)
        if per_launch < 1:
            raise BackendUnavailableError(
                f"one replica of this lattice needs {need / 2**20:.1f} MiB on the {first.name} "
                f"backend but {room / 2**20:.1f} MiB are free; use a smaller substrate.size")
        #: (first replica, end) of each launch group, with its backend
        self.groups = [((a, min(a + per_launch, g)), first if a == 0 else backend())
                       for a in range(0, g, per_launch)]
        self.memory_per_replica = need
        self.clock = np.zeros(g)
        self.done = np.zeros(g, np.uint8)
        self._target = None
        self._phase = -1
        #: cluster-migration candidates drawn and rejected (null events), since construction
        self.rejected_candidates = 0

    def initial_state(self) -> State:
        """Every replica at t = 0 on its point's initial surface."""
        occupation = np.stack([self.points.models[p].occupation for p in self.point])
        counts = np.zeros((self.n_surfaces, self.mechanism.n_events), np.int64)
        return State(occupation, counts, counter=np.zeros(self.n_surfaces, np.int64))

    def start_phase(self, state: State, phase: int) -> None:
        """Load the surfaces and the phase's rates of every point; rebuild the sum trees."""
        if not isinstance(state.counter, np.ndarray) or state.counter.shape != (self.n_surfaces,):
            raise ValueError(f"the ensemble's state needs one draw counter per replica "
                             f"({self.n_surfaces}), got {np.shape(state.counter)}")
        self._phase = phase
        self.clock[:] = state.time  # every replica is at the phase start
        self.done[:] = 0
        self._target = None
        rate = self.points.rate(phase)
        for (a, b), backend in self.groups:
            backend.load(self.problem, Surfaces(
                state.occupation[a:b], state.event_counts[a:b], self.clock[a:b],
                state.counter[a:b], self.keys[a:b], self.point[a:b], self.done[a:b]))
            backend.set_rates(rate)

    def advance(self, state: State, t_stop: float, end_of_phase: bool,
                max_events: int = 1 << 20) -> bool:
        """Run every replica up to t_stop [s]; False if some replica stopped early after
        ``max_events`` events. The state's occupation, counts and counters are current whenever
        it returns True.

        The budget is per replica, not shared: replicas differ in work by orders of magnitude
        (a mobile cluster on one surface, nothing on the next), and a replica cut short runs
        on alone in the next launch while the other threads wait. So one call runs a sample
        interval whole, unless a replica has more than ``max_events`` events in it."""
        target = (float(t_stop), bool(end_of_phase))
        if target != self._target:  # a new stop: every replica runs again
            self.done[:] = 0
            self._target = target
        for (a, b), backend in self.groups:
            if self.done[a:b].all():
                continue
            executed, rejected = backend.advance(t_stop, end_of_phase, int(max_events))
            state.events += executed
            self.rejected_candidates += rejected
            broken = np.flatnonzero(self.done[a:b] == 2)
            if broken.size:
                raise broken_invariant(float(self.clock[a + broken[0]]), int(a + broken[0]))
        finished = bool(self.done.all())
        if finished:
            for _, backend in self.groups:
                backend.sync()
            state.time = float(t_stop) if end_of_phase else float(self.clock.min())
        return finished

    def warm_up(self, state: State) -> None:
        """Compile (or load) the kernels, changing nothing (no replica runs an event)."""
        self.start_phase(state, state.phase)
        for _, backend in self.groups:
            backend.advance(state.time, False, 0)

    def sample_time(self, state: State, t_sample: float) -> float:
        """Every replica's state holds until its next event: it is the state at t_sample."""
        return float(t_sample)

    def site_rates(self) -> np.ndarray:
        """Total rate of the channels starting at each site of each replica [1/s] (a copy)."""
        return np.concatenate([backend.site_rates() for _, backend in self.groups])

