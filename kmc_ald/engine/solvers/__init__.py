"""Solvers: what advances a state in time (exact, parallel), and how each says what it cannot run.

Every solver class answers ``unsupported(model, replicas=..., backend=..., stiffness=...)`` with an
:class:`Unsupported` (the reason, and the scenario path it concerns) or None, before anything is
allocated: ``Simulation`` asks before it builds a solver, a solver's constructor refuses with the
same reason, and ``kmc-ald check`` prints the answer of each solver and backend (as OpenMM's
platforms and HOOMD-blue's device notices say what they cannot do). The answers are written here,
without numba, so that ``check`` gives them at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kmc_ald.errors import BackendUnavailableError, KmcAldError, ScenarioError
from kmc_ald.model.compile import Model, sweep_schedule, thresholds
from kmc_ald.scenario.schema import Run

DEFAULT_STEP_PROBABILITY = Run.model_fields["step_probability"].default


@dataclass(frozen=True)
class Unsupported:
    """Why a solver cannot run a model."""

    reason: str
    path: tuple[str | int, ...] = ()  # the scenario path it concerns, if one does
    device: bool = False  # a limit of where the solver runs (exit code 3), not of the scenario

    def error(self, scenario) -> KmcAldError:
        """The error to raise: located in the scenario file where a path is known."""
        if self.device:
            return BackendUnavailableError(self.reason)
        if self.path:
            return scenario.problems([(self.path, None, self.reason)])
        return ScenarioError(self.reason)


def exact_unsupported(model: Model, *, replicas: int = 1, backend: str = "cpu",
                      stiffness: bool = False) -> Unsupported | None:
    """Why the exact solver cannot run ``model`` so, or None. It runs any mechanism and lattice:
    one surface serially on the CPU, or replicas as an ensemble (numba threads over the CPU's
    cores, or one CUDA thread per replica on a GPU)."""
    if stiffness and replicas > 1:
        return Unsupported(f"stiffness control runs one surface at a time, not {replicas} "
                           "replicas; remove run.stiffness or run each seed alone",
                           ("run", "stiffness"))
    if backend == "gpu" and replicas == 1:
        return Unsupported("on a GPU the exact solver runs ensembles of replicas (--replicas N, "
                           "N > 1); one surface runs on the CPU", device=True)
    return None


def parallel_unsupported(model: Model, *, replicas: int = 1, backend: str = "cpu",
                         stiffness: bool = False,
                         step_probability: float = DEFAULT_STEP_PROBABILITY) -> Unsupported | None:
    """Why the parallel solver cannot run ``model`` so, or None. It runs flat lattices with local
    events whose rates, within a phase, lie within about 14 orders of magnitude of the
    fastest (its 64-bit thresholds); whether the GPU is there is the backend's question
    (kmc_ald.engine.backends.base.gpu_unavailable_reason)."""
    if stiffness and replicas > 1:
        return Unsupported(f"stiffness control runs one surface at a time, not {replicas} "
                           "replicas; remove run.stiffness or run each seed alone",
                           ("run", "stiffness"))
    if model.lattice.stacked:
        return Unsupported("3D particles (a stacked lattice) run with the exact solver; use "
                           "--solver exact or remove substrate.stack", ("substrate", "stack"))
    if model.mechanism.migrating.any():
        return Unsupported("cluster migration runs with the exact solver; use --solver "
                           "exact or remove cluster_migration", ("cluster_migration",))
    rates, mechanism = model.rates, model.mechanism
    reaching = np.flatnonzero((mechanism.partner_shell > 1) | ~rates.partner_ok.all(axis=1))
    if reaching.size:
        e = int(reaching[0])
        return Unsupported(f"event {mechanism.event_names[e]!r} finds its partner beyond the "
                           "nearest neighbours or on given site types (partner); that runs with "
                           "the exact solver", ("events", e, "partner"))
    for p, name in enumerate(rates.phase_names):
        rate, duration = rates.rate[p], float(rates.durations[p])
        try:
            _, _, r_max = sweep_schedule(rate, duration, mechanism, model.lattice.degree,
                                         step_probability)
            if r_max > 0:
                thresholds(rate, r_max, mechanism.event_names)
        except ScenarioError as err:
            return Unsupported(f"phase {name!r}: {err}")
    return None


def broken_invariant(time: float, replica: int | None = None) -> RuntimeError:
    """The error of a drawn site whose positive rate offers no open channel: the sum tree and
    the channel tables disagree, which is a bug in kmc-ald, never a user's mistake. The solver
    stops before it makes any move from it."""
    where = "" if replica is None else f" in replica {replica}"
    return RuntimeError(f"internal error at t = {time:.9g} s{where}: a site drawn with a "
                        "positive rate has no open channel (the rate tree and the channels "
                        "disagree); please report it with the scenario, seed and version")
