"""The ensemble solver: replica r of an ensemble equals the serial exact solver run alone with
seed S + r, bit for bit (occupation, event counts, draw counter, clock, per-cycle statistics), on
every backend: numba threads, kernels/ensemble.cu through the host shim (replicas forwards and
reversed) and CuPy where a GPU is present."""
import numpy as np
import pytest

from kmc_ald.engine.backends.cpu import NumbaEnsemble
from kmc_ald.engine.recipe import run_recipe
from kmc_ald.engine.solvers.ensemble import EnsembleSolver, bytes_per_replica
from kmc_ald.errors import BackendUnavailableError, ScenarioError
from kmc_ald.io.runfile import read_run
from kmc_ald.model.compile import compile_scenario
from kmc_ald.model.points import point_set
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.conftest import SCENARIOS

SEED, REPLICAS = 11, 3

#: Small, quick variants of every bundled ALD scenario, with enough events of each kind: the Pt
#: scenarios get more anchors and stickier precursor, the oxide one hot O2 chemistry so that
#: particles stack and whole clusters migrate.
QUICK = {
    "al2o3_tma_h2o": ("substrate.size=[5 nm, 5 nm]", "recipe.cycles=3"),
    "pt_n_graphene": ("substrate.size=[6 nm, 6 nm]", "recipe.cycles=4",
                      "substrate.site_types={pyridinic_N: 0.5 1/nm^2, vacancy: 0.2 1/nm^2}",
                      "events[0].sticking={default: 0.0, pyridinic_N: 0.1, vacancy: 0.1}",
                      "events[3].sticking=1e-4", "events[4].sticking=1e-3"),
    "pt_mxene": ("substrate.size=[6 nm, 6 nm]", "recipe.cycles=6", "events[0].sticking=1e-3",
                 "events[4].sticking=1e-4", "events[5].sticking=1e-3"),
    "pt_oxide": ("substrate.size=[4 nm, 4 nm]", "substrate.stack.layers=6", "recipe.cycles=8",
                 "recipe.phases[2].gas.O2=1000 Pa", "events[0].sticking=0.01",
                 "events[1].sticking=1e-5", "events[4].sticking=1e-3",
                 "events[4].footprint={shells: 1, blocked_by: [PtL]}",
                 "events[5].sticking=1e-3", "events[6].sticking=1e-3"),
    "ni_graphene": ("substrate.size=[4 nm, 4 nm]", "recipe.cycles=3"),
}


def quick(name: str, *extra: str):
    return load_scenario(SCENARIOS / f"{name}.yaml", (*QUICK[name], *extra))


_SERIAL: dict = {}


def serial(name: str, seed: int, *extra: str):
    """The serial exact run of a quick scenario (state, per-cycle statistics), cached."""
    key = (name, seed, extra)
    if key not in _SERIAL:
        sim = Simulation(quick(name, *extra), seed=seed, solver="exact")
        summary = sim.run()
        _SERIAL[key] = sim.state, summary.cycles, sim.solver.rejected_candidates
    return _SERIAL[key]


def assert_replica_equals_serial(state, cycles, r, reference):
    ref_state, ref_cycles, _ = reference
    np.testing.assert_array_equal(state.occupation[r], ref_state.occupation)
    np.testing.assert_array_equal(state.event_counts[r], ref_state.event_counts)
    assert state.counter[r] == ref_state.counter
    assert state.time == ref_state.time
    for column, values in ref_cycles.items():
        np.testing.assert_array_equal(cycles[column][:, r], values, err_msg=column)


@pytest.mark.parametrize("name", sorted(QUICK))
def test_every_replica_equals_the_serial_exact_solver(name, ensemble_backend):
    sim = Simulation(quick(name), seed=SEED, solver="exact", replicas=REPLICAS, backend="cpu")
    assert isinstance(sim.solver, EnsembleSolver)
    summary = sim.run()
    for r in range(REPLICAS):
        reference = serial(name, SEED + r)
        assert_replica_equals_serial(sim.state, summary.cycles, r, reference)
    assert sim.solver.rejected_candidates == sum(serial(name, SEED + r)[2]
                                                 for r in range(REPLICAS))
    assert sim.state.events == sum(serial(name, SEED + r)[0].events for r in range(REPLICAS))
    assert sim.state.events > 100 * REPLICAS  # something happened on every replica


def test_the_oxide_variant_stacks_and_migrates():
    """The quick pt_oxide variant exercises what only it has: stacked layers and cluster moves."""
    state, _, rejected = serial("pt_oxide", SEED)
    model = compile_scenario(quick("pt_oxide"))
    names = model.mechanism.event_names
    moved = sum(state.event_counts[names.index(n)] for n in names if n.startswith("cluster"))
    assert moved > 0 and rejected > 0
    assert state.occupation[model.lattice.layer > 1].any()  # particles two layers high


