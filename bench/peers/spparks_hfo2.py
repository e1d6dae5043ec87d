"""kmc-ald's hfo2_tdmah_h2o beside the SPPARKS ALD application it was ported from, on one machine.

``python -m bench.peers.spparks_hfo2 --spparks PATH [--seeds 3] [--cycles 1 | --first-pulse]
[--own-lattice] [--ensemble 32] [--out bench/results]`` builds SPPARKS with its ALD application
from a checkout of GitHub mahdiIE/spparks-ALD given by path (copied into a build folder, never
changed; its source is not part of kmc-ald), then, one after the other on this machine:

* SPPARKS on its own HfO2 example input (``examples/ald-HfO2/in.ald``, the same event table,
  temperature and pulse times) and on kmc-ald's slab, written as a SPPARKS site file with the
  same starting surface (``i1``: 1 O, 2 OH; ``i2``: the coordination, 1 on O_term, 2 on O_bridge);
* kmc-ald's scenario, exact solver, on the same lattice for the same simulated time, with the
  events gated as SPPARKS runs them (``AS_RUN_PHASES``, app_ald.cpp line 577) and as written;
* with ``--own-lattice``, both on SPPARKS' own site file too (kmc-ald reads it with the site
  types of the example: a 7-neighbour site is a Hf position, ``i2`` gives the coordination of
  the starting O and OH);
* with ``--ensemble N``, kmc-ald's ensemble solver on N replicas of the slab, for its aggregate
  events per CPU-second (over a tenth of the first pulse, to keep the run short).

It writes ``peers_spparks_hfo2.json``: per run the events, CPU seconds (of the process or the
child), events per CPU-second and the Hf atoms on the surface after the first TDMAH pulse and
after each cycle; and the comparisons (means and standard errors over seeds). SPPARKS runs one
core; so does kmc-ald's exact solver. On a 2-core machine the first-pulse default takes about
20 minutes; ``--cycles 10`` about 2 hours (SPPARKS: 25,000 events per CPU-second on the slab).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from kmc_ald.engine.recipe import gas_exchange
from kmc_ald.resources import bundled_scenarios
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from kmc_ald.surfaces.structure import spparks_site_text

SCENARIO = "hfo2_tdmah_h2o"
PULSE = 1e-4  # s, each phase of the example's recipe
#: Type-3 events as SPPARKS runs them: it gates its m-th type-3 event with the pressure flag of
#: its m-th type-2 event (app_ald.cpp line 577), so these events run in the water pulse only
#: (h2o_pulse) or in every phase (None) instead of what the event table says.
AS_RUN_PHASES = {
    **{name: ["h2o_pulse"] for name in (
        "OH2Hf_vac_to_Hf_OH2_c4", "OH2Hf_vac_to_Hf_OH2_c5", "OH2Hf_vac_to_Hf_OH2_c6",
        "OH2_HfHX_to_vac_OH2HfHX_c1", "OH2_HfHX_to_vac_OH2HfHX_c2", "OH2_HfHX_to_vac_OH2HfHX_c3",
        "OH2_HfX_to_vac_OH2HfX_c1", "OH2_HfX_to_vac_OH2HfX_c2", "OH2_HfX_to_vac_OH2HfX_c3",
        "OH2_Hf_to_vac_OH2Hf_c1", "OH2_Hf_to_vac_OH2Hf_c2", "OH2_Hf_to_vac_OH2Hf_c3",
        "HfX2_OH_to_HfHX2_O", "HfHX2_O_to_HfX2_OH_c6", "HfX_OH_to_HfHX_O", "HfHX_O_to_HfX_OH",
        "HfHX2_OH_to_HfH2X2_O", "HfH2X2_O_to_HfHX2_OH", "HfX2O_vac_to_O_HfX2",
        "HfX2OH_vac_to_OH_HfX2", "HfHX2O_vac_to_O_HfHX2", "HfHX2OH_vac_to_OH_HfHX2",
        "HfH2X2O_vac_to_O_HfH2X2", "HfH2X2OH_vac_to_OH_HfH2X2")},
    **{name: None for name in (
        "HfH2X2_O_to_vac_HfH2X2O_c4", "HfH2X2_O_to_vac_HfH2X2O_c3",
        "HfH2X2_OH_to_vac_HfH2X2OH_c4", "HfH2X2_OH_to_vac_HfH2X2OH_c3",
        "HfHX2_O_to_vac_HfHX2O_c4", "HfHX2_O_to_vac_HfHX2O_c3", "HfHX2_OH_to_vac_HfHX2OH_c4",
        "HfHX2_OH_to_vac_HfHX2OH_c3", "HfX2_O_to_vac_HfX2O_c4", "HfX2_O_to_vac_HfX2O_c3",
        "HfX2_OH_to_vac_HfX2OH_c4", "HfX2_OH_to_vac_HfX2OH_c3")},
}
#: The kmc-ald site types of SPPARKS' own example site file, by its Values (a 7-neighbour site
#: is a Hf position; i2 is the coordination the file gives the starting O and OH).
OWN_KINDS = {0: "Hf_site", 1: "O_site", 2: "O_term", 3: "O_bridge"}


def as_run_overrides(scenario_path: Path) -> tuple[str, ...]:
    """``--set`` assignments that gate the type-3 events as SPPARKS runs them."""
    names = [e.name for e in load_scenario(scenario_path).events]
    missing = sorted(set(AS_RUN_PHASES) - set(names))
    if missing:
        raise SystemExit(f"{scenario_path}: no event(s) {', '.join(missing)}")
    return tuple(f"events[{names.index(n)}].phases={json.dumps(p) if p else ''}"
                 for n, p in AS_RUN_PHASES.items())


def build_spparks(checkout: Path, build: Path) -> Path:
    """spk_serial built from a copy of the checkout in ``build`` (reused when it is there)."""
    exe = build / "spk_serial"
    if exe.exists():
        return exe
    if not (checkout / "app_ald.cpp").exists():
        raise SystemExit(f"{checkout}: not a checkout of mahdiIE/spparks-ALD (no app_ald.cpp)")
    if build.exists():
        shutil.rmtree(build)
    shutil.copytree(checkout, build, ignore=shutil.ignore_patterns(".git", "Obj_*"))
    # the MPI stubs of the checkout come prebuilt for an older toolchain (not position
    # independent): build them here
    stubs = build / "STUBS"
    subprocess.run(["g++", "-O", "-c", "mpi.cpp", "-o", "mpi.o"], cwd=stubs, check=True)
    subprocess.run(["ar", "rcs", "libmpi.a", "mpi.o"], cwd=stubs, check=True)
    subprocess.run(["make", "-j2", "serial"], cwd=build, check=True, capture_output=True)
    return exe


def slab_site_file(sim: Simulation) -> str:
    """kmc-ald's lattice and starting surface as a SPPARKS site file (i1 species, i2 coord)."""
    lat, occ, species = sim.lattice, sim.state.occupation, sim.mechanism.species
    types = np.array(lat.site_type_names)[lat.site_type]
    i1 = np.select([occ == species.index("O"), occ == species.index("OH")], [1, 2], 0)
    i2 = np.select([types == "O_term", types == "O_bridge"], [1, 2], 0)
    text = spparks_site_text(lat, np.stack([i1, i2], axis=1), title="kmc-ald hfo2_001_slab")
    # SPPARKS sizes its work lists by the declared maximum; its own example declares 8
    return re.sub(r"^\d+ max neighbors$", "8 max neighbors", text, count=1, flags=re.M)


