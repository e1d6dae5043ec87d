"""The CUDA sources: they compile with nvcc, and run on the CPU through the host shim."""
import math
import re
import shutil
import subprocess

import numpy as np
import pytest

from kmc_ald.engine import rng
from kmc_ald.engine.backends.kernels import kernel_dir, kernel_files
from tests.support.hostshim import exponential_values, philox_words
from tests.unit.test_philox import KAT


@pytest.mark.parametrize("source", kernel_files())
def test_every_kernel_compiles_with_nvcc(source, tmp_path):
    """CUDA-only mistakes show up without a GPU: nvcc builds each file for sm_75 and sm_90."""
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not installed here")
    root = kernel_dir()
    result = subprocess.run(
        ["nvcc", "-std=c++17", "--fmad=false", "-gencode", "arch=compute_75,code=sm_75",
         "-gencode", "arch=compute_90,code=sm_90", "-fatbin", "-Werror", "all-warnings",
         "-I", str(root), "-include", str(root / "kmc_ald/prelude_cuda.cuh"),
         "-o", str(tmp_path / "out.fatbin"), str(root / source)],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_philox_in_the_cuda_source_matches_random123(counter, key, expected):
    assert tuple(int(x) for x in philox_words(1, counter, key)[0]) == expected


def test_philox_in_the_cuda_source_equals_the_numba_twin():
    words = philox_words(4096, (0, 7, 3, rng.STREAM_SWEEP), (0xDEADBEEF, 12345))
    twin = np.array([[int(x) for x in rng.philox4x32_10(i, 7, 3, rng.STREAM_SWEEP,
                                                       0xDEADBEEF, 12345)] for i in range(4096)])
    np.testing.assert_array_equal(words, twin)


def test_waiting_times_in_the_cuda_source_equal_the_numba_twin():
    """kmc_exponential (-ln(1 - U) from frexp and arithmetic) gives the numba twin's doubles, so
    the ensemble kernel's clocks equal the exact solver's; both lie within 2 ulp of ln."""
    rng_ = np.random.default_rng(7)
    words = rng_.integers(0, 2**32, size=(20000, 2), dtype=np.uint64).astype(np.uint32)
    words[:4] = [[0, 0], [2**32 - 1, 2**32 - 1], [0, 64], [2**32 - 1, 0]]  # U = 0, 1 - 2^-53, ...
    cuda = exponential_values(words)
    twin = np.array([rng.exponential(hi, lo) for hi, lo in words])
    np.testing.assert_array_equal(cuda, twin)
    exact = np.array([-math.log1p(-rng.unit_interval(hi, lo)) for hi, lo in words])
    assert cuda[0] == 0.0
    assert np.all(np.abs(cuda - exact) <= 2 * np.spacing(np.maximum(exact, 1e-300)))


def test_stream_ids_agree_between_cuda_and_python():
    text = (kernel_dir() / "kmc_ald/streams.cuh").read_text()
    cuda = {m[1]: int(m[2]) for m in re.finditer(r"#define KMC_(STREAM_\w+)\s+(\d+)u", text)}
    python = {name: getattr(rng, name) for name in dir(rng) if name.startswith("STREAM_")}
    assert cuda == python and len(cuda) >= 2


def test_kernels_use_only_the_kmc_vocabulary():
    """No bare CUDA keywords: the preludes are the only place that knows CUDA from the host."""
    for path in kernel_dir().glob("*.cu"):
        text = re.sub(r"//.*", "", path.read_text())
        for word in ("__global__", "__device__", "threadIdx", "blockIdx", "atomicAdd",
                     "#include <"):
            assert word not in text, f"{path.name} uses {word!r}"
