"""Figures of a sweep: each observable against each axis with error bars (the ALD window, a
saturation curve), and per point against cycle; with report.md. Units on every axis."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from kmc_ald.analysis.cycles import COLUMNS, mean_sem
from kmc_ald.errors import writing
from kmc_ald.report import ReportError, new_figure
from kmc_ald.sweep.results import _axis_column, _sweep_file

#: Observables drawn against the axes: the steady growth per cycle and the final deposit.
DRAWN = ("growth", "deposited", "clusters", "mean_cluster_size")
MAX_LINES = 12


def _steady(replicas: np.ndarray, name: str = "growth") -> tuple[float, float]:
    """Mean ± s.e. over replicas: of each replica's growth averaged over the second half of the
    cycles (the steady growth per cycle), or of another observable at the last cycle."""
    n = replicas.shape[0]
    per_replica = replicas[n // 2:].mean(axis=0) if name == "growth" else replicas[-1]
    mean, sem = mean_sem(per_replica, axis=0)
    return float(mean), float(sem)


def write_sweep_report(path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write the figures and report.md of a sweep file into ``out_dir``; the files written."""
    out = Path(out_dir)
    with writing(out, "the sweep report folder"):
        out.mkdir(parents=True, exist_ok=True)
    with h5py.File(_sweep_file(path), "r") as f:
        axes = json.loads(f.attrs["axes"])
        failed = json.loads(f.attrs["failed"])
        replicas = int(f.attrs["replicas"])
        keys = sorted(f["points"], key=int)
        if not keys:
            raise ReportError(f"{path}: no finished point to draw")
        values = [json.loads(f["points"][k].attrs["values"]) for k in keys]
        data = {name: [f["points"][k][f"{name}/replicas"][()] for k in keys]
                for name in DRAWN if name in f["points"][keys[0]]}
        first = f["points"][keys[0]]
        # Å per deposited atom per nm², for a second axis of growth in Å/cycle
        angstrom = None
        if "growth_thickness" in first:
            growth = first["growth/replicas"][()]
            if np.any(growth != 0):
                angstrom = float(np.median(first["growth_thickness/replicas"][()][growth != 0]
                                           / growth[growth != 0]))
    # cluster statistics mean nothing for a closed film: drawn only where clusters exist
    data = {name: series for name, series in data.items()
            if name in ("growth", "deposited") or any(np.any(s) for s in series)}
    n_cycles = len(data["growth"][0])
    written = []
    columns = [_axis_column(name, [v[a] for v in values]) for a, name in enumerate(axes)]
    for a, (label, numbers) in enumerate(columns):
        if not all(isinstance(x, float) for x in numbers):
            continue  # an axis of non-numeric values is drawn per point only
        cols = min(2, len(data))
        rows = -(-len(data) // cols)
        fig = new_figure(5.0 * cols, 3.4 * rows)
        panels = fig.subplots(rows, cols, squeeze=False).ravel()
        others = [b for b in range(len(axes)) if b != a]
        groups: dict[tuple, list[int]] = {}
        for p, v in enumerate(values):
            groups.setdefault(tuple(v[b] for b in others), []).append(p)
        for ax, (name, series) in zip(panels, data.items()):
            for rest, members in list(groups.items())[:MAX_LINES]:
                members = sorted(members, key=lambda p: numbers[p])
                stats = np.array([_steady(series[p], name) for p in members])
                tag = ", ".join(f"{axes[b]}={x}" for b, x in zip(others, rest)) or None
                ax.errorbar([numbers[p] for p in members], stats[:, 0], yerr=stats[:, 1],
                            marker="o", capsize=3, label=tag)
            ax.set_xlabel(label)
            if min(numbers) > 0 and max(numbers) > 30 * min(numbers):
                ax.set_xscale("log")  # a dose or a pulse length over decades
            ax.set_ylabel(f"{name} [{COLUMNS[name].units}]")
            if name in ("growth", "deposited"):
                ax.set_ylim(bottom=0)  # a window is judged against zero growth
            if name == "growth" and angstrom and np.isfinite(angstrom):
                ax.secondary_yaxis("right", functions=(lambda g: g * angstrom,
                                                       lambda a: a / angstrom)
                                   ).set_ylabel("Å/cycle")
            when = (f"per cycle, mean of cycles {n_cycles // 2 + 1}-{n_cycles}"
                    if name == "growth" else f"after cycle {n_cycles}")
            ax.set_title(f"{when}; ± s.e. of {replicas} replicas", fontsize=8)
            if len(groups) > 1:
                ax.legend(fontsize=6)
        target = out / f"against_{a}.png"
        fig.savefig(target, dpi=120)
        written.append(target)
    fig = new_figure(6.5, 4.0)
    ax = fig.subplots()
    cycles = np.arange(1, n_cycles + 1)
    for p in range(min(len(keys), MAX_LINES)):
        mean, sem = mean_sem(data["growth"][p], axis=1)
        ax.errorbar(cycles, mean, yerr=sem, capsize=2, lw=1,
                    label=", ".join(f"{n}={x}" for n, x in zip(axes, values[p])))
    ax.set_xlabel("cycle")
    ax.set_ylabel(f"growth [{COLUMNS['growth'].units}]")
    ax.legend(fontsize=6)
    target = out / "growth_per_cycle.png"
    fig.savefig(target, dpi=120)
    written.append(target)
    lines = [f"# Sweep {Path(path)}", "", f"{len(keys)} finished points, {replicas} replicas "
             f"each; {len(failed)} failed.", "", "| point | " + " | ".join(axes)
             + " | growth per cycle (second half) [1/nm^2] |",
             "|---|" + "---|" * len(axes) + "---|"]
    for k, v in zip(keys, values):
        m, s = _steady(data["growth"][keys.index(k)])
        lines.append(f"| {k} | " + " | ".join(v) + f" | {m:.4g} ± {s:.2g} |")
    for k, why in failed.items():
        lines.append(f"\nPoint {k} failed: {why}")
    lines += [""] + [f"![{p.stem}]({p.name})" for p in written]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    written.append(report)
    return written
