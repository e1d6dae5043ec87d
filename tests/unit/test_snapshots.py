"""Snapshots in the run file: taken where output.snapshots says, equal to the live state, kept on
resume, and streamed to an extended-XYZ trajectory when asked."""
import numpy as np
import pytest

from kmc_ald.errors import ScenarioError
from kmc_ald.io.runfile import read_run
from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation

TEXT = """
description: deposition and hops on a square lattice
substrate: {{lattice: square, size: [8, 8], spacing: 3 Å}}
species: [M]
gases: {{MX2: {{formula: PtCl2}}, X2: {{formula: Cl2}}}}
events:
  - {{name: deposition, equation: "MX2(g) + * -> M + X2(g)", sticking: 0.01}}
  - {{name: hop, equation: "M + * -> * + M", rate: {{A: 1.0e3 1/s}}}}
recipe:
  temperature: 500 K
  cycles: {cycles}
  phases:
    - {{name: pulse, duration: 0.1 s, gas: {{MX2: 1 Pa}}}}
    - {{name: purge, duration: 0.1 s}}
deposit: {{element: Pt, density: 21.45 g/cm^3, composition: {{M: Pt}}}}
output: {{snapshots: {snapshots}}}
"""


def make(snapshots: str = "{}", cycles: int = 5):
    return loads_scenario(TEXT.format(snapshots=snapshots, cycles=cycles), "t.yaml")


def test_default_snapshots_are_the_start_and_every_cycle_end(tmp_path):
    sim = Simulation(make())
    sim.run(tmp_path / "r.h5")
    run = read_run(tmp_path / "r.h5")
    assert run.n_frames == 6
    assert list(run.snapshots["cycle"]) == [0, 1, 2, 3, 4, 5]
    assert list(run.snapshots["phase"]) == ["", "purge", "purge", "purge", "purge", "purge"]
    assert list(run.snapshots["phase_index"]) == [-1, 1, 1, 1, 1, 1]
    assert np.all(run.snapshot(0) == 0)
    # the last snapshot is the final state, and its step and time are the run's
    assert np.array_equal(run.snapshot(-1), sim.state.occupation)
    assert run.snapshots["step"][-1] == sim.state.events
    assert run.snapshots["time"][-1] == pytest.approx(sim.state.time)
    # metal atoms in the snapshot = the per-cycle table's count
    for k in range(1, 6):
        atoms = np.count_nonzero(run.snapshot(k) == 1) / (sim.lattice.area / 100)
        assert atoms == pytest.approx(run.cycles["metal_atoms"][k - 1])


def test_every_n_cycles_at_pulse_ends_keeps_the_last_cycle(tmp_path):
    sim = Simulation(make("{every: 2 cycles, at: [end_of_pulse, end_of_cycle]}", cycles=5))
    sim.run(tmp_path / "r.h5")
    run = read_run(tmp_path / "r.h5")
    assert list(run.snapshots["cycle"]) == [2, 2, 4, 4, 5, 5]
    assert list(run.snapshots["phase"]) == ["pulse", "purge"] * 3


def test_no_snapshots_when_at_is_empty(tmp_path):
    Simulation(make("{at: []}")).run(tmp_path / "r.h5")
    assert read_run(tmp_path / "r.h5").n_frames == 0


def test_default_interval_gives_about_a_hundred_frames():
    from kmc_ald.scenario.schema import Snapshots
    assert Snapshots().interval(20) == 1
    assert Snapshots().interval(150) == 2
    assert Snapshots().interval(1000) == 10


@pytest.mark.parametrize("snapshots, field, words", [
    ("{at: [end_of_rinse]}", "output.snapshots.at[0]", "end_of_pulse"),
    ("{every: 0}", "output.snapshots.every", "greater than or equal to 1"),
    ("{every: 3 seconds}", "output.snapshots.every", "number of cycles"),
])
def test_bad_snapshot_settings_name_the_field(snapshots, field, words):
    with pytest.raises(ScenarioError) as info:
        make(snapshots)
    text = str(info.value)
    assert field in text and words in text