def test_a_mixed_point_batch_equals_each_point_run_alone(ensemble_backend):
    """Two temperatures and two TMA pressures in one launch: replica r of point p equals point p
    run alone with seed S + r."""
    extras = [(), ("recipe.temperature=150 degC",), ("recipe.phases[0].gas.TMA=0.02 Pa",)]
    points = point_set([compile_scenario(quick("al2o3_tma_h2o", *e)) for e in extras])
    solver = EnsembleSolver(points, SEED, 2, ensemble_backend)
    state = solver.initial_state()
    run_recipe(points.first, solver, state)
    for p, extra in enumerate(extras):
        for r in range(2):
            ref = serial("al2o3_tma_h2o", SEED + r, *extra)[0]
            np.testing.assert_array_equal(state.occupation[2 * p + r], ref.occupation)
            np.testing.assert_array_equal(state.event_counts[2 * p + r], ref.event_counts)
            assert state.counter[2 * p + r] == ref.counter
    # the points differ: the temperatures give different surfaces
    assert not np.array_equal(state.occupation[0], state.occupation[2])


def test_points_that_differ_in_more_than_rates_are_refused():
    base = compile_scenario(quick("al2o3_tma_h2o"))
    longer = compile_scenario(quick("al2o3_tma_h2o", "recipe.phases[0].duration=0.2 s"))
    with pytest.raises(ScenarioError, match="point 1 differs from point 0 in the recipe's "
                                            "phases or their durations"):
        point_set([base, longer])
    larger = compile_scenario(quick("al2o3_tma_h2o", "substrate.size=[6 nm, 6 nm]"))
    with pytest.raises(ScenarioError, match="the lattice"):
        point_set([base, larger])


