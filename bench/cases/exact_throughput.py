"""Executed events per second of kmc-ald's exact solver, against a hand-written BKL.

Two textbook models, both compiled from the bundled scenario files and run by
``kmc_ald.engine.solvers.exact.ExactSolver`` exactly as ``Simulation`` runs them, and re-run in the
same process by the single-model reference codes of :mod:`bench.cases.reference_bkl`:

* ``langmuir`` (scenarios/langmuir.yaml): k_a = 2 1/s, k_d = 1 1/s. Advanced first to t = 3 s
  (coverage at its equilibrium 2/3, the stationary state), then a fixed number of events is timed.
* ``dda`` (scenarios/island_nucleation.yaml): F = 1 ML/s, D = 1e5 1/s per direction, i = 1. The
  whole run from the empty lattice to 0.1 ML (t = -ln(0.9)/F = 0.10536 s) is timed; about 99 % of
  its events are monomer hops.

Only the solver's ``advance`` calls are timed (time.perf_counter), after a warm-up that compiles
(or loads) every numba function and touches the arrays; each measurement is repeated and the best
and the median are kept. Units: events/s of wall time on one core; simulated time in s.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.cases import reference_bkl as ref
from kmc_ald.engine.recipe import CHUNK_EVENTS
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
LANGMUIR_EQUILIBRATE = 3.0  # s: coverage within 1e-4 of 2/3 (relaxation time 1/3 s)
LANGMUIR_EVENTS = 5_000_000  # events timed per repeat in the stationary state
DDA_T_END = -math.log(0.9)  # s at F = 1 ML/s: 0.1 ML deposited on empty sites
REPEATS = 3


def _simulation(name: str, n: int) -> Simulation:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", overrides=(f"substrate.size=[{n}, {n}]",))
    return Simulation(scenario)


def _summary(seconds: list[float], events: int) -> dict:
    best, median = min(seconds), statistics.median(seconds)
    return {"events": int(events), "seconds_best": best, "seconds_median": median,
            "seconds_all": seconds, "events_per_s": events / best,
            "events_per_s_median": events / median}


def _advance_events(solver, state, n_events: int) -> None:
    """Execute exactly n_events (no time limit) in chunks, as Simulation does."""
    target = state.events + n_events
    while state.events < target:
        solver.advance(state, math.inf, False, min(CHUNK_EVENTS, target - state.events))


def _advance_until(solver, state, t_end: float) -> None:
    """Run to the end of the phase at t_end [s], in chunks, as Simulation does."""
    while not solver.advance(state, t_end, True, CHUNK_EVENTS):
        pass


def _warm_up() -> None:
    """Compile or load every numba function outside the timed regions."""
    for name in ("langmuir", "island_nucleation"):
        sim = _simulation(name, 16)
        sim.solver.start_phase(sim.state, 0)
        sim.solver.advance(sim.state, math.inf, False, 1000)
    ref.LangmuirBKL(16).advance(max_events=1000)
    dda = ref.DdaBKL(16)
    dda.advance(max_events=1000)
    ref.island_density(dda.occ, dda.nb)


def langmuir(n: int, repeats: int = REPEATS, n_events: int = LANGMUIR_EVENTS) -> dict:
    sim = _simulation("langmuir", n)
    solver, state = sim.solver, sim.state
    solver.start_phase(state, 0)
    solver.advance(state, LANGMUIR_EQUILIBRATE, False, 1 << 62)
    t0_sim = state.time
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _advance_events(solver, state, n_events)
        seconds.append(time.perf_counter() - t0)
    theta = float(np.count_nonzero(state.occupation) / state.occupation.shape[0])
    span = (state.time - t0_sim) / repeats

    model = ref.LangmuirBKL(n)
    model.advance(LANGMUIR_EQUILIBRATE)
    ref_seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.advance(max_events=n_events)
        ref_seconds.append(time.perf_counter() - t0)
    return {
        "model": "langmuir", "size": [n, n], "sites": n * n,
        "window": f"{n_events} events in the stationary state after t = {LANGMUIR_EQUILIBRATE} s",
        "simulated_time_per_repeat_s": span,
        "kmc_ald": _summary(seconds, n_events) | {"coverage": theta,
                                                  "coverage_ok": ref.langmuir_ok(theta, n * n)},
        "reference": _summary(ref_seconds, n_events) | {
            "coverage": model.coverage(), "coverage_ok": ref.langmuir_ok(model.coverage(), n * n)},
    }


def dda(n: int, repeats: int = REPEATS) -> dict:
    sim = _simulation("island_nucleation", n)
    solver, state = sim.solver, sim.state
    nb = np.ascontiguousarray(sim.lattice.neighbours)

    def reset() -> None:
        state.occupation[:] = 0
        state.event_counts[:] = 0
        state.time, state.counter, state.events = 0.0, 0, 0
        solver.start_phase(state, 0)

    reset()
    _advance_until(solver, state, 0.01 * DDA_T_END)  # warm-up: touch every array
    seconds, events = [], []
    for _ in range(repeats):
        reset()
        t0 = time.perf_counter()
        _advance_until(solver, state, DDA_T_END)
        seconds.append(time.perf_counter() - t0)
        events.append(state.events)
    rho = ref.island_density(state.occupation, nb)
    hops = float(state.event_counts[1] / max(1, state.events))
    theta = float(np.count_nonzero(state.occupation) / state.occupation.shape[0])

    ref_seconds, ref_events = [], []
    for _ in range(repeats):
        model = ref.DdaBKL(n)
        model.advance(0.01 * DDA_T_END)  # same warm-up as above, on a throw-away copy
        model = ref.DdaBKL(n)
        t0 = time.perf_counter()
        model.advance(DDA_T_END)
        ref_seconds.append(time.perf_counter() - t0)
        ref_events.append(model.events)
    ref_rho = ref.island_density(model.occ, model.nb)
    assert len(set(events)) == 1 and len(set(ref_events)) == 1, "repeats must be the same run"
    return {
        "model": "dda", "size": [n, n], "sites": n * n,
        "window": f"empty lattice to 0.1 ML (t = 0 to {DDA_T_END:.5f} s), D/F = 1e5",
        "simulated_time_per_repeat_s": DDA_T_END,
        "kmc_ald": _summary(seconds, events[0]) | {
            "coverage": theta, "hop_fraction": hops, "island_density": rho,
            "island_density_ok": ref.dda_ok(rho, n * n)},
        "reference": _summary(ref_seconds, ref_events[0]) | {
            "coverage": model.n_occ / model.n_sites,
            "hop_fraction": float(model.counts[1] / max(1, model.events)),
            "island_density": ref_rho, "island_density_ok": ref.dda_ok(ref_rho, n * n)},
    }


def run(sizes: list[int], log: Callable[[str], None] = print) -> list[dict]:
    """All (model, size) rows; ``ratio`` = kmc-ald events/s / reference events/s (best of 3)."""
    _warm_up()
    rows = []
    for case in (langmuir, dda):
        for n in sizes:
            t0 = time.perf_counter()
            row = case(n)
            row["ratio"] = row["kmc_ald"]["events_per_s"] / row["reference"]["events_per_s"]
            rows.append(row)
            log(f"  {row['model']:9s} {n:5d}^2  kmc-ald {row['kmc_ald']['events_per_s']:10.3e} ev/s"
                f"  reference {row['reference']['events_per_s']:10.3e} ev/s"
                f"  ratio {row['ratio']:.3f}   ({time.perf_counter() - t0:.1f} s)")
    return rows
