"""The state of a run: everything needed to continue it bit-identically.

A lattice KMC run driven by a counter-based generator is fully described by the occupation of
its sites, its clock [s], the number of random draws consumed, and its position in the recipe.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class State:
    """Mutable run state; solvers update it in place.

    Attributes:
        occupation: Species index on each site (0 = empty), uint8 ``[n_sites]``.
        event_counts: Events executed so far, per event type, int64 ``[n_events]``.
        time: Simulated time of the last event or phase boundary [s].
        counter: Position in the random stream: draws consumed (exact solver; one per replica,
            int64 ``[replicas]``, in an ensemble), or sweeps done (parallel solver, whose blocks
            are counted by sweep).
        events: Events executed so far (all types).
        cycle: Index of the cycle being run (0-based).
        phase: Index of the next phase to run within the cycle.
        scale: Stiffness scale factor of each event type (1 = true rate), float64 ``[n_events]``.
        window_start: ``event_counts`` when the current stiffness window began.
    """

    occupation: np.ndarray
    event_counts: np.ndarray
    time: float = 0.0
    counter: int = 0
    events: int = 0
    cycle: int = 0
    phase: int = 0
    scale: np.ndarray | None = None
    window_start: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_events = self.event_counts.shape[-1]
        if self.scale is None:
            self.scale = np.ones(n_events)
        if self.window_start is None:
            self.window_start = np.zeros_like(self.event_counts)

    def species_counts(self, n_species: int) -> np.ndarray:
        return np.bincount(self.occupation, minlength=n_species)

    def copy(self) -> State:
        counter = self.counter.copy() if isinstance(self.counter, np.ndarray) else self.counter
        return State(self.occupation.copy(), self.event_counts.copy(), self.time, counter,
                     self.events, self.cycle, self.phase, self.scale.copy(),
                     self.window_start.copy())
