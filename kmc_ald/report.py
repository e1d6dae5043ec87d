"""Figures and a short summary of a run file, for a paper or a lab notebook.

:func:`write_report` reads a run file (never changing it) and writes PNG figures and a Markdown
summary into a folder:

* ``coverage.png``: coverage of each surface species over the whole run, and over the last two
  cycles with each phase shaded and named;
* ``loading_growth.png``: loading (wt%) and growth per cycle (atoms/nm² and Å), with the
  nucleation delay marked (runs with a deposit section);
* ``particles.png``: single-atom fraction and cluster density per cycle (same);
* ``size_distribution.png``: clusters per nm² by size in atoms at the chosen cycles, with the
  standard error over replicas as error bars when the run has replicas;
* ``surface.png``: top views at the chosen cycles, sites coloured by type, adsorbates by species,
  clusters of two or more outlined; on a stacked lattice atoms are drawn layer by layer, lighter
  the higher they sit, so particles read as height maps;
* ``report.md``: what ran, the final per-cycle values, and the figures.

Matplotlib is an optional dependency (``pip install kmc-ald[plot]``); figures are drawn with the
object-oriented API on the Agg canvas, so no display is needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kmc_ald.analysis.clusters import cluster_labels
from kmc_ald.analysis.cycles import element_atoms, mean_sem, nucleation_delay
from kmc_ald.errors import KmcAldError, writing
from kmc_ald.io.runfile import RunRecord, read_run
from kmc_ald.io.structures import ExportError, builder_for_run

DPI = 150
MAX_PANELS = 4


class ReportError(KmcAldError, RuntimeError):
    """A report cannot be drawn (no matplotlib, or nothing to draw)."""

    exit_code = 1


@dataclass
class _Context:
    run: RunRecord
    builder: object  # kmc_ald.io.structures.StructureBuilder
    weights: np.ndarray  # element atoms per species
    element: str | None
    area_nm2: float


def new_figure(width: float, height: float, **kwargs):
    """A matplotlib Figure (constrained layout), or a ReportError saying how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ReportError("kmc-ald report draws with matplotlib: pip install matplotlib (or, in "
                          "the checkout, pip install -e '.[plot]')"
                          ) from None
    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def write_report(run_file: str | Path, out_dir: str | Path,
                 cycles: list[int] | None = None) -> list[Path]:
    """Write the figures and ``report.md`` of a run file into ``out_dir`` (created if needed).

    Args:
        run_file: The run file (only read).
        out_dir: Folder for the PNG files and report.md.
        cycles: Cycles for the size distributions and top views; default: up to four stored
            end-of-cycle snapshots, evenly spread from the first to the last.

    Returns:
        The files written, report.md last.
    """
    run = read_run(run_file)
    builder = builder_for_run(run)
    deposit = builder.scenario.deposit
    out = Path(out_dir)
    with writing(out, "the report folder"):
        out.mkdir(parents=True, exist_ok=True)
        (out / ".written").touch()
        (out / ".written").unlink()  # a folder that exists but refuses files fails here, too
    ctx = _Context(run, builder, element_atoms(deposit, run.species),
                   deposit.element if deposit is not None else None,
                   builder.lattice.area / 100.0)
    written = [_coverage(ctx, out / "coverage.png")]
    if run.cycles:
        written.append(_loading_growth(ctx, out / "loading_growth.png"))
        if _has_clusters(ctx):  # a closed film, or nothing deposited: no particles to draw
            written.append(_particles(ctx, out / "particles.png"))
    frames = _chosen_frames(run, len(builder.scenario.recipe.phases), cycles)
    if frames:
        if not run.cycles or _has_clusters(ctx):
            written.append(_size_distribution(ctx, frames, out / "size_distribution.png"))
        written.append(_surface(ctx, frames, out / "surface.png"))
    written.append(_markdown(ctx, written, out / "report.md"))
    return written


