"""The ``kmc-ald`` command line: the only module that prints, draws progress bars or exits.

Exit codes: 0 success; 1 other kmc-ald error; 2 invalid scenario or command line; 3 requested
backend unavailable; 4 kernel compilation failed; 5 run file error; 130 interrupted (the run file
keeps everything up to the last completed cycle). Heavy modules (numba, h5py) are imported inside
the commands that need them, so ``--help`` and ``check`` answer at once.
"""
from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from kmc_ald import __version__
from kmc_ald.errors import KmcAldError, ScenarioError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Lattice kinetic Monte Carlo of atomic layer deposition.",
                  rich_markup_mode="rich")
# soft wrap: a message is one line however wide the terminal (or COLUMNS, where output goes to a
# file or pipe), so logs can be grepped; tables still fit the width
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
_state = {"traceback": False}


class SolverChoice(StrEnum):
    exact = "exact"
    parallel = "parallel"


class BackendChoice(StrEnum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


def _fail(error: KmcAldError) -> typer.Exit:
    if _state["traceback"]:
        raise error
    err.print(f"[bold red]error:[/] {_escape(str(error))}", highlight=False)
    return typer.Exit(error.exit_code)


def _escape(text: str) -> str:
    from rich.markup import escape
    return escape(text)


def _load(scenario: str, overrides: list[str]):
    from kmc_ald.scenario.load import load_scenario
    return load_scenario(scenario, tuple(overrides))


@app.callback()
def _main(traceback: Annotated[bool, typer.Option(
        "--traceback", "-T", help="Show the full traceback of kmc-ald errors.")] = False,
        version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
        threads: Annotated[int | None, typer.Option(
            min=1, help="CPU threads of the numba kernels (default: every core, or "
            "NUMBA_NUM_THREADS); on a busy machine fewer can be faster.")] = None) -> None:
    _state["traceback"] = traceback
    if threads is not None:
        import numba
        if threads > numba.config.NUMBA_NUM_THREADS:
            err.print(f"[bold red]error:[/] --threads {threads}: at most "
                      f"{numba.config.NUMBA_NUM_THREADS} here (NUMBA_NUM_THREADS)",
                      highlight=False)
            raise typer.Exit(2)
        numba.set_num_threads(threads)
    _show_warnings()
    if version:
        out.print(f"kmc-ald {__version__}")
        raise typer.Exit(0)


def _show_warnings() -> None:
    """The library's warnings (logger ``kmc_ald``) reach the user on stderr, above any progress
    bar; its info lines (which backend ran, and why) stay in the run file."""
    import logging

    from rich.logging import RichHandler

    logger = logging.getLogger("kmc_ald")
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(console=err, show_time=False, show_path=False, markup=False)
        handler.setLevel(logging.WARNING)
        logger.addHandler(handler)


ScenarioArg = Annotated[str, typer.Argument(
    help="Scenario YAML file, or the name of a bundled scenario (see 'kmc-ald scenarios').")]
SetOpt = Annotated[list[str], typer.Option(
    "--set", help="Override a scenario value: PATH=VALUE, e.g. recipe.cycles=5 or "
    "'events[1].rate.Ea=0.7 eV'. Repeatable.")]


@app.command()
def run(scenario: ScenarioArg,
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="Run file to write (default: output.file of the scenario, "
            "else <scenario name>.h5).")] = None,
        seed: Annotated[int | None, typer.Option(min=0, help="run.seed: places the site types "
                                                 "and seeds the kinetics (replica r: seed + r)."
                                                 )] = None,
        cycles: Annotated[int | None, typer.Option(min=1, help="Number of ALD cycles "
                                                   "(recipe.cycles).")] = None,
        overrides: SetOpt = None,
        solver: Annotated[SolverChoice | None, typer.Option(
            case_sensitive=False, help="exact (serial, the reference) or parallel (sublattice "
            "sweeps; GPU or CPU); default: run.solver.")] = None,
        backend: Annotated[BackendChoice | None, typer.Option(
            case_sensitive=False, help="Where the parallel solver, or the exact solver's "
            "replicas, run; auto uses the GPU when CuPy finds one; default: run.backend.")
                                   ] = None,
        replicas: Annotated[int, typer.Option(
            min=1, help="Independent copies of the surface, run together; replica r uses "
            "seed + r (the exact solver runs them as an ensemble, on CPU cores or a GPU); the "
            "summary gives mean ± standard error.")] = 1,
        overwrite: Annotated[bool, typer.Option(help="Replace an existing run file.")] = False,
        progress: Annotated[bool, typer.Option(help="Show a progress bar (on a terminal).")
                            ] = True) -> None:
    """Run a scenario and write its run file (HDF5)."""
    sets = list(overrides or [])
    if seed is not None:
        sets.append(f"run.seed={seed}")
    if cycles is not None:
        sets.append(f"recipe.cycles={cycles}")
    if solver is not None:
        sets.append(f"run.solver={solver.value}")
    if backend is not None:
        sets.append(f"run.backend={backend.value}")
    try:
        sc = _load(scenario, sets)
        path = output or Path(sc.output.file or f"{Path(scenario).stem}.h5")
        _refuse_existing(path, overwrite)
        err.print(f"[dim]kmc-ald {__version__}: {_escape(sc.title)}[/]", highlight=False)
        from kmc_ald.simulation import Simulation
        sim = Simulation(sc, replicas=replicas)
        why = f" ({sim.backend_reason})" if sim.backend_reason else ""
        err.print(f"[dim]solver: {sim.solver.name}, backend: {sim.backend}{_escape(why)}; numba "
                  "compiles the CPU kernels on the first run only[/]", highlight=False)
    except KmcAldError as error:
        raise _fail(error) from None
    except KeyboardInterrupt:
        raise _interrupted_before_start() from None
    _run_and_report(sim, path, overwrite, progress)


