"""On a GPU: kernels/ensemble.cu gives the serial exact solver's trajectories bit for bit."""
import numpy as np
import pytest

from kmc_ald.engine import rng
from kmc_ald.engine.backends.cpu import NumbaEnsemble
from kmc_ald.engine.backends.gpu import CupyEnsemble
from kmc_ald.engine.recipe import run_recipe
from kmc_ald.engine.solvers.ensemble import EnsembleSolver
from kmc_ald.model.compile import compile_scenario
from kmc_ald.model.points import point_set
from tests.unit.test_ensemble import QUICK, SEED, quick, serial

pytestmark = pytest.mark.gpu


def test_waiting_times_on_the_device_equal_the_numba_twin():
    """The device's rounding (no FMA contraction) gives the CPU's doubles."""
    import cupy

    from kmc_ald.engine.backends.gpu import load_kernel
    fill = load_kernel("philox.cu", "exponential_fill")
    words = np.random.default_rng(3).integers(0, 2**32, size=(1 << 16, 2),
                                              dtype=np.uint64).astype(np.uint32)
    out = cupy.zeros(len(words))
    fill((len(words) // 256,), (256,), (out, cupy.asarray(words), np.int64(len(words))))
    twin = np.array([rng.exponential(hi, lo) for hi, lo in words])
    np.testing.assert_array_equal(cupy.asnumpy(out), twin)


@pytest.mark.parametrize("name", sorted(QUICK))
def test_device_replicas_equal_the_serial_exact_solver(name):
    points = point_set([compile_scenario(quick(name))])
    solver = EnsembleSolver(points, SEED, 4, CupyEnsemble)
    state = solver.initial_state()
    run_recipe(points.first, solver, state)
    for r in range(4):
        ref = serial(name, SEED + r)[0]
        np.testing.assert_array_equal(state.occupation[r], ref.occupation)
        np.testing.assert_array_equal(state.event_counts[r], ref.event_counts)
        assert state.counter[r] == ref.counter


def test_a_large_device_batch_equals_the_numba_ensemble():
    """512 replicas: many blocks, threads of one block diverging."""
    points = point_set([compile_scenario(quick("al2o3_tma_h2o"))])
    states = []
    for backend in (CupyEnsemble, NumbaEnsemble):
        solver = EnsembleSolver(points, SEED, 512, backend)
        states.append(solver.initial_state())
        run_recipe(points.first, solver, states[-1])
    np.testing.assert_array_equal(states[0].occupation, states[1].occupation)
    np.testing.assert_array_equal(states[0].event_counts, states[1].event_counts)
    np.testing.assert_array_equal(states[0].counter, states[1].counter)
