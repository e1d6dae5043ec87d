"""The run file: one HDF5 file per run, following H5MD 1.1 conventions.

Layout (units in each dataset's ``units`` attribute)::

    h5md/                         version [1, 1]; author/, creator/ (name, version)
    parameters/scenario           the scenario text as written; attrs sha256, and the overrides
                                  (--set PATH=VALUE) applied on top of it
    observables/coverage/         step (events executed), time [s], value [samples, n_species]
                                  (fraction of surface sites), attribute species
    kmc_ald/provenance            attrs: package version, solver, backend (and backend_reason:
                                  why not the GPU), seed, host, start;
                                  datasets status and wall_time [s], updated at every flush
    kmc_ald/phases/               one row per executed phase: cycle, phase, t_start, t_end [s],
                                  events [rows, n_events] (attribute events: names), scale
                                  [rows, n_events] (stiffness scale factors at the phase end)
    kmc_ald/cycles/               one row per cycle, one dataset per quantity (units attribute),
                                  when the scenario has a deposit section; attribute
                                  nucleation_delay [cycles] (kmc_ald.analysis.cycles)
    kmc_ald/snapshots/            the whole surface at the points output.snapshots asks for:
                                  occupation [frames, (replicas,) sites] (species index per
                                  site; attribute species), cycle (from 1; 0 at the start), phase
                                  (the phase that just ended, "" at the start), phase_index
                                  (-1 at the start), time [s], step (events executed)
    kmc_ald/lattice/              positions [Å], cell [Å], site_type (attribute names), layer,
                                  neighbours, support, supported, substrate_symbols,
                                  substrate_positions [Å], substrate_sites; attributes name,
                                  shape, n_nearest: the Lattice itself (read_lattice)
    kmc_ald/mechanism/            species, events, gases, rates [phases, events, site types,
                                  bonds] [1/s]
    kmc_ald/checkpoint/,          occupation, time, counter ([replicas] for the exact solver's
    kmc_ald/checkpoint_b/         replicas), events, event_counts, cycle, phase, scale,
                                  window_start, rows (coverage, phase and cycle rows written
                                  with it), digest (SHA-256 of all of these), valid: the state
                                  after a completed cycle, in two slots written in turn; the
                                  valid, undamaged one of the later cycle counts

Every array is stored with HDF5's Fletcher-32 checksum (bit flips in data fail the read, one line
naming the file), and each checkpoint carries its own digest, so that ``resume`` refuses a damaged
or altered checkpoint instead of continuing from it.

Rows are buffered in memory and appended in blocks at the end of a cycle (at most once per second
of wall time, and always at the end of the run); every flush leaves a consistent file: it
is written in HDF5's single-writer/multiple-reader (SWMR) mode, so a run killed mid-way leaves a
file that :func:`read_run` (or ``h5py.File(path, "r", swmr=True)``) reads up to the last flush.
"""
from __future__ import annotations

import contextlib
import getpass
import hashlib
import logging
import os
import platform
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from kmc_ald import __version__
from kmc_ald.analysis.cycles import cycle_numbers
from kmc_ald.engine.recipe import Observer, snapshot_due
from kmc_ald.errors import RunFileError

_log = logging.getLogger("kmc_ald")
STATUS_LEN = 16
_STR = h5py.string_dtype()


#: The lattice arrays stored in kmc_ald/lattice, with their units: enough to rebuild the Lattice
#: (kmc_ald.surfaces.lattice) a run ran on, whatever the builders do later.
_LATTICE_ARRAYS = {"positions": "Å", "cell": "Å", "site_type": "1", "layer": "1",
                   "neighbours": "1", "substrate_positions": "Å", "substrate_sites": "1",
                   "support": "1", "supported": "1"}


def _strings(values) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=_STR)


@contextlib.contextmanager
def writer_lock(path: str | Path):
    """The exclusive right to write ``path`` while the block runs, so that a second run onto
    the same file (``--overwrite`` included) is refused instead of truncating a file still being
    written. HDF5's own lock is dropped in SWMR mode (readers must get in), so this is an
    advisory lock (flock) on ``.<name>.lock`` beside the file, released by the operating system
    however the process ends; the lock file itself stays."""
    path = Path(path)
    if not path.parent.is_dir():
        raise RunFileError(f"cannot write {path}: directory {path.parent} does not exist")
    try:
        import fcntl
    except ImportError:  # no flock (Windows): HDF5's own locking is all there is
        yield
        return
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as err:
        raise RunFileError(f"cannot write {path}: {err}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise RunFileError(f"{path} is being written by another run (process {owner}); "
                               "wait for it to end, or write elsewhere with -o") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


