"""A scenario ready to run: the composition users meet (scenario → Model → solver → state →
observers), in the Python API and behind the command line.

:class:`Simulation` compiles the scenario once (kmc_ald.model.compile.compile_scenario), asks the
chosen solver whether it can run it, builds it, and runs the recipe loop
(kmc_ald.engine.recipe.run_recipe) with the observers a run needs: per-cycle statistics when the
scenario has a ``deposit`` section, the stack-height warning, and, with an output file, the run
file and the trajectory stream. Extra observers can be passed to :meth:`Simulation.run`. It never
prints. Times in s.

Example:
    >>> from kmc_ald.scenario.load import load_scenario
    >>> sim = Simulation(load_scenario("scenarios/langmuir.yaml"), seed=3)
    >>> summary = sim.run()
    >>> round(float(summary.coverage[-1, 1]), 1)      # theta_eq = 2 / (2 + 1)
    0.7
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kmc_ald.engine.recipe import (
    Observer,
    Progress,
    RunSummary,
    StackHeightWarning,
    coverage,
    run_recipe,
)
from kmc_ald.engine.state import State
from kmc_ald.errors import ScenarioError
from kmc_ald.model.compile import compile_scenario
from kmc_ald.scenario.schema import Scenario

__all__ = ["Simulation", "Progress", "RunSummary"]


class Simulation:
    """A scenario ready to run with a solver.

    Args:
        scenario: A validated scenario (kmc_ald.scenario.load.load_scenario).
        seed: The kinetic seed: overrides ``run.seed`` for the random stream of the events
            only. The substrate's site types stay placed by ``run.seed`` (the surface seed),
            so runs that differ in ``seed`` differ in kinetics, not in the surface; the command
            line's ``--seed`` sets ``run.seed``, i.e. both.
        solver: ``"exact"`` (rejection-free BKL, the reference) or ``"parallel"`` (sublattice
            sweeps on a backend); overrides ``run.solver``.
        backend: ``"auto"``, ``"cpu"`` or ``"gpu"``; overrides ``run.backend``. The exact
            solver runs one surface on the CPU, and replicas on either (the ensemble solver).
        replicas: Independent copies of the surface run together; replica r uses seed + r and
            equals that seed run alone (bit for bit with the exact solver). With more than one,
            the state, coverages and event counts gain a replica axis after the sample axis.
        points: Further parameter points run in the same ensemble (exact solver): scenarios
            that differ from ``scenario`` in rates only (temperature, pressures, sticking,
            barriers; kmc_ald.model.points). Row ``p * replicas + r`` of the replica axis is
            replica r of point p (point 0 is ``scenario``), and equals that point run alone
            with seed + r. A run file holds one scenario, so such a run is kept in memory.

    Example (two temperatures x 8 replicas in one launch):
        >>> from kmc_ald.scenario.load import load_scenario
        >>> quick = ("substrate.size=[4 nm, 4 nm]", "recipe.cycles=2")
        >>> cold = load_scenario("scenarios/al2o3_tma_h2o.yaml", quick)
        >>> hot = load_scenario("scenarios/al2o3_tma_h2o.yaml",
        ...                     (*quick, "recipe.temperature=300 degC"))
        >>> sim = Simulation(cold, solver="exact", backend="cpu", replicas=8, points=[hot])
        >>> sim.run().cycles["growth"].reshape(2, 2, 8).shape  # [cycle, point, replica]
        (2, 2, 8)
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, solver: str | None = None,
                 backend: str | None = None, replicas: int = 1,
                 points: Sequence[Scenario] = ()):
        self.scenario = scenario
        self.seed = scenario.run.seed if seed is None else int(seed)
        self.model = compile_scenario(scenario)
        self.replicas = int(replicas)
        self.points = (self.model, *(compile_scenario(p) for p in points))
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
        from kmc_ald.engine.stiffness import StiffnessControl
        control = (None if stiffness is None
                   else StiffnessControl(self.mechanism.reverse, stiffness.separation))
        #: why the run is not on the GPU (None when it is, or when the CPU was asked for);
        #: shown by the CLI and written into the run file's provenance
        self.backend_reason = None
        if len(self.points) > 1 and solver != "exact":
            raise ScenarioError("parameter points run with the exact solver (the ensemble); "
                                f"got solver {solver!r}")
        if solver == "exact" and (self.replicas > 1 or len(self.points) > 1):
            from kmc_ald.engine.backends.base import (
                gpu_unavailable_reason,
                select_ensemble_backend,
            )
            from kmc_ald.engine.solvers.ensemble import EnsembleSolver
            from kmc_ald.model.points import point_set
            self.solver = EnsembleSolver(point_set(self.points), self.seed, self.replicas,
                                         select_ensemble_backend(backend))
            self.state = self.solver.initial_state()
            self.backend = self.solver.backend_name
            if backend == "auto" and self.backend == "cpu":
                self.backend_reason = f"gpu unavailable: {gpu_unavailable_reason()}"
        elif solver == "exact":
            self.solver = ExactSolver(self.model, self.seed, control)
            self.backend = "cpu"
            if backend == "auto":
                self.backend_reason = "one surface runs on the CPU (a GPU runs replicas)"
        else:
            from kmc_ald.engine.backends.base import gpu_unavailable_reason, select_backend
            device = select_backend(backend)
            self.solver = ParallelSolver(self.model, self.seed, device,
                                         scenario.run.step_probability, self.replicas,
                                         stiffness=control)
            self.backend = device.name
            if backend == "auto" and device.name == "cpu":
                self.backend_reason = f"gpu unavailable: {gpu_unavailable_reason()}"
            if control is None:
                _warn_low_yield(self.model, scenario.run.step_probability)
        self._history = None  # the earlier run this one resumes, if any

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
        return coverage(self.model, self.state.occupation)

    def observers(self) -> list[Observer]:
        """The observers every run has: per-cycle statistics (with a ``deposit`` section) and
        the stack-height warning."""
        out: list[Observer] = []
        if self.scenario.deposit is not None:
            from kmc_ald.analysis.cycles import CycleRows, cycle_numbers
            history = self._history
            earlier = []
            if history is not None and history.cycles:
                done = cycle_numbers(history.cycles) <= self.state.cycle
                earlier = [{k: v[i] for k, v in history.cycles.items()}
                           for i in np.flatnonzero(done)]
            out.append(CycleRows(self.model, self.state, earlier))
        out.append(StackHeightWarning(self.model, self.state))
        return out

    def run(self, output: str | Path | None = None, *, overwrite: bool = False,
            progress: Callable[[Progress], None] | None = None,
            observers: Sequence[Observer] = ()) -> RunSummary:
        """Run every remaining cycle of the recipe; write the run file if ``output`` is given.

        A resumed simulation (:meth:`resume`) writes the earlier run's rows first, so the new
        file holds the whole run. ``observers`` are called after the built-in ones.
        """
        built_in = self.observers()
        if output is not None and len(self.points) > 1:
            raise ScenarioError("a run file holds one scenario: run parameter points without "
                                "an output file, or each point on its own")
        if output is None:
            return run_recipe(self.model, self.solver, self.state, [*built_in, *observers],
                              progress)
        from kmc_ald.io.runfile import writer_lock

        with writer_lock(output):  # no second run writes this file (or its trajectory) meanwhile
            return self._run_to_file(output, overwrite, progress, built_in, observers)

    def _run_to_file(self, output, overwrite, progress, built_in, observers) -> RunSummary:
        from kmc_ald.io.runfile import RunFileObserver, RunFileWriter

        history = self._history
        stream = self._trajectory(overwrite, Path(output))  # first: a refusal leaves no file
        try:
            with RunFileWriter(output, scenario_text=self.scenario.text,
                               overrides=self.scenario.overrides, lattice=self.lattice,
                               mechanism=self.mechanism, rates=self.rates,
                               solver=self.solver.name, backend=self.backend,
                               backend_reason=self.backend_reason, seed=self.seed,
                               replicas=self.replicas, overwrite=overwrite,
                               resumed_from=None if history is None else history.path) as writer:
                # after the statistics, whose rows the run file writes
                recorders: list[Observer] = [RunFileObserver(writer, self.model, self.state,
                                                             history)]
                if stream is not None:
                    from kmc_ald.io.structures import TrajectoryObserver
                    recorders.append(TrajectoryObserver(stream, self.model, self.state))
                    stream = None  # the observer closes it
                return run_recipe(self.model, self.solver, self.state,
                                  [*built_in, *recorders, *observers], progress)
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
        if cp is None and run.checkpoint_problem:
            raise RunFileError(f"{path}: {run.checkpoint_problem}, and no other checkpoint is "
                               "whole; the run cannot be continued from it")
        if cp is None:
            raise RunFileError(f"{path} holds no checkpoint (no cycle was completed and "
                               "flushed); run the scenario again instead")
        if run.checkpoint_problem:
            logging.getLogger("kmc_ald").warning(
                "%s: %s; continuing from the other checkpoint, at cycle %d", path,
                run.checkpoint_problem, int(cp["cycle"]))
        scenario = loads_scenario(run.scenario, f"{path}:parameters/scenario",
                                  (*run.overrides, *overrides))
        sim = cls(scenario, seed=int(run.provenance["seed"]), solver=run.provenance["solver"],
                  replicas=int(run.provenance.get("replicas", 1)))
        if cp["occupation"].shape != sim.state.occupation.shape:
            raise RunFileError(f"{path}: the checkpoint holds {cp['occupation'].shape} sites "
                               f"(replicas x sites) but the scenario builds "
                               f"{sim.state.occupation.shape}")
        counter = np.asarray(cp["counter"], dtype=np.int64)
        if counter.shape != np.shape(sim.state.counter):
            raise RunFileError(f"{path}: the checkpoint holds {counter.size} draw counter(s) "
                               f"but the run needs {np.size(sim.state.counter)}")
        sim.state = State(cp["occupation"].astype(np.uint8), cp["event_counts"].astype(np.int64),
                          float(cp["time"]), counter if counter.ndim else int(counter),
                          int(cp["events"]),
                          int(cp["cycle"]), int(cp["phase"]), cp["scale"].astype(float),
                          cp["window_start"].astype(np.int64))
        sim._history = run
        return sim

    def _trajectory(self, overwrite: bool, output: Path):
        """The extended-XYZ stream of ``output.trajectory`` (written with a run file), or None.

        A relative path is relative to the run file's folder (the original run's, when resuming).
        A resumed run appends to it (frames of a cycle cut short by a kill may then appear
        twice), and only to a file inside that folder: a run file's stored settings never make
        it write elsewhere. A new run replaces an existing trajectory only when it replaces its
        run file too (``overwrite`` onto an existing run file): one left by another run stays.
        """
        name = self.scenario.output.trajectory
        if name is None:
            return None
        from kmc_ald.errors import RunFileError
        from kmc_ald.io.structures import TrajectoryStream
        history = self._history
        folder = Path(output).parent if history is None else Path(history.path).parent
        path = folder / name
        if history is not None and (Path(name).is_absolute() or ".." in Path(name).parts):
            raise RunFileError(f"output.trajectory {name!r}: a resumed run appends only to a "
                               f"trajectory inside {folder} (a relative path without '..')")
        if history is None and path.exists() and not Path(output).exists():
            raise RunFileError(f"{path} exists (output.trajectory) but its run file {output} "
                               "does not: it belongs to another run; remove it, or set "
                               "output.trajectory to another name")
        return TrajectoryStream(path, self.scenario, self.lattice, self.mechanism.species,
                                append=history is not None, overwrite=overwrite)


#: Below this fraction of firing candidates the parallel solver warns that the exact one may be
#: faster (each candidate costs about what an exact event does).
LOW_CANDIDATE_YIELD = 1e-3


def _warn_low_yield(model, step_probability: float) -> None:
    """Warn, before a parallel run starts, when most of its work would be null candidates."""
    from kmc_ald.engine.solvers.parallel import candidate_yield

    found = candidate_yield(model, step_probability)
    if found.fraction >= LOW_CANDIDATE_YIELD:
        return
    logging.getLogger("kmc_ald").warning(
        "parallel solver: on the initial surface 1 in %.2g candidates fires (events %.3g 1/s "
        "against R_max x sites %.3g 1/s), and the run draws about %.2g candidates per replica; "
        "the exact solver draws events only and may be far faster here (--solver exact, or "
        "run.stiffness to slow the fast channels)", 1.0 / max(found.fraction, 1e-300),
        found.events_per_s, found.candidates_per_s, found.candidates)
