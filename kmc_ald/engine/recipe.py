"""The time loop of a recipe: cycles of phases, sampled, with observers that record what they need.

:func:`run_recipe` advances a solver through every remaining phase of every remaining cycle and
calls its observers at fixed points (HOOMD-blue's operations with triggers, SPPARKS' diagnostics):

* ``start(summary)`` once, before anything runs;
* ``sample(t, coverage)`` after each coverage sample (``output.samples_per_phase`` per phase, and
  one at t = 0 of a new run), t being the time the sampled state is at (``solver.sample_time``);
* ``phase_end(phase_index, row)`` after each phase, ``row`` = (cycle, phase name, t_start [s],
  t_end [s], events per type, stiffness scale factors);
* ``cycle_end(events, phase_coverage)`` after each cycle (events per type in the cycle, and the
  coverage at each phase end); observers are called in list order, so one may read what an
  earlier one put into the summary (the per-cycle statistics, for the run file);
* ``close()`` once, when the loop ends, normally or not.

The loop knows no file and no analysis: the run file, the trajectory stream and the per-cycle
statistics are observers (kmc_ald.io, kmc_ald.analysis), composed by kmc_ald.simulation. Times in
s. It never prints: progress goes to an optional callback.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from kmc_ald.engine.state import State
from kmc_ald.model.compile import Model

_log = logging.getLogger("kmc_ald")

#: Events per solver call: bounds how long a progress update or Ctrl-C can wait.
CHUNK_EVENTS = 1 << 20


@dataclass(frozen=True)
class Progress:
    """Where a run is; passed to the progress callback."""

    cycle: int  # 0-based
    cycles: int
    phase: int  # 0-based index within the cycle
    phase_name: str
    phase_fraction: float  # of the current phase, in [0, 1]
    time: float  # simulated time [s]
    events: int
    coverage: np.ndarray | None = None  # latest sample, per species


@dataclass
class RunSummary:
    """What a finished run returns: traces, per-phase rows, and the final state."""

    species: tuple[str, ...]
    event_names: tuple[str, ...]
    coverage_time: np.ndarray  # [s]
    coverage: np.ndarray  # [samples, n_species], fraction of surface sites
    phase_rows: list[tuple[int, str, float, float, np.ndarray, np.ndarray]] = field(
        default_factory=list)
    state: State | None = None
    wall_time: float = 0.0  # [s]
    startup_time: float = 0.0  # [s] compiling or loading the kernels, before wall_time
    events_at_start: int = 0  # events of an earlier run this one continues
    #: per-cycle statistics (kmc_ald.analysis.cycles), one array per column; empty without a
    #: ``deposit`` section. With replicas, a replica axis follows the cycle axis.
    cycles: dict[str, np.ndarray] = field(default_factory=dict)
    #: the same, one dict per cycle, as observers append them while the run goes
    cycle_rows: list[dict[str, np.ndarray]] = field(default_factory=list)

    @property
    def events(self) -> int:
        """Events executed by this run (not counting the run it resumed)."""
        return self.state.events - self.events_at_start

    @property
    def events_per_second(self) -> float:
        return self.events / self.wall_time if self.wall_time > 0 else float("nan")


class Observer:
    """Does nothing at every point of the loop; observers override the points they need."""

    def start(self, summary: RunSummary) -> None: ...
    def sample(self, t: float, coverage: np.ndarray) -> None: ...
    def phase_end(self, phase_index: int, row: tuple) -> None: ...
    def cycle_end(self, events: np.ndarray, phase_coverage: np.ndarray) -> None: ...
    def close(self) -> None: ...


def gas_exchange(mechanism, event_counts: np.ndarray) -> dict[str, tuple[int, int]]:
    """Gas molecules (consumed, released) by each gas, from executed events and stoichiometry."""
    consumed = event_counts @ mechanism.gas_in
    released = event_counts @ mechanism.gas_out
    return {g: (int(c), int(r)) for g, c, r in zip(mechanism.gases, consumed, released)}


def coverage(model: Model, occupation: np.ndarray) -> np.ndarray:
    """Fraction of surface sites holding each species (index 0: empty), per replica."""
    lattice = model.lattice
    n_species = len(model.mechanism.species)
    n_surface = lattice.n_surface_sites
    surface = (occupation[..., :n_surface] if lattice.surface_first
               else occupation[..., lattice.layer == 0]).reshape(-1, n_surface)
    replicas = surface.shape[0]
    index = surface + (n_species * np.arange(replicas))[:, None]  # one bincount for all
    counts = np.bincount(index.ravel(), minlength=replicas * n_species).reshape(replicas, -1)
    counts = counts[0] if occupation.ndim == 1 else counts
    return counts / lattice.n_surface_sites


def snapshot_due(model: Model, phase_index: int, cycle: int) -> bool:
    """Whether ``output.snapshots`` asks for the surface after phase ``phase_index`` of 0-based
    ``cycle`` (-1: the start of the run)."""
    recipe, snapshots = model.scenario.recipe, model.scenario.output.snapshots
    if phase_index < 0:
        return snapshots.takes("start", None, 0, recipe.cycles)
    last = phase_index == len(recipe.phases) - 1
    return (snapshots.takes("end_of_phase", recipe.phases[phase_index], cycle, recipe.cycles)
            or last and snapshots.takes("end_of_cycle", None, cycle, recipe.cycles))


class StackHeightWarning(Observer):
    """Warns, once per run, when a particle reaches the top layer of the stack: above it
    nothing can land, so growth is cut off there."""

    def __init__(self, model: Model, state: State):
        self.lattice, self.state, self.warned = model.lattice, state, False

    def cycle_end(self, events: np.ndarray, phase_coverage: np.ndarray) -> None:
        lattice = self.lattice
        if not lattice.stacked or self.warned:
            return
        if self.state.occupation[..., lattice.layer == lattice.n_layers - 1].any():
            self.warned = True
            _log.warning("cycle %d: a particle reached the top of the stack (substrate.stack."
                         "layers = %d); growth above it is cut off, so give more layers",
                         self.state.cycle, lattice.n_layers - 1)


def run_recipe(model: Model, solver, state: State, observers: Sequence[Observer] = (),
               progress: Callable[[Progress], None] | None = None) -> RunSummary:
    """Run every remaining cycle of the recipe from ``state`` (updated in place)."""
    recipe, rates = model.scenario.recipe, model.rates
    n_samples = model.scenario.output.samples_per_phase
    shape = coverage(model, state.occupation).shape
    summary = RunSummary(model.mechanism.species, model.mechanism.event_names,
                         np.zeros(0), np.zeros((0, *shape)), state=state,
                         events_at_start=state.events)
    times, values = [], []

    def sample(t: float) -> np.ndarray:
        value = coverage(model, state.occupation)
        times.append(t)
        values.append(value)
        for observer in observers:
            observer.sample(t, value)
        return value

    for observer in observers:
        observer.start(summary)
    warm_up = getattr(solver, "warm_up", None)
    if warm_up is not None:  # compile the kernels outside the timed run
        t0 = time.perf_counter()
        warm_up(state)
        summary.startup_time = time.perf_counter() - t0
    wall0 = time.perf_counter()
    try:
        if state.cycle == 0 and state.phase == 0 and state.events == 0:
            sample(state.time)
        cycle_start = state.event_counts.copy()
        phase_coverage = []
        while state.cycle < recipe.cycles:
            while state.phase < len(recipe.phases):
                p = state.phase
                name, duration = rates.phase_names[p], float(rates.durations[p])
                t_start, before = state.time, state.event_counts.copy()
                t_end = t_start + duration
                solver.start_phase(state, p)
                latest = None
                for k in range(1, n_samples + 1):
                    t_sample = t_end if k == n_samples else t_start + duration * k / n_samples
                    while not solver.advance(state, t_sample, k == n_samples, CHUNK_EVENTS):
                        if progress:
                            progress(Progress(state.cycle, recipe.cycles, p, name,
                                              (state.time - t_start) / duration,
                                              state.time, state.events, latest))
                    # the time the state is at: a solver that steps in whole sweeps stops at the
                    # last sweep before t_sample, and its sample is labelled with that time
                    latest = sample(solver.sample_time(state, t_sample))
                    if progress:
                        progress(Progress(state.cycle, recipe.cycles, p, name,
                                          k / n_samples, t_sample, state.events, latest))
                row = (state.cycle, name, t_start, t_end, state.event_counts - before,
                       state.scale.copy())
                summary.phase_rows.append(row)
                phase_coverage.append(latest)
                for observer in observers:
                    observer.phase_end(p, row)
                state.phase += 1
            state.phase = 0
            state.cycle += 1
            # a cycle resumed mid-way has no coverage for its earlier phases
            complete = len(phase_coverage) == len(recipe.phases)
            at_ends = np.stack(phase_coverage, axis=-2) if complete else None
            for observer in observers:
                observer.cycle_end(state.event_counts - cycle_start, at_ends)
            cycle_start = state.event_counts.copy()
            phase_coverage = []
    finally:
        summary.coverage_time = np.array(times)
        summary.coverage = np.array(values).reshape(len(times), *shape)
        summary.wall_time = time.perf_counter() - wall0
        if summary.cycle_rows:
            summary.cycles = {k: np.stack([r[k] for r in summary.cycle_rows])
                              for k in summary.cycle_rows[0]}
        for observer in observers:
            observer.close()
    return summary