class RunFileWriter:
    """Writes one run file; use as a context manager so it is always flushed and closed."""

    def __init__(self, path: str | Path, *, scenario_text: str, overrides: tuple[str, ...],
                 lattice, mechanism, rates, solver: str, backend: str, seed: int,
                 replicas: int = 1, resumed_from: str | None = None,
                 backend_reason: str | None = None,
                 overwrite: bool = False, flush_rows: int = 4096, flush_seconds: float = 1.0):
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise RunFileError(f"{self.path} exists; choose another output with -o, or pass "
                               "--overwrite to replace it")
        if not self.path.parent.exists():
            raise RunFileError(f"cannot write {self.path}: directory {self.path.parent} "
                               "does not exist")
        try:
            self._f = h5py.File(self.path, "w", libver="latest")
        except OSError as err:
            raise RunFileError(f"cannot create the run file {self.path}: {err}") from None
        self._t0 = time.perf_counter()
        self._flush_rows = flush_rows
        self._flush_seconds = flush_seconds
        self._last_flush = -float("inf")
        self._checkpoint = None
        self._slot = len(CHECKPOINT_SLOTS) - 1  # the next checkpoint goes to slot 0
        self._disk_full = False
        self._cov: list[tuple[int, float, np.ndarray]] = []
        # buffered rows, one dict per row keyed by dataset name
        self._phases: list[dict[str, Any]] = []
        self._cycles: list[dict[str, np.ndarray]] = []
        self._snapshots: list[dict[str, Any]] = []
        self._growth: list[np.ndarray] = []  # every cycle's growth, for the nucleation delay
        # one extra axis for replicas, after the sample axis, when there is more than one
        self._replicas = replicas
        self._replica_axis = (replicas,) if replicas > 1 else ()
        self._n_species = len(mechanism.species)
        self._n_events = mechanism.n_events
        self._create(scenario_text, overrides, lattice, mechanism, rates, solver, backend, seed)
        if resumed_from is not None:
            self._f["kmc_ald/provenance"].attrs["resumed_from"] = str(resumed_from)
        if backend_reason is not None:  # why the run is not on the GPU
            self._f["kmc_ald/provenance"].attrs["backend_reason"] = str(backend_reason)
        self._f.swmr_mode = True

    # -- layout -----------------------------------------------------------------------------
    def _create(self, text, overrides, lattice, mechanism, rates, solver, backend, seed):
        f = self._f
        h5md = f.create_group("h5md")
        h5md.attrs["version"] = np.array([1, 1], dtype=np.int32)
        h5md.create_group("author").attrs["name"] = getpass.getuser() if _has_user() else "unknown"
        creator = h5md.create_group("creator")
        creator.attrs["name"] = "kmc-ald"
        creator.attrs["version"] = __version__

        params = f.create_group("parameters")
        ds = params.create_dataset("scenario", data=text, dtype=_STR)
        ds.attrs["sha256"] = hashlib.sha256(text.encode()).hexdigest()
        ds.attrs["overrides"] = _strings(overrides)

        cov = f.create_group("observables/coverage")
        self._series(cov, "step", np.int64, (), "1", "events executed")
        self._series(cov, "time", np.float64, (), "s", "simulated time")
        v = self._series(cov, "value", np.float64, (*self._replica_axis, self._n_species), "1",
                         "occupied sites of each species / surface sites"
                         + (" (axes: sample, replica, species)" if self._replica_axis else ""))
        v.attrs["species"] = _strings(mechanism.species)

        k = f.create_group("kmc_ald")
        prov = k.create_group("provenance")
        for key, value in {
            "package": "kmc-ald", "version": __version__, "solver": solver, "backend": backend,
            "seed": str(seed), "replicas": int(self._replicas), "host": socket.gethostname(),
            "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": _version("numba"), "h5py": h5py.__version__,
            "start": datetime.now(UTC).isoformat(timespec="seconds"),
        }.items():
            prov.attrs[key] = value
        self._status = prov.create_dataset("status", data=np.bytes_("running"),
                                           dtype=f"S{STATUS_LEN}")
        self._wall = prov.create_dataset("wall_time", data=0.0)
        self._wall.attrs["units"] = "s"

        ph = k.create_group("phases")
        self._series(ph, "cycle", np.int32, (), "1", "cycle index, from 0")
        self._series(ph, "phase", _STR, (), "", "phase name")
        self._series(ph, "t_start", np.float64, (), "s", "phase start")
        self._series(ph, "t_end", np.float64, (), "s", "phase end")
        ev = self._series(ph, "events", np.int64, (*self._replica_axis, self._n_events), "1",
                          "events executed in the phase, per event type"
                          + (" (axes: row, replica, event)" if self._replica_axis else ""))
        ev.attrs["events"] = _strings(mechanism.event_names)
        sc = self._series(ph, "scale", np.float64, (self._n_events,), "1",
                          "stiffness scale factor of each event type at the phase end (1: the "
                          "true rate)")
        sc.attrs["events"] = _strings(mechanism.event_names)
        self._gases, self._phase_names = mechanism.gases, rates.phase_names
        self._species = mechanism.species

        snap = k.create_group("snapshots")
        self._series(snap, "cycle", np.int32, (), "1", "cycle number, from 1 (0 at the start)")
        self._series(snap, "phase", _STR, (), "", "the phase that just ended ('' at the start)")
        self._series(snap, "phase_index", np.int32, (), "1",
                     "index of that phase in the recipe (-1 at the start)")
        self._series(snap, "time", np.float64, (), "s", "simulated time")
        self._series(snap, "step", np.int64, (), "1", "events executed")
        n_sites = lattice.n_sites
        occ = snap.create_dataset("occupation", shape=(0, *self._replica_axis, n_sites),
                                  maxshape=(None, *self._replica_axis, n_sites), dtype=np.uint8,
                                  chunks=(1, *self._replica_axis, n_sites), **COMPRESSED)
        occ.attrs["units"] = "1"
        occ.attrs["description"] = ("species index of every site (0: empty)"
                                    + (" (axes: frame, replica, site)" if self._replica_axis
                                       else " (axes: frame, site)"))
        occ.attrs["species"] = _strings(mechanism.species)

        lat = k.create_group("lattice")
        lat.attrs["name"] = lattice.name
        lat.attrs["shape"] = np.array(lattice.shape)
        lat.attrs["n_nearest"] = lattice.n_nearest
        for name, units in _LATTICE_ARRAYS.items():
            data = getattr(lattice, name)
            d = lat.create_dataset(name, data=data, **(COMPRESSED if data.size else {}))
            d.attrs["units"] = units
        lat["site_type"].attrs["names"] = _strings(lattice.site_type_names)
        lat.create_dataset("substrate_symbols", data=_strings(lattice.substrate_symbols),
                           dtype=_STR).attrs["units"] = ""

        mech = k.create_group("mechanism")
        mech.attrs["species"] = _strings(mechanism.species)
        mech.attrs["events"] = _strings(mechanism.event_names)
        mech.attrs["gases"] = _strings(mechanism.gases)
        r = mech.create_dataset("rates", data=rates.rate, **(CHECKED if rates.rate.size else {}))
        r.attrs["units"] = "1/s"
        r.attrs["axes"] = _strings(["phase", "event", "site_type", "bond_count"])
        r.attrs["phases"] = _strings(rates.phase_names)
        for name, data in (("gas_in", mechanism.gas_in), ("gas_out", mechanism.gas_out)):
            mech.create_dataset(name, data=data).attrs["units"] = "molecules per event"

        for slot in CHECKPOINT_SLOTS:  # two, written in turn: a kill mid-write spares the other
            self._create_checkpoint(k.create_group(slot), lattice, solver)

    def _create_checkpoint(self, cp, lattice, solver: str) -> None:
        cp.create_dataset("occupation", data=np.zeros((*self._replica_axis, lattice.n_sites),
                                                      np.uint8), **COMPRESSED)
        cp.create_dataset("event_counts", data=np.zeros((*self._replica_axis, self._n_events),
                                                        np.int64))
        cp.create_dataset("window_start", data=np.zeros((*self._replica_axis, self._n_events),
                                                        np.int64))
        cp.create_dataset("scale", data=np.ones(self._n_events))
        for name, dtype in (("time", np.float64), ("events", np.int64), ("cycle", np.int64),
                            ("phase", np.int64), ("valid", np.int8)):
            cp.create_dataset(name, data=np.zeros((), dtype))
        # the exact solver's replicas each count their draws; the parallel solver's share sweeps
        counters = self._replica_axis if solver == "exact" else ()
        cp.create_dataset("counter", data=np.zeros(counters, np.int64))
        cp.create_dataset("rows", data=np.zeros(3, np.int64)).attrs["description"] = (
            "coverage, phase and cycle rows in the file when the checkpoint was written")
        cp.create_dataset("digest", data=np.bytes_(b"0" * 64))
        cp["time"].attrs["units"] = "s"

    @staticmethod
    def _series(group, name, dtype, tail, units, description):
        chunk_rows = max(16, 4096 // max(1, int(np.prod(tail, dtype=int))))
        # an empty axis (no gases) cannot be chunked as it is: it gets an unlimited maximum
        maxshape = tuple(None if t == 0 else t for t in tail)
        ds = group.create_dataset(name, shape=(0, *tail), maxshape=(None, *maxshape),
                                  dtype=dtype, chunks=(chunk_rows, *(max(1, t) for t in tail)),
                                  **({} if dtype is _STR else CHECKED))  # no filters on text
        ds.attrs["units"] = units
        ds.attrs["description"] = description
        return ds

    # -- appending ----------------------------------------------------------------------------
    def add_history(self, run: RunRecord, snapshot_wanted=None) -> None:
        """Copy the rows of an earlier run up to its checkpoint (the start of a resumed run).

        ``snapshot_wanted(phase_index, cycle)`` (0-based cycle; phase -1: the start) keeps only
        the earlier snapshots this run's own schedule asks for: a run extended with
        ``--cycles`` then holds what an uninterrupted run of as many cycles would."""
        cp = run.checkpoint
        keep = (run.coverage_step <= cp["events"]) & (run.coverage_time <= cp["time"])
        for step, t, value in zip(run.coverage_step[keep], run.coverage_time[keep],
                                  run.coverage[keep]):
            self._cov.append((int(step), float(t), value))
        rows = run.phases["cycle"] < cp["cycle"]
        for k in np.flatnonzero(rows):
            self._phases.append({name: column[k] for name, column in run.phases.items()})
        if run.cycles:
            for k in np.flatnonzero(cycle_numbers(run.cycles) <= cp["cycle"]):
                self.add_cycle({name: column[k] for name, column in run.cycles.items()})
        meta = run.snapshots
        for k in np.flatnonzero(meta.get("cycle", np.zeros(0)) <= cp["cycle"]):
            if snapshot_wanted is not None and not snapshot_wanted(
                    int(meta["phase_index"][k]), int(meta["cycle"][k]) - 1):
                continue
            self.add_snapshot(int(meta["cycle"][k]), str(meta["phase"][k]),
                              int(meta["phase_index"][k]), float(meta["time"][k]),
                              int(meta["step"][k]), run.snapshot(int(k)))
        self.flush()

    def add_coverage(self, step: int, t: float, value: np.ndarray) -> None:
        self._cov.append((step, t, np.asarray(value, dtype=float)))
        if len(self._cov) >= self._flush_rows:
            self.flush()

    def add_phase(self, cycle: int, phase: str, t_start: float, t_end: float,
                  events: np.ndarray, scale: np.ndarray) -> None:
        self._phases.append({"cycle": cycle, "phase": phase, "t_start": t_start, "t_end": t_end,
                             "events": np.asarray(events, np.int64),
                             "scale": np.asarray(scale, np.float64)})

    def add_snapshot(self, cycle: int, phase: str, phase_index: int, t: float, step: int,
                     occupation: np.ndarray) -> None:
        """The whole surface (a copy is kept until the next flush)."""
        self._snapshots.append({"cycle": cycle, "phase": phase, "phase_index": phase_index,
                                "time": t, "step": step,
                                "occupation": np.array(occupation, dtype=np.uint8)})

    def add_cycle(self, row: dict[str, np.ndarray]) -> None:
        """One row of per-cycle statistics (kmc_ald.analysis.cycles.COLUMNS)."""
        self._cycles.append(row)
        self._growth.append(np.asarray(row["growth"]))

    def _create_cycles(self, row: dict[str, np.ndarray]) -> h5py.Group:
        from kmc_ald.analysis.cycles import COLUMNS, SIZE_BINS

        group = self._f.create_group("kmc_ald/cycles")
        for name, value in row.items():
            value = np.asarray(value)
            ds = self._series(group, name, value.dtype, value.shape, COLUMNS[name].units,
                              COLUMNS[name].description)
            if name in ("gas_consumed", "gas_released"):
                ds.attrs["gases"] = _strings(self._gases)
            elif name == "coverage_end_of_phase":
                ds.attrs["phases"] = _strings(self._phase_names)
                ds.attrs["species"] = _strings(self._species)
            elif name == "size_distribution":
                ds.attrs["bin_lower"] = 2 ** np.arange(SIZE_BINS)
        return group

    def _write_checkpoint(self, state) -> None:
        """Store the state after a completed cycle, so the run can be continued from it.

        The two slots are written in turn. In the slot being written, ``valid`` is cleared and
        flushed before the datasets change and set again after, so a run killed in between
        leaves that slot invalid and the other one, one flush older, whole.
        """
        self._slot = (self._slot + 1) % len(CHECKPOINT_SLOTS)
        cp = self._f[f"kmc_ald/{CHECKPOINT_SLOTS[self._slot]}"]
        cp["valid"][()] = 0
        self._f.flush()
        cp["occupation"][...] = state.occupation
        cp["event_counts"][...] = state.event_counts
        cp["window_start"][...] = state.window_start
        cp["scale"][...] = state.scale
        for name in ("time", "counter", "events", "cycle", "phase"):
            cp[name][()] = getattr(state, name)
        cp["rows"][...] = _row_counts(self._f)
        cp["digest"][()] = np.bytes_(checkpoint_digest({k: cp[k][()] for k in _DIGESTED}))
        self._f.flush()
        cp["valid"][()] = 1

    def end_cycle(self, state) -> None:
        """Note the state after a completed cycle; flush when the last flush is old enough.

        The checkpoint is written in the same flush as the rows up to that cycle, so a killed
        run's file never holds a checkpoint ahead of its traces.
        """
        self._checkpoint = state.copy()
        if time.perf_counter() - self._last_flush >= self._flush_seconds:
            self.flush()

    def _check_space(self) -> None:
        """Stop before a write the disk cannot take. HDF5 can lose a failed write of its caches
        without an error (seen on a full tmpfs: the run completed, its last rows were zeros),
        so the run stops while there is room, and the file keeps every cycle flushed before."""
        try:
            stat = os.statvfs(self.path.parent)
        except (OSError, AttributeError):  # no statvfs (Windows): HDF5's own errors only
            return
        free = stat.f_bavail * stat.f_frsize
        pending = sum(v.nbytes for _, _, v in self._cov) + 4096 * (
            len(self._phases) + len(self._cycles) + len(self._snapshots))
        if self._checkpoint is not None:
            pending += self._checkpoint.occupation.nbytes
        if free < MIN_FREE_BYTES + 2 * pending:
            self._disk_full = True
            kept = max((int(self._f[f"kmc_ald/{slot}/cycle"][()]) for slot in CHECKPOINT_SLOTS
                        if int(self._f[f"kmc_ald/{slot}/valid"][()])), default=0)
            raise RunFileError(f"the disk holding {self.path} is full ({free / 2**20:.1f} MiB "
                               f"free, {MIN_FREE_BYTES / 2**20:.0f} MiB kept in reserve); the "
                               f"run stopped, and the file keeps its first {kept} cycle(s): "
                               f"free some space, then continue with kmc-ald resume {self.path}")

    def flush(self) -> None:
        """Append the buffered rows in one block per dataset, then flush the file to disk."""
        self._check_space()
        f = self._f
        if self._cov:
            steps, times, values = zip(*self._cov)
            _append(f["observables/coverage"], step=np.array(steps), time=np.array(times),
                    value=np.stack(values))
            self._cov.clear()
        for group, rows in (("kmc_ald/phases", self._phases),
                            ("kmc_ald/snapshots", self._snapshots)):
            if rows:
                _append_rows(f[group], rows)
                rows.clear()
        if self._cycles:
            from kmc_ald.analysis.cycles import nucleation_delay

            group = f.get("kmc_ald/cycles") or self._create_cycles(self._cycles[0])
            _append_rows(group, self._cycles)
            self._cycles.clear()
            growth = np.stack(self._growth)  # [cycles] or [cycles, replicas]
            delay = [nucleation_delay(g) for g in growth.reshape(len(growth), -1).T]
            group.attrs["nucleation_delay"] = np.array(delay if growth.ndim > 1 else delay[0])
        if self._checkpoint is not None:
            self._write_checkpoint(self._checkpoint)
            self._checkpoint = None
        self._wall[()] = time.perf_counter() - self._t0
        f.flush()
        self._last_flush = time.perf_counter()

    def close(self, status: str = "completed") -> None:
        if not self._f.id.valid:
            return
        try:
            if self._disk_full:  # nothing more to write but the status, if it still fits
                with contextlib.suppress(OSError):
                    self._status[()] = np.bytes_("disk full"[:STATUS_LEN])
                    self._f.flush()
                return
            self.flush()
            self._status[()] = np.bytes_(status[:STATUS_LEN])
            self._f.flush()
        finally:
            self._f.close()

    def __enter__(self) -> RunFileWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted")
        else:
            self.close("failed")


def _append(group, **columns) -> None:
    for name, data in columns.items():
        ds = group[name]
        n0 = ds.shape[0]
        ds.resize(n0 + len(data), axis=0)
        ds[n0:] = data


def _append_rows(group, rows: list[dict[str, Any]]) -> None:
    """Append buffered rows (dicts keyed by dataset name) as one block per dataset."""
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    _append(group, **{name: _strings(v) if isinstance(v[0], str) else np.stack(v)
                      for name, v in columns.items()})


def _cycle_list(cycles: list[int], shown: int = 6) -> str:
    """``1, 3, 5, ... (12 in all)``: a short list of cycle numbers for a message."""
    text = ", ".join(map(str, cycles[:shown]))
    return text if len(cycles) <= shown else f"{text}, ... ({len(cycles)} in all)"


def _has_user() -> bool:
    try:
        getpass.getuser()
        return True
    except (KeyError, OSError):
        return False


def _version(module: str) -> str:
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:  # noqa: BLE001 - provenance must never stop a run
        return "unknown"


class RunFileObserver(Observer):
    """Writes what the recipe loop does (kmc_ald.engine.recipe) into a :class:`RunFileWriter`:
    coverage samples, phase rows, snapshots where ``output.snapshots`` asks, per-cycle rows
    (put into the summary by an observer before this one), and a checkpoint at each cycle end.

    Args:
        writer: The open writer.
        model, state: The compiled scenario and the state the loop advances.
        history: The run this one resumes (its rows are copied first), or None.
    """

    def __init__(self, writer: RunFileWriter, model, state, history: RunRecord | None = None):
        self.writer, self.model, self.state, self.history = writer, model, state, history

    def start(self, summary) -> None:
        self.summary = summary
        self._cycle_rows = len(summary.cycle_rows)  # those of the run it resumes are in history
        if self.history is not None:
            self._copy_history()
        state = self.state
        if state.cycle == 0 and state.phase == 0 and state.events == 0 and \
                snapshot_due(self.model, -1, 0):
            self.writer.add_snapshot(0, "", -1, state.time, state.events, state.occupation)

    def _copy_history(self) -> None:
        """The earlier run's rows, and those of its snapshots this run's schedule asks for;
        a warning names the ones it asks for that the earlier run did not store (the default
        interval, ceil(cycles / 100), changes with --cycles)."""
        model, history = self.model, self.history

        def wanted(phase_index: int, cycle: int) -> bool:
            return snapshot_due(model, phase_index, cycle)
        self.writer.add_history(history, wanted)
        last = int(history.checkpoint["cycle"])
        stored = set(zip(history.snapshots.get("cycle", ()),
                         history.snapshots.get("phase_index", ()), strict=True))
        missing = [c + 1 for c in range(last) for p in range(len(model.scenario.recipe.phases))
                   if wanted(p, c) and (c + 1, p) not in stored]
        if missing:
            _log.warning("%s stored no surface after cycle(s) %s, which this run's snapshot "
                         "schedule (output.snapshots) asks for; they stay missing. Set "
                         "output.snapshots.every to keep one schedule when extending a run",
                         history.path, _cycle_list(sorted(set(missing))))

    def sample(self, t: float, coverage: np.ndarray) -> None:
        self.writer.add_coverage(self.state.events, t, coverage)

    def phase_end(self, phase_index: int, row: tuple) -> None:
        self.writer.add_phase(*row)
        state = self.state
        if snapshot_due(self.model, phase_index, state.cycle):
            self.writer.add_snapshot(state.cycle + 1, row[1], phase_index, state.time,
                                     state.events, state.occupation)

    def cycle_end(self, events: np.ndarray, phase_coverage) -> None:
        rows = self.summary.cycle_rows
        for row in rows[self._cycle_rows:]:
            self.writer.add_cycle(row)
        self._cycle_rows = len(rows)
        self.writer.end_cycle(self.state)


# -- reading ------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """What a run file holds, as numpy arrays (see the module docstring for units); not to be
    confused with ``kmc_ald.scenario.schema.Run``, a scenario's run settings."""

    path: Path
    scenario: str
    overrides: tuple[str, ...]
    provenance: dict[str, Any]
    species: tuple[str, ...]
    events: tuple[str, ...]
    coverage_step: np.ndarray
    coverage_time: np.ndarray
    coverage: np.ndarray
    phases: dict[str, np.ndarray] = field(default_factory=dict)
    checkpoint: dict[str, Any] | None = None
    #: why a checkpoint was passed over as damaged (None: none was)
    checkpoint_problem: str | None = None
    cycles: dict[str, np.ndarray] = field(default_factory=dict)
    cycles_units: dict[str, str] = field(default_factory=dict)
    #: one entry per stored surface: cycle, phase, phase_index, time [s], step (see
    #: :meth:`snapshot` for the surface itself); empty in files without snapshots
    snapshots: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        """Snapshots stored in the file."""
        return len(self.snapshots.get("cycle", ()))

    def snapshot(self, frame: int) -> np.ndarray:
        """The species index of every site (``[replicas, sites]`` with replicas) at ``frame``.

        Read from the file on demand, so a long run's snapshots never all sit in memory.
        """
        if not -self.n_frames <= frame < self.n_frames:
            raise RunFileError(f"{self.path}: no snapshot {frame} (it holds {self.n_frames})")
        with _open(self.path) as f, _damage(self.path):
            return f["kmc_ald/snapshots/occupation"][frame % self.n_frames]


def _decoded(values: np.ndarray) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else v for v in values], dtype=object)


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Free disk space a run file's flush leaves untouched [bytes].
MIN_FREE_BYTES = 8 << 20
#: The checkpoint slots, written in turn (files before version 0.1.0 have the first only).
CHECKPOINT_SLOTS = ("checkpoint", "checkpoint_b")


