"""The run file: H5MD layout, units, block appends, and survival of a killed run."""
from pathlib import Path

import h5py
import numpy as np
import pytest

from kmc_ald.errors import RunFileError
from kmc_ald.io.runfile import read_run
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.support.processes import kill_when

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "demo.h5"
    sc = load_scenario(ROOT / "scenarios/al2o3_tma_h2o.yaml", ("recipe.cycles=3",))
    sim = Simulation(sc)
    summary = sim.run(path)
    return path, sim, summary


def test_h5md_layout_and_units(demo_run):
    path, sim, _ = demo_run
    with h5py.File(path, "r") as f:
        assert f["h5md"].attrs["version"].tolist() == [1, 1]
        assert f["h5md/creator"].attrs["name"] == "kmc-ald"
        assert f["parameters/scenario"][()].decode() == sim.scenario.text
        assert len(f["parameters/scenario"].attrs["sha256"]) == 64
        assert list(f["parameters/scenario"].attrs["overrides"]) == ["recipe.cycles=3"]
        cov = f["observables/coverage"]
        assert cov["time"].attrs["units"] == "s"
        assert list(cov["value"].attrs["species"]) == ["empty", "OH", "AlMe2", "AlMe"]
        assert f["kmc_ald/phases/t_end"].attrs["units"] == "s"
        assert f["kmc_ald/lattice/positions"].attrs["units"] == "Å"
        assert f["kmc_ald/mechanism/rates"].attrs["units"] == "1/s"
        prov = f["kmc_ald/provenance"]
        for key in ("version", "solver", "backend", "seed", "host", "start"):
            assert prov.attrs[key]
        assert prov["status"][()] == b"completed"
        assert prov["wall_time"][()] > 0


def test_contents_match_the_run(demo_run):
    path, sim, summary = demo_run
    run = read_run(path)
    n_phases = 3 * 4
    assert run.coverage.shape == (1 + n_phases * 10, 4)  # initial sample + 10 per phase
    np.testing.assert_allclose(run.coverage, summary.coverage)
    np.testing.assert_allclose(run.coverage.sum(axis=1), 1.0)  # every site holds one state
    assert np.all((run.coverage >= 0) & (run.coverage <= 1))
    assert np.all(np.diff(run.coverage_time) > 0) and np.all(np.diff(run.coverage_step) >= 0)
    assert run.phases["cycle"].tolist() == [c for c in range(3) for _ in range(4)]
    assert list(run.phases["phase"][:4]) == ["tma_pulse", "purge", "h2o_pulse", "purge"]
    np.testing.assert_array_equal(run.phases["events"].sum(axis=0), sim.state.event_counts)
    np.testing.assert_allclose(run.phases["t_end"][-1], 3 * 4.2)
    np.testing.assert_array_equal(run.checkpoint["occupation"], sim.state.occupation)
    assert run.checkpoint["counter"] == sim.state.counter and run.checkpoint["cycle"] == 3


def test_existing_file_is_not_overwritten_without_asking(demo_run):
    path, sim, _ = demo_run
    before = path.read_bytes()
    with pytest.raises(RunFileError, match="exists; choose another output"):
        Simulation(sim.scenario).run(path)
    assert path.read_bytes() == before


