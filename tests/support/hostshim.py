"""The CUDA kernel sources compiled by g++ behind a host prelude and called through ctypes.

This is how the `.cu` files run in the normal test suite on machines without a GPU: the same
source as the GPU backend, one host "thread" doing every grid-stride iteration. HostShimBackend
implements the backend protocol, so tests can compare it with the numba twin bit for bit, and can
run every class's work items in reverse order to expose races. ShimLaunch stands in for a CuPy
kernel, so the GPU backend's own launch code runs too, every argument checked against the C
signature.
"""
from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from kmc_ald.engine.backends.kernels import kernel_dir, kernels_digest

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
                        "-I", str(root), "-include", str(root / "kmc_ald/prelude_host.h"),
                        "-x", "c++", str(root / source), "-o", str(tmp)],
                       check=True, capture_output=True, text=True)
        tmp.replace(out)
    return ctypes.CDLL(str(out))


def _ptr(a: np.ndarray):
    assert a.flags.c_contiguous
    return a.ctypes.data_as(ctypes.c_void_p)


class HostShimBackend:
    """The backend protocol over kernels/sweep.cu compiled for the CPU."""

    name = "host_shim"

    def __init__(self, reverse: bool = False):
        self.reverse = reverse
        library = compile_shim("sweep.cu")
        self._fn = library.sweep_class
        self._fn.restype = None
        self._set_reverse = library.kmc_shim_set_reverse

    def load(self, problem, occupation):
        self.p = problem
        self._occ = np.ascontiguousarray(occupation, dtype=np.uint8).copy()
        self._counts = np.zeros((problem.n_replicas, len(problem.event_sites)), dtype=np.uint64)
        self._key0 = np.ascontiguousarray(problem.keys[:, 0])
        self._key1 = np.ascontiguousarray(problem.keys[:, 1])
        self._classes = [(np.ascontiguousarray(problem.members[lo:hi]), first)
                         for lo, hi, first in zip(problem.class_offsets[:-1],
                                                  problem.class_offsets[1:],
                                                  problem.domain_offsets[:-1])]

    def set_thresholds(self, thresholds, gaps):
        self._thr = np.ascontiguousarray(thresholds, dtype=np.uint64)
        self._gaps = np.ascontiguousarray(gaps, dtype=np.uint32)

    def sweeps(self, first_step, n_steps):
        p = self.p
        i64, i32, u32 = ctypes.c_int64, ctypes.c_int32, ctypes.c_uint32
        fixed = (_ptr(self._occ), i64(self._occ.shape[1]), _ptr(p.site_type), _ptr(p.neighbours),
                 i32(p.neighbours.shape[1]), _ptr(p.near), i32(p.near.shape[1]),
                 _ptr(p.near_count), i32(p.near_count.shape[1]), _ptr(p.event_order),
                 _ptr(p.event_offset), _ptr(p.event_sites), _ptr(p.site_in), _ptr(p.site_out),
                 _ptr(p.count_mask), _ptr(p.footprint), _ptr(p.block_mask), _ptr(self._thr),
                 i32(self._thr.shape[1]), _ptr(self._gaps), i32(len(self._gaps)),
                 _ptr(self._counts), i32(self._counts.shape[1]), _ptr(self._key0),
                 _ptr(self._key1))
        self._set_reverse(ctypes.c_int(int(self.reverse)))
        for step in range(first_step, first_step + n_steps):
            for members, first_domain in self._classes:
                self._fn(_ptr(members), i64(len(members)), i64(first_domain), i32(p.domain_size),
                         i64(self._occ.shape[0]), *fixed, u32(step & 0xFFFFFFFF),
                         u32(step >> 32))

    def occupation(self):
        return self._occ.copy()

    def event_counts(self):
        return self._counts.astype(np.int64)


def philox_words(n: int, counter: tuple[int, int, int, int], key: tuple[int, int]) -> np.ndarray:
    """n Philox4x32-10 blocks from kernels/philox.cu: counters (c0 + i, c1, c2, c3), i < n."""
    fn = compile_shim("philox.cu").philox_fill
    fn.restype = None
    out = np.zeros((n, 4), dtype=np.uint32)
    u32 = ctypes.c_uint32
    fn(_ptr(out), ctypes.c_int64(n), *(u32(c) for c in counter), *(u32(k) for k in key))
    return out


_C_TYPES = {"uint8_t": np.uint8, "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64,
            "uint64_t": np.uint64}


def kernel_signature(source: str, name: str) -> list[tuple[str, type, bool]]:
    """(parameter, numpy dtype, is pointer) for each parameter of a kernel in kernels/<source>."""
    text = re.sub(r"//[^\n]*", "", (kernel_dir() / source).read_text())
    match = re.search(rf"KMC_KERNEL\s+void\s+{name}\s*\((.*?)\)\s*{{", text, re.S)
    if match is None:
        raise ValueError(f"kernel {name} not found in {source}")
    params = []
    for raw in match[1].split(","):
        words = raw.replace("*", " * ").split()
        pointer = "*" in words
        words = [w for w in words if w not in ("const", "KMC_RESTRICT", "*")]
        params.append((words[1], _C_TYPES[words[0]], pointer))
    return params


class ShimLaunch:
    """Stands in for a CuPy RawKernel: checks every argument against the kernel's C signature
    (CuPy itself passes whatever it is given) and runs the kernel through the host shim."""

    def __init__(self, source: str, name: str):
        self.signature = kernel_signature(source, name)
        library = compile_shim(source)
        self._fn = getattr(library, name)
        self._fn.restype = None
        self._set_reverse = library.kmc_shim_set_reverse

    def __call__(self, grid, block, args):
        if len(args) != len(self.signature):
            raise TypeError(f"{len(args)} arguments for {len(self.signature)} parameters")
        converted = []
        for value, (param, dtype, pointer) in zip(args, self.signature):
            if pointer:
                if not (isinstance(value, np.ndarray) and value.dtype == dtype
                        and value.flags.c_contiguous):
                    raise TypeError(f"{param}: expected a contiguous {np.dtype(dtype)} array, "
                                    f"got {type(value).__name__} {getattr(value, 'dtype', '')}")
                converted.append(_ptr(value))
            else:
                if not (isinstance(value, np.generic) and value.dtype == dtype):
                    raise TypeError(f"{param}: expected a {np.dtype(dtype)} scalar, got "
                                    f"{type(value).__name__}")
                converted.append(_c(dtype)(value))
        self._set_reverse(ctypes.c_int(0))  # the library is shared with HostShimBackend
        self._fn(*converted)