def test_a_batch_too_large_for_memory_is_split_into_launches_with_the_same_result():
    points = point_set([compile_scenario(quick("al2o3_tma_h2o"))])
    whole = EnsembleSolver(points, SEED, 5, NumbaEnsemble)
    need = bytes_per_replica(whole.problem, whole.mechanism.n_events)
    split = EnsembleSolver(points, SEED, 5, NumbaEnsemble, memory=2 * need + need // 2)
    assert [g for g, _ in split.groups] == [(0, 2), (2, 4), (4, 5)]
    states = []
    for solver in (whole, split):
        states.append(solver.initial_state())
        run_recipe(points.first, solver, states[-1])
    np.testing.assert_array_equal(states[0].occupation, states[1].occupation)
    np.testing.assert_array_equal(states[0].counter, states[1].counter)
    with pytest.raises(BackendUnavailableError, match=r"one replica of this lattice needs "
                                                      r"[\d.]+ MiB on the cpu backend"):
        EnsembleSolver(points, SEED, 5, NumbaEnsemble, memory=need - 1)


def test_an_ensemble_resumed_from_its_run_file_is_bit_identical(tmp_path):
    sc = quick("al2o3_tma_h2o")
    whole = Simulation(sc, seed=SEED, solver="exact", replicas=REPLICAS)
    whole.run(tmp_path / "whole.h5")
    short = Simulation(load_scenario(SCENARIOS / "al2o3_tma_h2o.yaml",
                                     (*QUICK["al2o3_tma_h2o"], "recipe.cycles=1")),
                       seed=SEED, solver="exact", replicas=REPLICAS)
    short.run(tmp_path / "short.h5")
    assert read_run(tmp_path / "short.h5").checkpoint["counter"].shape == (REPLICAS,)
    resumed = Simulation.resume(tmp_path / "short.h5", ("recipe.cycles=3",))
    assert isinstance(resumed.solver, EnsembleSolver)
    resumed.run(tmp_path / "resumed.h5")
    a, b = read_run(tmp_path / "whole.h5"), read_run(tmp_path / "resumed.h5")
    for key in ("occupation", "event_counts", "counter", "time", "events"):
        np.testing.assert_array_equal(a.checkpoint[key], b.checkpoint[key], err_msg=key)
    for column in a.cycles:
        np.testing.assert_array_equal(a.cycles[column], b.cycles[column], err_msg=column)


def test_stiffness_control_is_refused_for_replicas_with_the_reason():
    sc = load_scenario(SCENARIOS / "precursor_mediated.yaml", ("substrate.size=[8, 8]",))
    with pytest.raises(ScenarioError, match="stiffness control runs one surface at a time"):
        Simulation(sc, solver="exact", replicas=2)


def test_one_surface_on_a_gpu_is_refused_with_the_reason():
    with pytest.raises(BackendUnavailableError, match="on a GPU the exact solver runs "
                                                      "ensembles of replicas"):
        Simulation(quick("al2o3_tma_h2o"), solver="exact", backend="gpu")


def test_launches_cut_short_by_the_event_budget_change_nothing(ensemble_backend):
    """A replica stopped after max_events continues in the next launch from where it was."""
    model = compile_scenario(quick("al2o3_tma_h2o"))
    points = point_set([model])
    states = []
    for budget in (1 << 20, 37):
        solver = EnsembleSolver(points, SEED, 3, ensemble_backend)
        state = solver.initial_state()
        for phase, duration in enumerate(model.rates.durations[:2]):
            solver.start_phase(state, phase)
            t_end = state.time + float(duration)
            while not solver.advance(state, t_end, True, budget):
                pass
        states.append(state)
    np.testing.assert_array_equal(states[0].occupation, states[1].occupation)
    np.testing.assert_array_equal(states[0].counter, states[1].counter)
    assert states[0].time == states[1].time and states[0].events > 3 * 37


def test_simulation_runs_parameter_points_in_memory_only(tmp_path):
    cold = "recipe.temperature=150 degC"
    sim = Simulation(quick("al2o3_tma_h2o"), seed=SEED, solver="exact", replicas=2,
                     points=[quick("al2o3_tma_h2o", cold)])
    summary = sim.run()
    assert summary.cycles["growth"].shape == (3, 4)  # [cycle, point x replica]
    ref = serial("al2o3_tma_h2o", SEED + 1, cold)
    np.testing.assert_array_equal(sim.state.occupation[3], ref[0].occupation)
    np.testing.assert_array_equal(summary.cycles["growth"][:, 3], ref[1]["growth"])
    with pytest.raises(ScenarioError, match="a run file holds one scenario"):
        Simulation(quick("al2o3_tma_h2o"), solver="exact",
                   points=[quick("al2o3_tma_h2o", cold)]).run(tmp_path / "points.h5")
    assert not (tmp_path / "points.h5").exists()
    with pytest.raises(ScenarioError, match="parameter points run with the exact solver"):
        Simulation(quick("al2o3_tma_h2o"), solver="parallel",
                   points=[quick("al2o3_tma_h2o", cold)])


def _tree_of(backend) -> np.ndarray:
    """The sum trees a backend holds ([replicas, nodes]), as an array that writes through."""
    return backend._tree if hasattr(backend, "_tree") else backend._tables["tree"]


def _poke_leaf(tree: np.ndarray, first_leaf: int, site: int, value: float) -> None:
    """Give one site's leaf a rate and make every node the sum of its children again."""
    from kmc_ald.engine.bkl import ARITY
    tree[first_leaf + site] = value
    for k in range(first_leaf - 1, -1, -1):
        tree[k] = tree[ARITY * k + 1:ARITY * k + 1 + ARITY].sum()


def test_a_site_drawn_without_an_open_channel_stops_the_solver_before_any_move(
        ensemble_backend):
    """The guard on a broken invariant (a rate in the tree that no channel carries), in the
    serial solver and in every ensemble backend: an error, and the surface left as it was."""
    from kmc_ald.engine.solvers.exact import ExactSolver
    from kmc_ald.engine.state import State
    scenario = load_scenario(SCENARIOS / "langmuir.yaml",
                             ("substrate.size=[4, 4]", "events[0].rate.A=0 1/s"))
    model = compile_scenario(scenario)
    serial_solver = ExactSolver(model, seed=1)
    state = State(model.occupation.copy(), np.zeros(model.mechanism.n_events, np.int64))
    serial_solver.start_phase(state, 0)
    _poke_leaf(serial_solver._tree.values, serial_solver._tree.first_leaf, 5, 1.0)
    with pytest.raises(RuntimeError, match="no open channel"):
        serial_solver.advance(state, 1.0, True)
    assert not state.occupation.any() and not state.event_counts.any()

    solver = EnsembleSolver(point_set([model]), 1, 2, ensemble_backend)
    state = solver.initial_state()
    solver.start_phase(state, 0)
    (_, backend), = solver.groups
    _poke_leaf(_tree_of(backend)[1], solver.problem.first_leaf, 5, 1.0)
    with pytest.raises(RuntimeError, match="in replica 1: a site drawn"):
        solver.advance(state, 1.0, True)
    backend.sync()
    assert not state.occupation.any() and not state.event_counts.any()
