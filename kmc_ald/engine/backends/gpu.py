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
#: Threads per block of the ensemble kernels (one replica each): small blocks, because replicas
#: diverge from the first event on and a block waits for its slowest thread.
ENSEMBLE_THREADS = 64


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
        # no FMA contraction: the ensemble kernel must round as the CPU twin does
        module = cupy.RawModule(code=source, options=("-std=c++17", "--fmad=false", f"-I{root}"))
        return module.get_function(name)
    except cupy.cuda.compiler.CompileException as err:
        raise KernelCompileError(f"kernels/{filename} failed to compile:\n{err}") from None


class _OnDevice:
    """Where a backend's arrays live: CuPy (imported on first use), or NumPy in the tests."""

    def __init__(self, array_module=None, kernel_loader=None):
        self._xp_module, self._kernel_loader = array_module, kernel_loader or load_kernel

    @property
    def _xp(self):
        if self._xp_module is None:
            import cupy
            self._xp_module = cupy
        return self._xp_module

    def _host(self, array) -> np.ndarray:
        asnumpy = getattr(self._xp, "asnumpy", None)
        return np.array(array) if asnumpy is None else asnumpy(array)


class CupyBackend(_OnDevice):
    """Sweeps on an NVIDIA GPU; one launch per update class, all replicas in the same launch.

    Args:
        array_module: The module that places arrays on the device (CuPy, imported on first use).
            Tests pass NumPy with a host-compiled kernel, so that this launch code, the only one,
            runs without a GPU.
        kernel_loader: ``(filename, name) -> kernel`` called as ``kernel(grid, block, args)``.
    """

    name = "gpu"

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


class CupyEnsemble(_OnDevice):
    """The ensemble solver's replicas on an NVIDIA GPU: kernels/ensemble.cu, one thread per
    replica. The surfaces are copied to the device on load and back on sync.

    Args:
        array_module, kernel_loader: as for :class:`CupyBackend` (tests pass NumPy and the host
            shim, so that this launch code runs without a GPU).
    """

    name = "gpu"

    def load(self, problem, surfaces) -> None:
        xp, d = self._xp, self._xp.asarray
        self.p, self.s = problem, surfaces
        sites, events, moves = problem.sites, problem.events, problem.moves
        g, n_sites = surfaces.occupation.shape
        u8 = functools.partial(np.ascontiguousarray, dtype=np.uint8)
        self._state = {
            "occupation": d(surfaces.occupation), "event_counts": d(surfaces.event_counts),
            "clock": d(surfaces.clock), "counter": d(surfaces.counter),
            "point": d(surfaces.point), "done": d(surfaces.done),
        }
        self._executed = xp.zeros(g, np.int64)
        self._rejected = xp.zeros(g, np.int64)
        size = problem.scratch_size
        self._tables = {
            "site_type": d(sites.site_type), "n_sites": n_sites,
            "neighbours": d(sites.neighbours), "degree": sites.neighbours.shape[1],
            "bond_neighbours": d(sites.bond_neighbours),
            "n_nearest": sites.bond_neighbours.shape[1],
            "near": d(sites.near), "near_width": sites.near.shape[1],
            "near_count": d(sites.near_count), "near_count_width": sites.near_count.shape[1],
            # a flat lattice has no support columns: one unused entry keeps the pointer valid
            "support": d(sites.support if sites.support.size else np.full(1, -1, np.int32)),
            "support_width": sites.support.shape[1],
            "supported": d(sites.supported if sites.supported.size
                           else np.full(1, -1, np.int32)),
            "supported_width": sites.supported.shape[1],
            "event_order": d(events.order), "event_offset": d(events.offset),
            "event_sites": d(events.sites_per_event), "site_in": d(events.site_in),
            "site_out": d(events.site_out), "count_mask": d(events.count_mask),
            "footprint": d(events.footprint), "block_mask": d(events.block_mask),
            "solid": events.solid, "n_events": len(events.sites_per_event),
            "reach_radius": d(problem.reach.radius), "reach_depends": problem.reach.depends,
            "reach_reads": d(problem.reach.reads), "reach_reads_width": problem.reach.reads.shape[1],
            "migrating": d(u8(moves.migrating)), "members": moves.members,
            "accept": d(moves.accept), "max_size": moves.max_size,
            "translations": d(moves.translations),
            "n_translations": moves.translations.shape[0], "pinned": d(u8(moves.pinned)),
            "partner_shell": d(events.partner_shell), "partner_ok": d(events.partner_ok),
            "n_replicas": g, "tree": xp.zeros((g, problem.tree_size)),
            "tree_size": problem.tree_size, "first_leaf": problem.first_leaf,
        }
        self._advance_args = {
            **self._state, "key0": d(np.ascontiguousarray(surfaces.keys[:, 0])),
            "key1": d(np.ascontiguousarray(surfaces.keys[:, 1])),
            "mark": xp.zeros((g, size), np.int64), "stamp": xp.zeros(g, np.int64),
            "cluster": xp.zeros((g, size), np.int64), "carried": xp.zeros((g, size), np.uint8),
            "scratch_size": size, "executed": self._executed, "rejected": self._rejected,
        }
        self._blocks = (max(1, -(-g // ENSEMBLE_THREADS)),)

    def set_rates(self, rate: np.ndarray) -> None:
        rate = np.ascontiguousarray(rate, dtype=np.float64)
        self._tables.update(rate=self._xp.asarray(rate), n_types=rate.shape[2])
        self._launch("ensemble_build_trees", {
            **self._tables, "occupation": self._state["occupation"],
            "point": self._state["point"]})

    def advance(self, t_stop: float, end_of_phase: bool, max_events: int) -> tuple[int, int]:
        # the stop flags are the host's (reset for a new stop time): copy them in
        self._state["done"][...] = self._xp.asarray(self.s.done)
        self._launch("ensemble_advance", {
            **self._tables, **self._advance_args, "t_stop": float(t_stop),
            "end_of_phase": int(end_of_phase), "max_events": int(max_events)})
        self.s.done[...] = self._host(self._state["done"])
        return int(self._executed.sum()), int(self._rejected.sum())

    def sync(self) -> None:
        """Copy the replicas' state back into the host arrays."""
        for name, array in self._state.items():
            getattr(self.s, name)[...] = self._host(array)

    def site_rates(self) -> np.ndarray:
        first, n = self.p.first_leaf, self.s.occupation.shape[1]
        return self._host(self._tables["tree"])[:, first:first + n]

    @functools.cached_property
    def _kernels(self) -> dict:
        return {name: (self._kernel_loader("ensemble.cu", name),
                       kernel_signature("ensemble.cu", name))
                for name in ("ensemble_build_trees", "ensemble_advance")}

    def _launch(self, name: str, arguments: dict) -> None:
        kernel, signature = self._kernels[name]
        kernel(self._blocks, (ENSEMBLE_THREADS,), bind(signature, arguments))