def _interrupted_before_start() -> typer.Exit:
    err.print("[yellow]interrupted[/] before the run started: nothing was written",
              highlight=False)
    return typer.Exit(130)


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        from kmc_ald.errors import RunFileError
        raise RunFileError(f"{path} exists; choose another output with -o, or pass "
                           "--overwrite to replace it")


def _run_and_report(sim, path: Path, overwrite: bool, progress: bool) -> None:
    """Run with a progress bar on a terminal, then print the summary tables."""
    try:
        summary = _run_with_progress(sim, path, overwrite, progress and err.is_terminal)
    except KmcAldError as error:
        raise _fail(error) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: the run file keeps every flushed cycle; continue it "
                  f"with: kmc-ald resume {_escape(str(path))}", highlight=False)
        raise typer.Exit(130) from None
    _print_summary(sim, summary, path)


@app.command()
def resume(run_file: Annotated[Path, typer.Argument(help="Run file to continue from its checkpoint.")],
           output: Annotated[Path | None, typer.Option(
               "--output", "-o", help="New run file (default: <run file>-resumed.h5); it holds "
               "the earlier rows and the continuation.")] = None,
           cycles: Annotated[int | None, typer.Option(
               min=1, help="Total cycles, to extend a finished run (recipe.cycles).")] = None,
           overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
           progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True) -> None:
    """Continue a run from its last checkpoint, bit-identically, into a new run file."""
    path = output or run_file.with_name(f"{run_file.stem}-resumed.h5")
    try:
        from kmc_ald.errors import RunFileError
        if path.resolve() == run_file.resolve():
            raise RunFileError("the resumed run needs a new file (-o); the old one is read "
                               "while the new one is written")
        _refuse_existing(path, overwrite)
        from kmc_ald.simulation import Simulation
        sim = Simulation.resume(run_file, () if cycles is None else (f"recipe.cycles={cycles}",))
        state, total = sim.state, sim.scenario.recipe.cycles
        if state.cycle >= total:
            raise RunFileError(f"{run_file} already ran all {total} cycles; pass --cycles N "
                               f"with N > {total} to extend it")
        err.print(f"[dim]resuming {_escape(str(run_file))} at cycle {state.cycle + 1} of {total}, "
                  f"t = {state.time:.6g} s[/]", highlight=False)
    except KmcAldError as error:
        raise _fail(error) from None
    except KeyboardInterrupt:
        raise _interrupted_before_start() from None
    _run_and_report(sim, path, overwrite, progress)


