"""kmc-ald export and kmc-ald report as a user meets them, on every bundled scenario."""
import hashlib

import pytest
from ase.io import read
from typer.testing import CliRunner

from kmc_ald.cli import app
from kmc_ald.resources import bundled_scenarios

runner = CliRunner()

#: A short variant of every bundled scenario (seconds, not minutes).
QUICK = {
    "al2o3_tma_h2o": ["recipe.cycles=2", "substrate.size=[3 nm, 3 nm]"],
    "pt_n_graphene": ["recipe.cycles=3", "substrate.size=[6 nm, 6 nm]",
                      "substrate.site_types.pyridinic_N=0.01"],
    "pt_mxene": ["recipe.cycles=3", "substrate.size=[6 nm, 6 nm]"],
    "ni_graphene": ["recipe.cycles=4", "substrate.size=[4 nm, 4 nm]"],
    "pt_oxide": ["recipe.cycles=3", "substrate.size=[4 nm, 4 nm]", "recipe.phases[2].gas.O2=1000 Pa"],
    "hfo2_tdmah_h2o": ["recipe.cycles=2", *(f"recipe.phases[{p}].duration=2e-6 s"
                                            for p in range(4))],
    "island_nucleation": ["substrate.size=[32, 32]"],
    "langmuir": ["substrate.size=[16, 16]"],
    "precursor_mediated": ["substrate.size=[16, 16]", "recipe.phases[0].duration=0.5 s"],
    "rsa_square": ["substrate.size=[32, 32]"],
}
FIGURES = ["coverage.png", "size_distribution.png", "surface.png"]
DEPOSIT_FIGURES = ["loading_growth.png", "particles.png"]


def invoke(*args):
    """Run the CLI; the output's line wrapping (terminal width) is undone."""
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    result.text = " ".join(result.output.split())
    return result


def quick_run(name, path):
    sets = [x for s in QUICK[name] for x in ("--set", s)]
    result = invoke("run", name, "-o", path, "--no-progress", *sets)
    assert result.exit_code == 0, result.output
    return path


def test_every_bundled_scenario_has_a_quick_variant():
    assert set(bundled_scenarios()) == set(QUICK)


@pytest.mark.parametrize("name", sorted(QUICK))
def test_report_draws_every_figure(tmp_path, name):
    run = quick_run(name, tmp_path / f"{name}.h5")
    before = hashlib.sha256(run.read_bytes()).hexdigest()
    result = invoke("report", run, "-o", tmp_path / "report")
    assert result.exit_code == 0, result.output
    has_deposit = name in ("al2o3_tma_h2o", "ni_graphene", "pt_n_graphene", "pt_mxene",
                           "pt_oxide", "hfo2_tdmah_h2o")
    expected = FIGURES + (DEPOSIT_FIGURES if has_deposit else [])
    summary = (tmp_path / "report" / "report.md").read_text()
    from kmc_ald.io.runfile import read_run
    cycles = read_run(run).cycles
    if cycles and not (cycles["clusters"] > 0).any():  # a film: no particles to draw
        expected = [f for f in expected if f not in ("particles.png", "size_distribution.png")]
        assert "no particle or size-distribution figures" in summary
        assert not (tmp_path / "report" / "particles.png").exists()
    for figure in expected:
        data = (tmp_path / "report" / figure).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, figure
        assert f"]({figure})" in summary
    assert hashlib.sha256(run.read_bytes()).hexdigest() == before
    if has_deposit:
        assert "nucleation delay" in summary and "growth type" in summary
        assert "Å = " in summary and "ng/cm² per cycle" in summary and "| thickness |" in summary
        film = name == "al2o3_tma_h2o"  # its Al leaves the surface species: no loading
        assert ("| loading |" in summary) != film


def test_report_of_chosen_cycles_and_a_missing_one(tmp_path):
    run = quick_run("pt_n_graphene", tmp_path / "pt.h5")
    result = invoke("report", run, "--cycles", "0,3")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pt-report" / "surface.png").exists()
    result = invoke("report", run, "--cycles", "0,7")
    assert result.exit_code == 2
    assert "no end-of-cycle snapshot at cycle(s) [7]" in result.text
    assert "cycles 0, 1, 2, 3" in result.text
    result = invoke("report", run, "--cycles", "one")
    assert result.exit_code == 2 and "expected cycle numbers" in result.text


def test_export_writes_a_trajectory_and_refuses_bad_requests(tmp_path):
    run = quick_run("pt_n_graphene", tmp_path / "pt.h5")
    result = invoke("export", run, "-o", tmp_path / "all.extxyz", "--frames", "all")
    assert result.exit_code == 0, result.output
    assert "wrote 4 frames" in result.text
    assert len(read(tmp_path / "all.extxyz", index=":")) == 4
    result = invoke("export", run, "-o", tmp_path / "POSCAR", "--format", "vasp")
    assert result.exit_code == 0 and "wrote 1 frame " in result.text
    # the same name again is refused without --overwrite
    result = invoke("export", run, "-o", tmp_path / "POSCAR", "--format", "vasp")
    assert result.exit_code == 2 and "--overwrite" in result.text
    result = invoke("export", run, "-o", tmp_path / "x.extxyz", "--frames", "12")
    assert result.exit_code == 2 and "frame '12' does not exist" in result.text
    result = invoke("export", run, "-o", tmp_path / "x.abc")
    assert result.exit_code == 2 and "pass --format, one of:" in result.text
    result = invoke("export", run, "-o", tmp_path / "x.abc", "--format", "nope")
    assert result.exit_code == 2 and "unknown or read-only format 'nope'" in result.text
    result = invoke("export", run, "-o", tmp_path / "x.extxyz", "--replica", "2")
    assert result.exit_code == 2 and "replica 2 does not exist" in result.text
    result = invoke("export", tmp_path / "missing.h5", "-o", tmp_path / "x.extxyz")
    assert result.exit_code == 5 and "no such run file" in result.text


def test_a_poscar_has_one_block_per_element_and_vacuum_above_the_highest_atom(tmp_path):
    import ase.io

    from kmc_ald.cli import app as cli_app
    from kmc_ald.io.structures import VACUUM
    from tests.unit.test_ensemble import QUICK
    run_file = tmp_path / "pt.h5"
    args = ["run", "pt_oxide", "-o", str(run_file)]
    for setting in QUICK["pt_oxide"]:
        args += ["--set", setting]
    assert CliRunner().invoke(cli_app, args).exit_code == 0
    poscar = tmp_path / "POSCAR"
    assert CliRunner().invoke(cli_app, ["export", str(run_file), "-o", str(poscar),
                                        "--format", "vasp"]).exit_code == 0
    atoms = ase.io.read(poscar, format="vasp")
    symbols = atoms.get_chemical_symbols()
    blocks = [s for k, s in enumerate(symbols) if k == 0 or s != symbols[k - 1]]
    assert len(blocks) == len(set(blocks)) and "Pt" in blocks
    z = atoms.positions[:, 2]
    assert atoms.cell[2, 2] >= z.max() - min(z.min(), 0.0) + VACUUM - 1e-9