def own_site_file(path: Path) -> str:
    """SPPARKS' own site file with a third value, the kmc-ald site type (OWN_KINDS)."""
    text = path.read_text()
    head, values = text.split("Values", 1)
    degree = {}
    neighbours = head.split("Neighbors", 1)[1]
    for line in neighbours.strip().splitlines():
        parts = line.split()
        if parts:
            degree[int(parts[0])] = len(parts) - 1
    rows = []
    for line in values.strip().splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        i, i1, i2 = map(int, parts)
        kind = 0 if degree[i] == 7 else {0: 1, 1: 2, 2: 3}[i2] if i1 else 1
        rows.append(f"{i} {i1} {i2} {kind}")
    return head + "Values\n\n" + "\n".join(rows) + "\n"


def spparks_input(example: str, site_file: str, seed: int, run_time: float) -> str:
    """The example's input with another site file, seed and run time; every species listed."""
    listed = ("O OH OH2 HfX4O HfX4OH HfHX4O HfHX4OH HfH2X4O HfH2X4OH HfH3X4O HfH3X4OH HfH4X4O "
              "HfH4X4OH HfX3O HfX3OH HfHX3O HfHX3OH HfH2X3O HfH2X3OH HfH3X3O HfH3X3OH HfX2O "
              "HfX2OH HfHX2O HfHX2OH HfH2X2O HfH2X2OH HfX2 HfHX2 HfH2X2 HfHX HfX Hf OH2HfX "
              "OH2HfHX OH2Hf")
    out = []
    for line in example.splitlines():
        word = line.split()[0] if line.split() else ""
        if word == "seed":
            line = f"seed {seed}"
        elif word == "read_sites":
            line = f"read_sites {site_file}"
        elif word == "diag_style":
            line = f"diag_style ald stats yes list events {listed}"
        elif word == "stats":
            line = f"stats {PULSE / 2:g}"
        elif word in ("dump", "run"):
            line = "" if word == "dump" else f"run {run_time:g}"
        out.append(line)
    return "\n".join(out) + "\n"


