"""kmc-ald sweep: the same table however the sweep runs (one process, a real Dask LocalCluster
of two worker processes, each point alone with kmc-ald run), nothing lost or redone after a
kill -9, and one clear error per bad sweep file."""
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kmc_ald.cli import app
from kmc_ald.io.runfile import read_run
from kmc_ald.sweep.results import load_table
from tests.support.processes import kill_when

QUICK = '["substrate.size=[4 nm, 4 nm]", "recipe.cycles=3"]'


def write_sweep(folder: Path, body: str, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def read_point(path: Path) -> dict:
    import h5py
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f}


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def window(tmp_path_factory):
    """A 3-temperature x 2-pulse sweep, 3 replicas per point, run in this process."""
    folder = tmp_path_factory.mktemp("window")
    path = write_sweep(folder, f"""
        scenario: al2o3_tma_h2o
        set: {QUICK}
        axes:
          - {{path: recipe.temperature, range: "150 degC..250 degC, 3 points"}}
          - {{path: "recipe.phases[0].gas.TMA", values: [0.02 Pa, 0.1 Pa]}}
        replicas: 3
        seed: 5
        """)
    result = invoke("sweep", "run", path, "-o", folder / "one", "--backend", "cpu")
    assert result.exit_code == 0, result.output
    return path, folder


def test_a_dask_cluster_and_single_runs_give_the_same_table(window):
    path, folder = window
    one = load_table(folder / "one")
    assert len(one) == 6 * 3  # points x cycles
    assert list(one.columns[:4]) == ["point", "recipe.temperature [degC]",
                                     "recipe.phases[0].gas.TMA [Pa]", "cycle"]
    pytest.importorskip("distributed", reason="the Dask test needs kmc-ald[cluster]")
    result = invoke("sweep", "run", path, "-o", folder / "dask", "--workers", 2,
                    "--backend", "cpu", "--batch-points", 2)
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(one, load_table(folder / "dask"))
    # each point alone, the way a user would run it: replica r = seed 5 + r
    for k, row in one[one.cycle == 1].iterrows():
        run_file = folder / f"point{k}.h5"
        args = ["run", "al2o3_tma_h2o", "-o", run_file, "--seed", 5, "--replicas", 3,
                "--solver", "exact", "--backend", "cpu",
                "--set", "substrate.size=[4 nm, 4 nm]", "--set", "recipe.cycles=3",
                "--set", f"recipe.temperature={row['recipe.temperature [degC]']:g} degC",
                "--set", f"recipe.phases[0].gas.TMA={row['recipe.phases[0].gas.TMA [Pa]']:g} Pa"]
        assert invoke(*args).exit_code == 0
        growth = read_run(run_file).cycles["growth"]  # [cycle, replica]
        point = one[one.point == row.point]
        np.testing.assert_allclose(point["growth [1/nm^2]"], growth.mean(axis=1), rtol=1e-12)
        np.testing.assert_allclose(point["growth s.e. [1/nm^2]"],
                                   growth.std(axis=1, ddof=1) / np.sqrt(3), rtol=1e-12)


def test_a_rerun_redoes_nothing_and_the_csv_holds_the_table(window, tmp_path):
    path, folder = window
    result = invoke("sweep", "run", path, "-o", folder / "one", "--backend", "cpu")
    assert result.exit_code == 0
    assert "0 computed, 6 already finished, 0 failed" in result.output
    csv = tmp_path / "window.csv"
    assert invoke("sweep", "table", folder / "one", "-o", csv).exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(csv), load_table(folder / "one"),
                                  check_dtype=False)
    report = invoke("report", folder / "one", "-o", tmp_path / "report")
    assert report.exit_code == 0, report.output
    assert (tmp_path / "report" / "against_0.png").exists()
    assert "recipe.temperature" in (tmp_path / "report" / "report.md").read_text()