# -- frames ---------------------------------------------------------------------------------------
def _chosen_frames(run: RunRecord, n_phases: int, cycles: list[int] | None) -> list[int]:
    """Snapshot frames at the end of the chosen cycles (or the start, for cycle 0)."""
    if run.n_frames == 0:
        return []
    meta = run.snapshots
    last_phase = n_phases - 1
    ends = {int(c): k for k, (c, p) in enumerate(zip(meta["cycle"], meta["phase_index"]))
            if p == last_phase or p == -1}
    if not ends:  # snapshots at other points only: take the last frame of each cycle
        ends = {int(c): k for k, c in enumerate(meta["cycle"])}
    if cycles is None:
        stored = sorted(ends)
        picks = np.linspace(0, len(stored) - 1, min(MAX_PANELS, len(stored))).round()
        return [ends[stored[int(i)]] for i in dict.fromkeys(picks)]
    missing = [c for c in cycles if c not in ends]
    if missing:
        raise ExportError(f"no end-of-cycle snapshot at cycle(s) {missing}; the run file holds "
                          f"cycles {_ranges(sorted(ends))} (output.snapshots sets which)")
    return [ends[c] for c in cycles]


def _ranges(values: list[int]) -> str:
    if len(values) > 12:
        return f"{', '.join(map(str, values[:10]))}, ..., {values[-1]}"
    return ", ".join(map(str, values))


def _frame_label(run: RunRecord, frame: int) -> str:
    cycle = int(run.snapshots["cycle"][frame])
    return "start" if run.snapshots["phase_index"][frame] < 0 else f"cycle {cycle}"


