"""Run a scenario's recipe: cycles of phases, sampled, recorded and reported.

The :class:`Simulation` composes the pieces (scenario → lattice + compiled mechanism → solver
→ state) and owns the time loop. It never prints: progress goes to an optional callback and
results to the run file (kmc_ald.io.runfile) and to the returned :class:`RunSummary`. Times in s.

Example:
    >>> from kmc_ald.scenario.load import load_scenario
    >>> sim = Simulation(load_scenario("scenarios/langmuir.yaml"), seed=3)
    >>> summary = sim.run()
    >>> round(float(summary.coverage[-1, 1]), 1)      # theta_eq = 2 / (2 + 1)
    0.7
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kmc_ald.engine.state import State
from kmc_ald.model.compile import compile_scenario
from kmc_ald.scenario.schema import Scenario

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
    phase_rows: list[tuple[int, str, float, float, np.ndarray]] = field(default_factory=list)
    state: State | None = None
    wall_time: float = 0.0  # [s]
    events_at_start: int = 0  # events of an earlier run this one continues
    #: per-cycle statistics (kmc_ald.analysis.cycles), one array per column; empty without a
    #: ``deposit`` section. With replicas, a replica axis follows the cycle axis.
    cycles: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def events(self) -> int:
        """Events executed by this run (not counting the run it resumed)."""
        return self.state.events - self.events_at_start

    @property
    def events_per_second(self) -> float:
        return self.events / self.wall_time if self.wall_time > 0 else float("nan")


def gas_exchange(mechanism, event_counts: np.ndarray) -> dict[str, tuple[int, int]]:
    """Gas molecules (consumed, released) by each gas, from executed events and stoichiometry."""
    consumed = event_counts @ mechanism.gas_in
    released = event_counts @ mechanism.gas_out
    return {g: (int(c), int(r)) for g, c, r in zip(mechanism.gases, consumed, released)}


class Simulation:
    """A scenario ready to run with a solver.

    Args:
        scenario: A validated scenario (kmc_ald.scenario.load.load_scenario).
        seed: Overrides ``run.seed`` for the random stream (the substrate's site types stay
            placed by ``run.seed``, so replicas differ in kinetics, not in the surface).
        solver: ``"exact"`` (serial BKL, the reference) or ``"parallel"`` (sublattice sweeps on
            a backend); overrides ``run.solver``.
        backend: ``"auto"``, ``"cpu"`` or ``"gpu"`` for the parallel solver; overrides
            ``run.backend``. The exact solver always runs on the CPU.
        replicas: Independent copies of the surface run together (parallel solver only);
            replica r uses seed + r and equals that seed run alone. With more than one, the
            state, coverages and event counts gain a replica axis after the sample axis.
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, solver: str | None = None,
                 backend: str | None = None, replicas: int = 1):
        self.scenario = scenario
        self.seed = scenario.run.seed if seed is None else int(seed)
        self.model = compile_scenario(scenario)
        self.replicas = int(replicas)
        occupation = self.model.occupation.copy()
        counts = np.zeros(self.mechanism.n_events, dtype=np.int64)
        if self.replicas > 1:
            occupation = np.repeat(occupation[None], self.replicas, axis=0)
            counts = np.zeros((self.replicas, self.mechanism.n_events), dtype=np.int64)
        self.state = State(occupation, counts)
        solver = solver or scenario.run.solver
        backend = backend or scenario.run.backend
        stiffness = scenario.run.stiffness
        from kmc_ald.engine.solvers.exact import ExactSolver
        from kmc_ald.engine.solvers.parallel import ParallelSolver
        solver_class = ExactSolver if solver == "exact" else ParallelSolver
        limit = solver_class.unsupported(self.model, replicas=self.replicas, backend=backend,
                                         stiffness=stiffness is not None,
                                         **({} if solver == "exact" else
                                            {"step_probability": scenario.run.step_probability}))
        if limit is not None:
            raise limit.error(scenario)
        self.statistics = None
        if scenario.deposit is not None:
            from kmc_ald.analysis.cycles import CycleStatistics
            formulas = {g: (scenario.gases[g].formula if g in scenario.gases else None)
                        for g in self.mechanism.gases}
            self.statistics = CycleStatistics(scenario.deposit, self.lattice, self.mechanism,
                                              formulas)
        from kmc_ald.engine.stiffness import StiffnessControl
        control = (None if stiffness is None
                   else StiffnessControl(self.mechanism.reverse, stiffness.separation))
        #: why the run is not on the GPU (None when it is, or when the CPU was asked for);
        #: shown by the CLI and written into the run file's provenance
        self.backend_reason = None
        if solver == "exact":
            self.solver = ExactSolver(self.model, self.seed, control)
            self.backend = "cpu"
            if backend == "auto":
                self.backend_reason = "the exact solver runs on the CPU only"
        else:
            from kmc_ald.engine.backends.base import gpu_unavailable_reason, select_backend
            device = select_backend(backend)
            self.solver = ParallelSolver(self.model, self.seed, device,
                                         scenario.run.step_probability, self.replicas,
                                         stiffness=control)
            self.backend = device.name
            if backend == "auto" and device.name == "cpu":
                self.backend_reason = f"gpu unavailable: {gpu_unavailable_reason()}"
        self._history = None  # the earlier run this one resumes, if any
        self._warned_top = False  # a particle reached the top of the stack (warned once)

    @property
    def lattice(self):
        """The model's lattice (kmc_ald.surfaces.lattice.Lattice)."""
        return self.model.lattice

    @property
    def mechanism(self):
        """The model's compiled mechanism (kmc_ald.model.compile.Mechanism)."""
        return self.model.mechanism

    @property
    def rates(self):
        """The model's rate tables (kmc_ald.model.compile.RateTables)."""
        return self.model.rates

    def coverage(self) -> np.ndarray:
        """Fraction of surface sites holding each species (index 0: empty), per replica."""
        n_species = len(self.mechanism.species)
        surface = self.state.occupation[..., self.lattice.layer == 0].reshape(
            -1, self.lattice.n_surface_sites)
        counts = np.stack([np.bincount(s, minlength=n_species) for s in surface])
        counts = counts[0] if self.state.occupation.ndim == 1 else counts
        return counts / self.lattice.n_surface_sites

    def run(self, output: str | Path | None = None, *, overwrite: bool = False,
            progress: Callable[[Progress], None] | None = None) -> RunSummary:
        """Run every remaining cycle of the recipe; write the run file if ``output`` is given.

        A resumed simulation (:meth:`resume`) writes the earlier run's rows first, so the new
        file holds the whole run.
        """
        if output is None:
            return self._run(None, progress)
        from kmc_ald.io.runfile import RunFileWriter

        history = self._history
        stream = self._trajectory(overwrite)  # before the run file: a refusal leaves no file
        try:
            with RunFileWriter(output, scenario_text=self.scenario.text,
                               overrides=self.scenario.overrides, lattice=self.lattice,
                               mechanism=self.mechanism, rates=self.rates,
                               solver=self.solver.name, backend=self.backend,
                               backend_reason=self.backend_reason, seed=self.seed,
                               replicas=self.replicas, overwrite=overwrite,
                               resumed_from=None if history is None else history.path) as writer:
                if history is not None:
                    writer.add_history(history)
                return self._run(writer, progress, stream)
        finally:
            if stream is not None:
                stream.close()

    @classmethod
    def resume(cls, path: str | Path, overrides: tuple[str, ...] = ()) -> Simulation:
        """The run stored in a run file, continued from its checkpoint, bit-identically.

        Args:
            path: A run file with a checkpoint (at least one flushed cycle).
            overrides: Extra ``PATH=VALUE`` overrides, e.g. ``("recipe.cycles=200",)`` to extend
                a finished run. Changing anything but the number of cycles breaks the identity
                with an uninterrupted run, and is the caller's responsibility.
        """
        from kmc_ald.errors import RunFileError
        from kmc_ald.io.runfile import read_run
        from kmc_ald.scenario.load import loads_scenario

        run = read_run(path)
        cp = run.checkpoint
        if cp is None:
            raise RunFileError(f"{path} holds no checkpoint (no cycle was completed and "
                               "flushed); run the scenario again instead")
        scenario = loads_scenario(run.scenario, f"{path}:parameters/scenario",
                                  (*run.overrides, *overrides))
        sim = cls(scenario, seed=int(run.provenance["seed"]), solver=run.provenance["solver"],
                  replicas=int(run.provenance.get("replicas", 1)))
        if cp["occupation"].shape != sim.state.occupation.shape:
            raise RunFileError(f"{path}: the checkpoint holds {cp['occupation'].shape} sites "
                               f"(replicas x sites) but the scenario builds "
                               f"{sim.state.occupation.shape}")
        sim.state = State(cp["occupation"].astype(np.uint8), cp["event_counts"].astype(np.int64),
                          float(cp["time"]), int(cp["counter"]), int(cp["events"]),
                          int(cp["cycle"]), int(cp["phase"]), cp["scale"].astype(float),
                          cp["window_start"].astype(np.int64))
        sim._history = run
        return sim

    def _run(self, writer, progress, stream=None) -> RunSummary:
        recipe, rates, state = self.scenario.recipe, self.rates, self.state
        n_samples = self.scenario.output.samples_per_phase
        summary = RunSummary(self.mechanism.species, self.mechanism.event_names,
                             np.zeros(0), np.zeros((0, *self.coverage().shape)),
                             state=state, events_at_start=state.events)
        times, values = [], []

        def sample(t: float) -> np.ndarray:
            value = self.coverage()
            times.append(t)
            values.append(value)
            if writer is not None:
                writer.add_coverage(state.events, t, value)
            return value

        history = self._history
        cycle_rows: list[dict[str, np.ndarray]] = []
        if history is not None and history.cycles:
            done = history.cycles["cycle"] <= state.cycle
            cycle_rows = [{k: v[i] for k, v in history.cycles.items()}
                          for i in np.flatnonzero(done)]
        cycle_start = state.event_counts.copy()
        phase_coverage = []

        snapshots = self.scenario.output.snapshots

        def snapshot(phase_index: int) -> None:
            name = recipe.phases[phase_index].name if phase_index >= 0 else ""
            cycle = state.cycle + 1 if phase_index >= 0 else 0
            writer.add_snapshot(cycle, name, phase_index, state.time, state.events,
                                state.occupation)
            if stream is not None:
                stream.write(state.occupation, cycle=cycle, phase=name, time=state.time,
                             step=state.events)

        wall0 = time.perf_counter()
        if state.cycle == 0 and state.phase == 0 and state.events == 0:
            sample(state.time)
            if writer is not None and snapshots.takes("start", None, 0, recipe.cycles):
                snapshot(-1)
        try:
            while state.cycle < recipe.cycles:
                while state.phase < len(recipe.phases):
                    p = state.phase
                    name, duration = rates.phase_names[p], float(rates.durations[p])
                    t_start, before = state.time, state.event_counts.copy()
                    t_end = t_start + duration
                    self.solver.start_phase(state, p)
                    latest = None
                    for k in range(1, n_samples + 1):
                        t_sample = t_end if k == n_samples else t_start + duration * k / n_samples
                        while not self.solver.advance(state, t_sample, k == n_samples,
                                                      CHUNK_EVENTS):
                            if progress:
                                progress(Progress(state.cycle, recipe.cycles, p, name,
                                                  (state.time - t_start) / duration,
                                                  state.time, state.events, latest))
                        latest = sample(t_sample)
                        if progress:
                            progress(Progress(state.cycle, recipe.cycles, p, name,
                                              k / n_samples, t_sample, state.events, latest))
                    row = (state.cycle, name, t_start, t_end, state.event_counts - before,
                           state.scale.copy())
                    summary.phase_rows.append(row)
                    phase_coverage.append(latest)
                    if writer is not None:
                        writer.add_phase(*row)
                        last = p == len(recipe.phases) - 1
                        if (snapshots.takes("end_of_phase", recipe.phases[p], state.cycle,
                                            recipe.cycles)
                                or last and snapshots.takes("end_of_cycle", None, state.cycle,
                                                            recipe.cycles)):
                            snapshot(p)
                    state.phase += 1
                state.phase = 0
                state.cycle += 1
                if self.statistics is not None and len(phase_coverage) == len(recipe.phases):
                    deposited = (cycle_rows[-1]["deposited"] if cycle_rows
                                 else np.zeros(self.coverage().shape[:-1]))
                    row = self._cycle_row(state, state.event_counts - cycle_start, deposited,
                                          np.stack(phase_coverage, axis=-2))
                    cycle_rows.append(row)
                    if writer is not None:
                        writer.add_cycle(row)
                cycle_start = state.event_counts.copy()
                phase_coverage = []
                self._check_stack_height()
                if writer is not None:
                    writer.end_cycle(state)
        finally:
            summary.coverage_time = np.array(times)
            summary.coverage = np.array(values).reshape(len(times), *self.coverage().shape)
            summary.wall_time = time.perf_counter() - wall0
            if cycle_rows:
                summary.cycles = {k: np.stack([r[k] for r in cycle_rows]) for k in cycle_rows[0]}
        return summary

    def _check_stack_height(self) -> None:
        """Warn, once per run, when a particle reaches the top layer of the stack: above it
        nothing can land, so growth is cut off there."""
        lattice = self.lattice
        if not lattice.stacked or self._warned_top:
            return
        top = self.state.occupation[..., lattice.layer == lattice.n_layers - 1]
        if top.any():
            self._warned_top = True
            _log.warning("cycle %d: a particle reached the top of the stack (substrate.stack."
                         "layers = %d); growth above it is cut off, so give more layers",
                         self.state.cycle, lattice.n_layers - 1)

    def _trajectory(self, overwrite: bool):
        """The extended-XYZ stream of ``output.trajectory`` (written with a run file), or None.

        A resumed run appends to it (frames of a cycle cut short by a kill may then appear
        twice); a new run replaces it only when it may replace the run file.
        """
        path = self.scenario.output.trajectory
        if path is None:
            return None
        from kmc_ald.io.structures import TrajectoryStream
        return TrajectoryStream(path, self.scenario, self.lattice, self.mechanism.species,
                                append=self._history is not None, overwrite=overwrite)

    def _cycle_row(self, state: State, events: np.ndarray, deposited: np.ndarray,
                   phase_coverage: np.ndarray) -> dict[str, np.ndarray]:
        """Per-cycle statistics; with replicas, one value per replica on a trailing axis."""
        stats = self.statistics
        if self.replicas == 1:
            return stats.row(state.cycle, state.time, state.occupation, events, float(deposited),
                             phase_coverage)
        # phase_coverage is [replica, phases, species] here; every column gains a replica axis
        rows = [stats.row(state.cycle, state.time, state.occupation[r], events[r],
                          float(deposited[r]), phase_coverage[r]) for r in range(self.replicas)]
        return {k: np.stack([row[k] for row in rows]) for k in rows[0]}