def test_a_sweep_killed_mid_way_loses_only_the_points_in_flight(tmp_path):
    body = """
        scenario: al2o3_tma_h2o
        set: ["recipe.cycles=4"]
        axes:
          - {path: recipe.temperature, range: "120 degC..260 degC, 8 points"}
        replicas: 2
        seed: 9
        """
    path = write_sweep(tmp_path, body)
    points = tmp_path / "killed" / "points"
    kill_when(["sweep", "run", path, "-o", tmp_path / "killed", "--backend", "cpu",
               "--batch-points", "1"], lambda: len(list(points.glob("*.h5"))) >= 2, poll=0.02)
    finished = len(list(points.glob("*.h5")))
    assert 2 <= finished < 8, "the sweep should have been killed mid-way"
    for done in points.glob("*.h5"):  # every point file left behind is whole
        assert read_point(done)["growth"].shape == (4, 2)
    result = invoke("sweep", "run", path, "-o", tmp_path / "killed", "--backend", "cpu")
    assert result.exit_code == 0, result.output
    assert f"{8 - finished} computed, {finished} already finished, 0 failed" in result.output
    assert invoke("sweep", "run", path, "-o", tmp_path / "whole", "--backend", "cpu"
                  ).exit_code == 0
    pd.testing.assert_frame_equal(load_table(tmp_path / "killed"), load_table(tmp_path / "whole"))