def _run_with_progress(sim, path: Path, overwrite: bool, show: bool):
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    recipe = sim.scenario.recipe
    names = sim.mechanism.species
    with Progress(TextColumn("[bold]{task.description:<14}"), BarColumn(),
                  TextColumn("{task.fields[count]:>11}"), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True,
                  disable=not show) as bar:
        cyc = bar.add_task("cycles", total=recipe.cycles, info="", count=f"0/{recipe.cycles}")
        ph = bar.add_task("phase", total=100, info="", count="")

        def report(p) -> None:
            bar.update(cyc, completed=p.cycle + (p.phase + p.phase_fraction)
                       / len(recipe.phases), count=f"{p.cycle}/{recipe.cycles}", refresh=False)
            cov = ""
            if p.coverage is not None:
                mean = p.coverage if p.coverage.ndim == 1 else p.coverage.mean(axis=0)
                cov = " ".join(f"{n}={c:.3f}" for n, c in zip(names[1:4], mean[1:4]))
            bar.update(ph, description=p.phase_name[:14], completed=100 * p.phase_fraction,
                       count=f"{100 * p.phase_fraction:.0f} %", info=f"t={p.time:.4g} s  {cov}")

        return sim.run(path, overwrite=overwrite, progress=report)


def _print_summary(sim, summary, path: Path) -> None:
    state = summary.state
    out.print(f"[bold]{_escape(sim.scenario.title)}[/]")
    final = summary.coverage[-1]
    table = Table()
    table.add_column("species")
    if final.ndim == 1:
        table.add_column("final coverage [ML]", justify="right")
        for name, value in zip(summary.species, final):
            table.add_row(name, f"{value:.4f}")
    else:
        table.add_column(f"final coverage [ML], mean ± s.e. of {final.shape[0]} replicas",
                         justify="right")
        from kmc_ald.analysis.cycles import mean_sem
        for name, value, err_ in zip(summary.species, *mean_sem(final, axis=0)):
            table.add_row(name, f"{value:.4f} ± {err_:.4f}")
    out.print(table)
    counts = state.event_counts if state.event_counts.ndim == 1 else state.event_counts.sum(axis=0)
    events = Table(show_header=True)
    events.add_column("event")
    events.add_column("executed" + (" (all replicas)" if final.ndim > 1 else ""), justify="right")
    for name, n in zip(summary.event_names, counts):
        events.add_row(name, f"{int(n):,}")
    out.print(events)
    from kmc_ald.engine.recipe import gas_exchange
    exchange = gas_exchange(sim.mechanism, counts)
    if exchange:
        per = sim.lattice.area / 100 * max(state.cycle, 1) * sim.replicas  # nm² x cycles
        gases = Table()
        for column in ("gas", "consumed", "released", "consumed /nm²/cycle", "released /nm²/cycle"):
            gases.add_column(column, justify="left" if column == "gas" else "right")
        for gas, (used, made) in exchange.items():
            gases.add_row(gas, f"{used:,}", f"{made:,}", f"{used / per:.4g}", f"{made / per:.4g}")
        out.print(gases)
    if summary.cycles:
        _print_cycles(sim, summary.cycles)
    if state.scale is not None and (state.scale < 1).any():
        scaled = ", ".join(f"{n} ×{s:.3g}" for n, s in zip(summary.event_names, state.scale)
                           if s < 1)
        out.print(f"stiffness scaling at the end: {scaled}", highlight=False)
    kinetics = (f"{sim.seed}" if sim.replicas == 1
                else f"{sim.seed}..{sim.seed + sim.replicas - 1} (replica r: seed + r)")
    _print_doses(sim.scenario.recipe)
    out.print(f"simulated time  {state.time:.6g} s over {state.cycle} cycle(s)\n"
              f"events          {summary.events:,} in {summary.wall_time:.2f} s wall "
              f"({summary.events_per_second:,.0f} events/s; the kernels loaded in "
              f"{summary.startup_time:.2f} s before)\n"
              f"seeds           surface (site types) from run.seed = {sim.scenario.run.seed}; "
              f"kinetics {kinetics}\n"
              f"run file        {_escape(str(path))}", highlight=False)


#: The per-cycle columns the run summary shows, with their headers.
#: The per-cycle summary table: (column, header, format); the particle columns are left out for a
#: film whose atoms leave the surface species (nothing there to count).
_GROWTH_COLUMNS = (("deposited", "{el}/nm²", "{:.3g}"), ("growth_thickness", "Å/cyc", "{:.2g}"),
                   ("growth_mass", "ng/cm²/cyc", "{:.3g}"), ("thickness", "nm", "{:.2g}"))