#: HDF5 filters of every stored array: the Fletcher-32 checksum, and gzip for the surfaces.
CHECKED = {"fletcher32": True}
COMPRESSED = {"compression": "gzip", "shuffle": True, "fletcher32": True}
#: What a checkpoint's digest covers: the whole state and where it sits among the rows.
_DIGESTED = ("occupation", "event_counts", "window_start", "scale", "time", "counter", "events",
             "cycle", "phase", "rows")


def checkpoint_digest(data: dict[str, Any]) -> str:
    """SHA-256 (hex) over a checkpoint's state and row counts, in a fixed order and dtype."""
    h = hashlib.sha256()
    for name in _DIGESTED:
        value = np.asarray(data[name])
        dtype = {"f": "<f8", "u": "<u8"}.get(value.dtype.kind, "<i8")
        h.update(name.encode())
        h.update(np.ascontiguousarray(value, dtype=dtype).tobytes())
    return h.hexdigest()


def _row_counts(f: h5py.File) -> np.ndarray:
    """Coverage, phase and cycle rows in the file (the position a checkpoint belongs to)."""
    cycles = f.get("kmc_ald/cycles/cycle")
    return np.array([f["observables/coverage/step"].shape[0], f["kmc_ald/phases/cycle"].shape[0],
                     0 if cycles is None else cycles.shape[0]], dtype=np.int64)