@pytest.mark.parametrize(("axis", "expected"), [
    ("{path: recipe.temperatur, values: [150 degC]}", "unknown key 'temperatur'"),
    ('{path: recipe.temperature, range: "150 degC..600 K, 3 points"}',
     "unit mismatch, 'degC' against 'K'"),
    ("{path: recipe.temperature, values: []}", "values is empty"),
    ("{path: recipe.temperature, values: [5 Pa]}", "point 0 (recipe.temperature=5 Pa)"),
])
def test_a_bad_sweep_file_gets_one_clear_error(tmp_path, axis, expected):
    path = write_sweep(tmp_path, f"""
        scenario: al2o3_tma_h2o
        axes:
          - {axis}
        """)
    result = invoke("sweep", "run", path, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert "sweep.yaml, line" in result.output
    assert not (tmp_path / "out").exists()


def test_the_quick_form_on_the_command_line(tmp_path):
    result = invoke("sweep", "run", "--scenario", "al2o3_tma_h2o", "--vary",
                    "recipe.temperature=150 degC,250 degC", "--replicas", 2, "--set",
                    "substrate.size=[4 nm, 4 nm]", "--set", "recipe.cycles=2",
                    "-o", tmp_path / "quick", "--backend", "cpu")
    assert result.exit_code == 0, result.output
    table = load_table(tmp_path / "quick")
    assert sorted(set(table["recipe.temperature [degC]"])) == [150.0, 250.0]
    # colder is faster here (more OH): the two points are different simulations
    last = table[table.cycle == 2].set_index("recipe.temperature [degC]")["growth [1/nm^2]"]
    assert last[150.0] != last[250.0]


def test_a_failing_point_is_recorded_and_the_others_finish(tmp_path, monkeypatch):
    from kmc_ald.simulation import Simulation

    path = write_sweep(tmp_path, f"""
        scenario: al2o3_tma_h2o
        set: {QUICK}
        axes:
          - {{path: recipe.temperature, values: [150 degC, 200 degC, 250 degC]}}
        replicas: 2
        """)
    real_run = Simulation.run

    def run(self, *args, **kwargs):
        if abs(self.scenario.recipe.temperature - 473.15) < 1e-9:
            raise RuntimeError("the device went away")
        return real_run(self, *args, **kwargs)
    monkeypatch.setattr(Simulation, "run", run)
    result = invoke("sweep", "run", path, "-o", tmp_path / "out", "--backend", "cpu",
                    "--batch-points", 1)
    assert result.exit_code == 1
    assert "2 computed, 0 already finished, 1 failed" in result.output
    assert "point 1 failed" in result.output and "the device went away" in result.output
    assert sorted(set(load_table(tmp_path / "out")["point"])) == [0, 2]
    monkeypatch.setattr(Simulation, "run", real_run)  # the next run retries only that point
    result = invoke("sweep", "run", path, "-o", tmp_path / "out", "--backend", "cpu")
    assert "1 computed, 2 already finished, 0 failed" in result.output


def test_the_python_loaders_give_a_dataframe_and_an_xarray_dataset(window):
    from kmc_ald.sweep.results import load_dataset

    _, folder = window
    table = load_table(folder / "one")
    data = load_dataset(folder / "one")
    assert dict(data.sizes) == {"recipe.temperature [degC]": 3,
                                "recipe.phases[0].gas.TMA [Pa]": 2, "cycle": 3}
    picked = data["growth [1/nm^2]"].sel({"recipe.temperature [degC]": 200.0,
                                          "recipe.phases[0].gas.TMA [Pa]": 0.1, "cycle": 2})
    row = table[(table["recipe.temperature [degC]"] == 200.0)
                & (table["recipe.phases[0].gas.TMA [Pa]"] == 0.1) & (table.cycle == 2)]
    assert float(picked) == float(row["growth [1/nm^2]"].iloc[0])


def test_the_readme_flow_writes_into_the_working_directory(tmp_path, monkeypatch):
    """kmc-ald sweep run FILE, then sweep table FILE-sweep and report FILE-sweep, as README does."""
    (tmp_path / "elsewhere").mkdir()
    sweep = write_sweep(tmp_path / "elsewhere", f"""
        scenario: al2o3_tma_h2o
        set: {QUICK}
        axes:
          - {{path: recipe.temperature, values: [150 degC, 250 degC]}}
        replicas: 2
        """, name="window.yaml")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert invoke("sweep", "run", sweep, "--backend", "cpu").exit_code == 0
    assert (work / "window-sweep" / "sweep.h5").exists()
    assert not (sweep.parent / "window-sweep").exists()
    assert invoke("sweep", "table", "window-sweep", "-o", "window.csv").exit_code == 0
    assert invoke("report", "window-sweep").exit_code == 0
    assert (work / "window-sweep-report" / "against_0.png").exists()


def test_what_would_fail_every_point_is_refused_before_any_runs(tmp_path):
    stiff = invoke("sweep", "run", "--scenario", "precursor_mediated", "--vary",
                   "recipe.temperature=300 K,310 K", "--set", "substrate.size=[8, 8]",
                   "-o", tmp_path / "stiff")
    assert stiff.exit_code == 2 and "stiffness control runs one surface at a time" in stiff.output
    assert not (tmp_path / "stiff").exists()
    bare = invoke("sweep", "run", "--scenario", "langmuir", "--vary",
                  "events[0].rate.A=1 1/s,2 1/s", "-o", tmp_path / "bare")
    assert bare.exit_code == 2 and "deposit section" in bare.output
    assert not (tmp_path / "bare").exists()
    from kmc_ald.engine.backends.base import gpu_unavailable_reason
    if gpu_unavailable_reason() is not None:
        gpu = invoke("sweep", "run", "--scenario", "al2o3_tma_h2o", "--vary",
                     "recipe.temperature=150 degC", "--backend", "gpu", "-o", tmp_path / "gpu")
        assert gpu.exit_code == 3 and "backend 'gpu' was requested" in gpu.output


def test_points_whose_statistics_differ_are_analysed_each_with_its_own_settings(tmp_path):
    """deposit.density changes no rate, only the film thickness per atom: the two points run
    the same trajectories, and their growth_thickness differs by exactly the density ratio."""
    path = write_sweep(tmp_path, f"""
        scenario: al2o3_tma_h2o
        set: {QUICK}
        axes:
          - {{path: deposit.density, values: [2.0 g/cm^3, 4.0 g/cm^3]}}
        replicas: 2
        """)
    assert invoke("sweep", "run", path, "-o", tmp_path / "out", "--backend", "cpu").exit_code == 0
    table = load_table(tmp_path / "out")
    thin = table[table.point == 1]["growth_thickness [Å]"].to_numpy()
    thick = table[table.point == 0]["growth_thickness [Å]"].to_numpy()
    np.testing.assert_allclose(thick, 2.0 * thin, rtol=1e-12)
    np.testing.assert_array_equal(table[table.point == 0]["growth [1/nm^2]"],
                                  table[table.point == 1]["growth [1/nm^2]"])


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "scenarios/sweeps")
                                        .glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bundled_sweep_file_is_valid(path):
    """The sweep files README shows: each point of each is a valid scenario."""
    from kmc_ald.sweep.spec import load_sweep
    sweep = load_sweep(path)
    assert len(sweep.points) >= 5 and sweep.spec.replicas >= 8