_PARTICLE_COLUMNS = (("covered_fraction", "covered", "{:.2f}"), ("loading", "wt%", "{:.3g}"),
                     ("clusters", "cl/nm²", "{:.3g}"), ("mean_cluster_size", "atoms/cl", "{:.3g}"),
                     ("mean_diameter", "d nm", "{:.2g}"),
                     ("single_atom_fraction", "single", "{:.2f}"),
                     ("anchoring_occupied", "anchors", "{:.2f}"))


def _event_label(name: str, e: int, mech, rates, lattice) -> str:
    """An event's name, with where a two-site event finds its partner when that is not any
    nearest neighbour."""
    shell = int(mech.partner_shell[e])
    allowed = rates.partner_ok[e]
    where = [f"shell {shell}"] if shell > 1 else []
    if shell and not allowed.all():
        where.append("on " + ", ".join(n for n, ok in zip(lattice.site_type_names, allowed)
                                       if ok))
    return name + (f" (partner: {'; '.join(where)})" if where else "")


def _print_doses(recipe) -> None:
    """Each pulse's exposure in the units ALD papers use."""
    from kmc_ald.analysis.growth import pulse_doses
    for k, dose in enumerate(pulse_doses(recipe)):
        out.print(f"{'doses' if k == 0 else '':<10}{dose}", highlight=False)


def _print_cycles(sim, cycles: dict) -> None:
    """The per-cycle statistics at up to 10 cycles (replica means when there are replicas),
    and the growth as ALD papers report it (kmc_ald.analysis.growth)."""
    from kmc_ald.analysis.cycles import mean_sem
    from kmc_ald.analysis.growth import summarize_growth

    element = sim.scenario.deposit.element
    growth = summarize_growth(cycles, element)
    columns = _GROWTH_COLUMNS + (() if growth.buried else _PARTICLE_COLUMNS)
    n = len(cycles["cycle"])
    shown = sorted(set(np.linspace(0, n - 1, min(n, 10)).round().astype(int)))
    replicas = int(np.size(cycles["deposited"][0]))
    table = Table(title="per cycle" + (f", mean of {replicas} replicas (the first column "
                                       "± standard error)" if replicas > 1 else ""))
    table.add_column("cycle", justify="right")
    for c, (_, header, _) in enumerate(columns):
        table.add_column(header.format(el=element), justify="right", no_wrap=c == 0)
    for k in shown:
        means = [float(mean_sem(np.atleast_1d(cycles[name][k]), axis=0)[0]) for name, _, _ in
                 columns]  # a cluster mean: of the replicas that have clusters
        values = [fmt.format(m) if np.isfinite(m) else "-" for m, (_, _, fmt) in
                  zip(means, columns)]
        if replicas > 1:
            sem = float(mean_sem(cycles["deposited"][k], axis=0)[1])
            values[0] += f" ± {sem:.2g}"
        table.add_row(str(int(np.max(cycles["cycle"][k]))), *values)
    out.print(table)
    for line in growth.lines():
        out.print(line, highlight=False)


