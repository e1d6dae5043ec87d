"""Parallel lattice KMC: synchronous sweeps over conflict-free update classes, with null events.

Method. Time advances in steps of tau. In each step every update class (kmc_ald.surfaces.coloring)
is swept in turn, and every site of the class makes one attempt: channel ch (an event and, for
two-site events, a partner) happens with probability k_ch * tau, and nothing happens with the
rest. Sites of one class never touch the same site, so a class is updated concurrently on a GPU
(kernels/sweep.cu) or a CPU (kmc_ald.engine.backends.cpu) with the same result. This is the
sublattice decomposition of Shim & Amar, Phys. Rev. B 71, 125432 (2005), with the null-event
(fixed time step) update of the synchronous methods of Martinez et al., J. Comput. Phys. 227,
3804 (2008).

Skipping the null events. A site's attempt is split into "is it a candidate" (probability
q = R_max * tau, the same for every site) and "which channel, given that it is" (probability
k / R_max). The candidates of a sweep are then found by jumping over geometric gaps rather than
by drawing for every site: a sweep costs about q + 1/(4 * domain_size) random blocks per site
instead of one, with the same distribution of outcomes, so most of the work of a null-event
method (most attempts are null at small tau) is never done.

What is approximate, and the knob that bounds it. The exact master equation is recovered as tau
goes to 0. The accuracy parameter is ``step_probability`` (p): tau = p / R_max, where R_max bounds
the total rate of any site in the phase, so no site has more than probability p of changing in
one attempt. The bias of observables is O(p): in a sweep a site changes with probability k * tau
instead of 1 - exp(-k tau), and classes later in a sweep see the changes of earlier classes of
the same sweep. The measured bias against the exact solver is in tests/validation and
bench/README.md (about 0.65 p relative for a Langmuir transient).

Determinism. Probabilities reach the backends as integers: conditional thresholds
floor(k / R_max * 2^64), compared with a 64-bit number, and a table of 32-bit gap thresholds
(:func:`kmc_ald.model.compile.candidate_gaps`). The numbers come from Philox blocks keyed by the
replica's seed and counted by (step, domain, draw, stream), a domain being domain_size consecutive
members of a class. No floating-point comparison happens in a sweep, so every backend, thread
count and launch layout gives the same lattice and event counts. The solver's state is
(occupation, clock, step counter): resuming is bit-identical.

Stiffness control (kmc_ald.engine.stiffness, the same control as the exact solver's). Here it
pays twice: scaled channels fire less often, and tau grows as R_max falls. Sweeps run in blocks
of about ``StiffnessControl.chunk`` candidates; a window is judged at the first block end after
each further chunk of executed events, as in the exact solver. When the factors change, the rest
of the phase is divided anew into whole sweeps of the new tau and the thresholds are reloaded.
Block ends are counted in sweeps from the last change, so where a run pauses (samples, chunks)
never moves them. One surface only: the control's decisions depend on that surface's events.

Replicas. ``replicas = n`` runs n copies of the same surface in one launch; the kinetics of
replica r use seed + r and equal a run of that seed alone on the same surface.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kmc_ald.engine.backends.base import DOMAIN_SIZE, Backend, DeviceProblem
from kmc_ald.engine.rng import split_seed
from kmc_ald.engine.solvers import DEFAULT_STEP_PROBABILITY, parallel_unsupported
from kmc_ald.engine.state import State
from kmc_ald.engine.stiffness import StiffnessControl
from kmc_ald.model.compile import (
    Model,
    candidate_gaps,
    sweep_schedule,
    thresholds,
)
from kmc_ald.model.tables import event_tables, site_tables
from kmc_ald.surfaces.coloring import update_classes


@dataclass(frozen=True)
class CandidateYield:
    """How much of the parallel solver's work is real events, judged on the initial surface:
    the events its candidates would give, against the candidates drawn (R_max per site)."""

    events_per_s: float  # summed over the recipe's phases, weighted by duration [1/s]
    candidates_per_s: float  # R_max * sites, likewise [1/s]
    candidates: float  # drawn over the whole run, per replica

    @property
    def fraction(self) -> float:
        """The fraction of candidates that fire (1: no null work)."""
        return self.events_per_s / self.candidates_per_s if self.candidates_per_s else 1.0


def candidate_yield(model: Model, step_probability: float = DEFAULT_STEP_PROBABILITY
                    ) -> CandidateYield:
    """The parallel solver's candidate yield on the model's initial surface. Every candidate
    of a sweep costs a draw and most fire nothing where one fast channel (a hop, a desorption)
    sets R_max for every site: then the exact solver, which draws only events, is faster. The
    initial surface may be quieter than later ones (an empty surface has no hops yet), so this
    bounds the yield from below only loosely; it is a reason to compare, not a verdict."""
    from kmc_ald.engine.solvers.exact import ExactSolver

    exact = ExactSolver(model, seed=0)
    state = State(model.occupation.copy(), np.zeros(model.mechanism.n_events, dtype=np.int64))
    events = candidates = 0.0
    for p, duration in enumerate(model.rates.durations):
        exact.start_phase(state, p)
        _, _, r_max = sweep_schedule(model.rates.rate[p], float(duration), model.mechanism,
                                     model.lattice.degree, step_probability)
        events += exact.total_rate() * float(duration)
        candidates += r_max * model.lattice.n_sites * float(duration)
    total = float(np.sum(model.rates.durations))
    cycles = model.scenario.recipe.cycles
    return CandidateYield(events / total if total else 0.0,
                          candidates / total if total else 0.0, candidates * cycles)


class ParallelSolver:
    """Synchronous sublattice solver over a backend (numba on the CPU, CUDA on the GPU)."""

    name = "parallel"
    unsupported = staticmethod(parallel_unsupported)

    def __init__(self, model: Model, seed: int, backend: Backend,
                 step_probability: float = DEFAULT_STEP_PROBABILITY, replicas: int = 1,
                 domain_size: int = DOMAIN_SIZE, stiffness: StiffnessControl | None = None):
        if not 0.0 < step_probability <= 0.5:
            raise ValueError(f"step_probability must lie in (0, 0.5], got {step_probability}")
        limit = self.unsupported(model, replicas=replicas, stiffness=stiffness is not None,
                                 step_probability=step_probability)
        if limit is not None:
            raise limit.error(model.scenario)
        lattice, mechanism = model.lattice, model.mechanism
        self.model = model
        self.lattice, self.mechanism, self.rates = lattice, mechanism, model.rates
        self.backend, self.step_probability, self.replicas = backend, step_probability, replicas
        self.stiffness = stiffness
        self.classes = update_classes(lattice, mechanism.interaction_range,
                                      writes_neighbour=bool(mechanism.sites_per_event.max() > 1))
        keys = np.array([split_seed((seed + r) % 2**64) for r in range(replicas)], dtype=np.uint32)
        self.problem = DeviceProblem(
            members=self.classes.members, class_offsets=self.classes.offsets,
            sites=site_tables(lattice, mechanism.max_footprint), events=event_tables(mechanism, model.rates),
            keys=keys, domain_size=domain_size)
        self._phase = -1

    def start_phase(self, state: State, phase: int) -> None:
        """Load the state's occupation, and the phase's time step and thresholds."""
        self._phase, self._t_end = phase, state.time + float(self.rates.durations[phase])
        occupation = state.occupation if state.occupation.ndim == 2 else state.occupation[None]
        self.backend.load(self.problem, np.broadcast_to(occupation, (self.replicas,
                                                                     self.lattice.n_sites)))
        if self.stiffness is not None:
            self.stiffness.start_phase(state)
            self._next_judgement = self.stiffness.chunk
        self._schedule(state)
        self._counts0 = self.backend.event_counts()

    def _schedule(self, state: State) -> None:
        """Divide the rest of the phase into sweeps at the current (scaled) rates."""
        rate = self.rates.rate[self._phase]
        if self.stiffness is not None:
            rate = rate * state.scale[:, None, None]
        self._sweeps, self.tau, r_max = sweep_schedule(rate, self._t_end - state.time,
                                                       self.mechanism, self.lattice.degree,
                                                       self.step_probability)
        self._t0, self._done = state.time, 0
        q = r_max * self.tau if self._sweeps else 0.0  # candidate probability per site
        self._candidates_per_sweep = q * self.lattice.n_sites * self.replicas
        if self._sweeps:
            self.backend.set_thresholds(thresholds(rate, r_max, self.mechanism.event_names),
                                        candidate_gaps(q, self.problem.domain_size))
        # sweeps between stiffness checks: about one chunk of candidates (events <= candidates)
        self._block = (max(1, int(self.stiffness.chunk // max(1.0, self._candidates_per_sweep)))
                       if self.stiffness is not None else 0)

    def sample_time(self, state: State, t_sample: float) -> float:
        """The clock after the last whole sweep before t_sample (up to one tau earlier): the
        time the sampled state is at. Labelling it t_sample would shift the trace by up to a
        step, a saw-tooth error wherever coverage changes fast."""
        return float(state.time)

    def advance(self, state: State, t_stop: float, end_of_phase: bool,
                max_events: int = 1 << 20) -> bool:
        """Sweep until the clock reaches t_stop [s] (the last whole step before it), or the phase
        end if ``end_of_phase``; False if it stopped early after about max_events candidates."""
        budget = float(max_events)  # the candidates the sweeps examine, at most
        while True:
            if end_of_phase or not self._sweeps:
                target = self._sweeps
            else:
                target = min(self._sweeps,
                             int(math.floor((t_stop - self._t0) / self.tau * (1 + 1e-12))))
            todo = min(target - self._done,
                       max(1, int(budget // max(1.0, self._candidates_per_sweep))))
            if self._block:
                todo = min(todo, self._block - self._done % self._block)
            if todo > 0:
                self.backend.sweeps(state.counter, todo)
                state.counter += todo
                self._done += todo
                budget -= todo * self._candidates_per_sweep
            self._collect(state)
            reached = self._done >= target
            if (todo > 0 and self._block and self._done < self._sweeps
                    and self._done % self._block == 0 and self._window_end(state)):
                reached = False  # a new tau: the target is counted anew
            if reached or budget <= 0:
                break
        if not self._sweeps:  # nothing can happen: the clock alone moves
            state.time = self._t_end if end_of_phase else max(state.time, min(t_stop, self._t_end))
        if reached:  # the occupation is copied back only when it is looked at
            occupation = self.backend.occupation()
            state.occupation[...] = occupation[0] if state.occupation.ndim == 1 else occupation
        return reached

    def _collect(self, state: State) -> None:
        """Event counts and clock after the sweeps done so far."""
        counts = self.backend.event_counts()  # small: replicas x events
        delta = counts - self._counts0
        self._counts0 = counts
        state.event_counts += delta.sum(axis=0) if state.event_counts.ndim == 1 else delta
        state.events += int(delta.sum())
        if self._sweeps:
            state.time = (self._t_end if self._done >= self._sweeps
                          else self._t0 + self._done * self.tau)

    def _window_end(self, state: State) -> bool:
        """At a block's end: judge the stiffness window once another chunk of events ran since
        the last judgement (as the exact solver does); True if the rates (and tau) changed."""
        chunk = self.stiffness.chunk
        if int((state.event_counts - state.window_start).sum()) < self._next_judgement:
            return False
        changed = self.stiffness.end_window(state)
        # counted from the window's start, which end_window may have moved to now
        self._next_judgement = (int((state.event_counts - state.window_start).sum()) // chunk
                                + 1) * chunk
        if changed:
            self._schedule(state)
        return changed