def _newest_checkpoint(f: h5py.File) -> tuple[dict[str, Any] | None, str | None]:
    """The valid, undamaged checkpoint of the latest cycle (or None), and what was wrong with
    a checkpoint passed over for damage (or None).

    A slot being written when the run was killed is marked invalid and is skipped quietly; a
    slot whose digest does not match its contents, or that claims rows the file does not hold,
    was damaged or altered after it was written."""
    best, problem = None, None
    rows = _row_counts(f)
    for slot in CHECKPOINT_SLOTS:
        cp = f.get(f"kmc_ald/{slot}")
        if cp is None or not int(cp["valid"][()]):
            continue
        data = {k: cp[k][()] for k in cp}
        if "digest" in data:  # files before version 0.1.0 carry none
            if data["digest"].decode() != checkpoint_digest(data):
                problem = f"checkpoint {slot!r} does not match its digest (damaged or altered)"
                continue
            if (np.asarray(data["rows"]) > rows).any():
                problem = (f"checkpoint {slot!r} belongs to {data['rows'].tolist()} coverage, "
                           f"phase and cycle rows but the file holds {rows.tolist()}")
                continue
        if best is None or int(data["cycle"]) > int(best["cycle"]):
            best = data
    return best, problem


def _check_whole(path: Path) -> None:
    """Refuse a file shorter than its HDF5 superblock says (a copy cut short, a full disk):
    HDF5 can loop for minutes over the missing part instead of failing."""
    if path.exists() and not path.is_file():  # a folder, a FIFO, a device: never read it
        raise RunFileError(f"{path}: not a regular file, so not a run file")
    try:
        with open(path, "rb") as f:
            head = f.read(48)
            size = f.seek(0, 2)
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such run file") from None
    except OSError as err:
        raise RunFileError(f"{path}: cannot read the run file ({err})") from None
    if not head.startswith(_HDF5_SIGNATURE):
        raise RunFileError(f"{path}: not an HDF5 file, so not a kmc-ald run file")
    version, offsets = head[8], head[9]
    if version in (2, 3) and offsets in (4, 8) and len(head) >= 12 + 3 * offsets:
        at = 12 + 2 * offsets  # after the base and superblock-extension addresses
        end = int.from_bytes(head[at:at + offsets], "little")
        if size < end:
            raise RunFileError(f"{path}: truncated ({size:,} of its {end:,} bytes are there); "
                               "the run file cannot be read")


