"""The GPU backend of the parallel solver: kernels/*.cu compiled by NVRTC and launched by CuPy.

CuPy is imported inside functions only, so this module imports on machines without it. The
kernel source string carries a digest of every file under kernels/, because CuPy keys its
compile cache on the source string and would otherwise miss a change in an included header.
"""
from __future__ import annotations

import functools

import numpy as np

from kmc_ald.engine.backends.base import DeviceProblem
from kmc_ald.engine.backends.kernels import kernel_dir, kernels_digest
from kmc_ald.errors import KernelCompileError

THREADS = 256


@functools.cache
def load_kernel(filename: str, name: str):
    """Compile kernels/<filename> once per process and return its entry point ``name``."""
    import cupy

    root = kernel_dir()
    source = "\n".join([
        f"// kmc_ald kernels {kernels_digest()}",
        '#include "kmc_ald/prelude_cuda.cuh"',
        f'#line 1 "kernels/{filename}"',  # compiler messages point at the real file and line
        (root / filename).read_text(),
    ])
    try:
        module = cupy.RawModule(code=source, options=("-std=c++17", f"-I{root}"))
        return module.get_function(name)
    except cupy.cuda.compiler.CompileException as err:
        raise KernelCompileError(f"kernels/{filename} failed to compile:\n{err}") from None


class CupyBackend:
    """Sweeps on an NVIDIA GPU; one launch per update class, all replicas in the same launch.

    Args:
        array_module: The module that places arrays on the device (CuPy, imported on first use).
            Tests pass NumPy with a host-compiled kernel, so that this launch code, the only one,
            runs without a GPU.
        kernel_loader: ``(filename, name) -> kernel`` called as ``kernel(grid, block, args)``.
    """

    name = "gpu"

    def __init__(self, array_module=None, kernel_loader=None):
        self._xp_module, self._kernel_loader = array_module, kernel_loader or load_kernel

    @property
    def _xp(self):
        if self._xp_module is None:
            import cupy
            self._xp_module = cupy
        return self._xp_module

    def load(self, problem: DeviceProblem, occupation: np.ndarray) -> None:
        xp = self._xp
        self.p = problem
        self._sweep = self._kernel_loader("sweep.cu", "sweep_class")
        d = xp.asarray
        # a copy: the host array may be a view of the simulation's state
        self._occ = d(np.array(occupation, dtype=np.uint8, order="C"))
        self._counts = xp.zeros((problem.n_replicas, len(problem.event_sites)), dtype=np.uint64)
        self._arrays = {name: d(getattr(problem, name)) for name in (
            "site_type", "neighbours", "near", "near_count", "event_order", "event_offset",
            "event_sites", "site_in", "site_out", "count_mask", "footprint", "block_mask")}
        self._key0 = d(np.ascontiguousarray(problem.keys[:, 0]))
        self._key1 = d(np.ascontiguousarray(problem.keys[:, 1]))
        members = d(problem.members)
        self._classes = [(members[problem.class_offsets[c]:problem.class_offsets[c + 1]],
                          np.int64(problem.domain_offsets[c])) for c in range(problem.n_classes)]

    def set_thresholds(self, thresholds: np.ndarray, gaps: np.ndarray) -> None:
        self._thr = self._xp.asarray(np.ascontiguousarray(thresholds, dtype=np.uint64))
        self._gaps = self._xp.asarray(np.ascontiguousarray(gaps, dtype=np.uint32))

    def sweeps(self, first_step: int, n_steps: int) -> None:
        a, p = self._arrays, self.p
        n_sites = self._occ.shape[1]
        replicas = np.int64(self._occ.shape[0])
        tail = (self._occ, np.int64(n_sites), a["site_type"], a["neighbours"],
                np.int32(p.neighbours.shape[1]), a["near"], np.int32(p.near.shape[1]),
                a["near_count"], np.int32(p.near_count.shape[1]), a["event_order"],
                a["event_offset"], a["event_sites"], a["site_in"], a["site_out"],
                a["count_mask"], a["footprint"], a["block_mask"], self._thr,
                np.int32(self._thr.shape[1]), self._gaps, np.int32(len(self._gaps)),
                self._counts, np.int32(self._counts.shape[1]), self._key0, self._key1)
        for step in range(first_step, first_step + n_steps):
            lo, hi = np.uint32(step & 0xFFFFFFFF), np.uint32(step >> 32)
            for members, first_domain in self._classes:
                work = -(-len(members) // p.domain_size) * int(replicas)
                blocks = max(1, min((work + THREADS - 1) // THREADS, 1 << 16))
                # CuPy does not check argument types: every scalar is cast explicitly
                self._sweep((blocks,), (THREADS,), (members, np.int64(len(members)), first_domain,
                                                    np.int32(p.domain_size), replicas, *tail,
                                                    lo, hi))

    def occupation(self) -> np.ndarray:
        return self._host(self._occ)

    def event_counts(self) -> np.ndarray:
        return self._host(self._counts).astype(np.int64)

    def _host(self, array) -> np.ndarray:
        asnumpy = getattr(self._xp, "asnumpy", None)
        return np.array(array) if asnumpy is None else asnumpy(array)