def test_resume_keeps_the_snapshots_of_completed_cycles(tmp_path):
    whole = tmp_path / "whole.h5"
    Simulation(make("{at: [start, end_of_pulse, end_of_cycle]}", cycles=4)).run(whole)
    half = tmp_path / "half.h5"
    Simulation(make("{at: [start, end_of_pulse, end_of_cycle]}", cycles=2)).run(half)
    resumed = tmp_path / "resumed.h5"
    Simulation.resume(half, ("recipe.cycles=4",)).run(resumed)
    a, b = read_run(whole), read_run(resumed)
    assert a.n_frames == b.n_frames == 9
    for k in range(a.n_frames):
        assert np.array_equal(a.snapshot(k), b.snapshot(k))
    for key in ("cycle", "phase", "step", "time"):
        assert list(a.snapshots[key]) == list(b.snapshots[key])


def test_streamed_trajectory_holds_every_snapshot(tmp_path, monkeypatch):
    from ase.io import read
    monkeypatch.chdir(tmp_path)
    sc = make("{at: [start, end_of_cycle]}, trajectory: live.extxyz", cycles=3)
    sim = Simulation(sc)
    sim.run("r.h5")
    frames = read("live.extxyz", index=":")
    assert len(frames) == 4
    assert [f.info["cycle"] for f in frames] == [0, 1, 2, 3]
    pt = sum(s == "Pt" for s in frames[-1].get_chemical_symbols())
    assert pt == np.count_nonzero(sim.state.occupation == 1)
    # a second run refuses to replace the trajectory without --overwrite, and writes no run file
    from kmc_ald.errors import RunFileError
    with pytest.raises(RunFileError, match="live.extxyz exists"):
        Simulation(sc).run("other.h5")
    assert not (tmp_path / "other.h5").exists()


def test_replica_snapshots_have_a_replica_axis(tmp_path):
    sc = loads_scenario("""
description: Langmuir adsorption, replicas
substrate: {lattice: square, size: [8, 8]}
species: [A]
gases: {G: {formula: Ar}}
events:
  - {name: ads, equation: "G(g) + * -> A", sticking: 1.0}
  - {name: des, equation: "A -> G(g) + *", rate: {A: 1.0e3 1/s}}
recipe:
  temperature: 300 K
  cycles: 2
  phases: [{name: dose, duration: 1 ms, gas: {G: 1 Pa}}]
run: {solver: parallel, backend: cpu}
""", "r.yaml")
    sim = Simulation(sc, replicas=3)
    sim.run(tmp_path / "r.h5")
    run = read_run(tmp_path / "r.h5")
    assert run.snapshot(-1).shape == (3, 64)
    assert np.array_equal(run.snapshot(-1), sim.state.occupation)


def test_a_trajectory_is_written_beside_its_run_file_and_only_there(tmp_path):
    from kmc_ald.errors import RunFileError
    sc = make("{at: [start, end_of_cycle]}, trajectory: live.extxyz", cycles=2)
    (tmp_path / "a").mkdir()
    Simulation(sc).run(tmp_path / "a" / "r.h5")
    trajectory = tmp_path / "a" / "live.extxyz"  # relative to the run file, not the cwd
    before = trajectory.read_bytes()
    # --overwrite onto a new run file does not replace another run's trajectory
    with pytest.raises(RunFileError, match="belongs to another run"):
        Simulation(sc).run(tmp_path / "a" / "other.h5", overwrite=True)
    assert trajectory.read_bytes() == before
    # a resumed run appends beside the original run file only
    for name in ("/tmp/elsewhere.extxyz", "../up.extxyz"):
        with pytest.raises(RunFileError, match="appends only to a trajectory inside"):
            Simulation.resume(tmp_path / "a" / "r.h5", ("recipe.cycles=3",
                                                        f"output.trajectory={name}")
                              ).run(tmp_path / "a" / "more.h5")
    assert not (tmp_path / "up.extxyz").exists()
