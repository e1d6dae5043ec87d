"""The CUDA kernel sources compiled by g++ behind a host prelude and called through ctypes.

This is how the `.cu` files run in the normal test suite on machines without a GPU: the same
source as the GPU backend, one host "thread" doing every grid-stride iteration. ShimLaunch stands
in for a CuPy kernel and checks every argument against the C signature; HostShimBackend is the GPU
backend itself over NumPy and ShimLaunch, so the launch code that runs on a device runs here too.
Tests compare it with the numba twin bit for bit, and run every class's work items in reverse
order to expose races.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from kmc_ald.engine.backends.gpu import CupyBackend, CupyEnsemble
from kmc_ald.engine.backends.kernels import kernel_dir, kernels_digest
from kmc_ald.engine.backends.launch import check_argument, kernel_signature

_c = np.ctypeslib.as_ctypes_type


def compile_shim(source: str) -> ctypes.CDLL:
    """Build kernels/<source> as a shared library (cached by the digest of all kernel files)."""
    if shutil.which("g++") is None:
        raise RuntimeError("g++ is needed to run the CUDA sources on the CPU")
    out = Path(tempfile.gettempdir()) / f"kmc_ald_shim_{kernels_digest()}" / f"{source}.so"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.so")
        root = kernel_dir()
        subprocess.run(["g++", "-std=c++17", "-O2", "-fPIC", "-shared", "-Wall", "-Werror",
                        "-ffp-contract=off",
                        "-I", str(root), "-include", str(root / "kmc_ald/prelude_host.h"),
                        "-x", "c++", str(root / source), "-o", str(tmp)],
                       check=True, capture_output=True, text=True)
        tmp.replace(out)
    return ctypes.CDLL(str(out))


def _ptr(a: np.ndarray):
    assert a.flags.c_contiguous
    return a.ctypes.data_as(ctypes.c_void_p)


def philox_words(n: int, counter: tuple[int, int, int, int], key: tuple[int, int]) -> np.ndarray:
    """n Philox4x32-10 blocks from kernels/philox.cu: counters (c0 + i, c1, c2, c3), i < n."""
    fn = compile_shim("philox.cu").philox_fill
    fn.restype = None
    out = np.zeros((n, 4), dtype=np.uint32)
    u32 = ctypes.c_uint32
    fn(_ptr(out), ctypes.c_int64(n), *(u32(c) for c in counter), *(u32(k) for k in key))
    return out


def exponential_values(words: np.ndarray) -> np.ndarray:
    """kmc_exponential of each row (hi, lo) of a uint32 [n, 2] array, from kernels/philox.cu."""
    fn = compile_shim("philox.cu").exponential_fill
    fn.restype = None
    words = np.ascontiguousarray(words, dtype=np.uint32)
    out = np.zeros(words.shape[0])
    fn(_ptr(out), _ptr(words), ctypes.c_int64(words.shape[0]))
    return out


class ShimLaunch:
    """Stands in for a CuPy RawKernel: checks every argument against the kernel's C signature
    again (the backend's launch tuple comes from kmc_ald.engine.backends.launch.bind) and runs
    the kernel through the host shim."""

    def __init__(self, source: str, name: str, reverse: bool = False):
        self.signature = kernel_signature(source, name)
        self.reverse = reverse
        library = compile_shim(source)
        self._fn = getattr(library, name)
        self._fn.restype = None
        self._set_reverse = library.kmc_shim_set_reverse

    def __call__(self, grid, block, args):
        if len(args) != len(self.signature):
            raise TypeError(f"{len(args)} arguments for {len(self.signature)} parameters")
        converted = []
        for value, param in zip(args, self.signature):
            check_argument(param, value)
            converted.append(_ptr(value) if param.pointer else _c(param.dtype)(value))
        self._set_reverse(ctypes.c_int(int(self.reverse)))  # the library is shared
        self._fn(*converted)


class HostShimEnsemble(CupyEnsemble):
    """The ensemble solver's GPU launch code over NumPy arrays, with kernels/ensemble.cu built
    for the CPU (``reverse``: replicas in reverse order)."""

    name = "host_shim"

    def __init__(self, reverse: bool = False):
        super().__init__(array_module=np,
                         kernel_loader=lambda source, name: ShimLaunch(source, name, reverse))


class HostShimBackend(CupyBackend):
    """The GPU backend's launch code over NumPy arrays, with kernels/*.cu built for the CPU.

    Args:
        reverse: Run the work items of every launch in reverse order (a race would show).
    """

    name = "host_shim"

    def __init__(self, reverse: bool = False):
        super().__init__(array_module=np,
                         kernel_loader=lambda source, name: ShimLaunch(source, name, reverse))
