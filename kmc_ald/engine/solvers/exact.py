"""Exact serial kinetic Monte Carlo: the reference that every other solver is checked against.

One surface, advanced by the rejection-free kernels of kmc_ald.engine.bkl (BKL / Gillespie, with
cluster migration by thinning; the method and the stopping rules are described there), with
optional stiffness control. Units: time in s, rates in 1/s.
"""
from __future__ import annotations

import numpy as np

from kmc_ald.engine.bkl import BROKEN, DONE, SumTree, advance_surface, build_tree, problem_for, scratch
from kmc_ald.engine.rng import split_seed
from kmc_ald.engine.solvers import broken_invariant, exact_unsupported
from kmc_ald.engine.state import State
from kmc_ald.engine.stiffness import StiffnessControl
from kmc_ald.model.compile import Model


class ExactSolver:
    """Serial BKL solver for one compiled model (kmc_ald.model.compile.Model)."""

    name = "exact"
    unsupported = staticmethod(exact_unsupported)

    def __init__(self, model: Model, seed: int, stiffness: StiffnessControl | None = None):
        limit = self.unsupported(model, stiffness=stiffness is not None)
        if limit is not None:
            raise limit.error(model.scenario)
        self.model = model
        self.lattice, self.mechanism, self.rates = model.lattice, model.mechanism, model.rates
        self.stiffness = stiffness
        self.key = split_seed(seed)
        p = self.problem = problem_for(model)
        self._sites, self._events, self._moves, self._reach = p.sites, p.events, p.moves, p.reach
        self._tree = SumTree(np.zeros(p.tree_size), p.first_leaf)
        self._scratch = scratch(p.scratch_size)
        self._phase = -1
        #: cluster-migration candidates drawn and rejected (null events), since construction
        self.rejected_candidates = 0

    def start_phase(self, state: State, phase: int) -> None:
        """Load the rates of a recipe phase and rebuild the sum tree from the occupation."""
        self._phase = phase
        if self.stiffness is not None:
            self.stiffness.start_phase(state)
        self._load_rates(state)

    def _load_rates(self, state: State) -> None:
        """The phase's rates times the stiffness scale factors, and the sum tree over them."""
        rate = self.rates.rate[self._phase]
        if self.stiffness is not None:
            rate = rate * state.scale[:, None, None]
        self._rate = np.ascontiguousarray(rate)
        build_tree(self._tree, state.occupation, self._sites, self._events, self._rate)

    def warm_up(self, state: State) -> None:
        """Compile (or load from numba's cache) the kernels, changing nothing: so that a run's
        events per second do not include it."""
        self.start_phase(state, state.phase)
        self._advance(state, state.time, False, 0)

    def sample_time(self, state: State, t_sample: float) -> float:
        """The state at a stop holds until the next event: it is the state at t_sample."""
        return float(t_sample)

    def site_rates(self) -> np.ndarray:
        """Total rate of the channels starting at each site [1/s] (a copy)."""
        first = self._tree.first_leaf
        return self._tree.values[first:first + self.lattice.n_sites].copy()

    def total_rate(self) -> float:
        """Sum of all channel rates in the current state [1/s]."""
        return float(self._tree.values[0])

    def advance(self, state: State, t_stop: float, end_of_phase: bool,
                max_events: int = 1 << 20) -> bool:
        """Run events up to time t_stop [s]; False if it stopped early after max_events.

        With stiffness control, the scale factors are updated whenever a window of executed
        events completes (window ends depend on event counts only, not on t_stop).
        """
        if self.stiffness is None:
            return self._advance(state, t_stop, end_of_phase, max_events)
        control = self.stiffness
        while True:
            in_chunk = int((state.event_counts - state.window_start).sum()) % control.chunk
            budget = min(max_events, control.chunk - in_chunk)
            before = state.events
            done = self._advance(state, t_stop, end_of_phase, budget)
            max_events -= state.events - before
            if state.events - before == budget and control.end_window(state):
                self._load_rates(state)
            if done or max_events <= 0:
                return done

    def _advance(self, state: State, t_stop: float, end_of_phase: bool, max_events: int) -> bool:
        clock = np.array([state.time])
        status, counter, executed, rejected = advance_surface(
            state.occupation, self._sites, self._events, self._rate, self._tree, self._reach,
            self._moves, self._scratch, state.event_counts, clock, np.int64(state.counter),
            np.uint64(self.key[0]), np.uint64(self.key[1]), float(t_stop), bool(end_of_phase),
            int(max_events))
        self.rejected_candidates += int(rejected)
        state.time = float(clock[0])
        state.counter = int(counter)
        state.events += int(executed)
        if status == BROKEN:
            raise broken_invariant(state.time)
        return status == DONE
