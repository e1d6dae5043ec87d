"""On a GPU: the CUDA kernels give the numba twin's trajectories bit for bit."""
import numpy as np
import pytest

from kmc_ald.engine.backends.cpu import NumbaBackend
from kmc_ald.engine.backends.gpu import CupyBackend
from kmc_ald.engine.rng import STREAM_SWEEP, philox4x32_10
from tests.unit.test_parallel import LATTICES, rich, run_backend

pytestmark = pytest.mark.gpu


def test_philox_on_the_device_equals_the_numba_twin():
    import cupy

    from kmc_ald.engine.backends.gpu import load_kernel
    fill = load_kernel("philox.cu", "philox_fill")
    n = 1 << 16
    out = cupy.zeros((n, 4), dtype=np.uint32)
    fill((n // 256,), (256,), (out, np.int64(n), np.uint32(0), np.uint32(7), np.uint32(3),
                               np.uint32(STREAM_SWEEP), np.uint32(0xDEADBEEF), np.uint32(12345)))
    twin = np.array([[int(x) for x in philox4x32_10(i, 7, 3, STREAM_SWEEP, 0xDEADBEEF, 12345)]
                     for i in range(n)])
    np.testing.assert_array_equal(cupy.asnumpy(out), twin)


@pytest.mark.parametrize(("lattice", "size"), LATTICES)
def test_gpu_and_numba_give_identical_trajectories(lattice, size):
    sc = rich(lattice, size)
    occ_gpu, counts_gpu = run_backend(CupyBackend(), sc, replicas=4)
    occ_cpu, counts_cpu = run_backend(NumbaBackend(), sc, replicas=4)
    np.testing.assert_array_equal(occ_gpu, occ_cpu)
    np.testing.assert_array_equal(counts_gpu, counts_cpu)
    assert counts_cpu.sum() > 500
