"""Where the solvers' kernels run, and which of those places can run here.

A parallel-solver backend owns device-resident copies of the lattice tables and the occupation
of every replica, and executes one conflict-free sweep at a time; an ensemble backend runs the
exact solver's kernels on every replica of an ensemble (:class:`Surfaces`). Neither knows any
chemistry: events arrive as integer tables and rates compiled on the host, so every backend
makes the same choices for the same seed.
CuPy is optional (``pip install kmc-ald[gpu]``, or ``[gpu-cuda13]`` for CUDA 13) and imported only
inside functions.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from kmc_ald.errors import BackendUnavailableError
from kmc_ald.model.tables import EventTables, SiteTables

_log = logging.getLogger("kmc_ald")

#: Members of an update class per work item of a sweep (the default of DeviceProblem). Part of the
#: algorithm, since random words are counted per domain: backends take it from the problem. At
#: 256 the per-domain draw costs 1/1024 of a block per site (numba: 1.3x the events/s of 64 on a
#: 1024^2 Langmuir lattice), and a 4096^2 lattice still gives each class ~10^4 GPU threads.
DOMAIN_SIZE = 256


@dataclass(frozen=True, eq=False)
class DeviceProblem:
    """Everything a sweep reads, as host arrays (shapes in the comments; r = replicas)."""

    members: np.ndarray  # int32 [n_sites]: sites grouped by update class
    class_offsets: np.ndarray  # int64 [n_classes + 1]
    sites: SiteTables  # the lattice's tables (kmc_ald.model.tables)
    events: EventTables  # the mechanism's tables
    keys: np.ndarray  # uint32 [r, 2]: Philox key of each replica
    domain_size: int = DOMAIN_SIZE  # members per work item (a power of two)

    @property
    def n_replicas(self) -> int:
        return int(self.keys.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.class_offsets) - 1

    @property
    def domain_offsets(self) -> np.ndarray:
        """int64 [n_classes + 1]: the first domain id of each class (ids count across classes)."""
        sizes = np.diff(self.class_offsets)
        return np.concatenate([[0], np.cumsum((sizes + self.domain_size - 1) // self.domain_size)]
                              ).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Surfaces:
    """The ensemble solver's replicas, as host arrays (g replicas of every point; the first
    axis). A CPU backend advances them in place; a GPU backend copies them to the device when
    it loads and back when it syncs."""

    occupation: np.ndarray  # uint8 [g, n_sites]
    event_counts: np.ndarray  # int64 [g, e]
    clock: np.ndarray  # float64 [g]: time of the last event or phase start [s]
    counter: np.ndarray  # int64 [g]: Philox draws consumed
    keys: np.ndarray  # uint32 [g, 2]: Philox key of each replica
    point: np.ndarray  # int32 [g]: the parameter point (index into the rate tables)
    done: np.ndarray  # uint8 [g]: reached the current stop time


class Backend(Protocol):
    name: ClassVar[str]  # "cpu", "gpu", ...: recorded in the run file

    def load(self, problem: DeviceProblem, occupation: np.ndarray) -> None: ...
    # uint64 [e, types, degree+1] conditional thresholds, and the uint32 candidate gap table
    def set_thresholds(self, thresholds: np.ndarray, gaps: np.ndarray) -> None: ...
    def sweeps(self, first_step: int, n_steps: int) -> None: ...  # every class, in order
    def occupation(self) -> np.ndarray: ...  # uint8 [r, n_sites], host copy
    def event_counts(self) -> np.ndarray: ...  # int64 [r, e] since load, host copy


def gpu_unavailable_reason() -> str | None:
    """Why the GPU backend cannot run here, or None if it can."""
    try:
        import cupy
    except ImportError as err:
        return (f"CuPy is not importable ({err}); install it from the checkout with: pip "
                f"install -e '.[gpu]' (CUDA 12) or -e '.[gpu-cuda13]' (CUDA 13)")
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # noqa: BLE001 - CUDARuntimeError, missing driver, ...
        return f"CUDA runtime error: {err}"
    return None if n > 0 else "CuPy found no CUDA device"


def describe_gpu() -> str:
    """One line about the GPU, for ``kmc-ald info``."""
    reason = gpu_unavailable_reason()
    if reason is not None:
        return f"not available: {reason}"
    import cupy
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return f"available: {name} (CuPy {cupy.__version__})"


class EnsembleBackend(Protocol):
    name: ClassVar[str]

    def load(self, problem, surfaces: Surfaces) -> None: ...  # problem: kmc_ald.engine.bkl
    def set_rates(self, rate: np.ndarray) -> None: ...  # [point, e, types, bonds]; new trees
    # run replicas not done up to t_stop: (events executed, migration candidates rejected)
    def advance(self, t_stop: float, end_of_phase: bool, max_events: int) -> tuple[int, int]: ...
    def sync(self) -> None: ...  # the replicas' state into the host arrays of ``surfaces``
    def site_rates(self) -> np.ndarray: ...  # float64 [g, n_sites], host copy


def _use_gpu(choice: str) -> bool:
    """Whether ``auto|cpu|gpu`` means the GPU here; auto logs why it did not use it."""
    if choice == "cpu":
        return False
    reason = gpu_unavailable_reason()
    if reason is None:
        return True
    if choice == "gpu":
        raise BackendUnavailableError(
            f"backend 'gpu' was requested but cannot run: {reason}. Use --backend cpu, or "
            "--backend auto to fall back automatically.")
    _log.info("backend: cpu (gpu unavailable: %s)", reason)
    return False


def select_backend(choice: str) -> Backend:
    """The parallel solver's backend for ``auto|cpu|gpu``; auto prefers the GPU."""
    if _use_gpu(choice):
        from kmc_ald.engine.backends.gpu import CupyBackend
        return CupyBackend()
    from kmc_ald.engine.backends.cpu import NumbaBackend
    return NumbaBackend()


def select_ensemble_backend(choice: str) -> Callable[[], EnsembleBackend]:
    """A factory of the ensemble solver's backends for ``auto|cpu|gpu``; auto prefers the GPU."""
    if _use_gpu(choice):
        from kmc_ald.engine.backends.gpu import CupyEnsemble
        return CupyEnsemble
    from kmc_ald.engine.backends.cpu import NumbaEnsemble
    return NumbaEnsemble