@app.command()
def check(scenario: ScenarioArg, overrides: SetOpt = None) -> None:
    """Validate a scenario; show its lattice, species and every compiled rate (1/s)."""
    try:
        sc = _load(scenario, list(overrides or []))
        from kmc_ald.model.compile import compile_scenario
        model = compile_scenario(sc)
        lattice, mech, rates = model.lattice, model.mechanism, model.rates
    except KmcAldError as error:
        raise _fail(error) from None
    out.print(f"[bold green]valid[/]: {_escape(sc.title)}")
    counts = ", ".join(f"{k} {v}" for k, v in lattice.site_type_counts().items())
    degree = (lattice.neighbours >= 0).sum(axis=1)
    where = (f"{lattice.name} {lattice.shape[0]}x{lattice.shape[1]} cells"
             if sc.substrate.from_ is None else f"from {sc.substrate.from_}")
    out.print(f"lattice   {where}, {lattice.n_sites} sites ({counts}), "
              + (f"degree {lattice.degree}" if degree.min() == lattice.degree else
                 f"{degree.min()}-{degree.max()} neighbours (mean {degree.mean():.3g})")
              + f", {lattice.area / 100:.4g} nm², {lattice.n_surface_sites} surface sites, "
              f"{lattice.site_area:.4g} Å² per surface site", highlight=False)
    out.print(f"species   {', '.join(mech.species)}", highlight=False)
    out.print(f"recipe    {sc.recipe.cycles} cycle(s) of "
              + " / ".join(f"{n} {d:g} s" for n, d in zip(rates.phase_names, rates.durations)),
              highlight=False)
    _print_doses(sc.recipe)
    out.print("rate per channel [1/s], at the fewest bonded neighbours it needs (site types "
              "where an event can never happen, or its reactant never sits, are left out):")
    table = Table()
    table.add_column("event")
    table.add_column("site type")
    table.add_column("bonds", justify="right")
    for p, name in enumerate(rates.phase_names):
        table.add_column(f"{name}\n{rates.temperatures[p]:.5g} K", justify="right")
    n_phases = len(rates.phase_names)
    from kmc_ald.model.compile import reachable_species
    can_sit = reachable_species(model)  # [site type, species]
    for e, event in enumerate(mech.event_names):
        rows = []
        for t, site_type in enumerate(lattice.site_type_names):
            by_bonds = rates.rate[:, e, t, :]  # [phase, bond count]
            possible = np.flatnonzero(by_bonds.any(axis=0))
            if possible.size and can_sit[t, mech.site_in[e, 0]]:
                n = int(possible[0])
                rows.append((site_type, str(n), *(f"{by_bonds[p, n]:.4g}" for p in
                                                  range(n_phases))))
        if not rows:
            rows = [("any", "", *("0" for _ in range(n_phases)))]
        for k, row in enumerate(rows):
            table.add_row(_event_label(event, e, mech, rates, lattice) if k == 0 else "", *row)
    out.print(table)
    refusal = _print_solver_support(model)
    if sc.run.solver == "parallel":
        from kmc_ald.model.compile import sweep_schedule
        from kmc_ald.surfaces.coloring import update_classes
        classes = update_classes(lattice, mech.interaction_range,
                                 bool(mech.sites_per_event.max() > 1))
        plural = "es" if classes.n_classes != 1 else ""
        out.print(f"parallel solver: {classes.n_classes} update class{plural} (members "
                  f">= {classes.separation} hops apart), step_probability "
                  f"{sc.run.step_probability:g}", highlight=False)
        for p, name in enumerate(rates.phase_names):
            try:
                sweeps, tau, r_max = sweep_schedule(rates.rate[p], float(rates.durations[p]),
                                                    mech, lattice.degree, sc.run.step_probability)
            except ScenarioError as error:
                out.print(f"  {name:<12} {_escape(str(error))}", highlight=False)
                continue
            detail = (f"{sweeps:>13,} sweeps x {tau:.3g} s  (R_max {r_max:.3g} 1/s)"
                      if sweeps else "no sweeps: nothing can happen")
            out.print(f"  {name:<12} {detail}", highlight=False)
        if sc.run.stiffness is not None:
            out.print("  (at the true rates: stiffness control lengthens the step as it slows "
                      "the fast channels down)", highlight=False)
    if refusal is not None:
        raise _fail(refusal.error(sc))


def _print_solver_support(model):
    """Which solver and backend can run the model, and why the others cannot; and where
    ``kmc-ald run`` would run it, with and without --replicas. Returns why ``run`` would refuse
    the scenario's own solver, or None."""
    from kmc_ald.engine.backends.base import gpu_unavailable_reason
    from kmc_ald.engine.solvers import exact_unsupported, parallel_unsupported

    run = model.scenario.run
    gpu = gpu_unavailable_reason()
    table = Table(title="solvers for this scenario")
    for column in ("solver", "backend", "surfaces", "can run it"):
        table.add_column(column)
    for name, unsupported, extra, surfaces in (
            ("exact", exact_unsupported, {}, ((1, "one"), (2, "replicas (ensemble)"))),
            ("parallel", parallel_unsupported, {"step_probability": run.step_probability},
             ((1, "one or replicas"),))):
        for backend in ("cpu", "gpu"):
            for replicas, label in surfaces:
                limit = unsupported(model, backend=backend, replicas=replicas,
                                    stiffness=run.stiffness is not None, **extra)
                if limit is None and backend == "gpu" and gpu is not None:
                    answer = f"[yellow]not here[/]: {_escape(gpu)}"
                elif limit is None:
                    answer = "[green]yes[/]"
                else:
                    answer = f"[red]no[/]: {_escape(limit.reason)}"
                mark = " (run.solver)" if name == run.solver and backend == "cpu" else ""
                table.add_row(name + mark, backend, label, answer)
    out.print(table)
    on_gpu = run.backend != "cpu" and gpu is None
    where = "gpu" if on_gpu else "cpu"
    why = ("" if on_gpu or run.backend == "cpu" else f" (gpu unavailable: {_escape(gpu)})")
    if run.solver == "exact":
        out.print(f"kmc-ald run uses the exact solver on the cpu for one surface, and on the "
                  f"{where} for --replicas N{why} (run.backend = {run.backend})",
                  highlight=False)
    else:
        limit = parallel_unsupported(model, backend=where, stiffness=run.stiffness is not None,
                                     step_probability=run.step_probability)
        if limit is not None:
            return limit
        out.print(f"kmc-ald run uses the parallel solver on the {where}{why} (run.backend = "
                  f"{run.backend})", highlight=False)
    return None