def _clusters(ctx: _Context, occupation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cluster label per site, atoms per cluster) of one surface."""
    atoms = ctx.weights[occupation]
    held = atoms > 0
    label = cluster_labels(held, ctx.builder.lattice.neighbours)
    sizes = np.bincount(label[held], weights=atoms[held]).astype(np.int64)
    return label, sizes


# -- figures --------------------------------------------------------------------------------------
def _coverage(ctx: _Context, path: Path) -> Path:
    run = ctx.run
    t, cov = run.coverage_time, run.coverage
    if cov.ndim == 2:
        cov = cov[:, None, :]  # [samples, replicas, species]
    mean, sem = mean_sem(cov, axis=1)
    names = run.species[1:]
    fig = new_figure(8.0, 6.0)
    whole, zoom = fig.subplots(2, 1)
    phases = run.phases
    n_cycles = int(phases["cycle"].max()) + 1 if len(phases["cycle"]) else 0
    window = (phases["cycle"] >= n_cycles - 2) if n_cycles else np.zeros(0, bool)
    t0 = float(phases["t_start"][window].min()) if window.any() else float(t[0])
    t1 = float(phases["t_end"][window].max()) if window.any() else float(t[-1])
    colours = _phase_colours(phases["phase"])
    for name, start, end in zip(phases["phase"][window], phases["t_start"][window],
                                phases["t_end"][window]):
        zoom.axvspan(start, end, color=colours[name], alpha=0.5, lw=0)
    peak_all = mean[:, 1:].max(axis=0) if len(names) else np.zeros(0)
    shown = _most(peak_all)
    for k, name in enumerate(names, start=1):
        if k - 1 not in shown:
            continue
        for ax in (whole, zoom):
            line, = ax.plot(t, mean[:, k], label=name, lw=1.2)
            if cov.shape[1] > 1:
                ax.fill_between(t, mean[:, k] - sem[:, k], mean[:, k] + sem[:, k],
                                color=line.get_color(), alpha=0.25, lw=0)
    peak = peak_all[sorted(shown)]
    wide = peak.size and peak.min() > 0 and peak.max() / max(peak.min(), 1e-300) > 50
    for ax in (whole, zoom):
        ax.set_ylabel("coverage [ML]")
        if wide:
            ax.set_yscale("log")
            ax.set_ylim(bottom=0.5 / ctx.builder.lattice.n_surface_sites)
    whole.set_xlabel("time [s]")
    whole.set_title(f"coverage over {n_cycles} cycle(s)"
                    + (f", mean ± s.e. of {cov.shape[1]} replicas" if cov.shape[1] > 1 else "")
                    + (f"; the {len(shown)} of {len(names)} species highest at their peak"
                       if len(shown) < len(names) else ""))
    whole.legend(loc="best", fontsize="small")
    if t1 > t0:
        zoom.set_xlim(t0, t1)
    zoom.set_xlabel("time [s]")
    zoom.set_title("last two cycles (phases shaded)")
    from matplotlib.patches import Patch
    zoom.legend(handles=[Patch(color=c, alpha=0.5, label=n) for n, c in colours.items()],
                loc="best", fontsize="small", title="phase")
    fig.savefig(path, dpi=DPI)
    return path


#: Species a figure names at most (a legend of more squeezes the axes away).
LEGEND_SPECIES = 12


def _most(amount: np.ndarray, limit: int = LEGEND_SPECIES) -> set[int]:
    """The indices of the ``limit`` largest positive amounts (all, if there are fewer)."""
    order = np.argsort(-np.asarray(amount), kind="stable")
    return {int(k) for k in order[:limit] if amount[k] > 0} or {int(k) for k in order[:limit]}


def _phase_colours(names) -> dict[str, str]:
    """Greys of distinct lightness, so that no phase shade takes the hue of a species line
    (matplotlib's default cycle: blue, orange, green, ...)."""
    palette = ("#d0d0d0", "#f2f2f2", "#a8a8a8", "#e2e2e2", "#bcbcbc", "#8f8f8f")
    unique = list(dict.fromkeys(str(n) for n in names))
    return {n: palette[i % len(palette)] for i, n in enumerate(unique)}


def _per_cycle(ctx: _Context, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cycle, mean, s.e.) of a per-cycle column, over replicas when there are several."""
    cycles = ctx.run.cycles
    values = np.asarray(cycles[name], dtype=float)
    cycle = np.asarray(cycles["cycle"])
    cycle = cycle if cycle.ndim == 1 else cycle[:, 0]
    if values.ndim == 1:
        return cycle, values, np.zeros_like(values)
    mean, sem = mean_sem(values, axis=1)
    return cycle, mean, sem


def _plot_cycles(ax, ctx: _Context, name: str, label: str, colour: str) -> None:
    cycle, mean, sem = _per_cycle(ctx, name)
    ax.plot(cycle, mean, "-o", ms=2.5, color=colour, lw=1.2)
    if sem.any():
        ax.fill_between(cycle, mean - sem, mean + sem, color=colour, alpha=0.25, lw=0)
    ax.set_xlabel("cycle")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    if np.all(mean >= 0):  # counts and densities: from zero, so a flat line looks flat
        top = float(np.max(mean + sem, initial=0.0))
        ax.set_ylim(0.0, 1.1 * top if top > 0 else 1.0)


def _has_clusters(ctx: _Context) -> bool:
    """Whether any cycle of the run holds a cluster of the deposited element."""
    clusters = ctx.run.cycles.get("clusters")
    return clusters is not None and bool(np.any(np.asarray(clusters) > 0))


def _loading_growth(ctx: _Context, path: Path) -> Path:
    from kmc_ald.analysis.growth import steady_line, summarize_growth

    el = ctx.element
    fig = new_figure(9.0, 3.6)
    left, right = fig.subplots(1, 2)
    if summarize_growth(ctx.run.cycles, el).buried:
        # a film: the deposit against cycles, with the steady line and its x-intercept
        _plot_cycles(left, ctx, "deposited", f"deposited [{el}/nm²]", "C0")
        cycle, deposited, _ = _per_cycle(ctx, "deposited")
        slope, start = steady_line(deposited)
        if np.isfinite(start):
            x = np.array([min(start, cycle[0]), cycle[-1]])
            left.plot(x, slope * (x - start), "k--", lw=0.8,
                      label=f"steady line, x-intercept {start:.2g} cycles")
            left.legend(fontsize="small")
        _, thickness, _ = _per_cycle(ctx, "thickness")
        if deposited[-1] > 0:
            per_atom = thickness[-1] / deposited[-1]
            left.secondary_yaxis("right", functions=(lambda d: d * per_atom,
                                                     lambda t: t / per_atom)
                                 ).set_ylabel("film thickness [nm]")
        left.set_title("film growth")
    else:
        _plot_cycles(left, ctx, "loading", f"{el} loading [wt%]", "C0")
        left.set_title("loading")
    _plot_cycles(right, ctx, "growth", f"growth [{el}/nm²/cycle]", "C1")
    cycle, growth, _ = _per_cycle(ctx, "growth")
    cycle_, thick, _ = _per_cycle(ctx, "growth_thickness")
    ratio = float(np.median(thick[growth != 0] / growth[growth != 0])) if (growth != 0).any() \
        else 0.0
    if ratio > 0:
        twin = right.secondary_yaxis("right", functions=(lambda g: g * ratio,
                                                         lambda a: a / ratio))
        twin.set_ylabel("growth [Å/cycle]")
    delay = nucleation_delay(growth)
    if np.isfinite(delay) and delay > 0:
        right.axvline(cycle[0] + delay, color="k", ls="--", lw=0.8,
                      label=f"nucleation delay {delay:.2g} cycles")
        right.legend(fontsize="small")
    right.set_title("growth per cycle")
    fig.savefig(path, dpi=DPI)
    return path


def _particles(ctx: _Context, path: Path) -> Path:
    fig = new_figure(9.0, 3.6)
    left, right = fig.subplots(1, 2)
    _plot_cycles(left, ctx, "single_atom_fraction", "single-atom fraction", "C2")
    left.set_ylim(-0.02, 1.02)
    left.set_title(f"{ctx.element} atoms in one-atom clusters")
    _plot_cycles(right, ctx, "clusters", "clusters [1/nm²]", "C3")
    right.set_title("cluster (particle) density")
    fig.savefig(path, dpi=DPI)
    return path


def _size_distribution(ctx: _Context, frames: list[int], path: Path) -> Path:
    run = ctx.run
    histograms, largest = [], 1
    for frame in frames:
        occ = run.snapshot(frame)
        occ = occ if occ.ndim == 2 else occ[None]
        sizes = [_clusters(ctx, o)[1] for o in occ]
        largest = max(largest, *(int(s.max(initial=0)) for s in sizes))
        histograms.append(sizes)
    # surfaces without any cluster (the bare start) add nothing but an empty legend entry
    shown = [i for i, sizes in enumerate(histograms) if any(s.size for s in sizes)]
    frames, histograms = [frames[i] for i in shown], [histograms[i] for i in shown]
    log_bins = largest > 32
    edges = (2 ** np.arange(int(np.log2(largest)) + 2) if log_bins
             else np.arange(1, largest + 2))
    fig = new_figure(8.0, 4.0)
    ax = fig.subplots()
    what = f"{ctx.element} atoms" if ctx.element else "occupied sites"
    if not frames:
        ax.text(0.5, 0.5, f"no clusters of {what} at the chosen cycles", ha="center",
                va="center", transform=ax.transAxes)
        ax.set_axis_off()
        fig.savefig(path, dpi=DPI)
        return path
    width = 0.8 / len(frames)
    x = np.arange(len(edges) - 1)
    replicas = 1
    for i, (frame, sizes) in enumerate(zip(frames, histograms)):
        counts = np.array([np.histogram(s, bins=edges)[0] for s in sizes]) / ctx.area_nm2
        replicas = counts.shape[0]
        mean, sem = mean_sem(counts, axis=0)
        ax.bar(x + (i - (len(frames) - 1) / 2) * width, mean, width,
               yerr=sem if replicas > 1 else None, capsize=2, label=_frame_label(run, frame))
    labels = ([f"{a}-{b - 1}" if b - 1 > a else f"{a}" for a, b in zip(edges[:-1], edges[1:])]
              if log_bins else [str(a) for a in edges[:-1]])
    crowded = sum(len(label) + 2 for label in labels) > 56  # characters across the axis
    ax.set_xticks(x, labels, rotation=40 if crowded else 0, ha="right" if crowded else "center",
                  rotation_mode="anchor")
    ax.set_xlabel(f"cluster size [{what}]")
    ax.set_ylabel("clusters [1/nm²]")
    ax.set_title("cluster size distribution"
                 + (f" (mean ± s.e. of {replicas} replicas)" if replicas > 1 else ""))
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, dpi=DPI)
    return path


def _surface(ctx: _Context, frames: list[int], path: Path) -> Path:
    from matplotlib.collections import EllipseCollection
    from matplotlib.colors import to_rgb
    from matplotlib.lines import Line2D

    lat, run = ctx.builder.lattice, ctx.run
    surface = lat.layer == 0
    xy = lat.positions[:, :2]
    nn = float(np.linalg.norm(lat.minimum_image(lat.positions[lat.neighbours[0, 0]]
                                                - lat.positions[0])[:2]))
    n = len(frames)
    cols = min(n, 2)
    rows = -(-n // cols)
    corners = np.array([[0, 0], lat.cell[0, :2], lat.cell[0, :2] + lat.cell[1, :2],
                        lat.cell[1, :2], [0, 0]])
    extent = corners.max(axis=0) - corners.min(axis=0)
    fig = new_figure(5.0 * cols + 1.8, 5.0 * extent[1] / extent[0] * rows + 0.7 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    site_colours = ["#e0e0e0", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    species_colours = ["#d62728", "#ff7f0e", "#17becf", "#bcbd22", "#7f7f7f", "#e377c2"]
    handles = []
    for t, name in enumerate(lat.site_type_names):
        if (lat.site_type == t).any():
            handles.append(Line2D([], [], ls="", marker="o", ms=4,
                                  color=site_colours[t % len(site_colours)],
                                  label=f"site: {name}"))
    held_in_frames = np.zeros(len(run.species))
    for frame in frames:
        occ = run.snapshot(frame)
        held_in_frames += np.bincount(np.ravel(occ), minlength=len(run.species))
    named = _most(held_in_frames[1:])
    if len(named) < len(run.species) - 1:  # many species: distinct colours for those named
        from matplotlib import colormaps
        tab = [colormaps["tab20"](i) for i in range(20)]
        colour_of = {k: tab[r % 20] for r, k in enumerate(sorted(named))}
    else:
        colour_of = {k: species_colours[k % len(species_colours)]
                     for k in range(len(run.species) - 1)}
    others = "#7f7f7f"
    for k, name in enumerate(run.species[1:]):
        if k in named:
            handles.append(Line2D([], [], ls="", marker="o", ms=7, color=colour_of[k],
                                  label=name))
    if len(named) < len(run.species) - 1:
        handles.append(Line2D([], [], ls="", marker="o", ms=7, color=others,
                              label=f"{len(run.species) - 1 - len(named)} other species"))
    handles.append(Line2D([], [], ls="", marker="o", ms=7, mfc="none", mec="k",
                          label="cluster of ≥ 2"))
    for ax, frame in zip(axes, frames):
        occ = run.snapshot(frame)
        occ = occ if occ.ndim == 1 else occ[0]
        label, sizes = _clusters(ctx, occ)
        ax.scatter(xy[surface, 0], xy[surface, 1], s=1.0, lw=0,
                   c=np.array(site_colours)[lat.site_type[surface] % len(site_colours)])
        special = surface & (lat.site_type > 0)
        ax.scatter(xy[special, 0], xy[special, 1], s=3.0, lw=0,
                   c=np.array(site_colours)[lat.site_type[special] % len(site_colours)])
        held = occ > 0
        in_big = held & (label >= 0) & (sizes[np.maximum(label, 0)] >= 2) if sizes.size else \
            np.zeros_like(held)
        d = max(0.9 * nn, extent.max() / 70.0)  # atoms stay visible on large cells
        top = int(lat.layer[held].max()) if held.any() else 0
        for sites, diameter, colour in ((np.flatnonzero(in_big), d * 1.35, "k"),
                                        (np.flatnonzero(held), d, None)):
            if not len(sites):
                continue
            colours = "k"
            if colour is None:  # species colour, mixed with white by height on a stack
                rgb = np.array([to_rgb(colour_of.get(s - 1, others)) for s in occ[sites]])
                lift = 0.6 * lat.layer[sites] / max(1, top)
                colours = rgb + (1.0 - rgb) * lift[:, None]
            ax.add_collection(EllipseCollection(
                np.full(len(sites), diameter), np.full(len(sites), diameter), np.zeros(len(sites)),
                units="xy", offsets=xy[sites], offset_transform=ax.transData,
                facecolors=colours, edgecolors="none"))
        ax.plot(corners[:, 0], corners[:, 1], "k-", lw=0.6)
        ax.set_aspect("equal")
        ax.set_xlabel("x [Å]")
        ax.set_ylabel("y [Å]")
        n_sizes = sizes[sizes > 0]
        title = f"{_frame_label(run, frame)}, t = {run.snapshots['time'][frame]:.4g} s"
        if n_sizes.size:
            title += f"\n{len(n_sizes)} clusters, largest {int(n_sizes.max())}"
            if top > 0:
                title += f", {top + 1} layers (lighter = higher)"
        ax.set_title(title, fontsize="medium")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.legend(handles=handles, loc="outside right center", fontsize="small")
    fig.savefig(path, dpi=DPI)
    return path


# -- summary --------------------------------------------------------------------------------------
def _markdown(ctx: _Context, figures: list[Path], path: Path) -> Path:
    run = ctx.run
    prov = run.provenance
    scenario = ctx.builder.scenario
    lat = ctx.builder.lattice
    body = scenario.description.strip().split("\n")
    body = body[1:] if body and body[0].strip() == scenario.title.strip() else body
    lines = [f"# {scenario.title}", "", "\n".join(body).strip(), "",
             "| run | |", "|---|---|",
             f"| run file | `{run.path.name}` ({prov.get('status', '?')}) |",
             f"| kmc-ald | {prov.get('version', '?')} |",
             f"| solver, backend | {prov.get('solver')}, {prov.get('backend')} |",
             f"| seed, replicas | {prov.get('seed')}, {prov.get('replicas', 1)} |",
             f"| surface | {lat.name} {lat.shape[0]}×{lat.shape[1]} cells, {lat.n_sites} sites, "
             f"{ctx.area_nm2:.4g} nm² |",
             f"| simulated time | {run.coverage_time[-1]:.6g} s |",
             f"| wall time | {prov.get('wall_time', float('nan')):.3g} s |", ""]
    if run.cycles:
        units = run.cycles_units
        lines += ["## Last cycle", "", "| quantity | value | unit |", "|---|---|---|"]
        from kmc_ald.analysis.growth import pulse_doses, summarize_growth
        summary = summarize_growth(run.cycles, ctx.element)
        particles = () if summary.buried else (
            "covered_fraction", "loading", "clusters", "mean_cluster_size", "largest_cluster",
            "single_atom_fraction", "anchoring_occupied")
        for name in ("cycle", "deposited", "growth", "growth_thickness", "growth_mass",
                     "thickness", *particles):
            if name in run.cycles:
                values = np.atleast_1d(np.asarray(run.cycles[name][-1], dtype=float))
                mean, sem = mean_sem(values, 0)  # of the replicas where it is defined
                text = ("undefined (no clusters)" if not np.isfinite(mean) else
                        f"{mean:.4g}" if values.size == 1 else f"{mean:.4g} ± {sem:.2g}")
                lines.append(f"| {name} | {text} | {units.get(name, '')} |")
        _, growth, _ = _per_cycle(ctx, "growth")
        delay = nucleation_delay(growth)
        lines += ["", "## Growth", "", *(f"- {line}" for line in summary.lines()),
                  (f"- half-growth delay: {delay:.3g} cycles (until growth per cycle first "
                   "reaches half its steady value)" if np.isfinite(delay) else
                   "- half-growth delay: undefined (no net growth over the last quarter of the "
                   "run)"),
                  *(f"- dose: {dose}" for dose in pulse_doses(scenario.recipe)), ""]
    lines += ["## Figures", ""]
    if run.cycles and not _has_clusters(ctx):
        lines += [f"No cluster of {ctx.element} in any cycle (a closed film, or nothing "
                  "nucleated): no particle or size-distribution figures.", ""]
    for figure in figures:
        lines += [f"![{figure.stem}]({figure.name})", ""]
    path.write_text("\n".join(lines))
    return path