def test_reading_something_else_is_a_clear_error(tmp_path):
    with pytest.raises(RunFileError, match="no such run file"):
        read_run(tmp_path / "missing.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(RunFileError, match="not a kmc-ald run file"):
        read_run(other)


def test_a_killed_run_leaves_a_readable_file_up_to_the_last_flush(tmp_path):
    """SIGKILL a CLI run mid-way: the file still reads, with whole cycles and a valid checkpoint."""
    out = tmp_path / "killed.h5"
    kill_when(["run", ROOT / "scenarios/langmuir.yaml", "-o", out, "--cycles", "100000",
               "--set", "substrate.size=[16, 16]", "--set", "recipe.phases[0].duration=0.02 s",
               "--no-progress"], lambda: len(read_run(out).phases["cycle"]) >= 20, poll=0.2)
    run = read_run(out)
    assert run.provenance["status"] == "running"
    n = len(run.phases["cycle"])
    assert n >= 20
    assert run.coverage.shape[0] >= 1 + 10 * n  # at least every sample of every written cycle
    # the newest whole checkpoint: this flush's, or the one before when the kill hit its write
    assert run.checkpoint is not None and 1 <= run.checkpoint["cycle"] <= run.phases["cycle"][-1] + 1


def test_resuming_a_run_file_continues_it_bit_identically(tmp_path):
    """Run 2 cycles to a file, resume it to 5: same as 5 cycles at once, rows and state."""
    scenario_path = ROOT / "scenarios/al2o3_tma_h2o.yaml"
    whole = Simulation(load_scenario(scenario_path, ("recipe.cycles=5",)))
    whole.run(tmp_path / "whole.h5")
    Simulation(load_scenario(scenario_path, ("recipe.cycles=2",))).run(tmp_path / "part.h5")
    resumed = Simulation.resume(tmp_path / "part.h5", ("recipe.cycles=5",))
    assert resumed.state.cycle == 2
    resumed.run(tmp_path / "resumed.h5")
    a, b = read_run(tmp_path / "whole.h5"), read_run(tmp_path / "resumed.h5")
    np.testing.assert_array_equal(a.coverage, b.coverage)
    np.testing.assert_array_equal(a.coverage_time, b.coverage_time)
    np.testing.assert_array_equal(a.phases["events"], b.phases["events"])
    for key in ("occupation", "counter", "time", "events", "cycle"):
        np.testing.assert_array_equal(a.checkpoint[key], b.checkpoint[key])
    assert b.provenance["resumed_from"] == str(tmp_path / "part.h5")


@pytest.mark.parametrize("damage", ["cut short", "altered"])
def test_a_checkpoint_cut_short_or_altered_leaves_the_previous_one_to_resume_from(
        tmp_path, damage, caplog):
    """A kill while a checkpoint is written leaves its slot invalid, and a slot changed after
    it was written fails its digest: the other slot, one flush older, is read instead, and
    resuming from it ends where an uninterrupted run ends."""
    scenario_path = ROOT / "scenarios/al2o3_tma_h2o.yaml"
    sets = ("recipe.cycles=4", "substrate.size=[3 nm, 3 nm]")
    Simulation(load_scenario(scenario_path, sets)).run(tmp_path / "whole.h5")
    from kmc_ald.io.runfile import CHECKPOINT_SLOTS, RunFileWriter
    init = RunFileWriter.__init__

    def every_cycle(self, *args, **kwargs):  # a flush, and so a checkpoint, per cycle
        init(self, *args, **{**kwargs, "flush_seconds": 0.0})
    RunFileWriter.__init__ = every_cycle
    try:
        Simulation(load_scenario(scenario_path, sets)).run(tmp_path / "cut.h5")
    finally:
        RunFileWriter.__init__ = init
    with h5py.File(tmp_path / "cut.h5", "r+") as f:
        cycles = {slot: int(f[f"kmc_ald/{slot}/cycle"][()]) for slot in CHECKPOINT_SLOTS}
        assert sorted(cycles.values()) == [3, 4]
        newest = max(cycles, key=cycles.get)
        if damage == "cut short":
            f[f"kmc_ald/{newest}/valid"][()] = 0  # as a kill between its two flushes leaves it
        else:
            f[f"kmc_ald/{newest}/time"][()] += 1e-9  # as a flipped bit or a hand edit would
    record = read_run(tmp_path / "cut.h5")
    assert record.checkpoint["cycle"] == 3
    assert (record.checkpoint_problem is None) == (damage == "cut short")
    with caplog.at_level("WARNING", logger="kmc_ald"):
        resumed = Simulation.resume(tmp_path / "cut.h5")
    assert ("does not match its digest" in caplog.text) == (damage == "altered")
    resumed.run(tmp_path / "resumed.h5")
    a, b = read_run(tmp_path / "whole.h5"), read_run(tmp_path / "resumed.h5")
    for key in ("occupation", "counter", "time", "events", "cycle"):
        np.testing.assert_array_equal(a.checkpoint[key], b.checkpoint[key])
    np.testing.assert_array_equal(a.coverage, b.coverage)


def _snapshot_cycles(path) -> list[int]:
    return [int(c) for c in read_run(path).snapshots["cycle"]]


@pytest.mark.parametrize(("cycles", "then", "stored", "missing"), [
    (3, "output.snapshots.every=2", [0, 2, 3], ""),
    (4, "output.snapshots.every=3", [0, 2, 4], "3"),
])
def test_resume_with_more_cycles_keeps_the_snapshots_of_an_uninterrupted_run(
        tmp_path, caplog, cycles, then, stored, missing):
    """The last cycle always gets a snapshot, so the first run's last (cycle 3) is not one an
    uninterrupted 6-cycle run every 2 cycles stores: the resumed file drops it. Snapshots the
    new schedule wants but the first run never stored (cycle 3 of every 3) are named in a
    warning."""
    sets = ("substrate.size=[8, 8]", "recipe.phases[0].duration=0.5 s")
    path = ROOT / "scenarios/langmuir.yaml"
    Simulation(load_scenario(path, (*sets, "output.snapshots.every=2", f"recipe.cycles={cycles}"))
               ).run(tmp_path / "part.h5")
    assert _snapshot_cycles(tmp_path / "part.h5") == stored
    Simulation(load_scenario(path, (*sets, then, "recipe.cycles=6"))).run(tmp_path / "whole.h5")
    with caplog.at_level("WARNING", logger="kmc_ald"):
        Simulation.resume(tmp_path / "part.h5", ("recipe.cycles=6", then)).run(
            tmp_path / "resumed.h5")
    whole = _snapshot_cycles(tmp_path / "whole.h5")
    resumed = _snapshot_cycles(tmp_path / "resumed.h5")
    assert resumed == [c for c in whole if str(c) != missing]
    assert ("stored no surface after cycle(s) 3," in caplog.text) == bool(missing)
    for frame, cycle in enumerate(resumed):
        np.testing.assert_array_equal(read_run(tmp_path / "resumed.h5").snapshot(frame),
                                      read_run(tmp_path / "whole.h5").snapshot(whole.index(cycle)))