@app.command()
def export(run_file: Annotated[Path, typer.Argument(help="Run file (HDF5) to read; it is not "
                                                    "changed.")],
           output: Annotated[Path, typer.Option(
               "--output", "-o", help="File to write; its extension picks the format unless "
               "--format is given (e.g. surface.extxyz, POSCAR.vasp, frame.cif, run.traj).")],
           frames: Annotated[str, typer.Option(
               help="Snapshots to write: last, all, an index i, or a slice i:j or i:j:k "
               "(negative from the end). Several frames go into one trajectory file.")] = "last",
           fmt: Annotated[str | None, typer.Option(
               "--format", "-f", help="Any format ASE writes (extxyz, traj, cif, vasp, xyz, "
               "xsf, lammps-data, ...).")] = None,
           replica: Annotated[int, typer.Option(min=0, help="Replica to write, for runs with "
                                                "several.")] = 0,
           overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")
                                ] = False) -> None:
    """Write snapshots of a run as atoms (ASE formats; extended XYZ opens in OVITO)."""
    try:
        from kmc_ald.io.structures import ExportError, export
        if output.exists() and not overwrite:
            raise ExportError(f"{output} exists; choose another name with -o, or pass "
                              "--overwrite to replace it")
        written, fmt_used = export(run_file, output, frames, fmt, replica)
    except KmcAldError as error:
        raise _fail(error) from None
    out.print(f"wrote {written} frame{'s' if written != 1 else ''} of {_escape(str(run_file))} "
              f"to {_escape(str(output))} ({fmt_used})", highlight=False)


@app.command()
def report(run_file: Annotated[Path, typer.Argument(help="Run file (HDF5) to read; it is not "
                                                    "changed.")],
           output: Annotated[Path | None, typer.Option(
               "--output", "-o", help="Folder for the figures and report.md (default: "
               "<run file>-report).")] = None,
           cycles: Annotated[str | None, typer.Option(
               help="Cycles for the size distributions and top views, e.g. 1,50,150 (0: the "
               "start); default: up to four stored ones, first to last.")] = None) -> None:
    """Draw the figures of a run (coverage, loading and growth, particles, sizes, top views)."""
    folder = output or run_file.with_name(f"{run_file.stem}-report")
    try:
        from kmc_ald.errors import ScenarioError
        try:
            chosen = None if cycles is None else [int(c) for c in cycles.split(",") if c.strip()]
        except ValueError:
            raise ScenarioError(f"--cycles {cycles!r}: expected cycle numbers separated by "
                                "commas, e.g. 1,50,150") from None
        if _is_sweep_file(run_file):
            from kmc_ald.sweep.report import write_sweep_report
            written = write_sweep_report(run_file, folder)
        else:
            from kmc_ald.report import write_report
            written = write_report(run_file, folder, chosen)
    except KmcAldError as error:
        raise _fail(error) from None
    for path in written:
        out.print(f"wrote {_escape(str(path))}", highlight=False)


sweep_app = typer.Typer(no_args_is_help=True, help="Parameter sweeps: grids x replicas, batched "
                        "into ensembles on the CPU cores or a GPU, or spread over a Dask cluster.")
app.add_typer(sweep_app, name="sweep")