def spparks_table(log: str) -> tuple[list[str], np.ndarray]:
    lines = log.splitlines()
    start = next(k for k, line in enumerate(lines) if line.split()[:1] == ["Time"])
    cols = lines[start].split()
    rows = []
    for line in lines[start + 1:]:
        parts = line.split()
        if len(parts) != len(cols):
            break
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            break
    return cols, np.array(rows)


def run_spparks(exe: Path, example: str, site_text: str, seed: int, run_time: float,
                work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    (work / "sites.ald").write_text(site_text)
    (work / "in.run").write_text(spparks_input(example, "sites.ald", seed, run_time))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([str(exe), "-in", "in.run"], cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"SPPARKS failed in {work}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    cols, table = spparks_table(done.stdout)
    hf_cols = [k for k, c in enumerate(cols) if "Hf" in c]
    t = table[:, cols.index("Time")]
    hf = table[:, hf_cols].sum(axis=1)

    def at(time_s: float) -> int:
        return int(hf[np.argmin(abs(t - time_s))])

    n_cycles = max(1, int(round(run_time / (4 * PULSE))))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    events = int(table[-1, cols.index("Naccept")])
    return {"seed": seed, "events": events, "cpu_s": cpu, "wall_s": wall,
            "events_per_cpu_s": events / cpu, "simulated_s": float(t[-1]),
            "hf_after_first_pulse": at(PULSE),
            "hf_after_cycle": [at(4 * PULSE * (c + 1)) for c in range(n_cycles)
                               if 4 * PULSE * (c + 1) <= t[-1] * (1 + 1e-6)]}


def run_kmc(scenario_path: Path, overrides: tuple[str, ...], seed: int) -> dict:
    sim = Simulation(load_scenario(scenario_path, overrides), seed=seed)
    cpu0 = time.process_time()
    summary = sim.run()
    cpu = time.process_time() - cpu0
    taken = [np.subtract(*gas_exchange(sim.mechanism, row[4])["TDMAH"])
             for row in summary.phase_rows]
    on_surface = np.cumsum(taken)
    return {"seed": seed, "events": summary.events, "cpu_s": cpu, "wall_s": summary.wall_time,
            "events_per_cpu_s": summary.events / cpu,
            "simulated_s": float(summary.phase_rows[-1][3]),
            "hf_after_first_pulse": int(on_surface[0]),
            "hf_after_cycle": [int(h) for h in on_surface[len(sim.rates.phase_names) - 1::
                                                         len(sim.rates.phase_names)]]}


def run_ensemble(scenario_path: Path, overrides: tuple[str, ...], replicas: int) -> dict:
    sc = load_scenario(scenario_path, (*overrides, f"recipe.phases[0].duration={PULSE / 10} s",
                                       "recipe.cycles=1"))
    sim = Simulation(sc, seed=1, replicas=replicas, backend="cpu")
    sim.solver.start_phase(sim.state, 0)
    cpu0, t0 = time.process_time(), time.perf_counter()
    while not sim.solver.advance(sim.state, PULSE / 10, True, 1 << 22):
        pass
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    events = int(np.sum(sim.state.events))
    return {"replicas": replicas, "simulated_s": PULSE / 10, "events": events, "cpu_s": cpu,
            "wall_s": wall, "events_per_cpu_s": events / cpu, "events_per_wall_s": events / wall}


def stats(runs: list[dict], key: str) -> dict:
    x = np.array([r[key] for r in runs], dtype=float)
    sem = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else None  # one run: none
    return {"mean": float(x.mean()), "sem": sem, "n": len(x)}


def per_cycle(runs: list[dict]) -> list[float]:
    """Mean Hf taken up in each cycle (from the second on) over the runs."""
    rows = [np.diff(r["hf_after_cycle"]) for r in runs if len(r["hf_after_cycle"]) > 1]
    return np.mean(rows, axis=0).tolist() if rows else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spparks", type=Path, required=True,
                        help="a checkout of mahdiIE/spparks-ALD (its src folder)")
    parser.add_argument("--build", type=Path, default=Path(tempfile.gettempdir()) / "spparks-ald",
                        help="where to build it (reused)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per lattice on the slab")
    parser.add_argument("--first-seed", type=int, default=1,
                        help="the first of them (SPPARKS runs with seed 4320 + it)")
    parser.add_argument("--cycles", type=int, default=0,
                        help="cycles to run (default: the first TDMAH pulse only)")
    parser.add_argument("--own-lattice", action="store_true",
                        help="also run both on SPPARKS' own site file (one seed)")
    parser.add_argument("--ensemble", type=int, default=0, help="replicas for the ensemble figure")
    parser.add_argument("--spparks-from", type=Path, default=None,
                        help="reuse the SPPARKS runs of an earlier result JSON (same options)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    earlier = json.loads(args.spparks_from.read_text())["lattices"] if args.spparks_from else {}

    exe = build_spparks(args.spparks.resolve(), args.build.resolve())
    example_dir = args.spparks / "examples" / "ald-HfO2"
    example = (example_dir / "in.ald").read_text()
    path = bundled_scenarios()[SCENARIO]
    run_time = 4 * PULSE * args.cycles if args.cycles else PULSE
    timing = (f"recipe.cycles={max(args.cycles, 1)}",) if args.cycles else (
        "recipe.cycles=1", *(f"recipe.phases[{p}].duration=1e-12 s" for p in (1, 2, 3)))
    as_run = as_run_overrides(path)
    commit = subprocess.run(["git", "-C", str(args.spparks), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or None
    result = {"machine": {"processor": platform.processor() or platform.machine(),
                          "python": platform.python_version()},
              "spparks_commit": commit, "simulated_s": run_time,
              "spparks_runs_reused_from": str(args.spparks_from) if args.spparks_from else None,
              "command": "python -m bench.peers.spparks_hfo2 " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in
                  (("seeds", args.seeds), ("first-seed", args.first_seed), ("cycles", args.cycles),
                   ("ensemble", args.ensemble))
                  if v) + (" --own-lattice" if args.own_lattice else ""),
              "lattices": {}}
    work = args.build.resolve() / "runs"
    lattices = {"kmc-ald slab": None}
    if args.own_lattice:
        lattices["SPPARKS example"] = example_dir / "data.ald"
    for label, own in lattices.items():
        seeds = (list(range(args.first_seed, args.first_seed + args.seeds)) if own is None
                 else [args.first_seed])
        if own is None:
            site_text = slab_site_file(Simulation(load_scenario(path), seed=1))
            substrate = ()
        else:
            site_text = own.read_text()
            (work / "own").mkdir(parents=True, exist_ok=True)
            (work / "own" / "typed.ald").write_text(own_site_file(own))
            names = ", ".join(f"{k}: {v}" for k, v in OWN_KINDS.items())
            substrate = (f"substrate={{from: {work / 'own' / 'typed.ald'}, format: spparks, "
                         f"site_kinds: i3, kind_names: {{{names}}}, "
                         "surface: [O_term, O_bridge], initial: {O_term: OH, O_bridge: O}}",)
        entry = {"spparks": [], "kmc_ald_as_run": [], "kmc_ald_as_written": []}
        reused = {r["seed"]: r for r in earlier.get(label, {}).get("spparks", [])}
        for seed in seeds:
            print(f"[{label}] SPPARKS seed {seed} ...", flush=True)
            entry["spparks"].append(reused.get(4320 + seed) or run_spparks(
                exe, example, site_text, 4320 + seed, run_time,
                work / label.replace(" ", "_") / str(seed)))
            print(f"  {entry['spparks'][-1]}", flush=True)
            for key, extra in (("kmc_ald_as_run", as_run), ("kmc_ald_as_written", ())):
                entry[key].append(run_kmc(path, (*substrate, *timing, *extra), seed))
                print(f"  {key}: {entry[key][-1]}", flush=True)
        values = site_text.split("Values", 1)[1].strip().splitlines()
        entry["initial_OH"] = sum(1 for line in values if line.split()[1:2] == ["2"])
        entry["summary"] = summarize(entry)
        result["lattices"][label] = entry
        write(result, args)
    if args.ensemble:
        result["ensemble"] = run_ensemble(path, as_run, args.ensemble)
        result["ensemble"]["ratio_vs_spparks"] = result["ensemble"]["events_per_cpu_s"] / (
            result["lattices"]["kmc-ald slab"]["summary"]["spparks"]["events_per_cpu_s"]["mean"])
    print(f"wrote {write(result, args)}")


def summarize(entry: dict) -> dict:
    """Means and standard errors over seeds; the exact solver's speed over SPPARKS'."""
    oh = entry["initial_OH"]
    out = {key: {"hf_per_initial_OH_after_first_pulse": {
                     k: v / oh if k != "n" and v is not None else v
                     for k, v in stats(entry[key], "hf_after_first_pulse").items()},
                 "hf_per_cycle_from_cycle_2": per_cycle(entry[key]),
                 "events_per_cpu_s": stats(entry[key], "events_per_cpu_s")}
           for key in ("spparks", "kmc_ald_as_run", "kmc_ald_as_written") if entry[key]}
    if "spparks" in out and "kmc_ald_as_run" in out:
        out["speed_ratio_exact_vs_spparks"] = (out["kmc_ald_as_run"]["events_per_cpu_s"]["mean"]
                                               / out["spparks"]["events_per_cpu_s"]["mean"])
    return out


def write(result: dict, args) -> Path:
    """The result so far (written after every lattice: a long run keeps what it has done)."""
    args.out.mkdir(parents=True, exist_ok=True)
    name = "peers_spparks_hfo2" + (f"_{args.cycles}cycles" if args.cycles else "") + ".json"
    (args.out / name).write_text(json.dumps(result, indent=1) + "\n")
    return args.out / name


if __name__ == "__main__":
    main()