@contextlib.contextmanager
def _damage(path: Path):
    """What a damaged file raises while it is read (h5py's RuntimeError on a bad checksum, a
    missing dataset, a wrong type) becomes one line naming the file."""
    try:
        yield
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError, AttributeError,
            UnicodeDecodeError, OSError) as err:
        if "filter returned failure" in str(err):
            raise RunFileError(f"{path}: damaged: stored data fail their Fletcher-32 checksum "
                               "(changed on disk after they were written)") from None
        raise RunFileError(f"{path}: damaged, or not a kmc-ald run file ({type(err).__name__}: "
                           f"{err})") from None


def _open(path: Path) -> h5py.File:
    _check_whole(path)
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such run file") from None
    except (OSError, RuntimeError):
        try:  # a run killed while writing leaves the SWMR "open for write" flag set
            return h5py.File(path, "r", libver="latest", swmr=True)
        except (OSError, RuntimeError) as err:
            raise RunFileError(f"{path}: not a readable kmc-ald run file ({err})") from None


def read_run(path: str | Path) -> RunRecord:
    """Read a run file, including one whose run was killed (up to its last flush)."""
    path = Path(path)
    with _open(path) as f, _damage(path):
        if "kmc_ald" not in f or "h5md" not in f:
            raise RunFileError(f"{path}: an HDF5 file, but not a kmc-ald run file")
        prov = dict(f["kmc_ald/provenance"].attrs)
        prov["status"] = f["kmc_ald/provenance/status"][()].decode()
        prov["wall_time"] = float(f["kmc_ald/provenance/wall_time"][()])
        cov = f["observables/coverage"]
        ph = f["kmc_ald/phases"]
        phases = {k: ph[k][()] for k in ph}
        phases["phase"] = _decoded(phases["phase"])
        checkpoint, checkpoint_problem = _newest_checkpoint(f)
        text = f["parameters/scenario"]
        group = f.get("kmc_ald/cycles")
        cycles = {k: group[k][()] for k in group} if group is not None else {}
        units = {k: str(group[k].attrs["units"]) for k in group} if group is not None else {}
        snap = f.get("kmc_ald/snapshots")
        snapshots = ({k: snap[k][()] for k in snap if k != "occupation"} if snap is not None
                     else {})
        if snapshots:
            snapshots["phase"] = _decoded(snapshots["phase"])
        return RunRecord(cycles=cycles, cycles_units=units, snapshots=snapshots, path=path,
                   scenario=text[()].decode(),
                   overrides=tuple(text.attrs.get("overrides", ())), provenance=prov,
                   species=tuple(cov["value"].attrs["species"]),
                   events=tuple(ph["events"].attrs["events"]),
                   coverage_step=cov["step"][()], coverage_time=cov["time"][()],
                   coverage=cov["value"][()], phases=phases, checkpoint=checkpoint,
                   checkpoint_problem=checkpoint_problem)


def read_lattice(path: str | Path):
    """The lattice a run ran on, as stored in its run file (kmc_ald.surfaces.lattice.Lattice),
    or None for a file written before the whole lattice was stored."""
    from kmc_ald.surfaces.lattice import Lattice

    path = Path(path)
    with _open(path) as f, _damage(path):
        group = f.get("kmc_ald/lattice")
        if group is None or "substrate_symbols" not in group:
            return None
        arrays = {name: group[name][()] for name in _LATTICE_ARRAYS}
        symbols = tuple(_decoded(group["substrate_symbols"][()]))
        return Lattice(name=str(group.attrs["name"]), shape=tuple(int(n) for n in
                                                                  group.attrs["shape"]),
                       site_type_names=tuple(str(n) for n in group["site_type"].attrs["names"]),
                       substrate_symbols=symbols, n_nearest=int(group.attrs["n_nearest"]),
                       **arrays)