@sweep_app.command("run")
def sweep_run(
        sweep_file: Annotated[Path | None, typer.Argument(
            help="Sweep file (YAML): scenario, axes, replicas (see README, Sweeps).")] = None,
        scenario: Annotated[str | None, typer.Option(
            help="Without a sweep file: the base scenario (a file or a bundled name).")] = None,
        vary: Annotated[list[str] | None, typer.Option(
            "--vary", help="Without a sweep file: an axis, PATH=V1,V2,... or PATH=A..B, N "
            "points; repeatable (the product of all).")] = None,
        overrides: SetOpt = None,
        replicas: Annotated[int, typer.Option(min=1, help="Replicas per point (without a sweep "
                                              "file).")] = 8,
        seed: Annotated[int, typer.Option(min=0, help="Replica r uses seed + r (without a "
                                          "sweep file).")] = 1,
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="Folder for the results (default: <sweep file name>-sweep, or "
            "<scenario>-sweep, in the working directory); finished points there are not run "
            "again.")] = None,
        backend: Annotated[BackendChoice, typer.Option(
            case_sensitive=False, help="Where each batch runs.")] = BackendChoice.auto,
        workers: Annotated[int | None, typer.Option(
            min=1, help="Run batches on a local Dask cluster of this many processes.")] = None,
        scheduler: Annotated[str | None, typer.Option(
            help="Run batches on a running Dask scheduler, e.g. tcp://host:8786 (a "
            "dask-jobqueue cluster on Slurm/PBS).")] = None,
        batch_points: Annotated[int | None, typer.Option(
            min=1, help="Points per batch at most (default: enough replicas to fill the "
            "device; with Dask, four batches per worker). A killed sweep loses the batches in "
            "flight.")] = None,
        progress: Annotated[bool, typer.Option(help="Show a progress bar (on a terminal).")
                            ] = True) -> None:
    """Run every point of a sweep that is not finished yet; write sweep.h5 in the folder."""
    from kmc_ald.errors import ScenarioError
    try:
        from kmc_ald.sweep.spec import load_sweep, quick_sweep
        if sweep_file is not None:
            if scenario or vary:
                raise ScenarioError("give a sweep file or --scenario with --vary, not both")
            sweep = load_sweep(sweep_file)
            folder = output or Path(f"{sweep_file.stem}-sweep")  # in the working directory
        else:
            if not scenario or not vary:
                raise ScenarioError("give a sweep file, or --scenario and at least one --vary "
                                    "'PATH=V1,V2,...'")
            from kmc_ald.resources import resolve_scenario
            sweep = quick_sweep(str(resolve_scenario(scenario)), vary, replicas, seed,
                                list(overrides or []))
            folder = output or Path(f"{Path(scenario).stem}-sweep")
        if workers is not None and scheduler is not None:
            raise ScenarioError("give --workers (a local cluster) or --scheduler, not both")
        err.print(f"[dim]sweep of {len(sweep.points)} points x {sweep.spec.replicas} replicas "
                  f"of {_escape(sweep.scenario_name)} into {_escape(str(folder))}[/]",
                  highlight=False)
        from kmc_ald.sweep.run import run_sweep
        outcome = _sweep_with_progress(run_sweep, sweep, folder, progress and err.is_terminal,
                                       backend=backend.value, workers=workers,
                                       scheduler=scheduler, max_points=batch_points)
    except KmcAldError as error:
        raise _fail(error) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: finished points are kept; run the same command again "
                  "to continue", highlight=False)
        raise typer.Exit(130) from None
    rate = outcome.events / outcome.wall_time if outcome.wall_time > 0 else 0.0
    out.print(f"points    {len(outcome.computed)} computed, {len(outcome.skipped)} already "
              f"finished, {len(outcome.failed)} failed\n"
              f"events    {outcome.events:,} in {outcome.wall_time:.2f} s ({rate:,.0f} events/s)"
              f"\nsweep file {_escape(str(outcome.sweep_file))}  (kmc-ald sweep table, "
              "kmc-ald report)", highlight=False)
    for index, why in sorted(outcome.failed.items()):
        err.print(f"[red]point {index} failed[/]: {_escape(why)}", highlight=False)
    if outcome.failed:
        raise typer.Exit(1)


