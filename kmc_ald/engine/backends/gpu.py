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
from kmc_ald.engine.backends.launch import bind, kernel_signature
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
        self._signature = kernel_signature("sweep.cu", "sweep_class")
        names = [p.name for p in self._signature]
        self._step_at = names.index("step_lo"), names.index("step_hi")
        d = xp.asarray
        # a copy: the host array may be a view of the simulation's state
        self._occ = d(np.array(occupation, dtype=np.uint8, order="C"))
        n_replicas, n_sites = self._occ.shape
        sites, events = problem.sites, problem.events
        self._counts = xp.zeros((n_replicas, len(events.sites_per_event)), dtype=np.uint64)
        # every argument of sweep_class but the class and the step, by parameter name
        self._args = {
            "n_replicas": n_replicas, "occupation": self._occ, "n_sites": n_sites,
            "site_type": d(sites.site_type), "neighbours": d(sites.neighbours),
            "degree": sites.neighbours.shape[1], "near": d(sites.near),
            "near_width": sites.near.shape[1], "near_count": d(sites.near_count),
            "near_count_width": sites.near_count.shape[1], "event_order": d(events.order),
            "event_offset": d(events.offset), "event_sites": d(events.sites_per_event),
            "site_in": d(events.site_in), "site_out": d(events.site_out),
            "count_mask": d(events.count_mask), "footprint": d(events.footprint),
            "block_mask": d(events.block_mask), "event_counts": self._counts,
            "n_events": self._counts.shape[1], "domain_size": problem.domain_size,
            "key0": d(np.ascontiguousarray(problem.keys[:, 0])),
            "key1": d(np.ascontiguousarray(problem.keys[:, 1])),
        }
        members = d(problem.members)
        self._classes = [(members[problem.class_offsets[c]:problem.class_offsets[c + 1]],
                          int(problem.domain_offsets[c])) for c in range(problem.n_classes)]

    def set_thresholds(self, thresholds: np.ndarray, gaps: np.ndarray) -> None:
        thr = self._xp.asarray(np.ascontiguousarray(thresholds, dtype=np.uint64))
        degree, n_types = self.p.sites.neighbours.shape[1], int(self.p.sites.site_type.max()) + 1
        if thr.ndim != 3 or thr.shape[0] != self._counts.shape[1] or thr.shape[1] < n_types \
                or thr.shape[2] != degree + 1:
            raise ValueError(f"thresholds: expected [{self._counts.shape[1]} events, >= {n_types} "
                             f"site types, {degree + 1} bond counts], got {tuple(thr.shape)}")
        self._args.update(thresholds=thr, n_types=thr.shape[1], gap_len=len(gaps),
                          gap_table=self._xp.asarray(np.ascontiguousarray(gaps, dtype=np.uint32)))

    def sweeps(self, first_step: int, n_steps: int) -> None:
        replicas = self._occ.shape[0]
        # bound once per class (checked by name and type); only the step changes per launch
        launches = []
        for members, first_domain in self._classes:
            work = -(-len(members) // self.p.domain_size) * replicas
            blocks = max(1, min((work + THREADS - 1) // THREADS, 1 << 16))
            args = list(bind(self._signature, {**self._args, "members": members,
                                               "n_members": len(members),
                                               "first_domain": first_domain,
                                               "step_lo": 0, "step_hi": 0}))
            launches.append(((blocks,), args))
        lo_at, hi_at = self._step_at
        for step in range(first_step, first_step + n_steps):
            lo, hi = np.uint32(step & 0xFFFFFFFF), np.uint32(step >> 32)
            for grid, args in launches:
                args[lo_at], args[hi_at] = lo, hi
                self._sweep(grid, (THREADS,), tuple(args))

    def occupation(self) -> np.ndarray:
        return self._host(self._occ)

    def event_counts(self) -> np.ndarray:
        return self._host(self._counts).astype(np.int64)

    def _host(self, array) -> np.ndarray:
        asnumpy = getattr(self._xp, "asnumpy", None)
        return np.array(array) if asnumpy is None else asnumpy(array)