def _sweep_with_progress(run_sweep, sweep, folder, show: bool, **options):
    """One progress bar for the whole sweep on a terminal; a log line per batch otherwise."""
    if not show:
        def line(p) -> None:
            rate = p.events / p.elapsed if p.elapsed > 0 else 0.0
            err.print(f"{p.done}/{p.total} points ({p.computed} computed, {p.skipped} already "
                      f"finished, {p.failed} failed), {rate:,.0f} events/s, "
                      f"{p.elapsed:.1f} s", highlight=False)
        return run_sweep(sweep, folder, progress=line, **options)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    columns = (TextColumn("points"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("sweep", total=len(sweep.points), info="")

        def update(p) -> None:
            rate = p.events / p.elapsed if p.elapsed > 0 else 0.0
            bar.update(task, completed=p.done, info=f"{rate:,.0f} events/s, {p.failed} failed")
        return run_sweep(sweep, folder, progress=update, **options)


@sweep_app.command("table")
def sweep_table(results: Annotated[Path, typer.Argument(
                    help="A sweep's folder or its sweep.h5.")],
                output: Annotated[Path, typer.Option(
                    "--output", "-o", help="Table to write: .csv, or .parquet (needs pyarrow); "
                    "one row per point x cycle.")],
                overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")
                                     ] = False) -> None:
    """Write a sweep's tidy table: axis values, cycle, each observable's mean and s.e."""
    try:
        _refuse_existing(output, overwrite)
        from kmc_ald.sweep.results import write_table
        rows = write_table(results, output)
    except KmcAldError as error:
        raise _fail(error) from None
    out.print(f"wrote {rows} rows to {_escape(str(output))}", highlight=False)


def _is_sweep_file(path: Path) -> bool:
    """Whether ``path`` is a sweep's folder or sweep.h5 (not a run file)."""
    if path.is_dir():
        return (path / "sweep.h5").exists()
    try:
        import h5py
        with h5py.File(path, "r") as f:
            return f.attrs.get("kind") == "kmc_ald sweep"
    except OSError:
        return False


@app.command()
def info() -> None:
    """Versions, CPU threads, and whether a GPU backend could run here (and why not)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from kmc_ald.engine.backends.base import describe_gpu
    table = Table(show_header=False)
    table.add_row("kmc-ald", __version__)
    table.add_row("python", f"{platform.python_version()} ({sys.executable})")
    for pkg in ("numpy", "numba", "h5py", "ase", "pydantic", "typer", "rich", "ruamel.yaml",
                "cupy-cuda12x", "cupy-cuda13x"):
        try:
            table.add_row(pkg, version(pkg))
        except PackageNotFoundError:
            if not pkg.startswith("cupy"):
                table.add_row(pkg, "not installed")
    import numba
    table.add_row("CPU threads", f"{numba.config.NUMBA_NUM_THREADS} (numba, "
                  f"layer {numba.config.THREADING_LAYER})")
    table.add_row("backend cpu", "available: exact solver (one surface, or --replicas over "
                  "the numba threads), parallel solver")
    table.add_row("backend gpu", _escape(describe_gpu()))
    import shutil
    nvcc = shutil.which("nvcc")
    table.add_row("nvcc", nvcc or "not found (only needed to check the kernels offline)")
    out.print(table)


@app.command()
def scenarios() -> None:
    """List the bundled scenarios with their one-line descriptions."""
    from kmc_ald.resources import bundled_scenarios
    from kmc_ald.scenario.load import load_scenario
    table = Table()
    table.add_column("name")
    table.add_column("description")
    for name, path in bundled_scenarios().items():
        try:
            title = load_scenario(path).title
        except KmcAldError as error:
            title = f"[red]invalid[/]: {_escape(str(error).splitlines()[0])}"
        table.add_row(name, title)
    out.print(table)
    out.print("Run one with: kmc-ald run NAME (or copy its file from "
              f"{_escape(str(next(iter(bundled_scenarios().values()), Path('.')).parent))})",
              highlight=False)


def _terminate(signum, frame) -> None:
    """SIGTERM (a batch system's time limit, kill) ends a run as Ctrl-C does: the run file is
    closed with status 'interrupted' and keeps every flushed cycle."""
    raise KeyboardInterrupt


def main() -> None:
    import signal
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except OSError as error:
        # the operating system refused a file (permission, read-only or full file system)
        # somewhere no OutputError names it: still one line, not a traceback
        if isinstance(error, KmcAldError) or error.filename is None or _state["traceback"]:
            raise
        err.print(f"[bold red]error:[/] {_escape(str(error.filename))}: "
                  f"{_escape(error.strerror or str(error))}", highlight=False)
        raise SystemExit(5) from None


if __name__ == "__main__":
    main()
