"""The command line as a user meets it: exit codes, messages, and no tracebacks."""
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kmc_ald.cli import app
from kmc_ald.io.runfile import read_run

ROOT = Path(__file__).resolve().parents[2]
LANGMUIR = str(ROOT / "scenarios/langmuir.yaml")
runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "check", "info", "scenarios"):
        assert command in result.output


def test_check_shows_lattice_species_and_rates():
    result = invoke("check", LANGMUIR)
    assert result.exit_code == 0, result.output
    assert "square 64x64 cells, 4096 sites" in result.output
    assert "empty, A" in result.output
    assert "adsorption" in result.output and "desorption" in result.output


def test_check_shows_the_parallel_solvers_schedule():
    """R_max = k_a = 2 1/s, p = 0.02: tau = 0.01 s, so a 5 s phase takes 500 sweeps."""
    result = invoke("check", LANGMUIR, "--set", "run.solver=parallel")
    assert result.exit_code == 0, result.output
    assert "1 update class (members >= 1 hops apart)" in result.output  # no interactions
    assert "500 sweeps x 0.01 s" in result.output


def test_check_accepts_a_bundled_scenario_name():
    assert invoke("check", "al2o3_tma_h2o").exit_code == 0


@pytest.mark.parametrize(("edit", "expected"), [
    (("rate: {A: 1.0 1/s}", "rate: {A: 1.0 1/s, Ea: 0.6 eV/K}"), "events[1].rate.Ea = '0.6 eV/K'"),
    (("cycles: 1", "cycels: 1"), "did you mean 'cycles'?"),
    (("species: [A]\n", ""), "required key 'species' is missing"),
])
def test_check_of_a_bad_scenario_exits_2_naming_the_field(tmp_path, edit, expected):
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(LANGMUIR).read_text().replace(*edit))
    result = invoke("check", str(bad))
    assert result.exit_code == 2
    assert expected in result.output.replace("\n", " ") or expected in result.output
    assert "bad.yaml, line" in result.output


def test_run_writes_a_run_file_and_prints_a_summary(tmp_path):
    out = tmp_path / "l.h5"
    result = invoke("run", LANGMUIR, "-o", str(out), "--seed", "4",
                    "--set", "recipe.phases[0].duration=0.5 s")
    assert result.exit_code == 0, result.output
    assert "final coverage" in result.output and "events/s" in result.output
    run = read_run(out)
    assert run.provenance["seed"] == "4" and run.provenance["status"] == "completed"
    assert run.coverage_time[-1] == pytest.approx(0.5)


def test_run_refuses_to_overwrite_and_keeps_the_file(tmp_path):
    out = tmp_path / "l.h5"
    out.write_bytes(b"precious")
    result = invoke("run", LANGMUIR, "-o", str(out))
    assert result.exit_code == 5
    assert "exists" in result.output and out.read_bytes() == b"precious"


def test_run_with_a_missing_scenario_exits_2(tmp_path):
    result = invoke("run", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "no such scenario file" in result.output


def test_gpu_backend_without_a_gpu_exits_3_with_the_reason(tmp_path):
    from kmc_ald.engine.backends.base import gpu_unavailable_reason
    if gpu_unavailable_reason() is None:
        pytest.skip("a GPU is available here")
    result = invoke("run", LANGMUIR, "--solver", "parallel", "--backend", "gpu",
                    "-o", str(tmp_path / "gpu.h5"))
    assert result.exit_code == 3
    assert "backend 'gpu' was requested but cannot run" in result.output


def test_auto_says_why_it_did_not_use_the_gpu_on_screen_and_in_the_run_file(tmp_path):
    from kmc_ald.engine.backends.base import gpu_unavailable_reason
    reason = gpu_unavailable_reason()
    if reason is None:
        pytest.skip("a GPU is available here")
    out = tmp_path / "auto.h5"
    result = invoke("run", LANGMUIR, "--solver", "parallel", "--backend", "auto", "-o", str(out),
                    "--set", "substrate.size=[8, 8]")
    assert result.exit_code == 0, result.output
    assert "backend: cpu (gpu unavailable: " in result.output
    assert read_run(out).provenance["backend_reason"] == f"gpu unavailable: {reason}"


def test_check_says_which_solver_and_backend_can_run_the_scenario():
    result = invoke("check", "pt_oxide")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│ ")]
    exact_cpu = next(r for r in rows if r.split("│")[1].strip().startswith("exact")
                     and r.split("│")[2].strip() == "cpu")
    assert "yes" in exact_cpu
    text = " ".join(result.output.replace("│", " ").split())  # cells wrap over several lines
    assert "cpu replicas (ensemble) yes" in text
    assert "on a GPU the exact solver runs ensembles of replicas" in text
    assert "3D particles (a stacked lattice) run with the exact solver" in text
    from kmc_ald.engine.backends.base import gpu_unavailable_reason
    reason = gpu_unavailable_reason()
    assert ("on the gpu for --replicas N" if reason is None
            else "on the cpu for --replicas N (gpu unavailable") in text


def test_the_exact_solver_on_a_gpu_is_refused_with_the_alternative(tmp_path):
    result = invoke("run", LANGMUIR, "--backend", "gpu", "-o", str(tmp_path / "gpu.h5"))
    assert result.exit_code == 3
    assert "on a GPU the exact solver runs ensembles of replicas (--replicas N" in result.output


def test_info_and_scenarios():
    result = invoke("info")
    assert result.exit_code == 0 and "backend gpu" in result.output
    result = invoke("scenarios")
    assert result.exit_code == 0
    for name in ("langmuir", "island_nucleation", "al2o3_tma_h2o"):
        assert name in result.output


def test_help_and_check_do_not_load_the_compiled_engine():
    """--help and check must answer at once: no numba (JIT) and no h5py on those paths."""
    code = ("import sys; from typer.testing import CliRunner; from kmc_ald.cli import app; "
            f"r = CliRunner().invoke(app, ['check', {LANGMUIR!r}, '--set', 'run.solver=parallel']); "
            "assert r.exit_code == 0; "
            "print(sorted(m for m in ('numba', 'h5py') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_second_run_does_not_compile_again(tmp_path):
    """numba caches the compiled solver: a new process loads it instead of compiling."""
    code = ("from kmc_ald.scenario.load import load_scenario; "
            "from kmc_ald.simulation import Simulation; "
            "from kmc_ald.engine import bkl; "
            f"Simulation(load_scenario({LANGMUIR!r}, ('substrate.size=[8, 8]',))).run(); "
            "print(sum(bkl.advance_surface.stats.cache_misses.values()), "
            "sum(bkl.advance_surface.stats.cache_hits.values()))")
    for _ in range(2):  # the first process may compile (fresh checkout); the second must not
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "1"]


def test_resume_extends_a_finished_run(tmp_path):
    first, second = tmp_path / "a.h5", tmp_path / "b.h5"
    assert invoke("run", "al2o3_tma_h2o", "-o", str(first), "--cycles", "2").exit_code == 0
    result = invoke("resume", str(first), "-o", str(second))
    assert result.exit_code == 5 and "already ran all 2 cycles" in result.output
    result = invoke("resume", str(first), "-o", str(second), "--cycles", "3")
    assert result.exit_code == 0, result.output
    run = read_run(second)
    assert run.phases["cycle"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    this_run = int(run.phases["events"][run.phases["cycle"] == 2].sum())  # the resumed cycle only
    assert f"events          {this_run:,} in" in result.output


def test_a_library_warning_reaches_the_user(tmp_path):
    """A particle reaching the top of a 1-layer stack is a warning on stderr, not a lost log."""
    from tests.support.models import scenario
    from tests.unit.test_stack import STACK
    text = scenario(STACK % ("50 1/s", ""), lattice="triangular", size=12, duration="1 s").text
    path = tmp_path / "stacked.yaml"
    path.write_text(text)
    result = invoke("run", str(path), "-o", str(tmp_path / "s.h5"), "--no-progress",
                    "--set", "substrate.initial={site: M}",
                    "--set", "substrate.stack={layers: 1, solid: [M]}")
    assert result.exit_code == 0, result.output
    assert "WARNING" in result.output and "reached the top of the stack" in result.output


def test_replicas_with_the_exact_solver_run_as_an_ensemble_with_error_bars(tmp_path):
    out = tmp_path / "ens.h5"
    result = invoke("run", "al2o3_tma_h2o", "-o", str(out), "--cycles", "2", "--replicas", "4",
                    "--backend", "cpu", "--set", "substrate.size=[4 nm, 4 nm]")
    assert result.exit_code == 0, result.output
    assert "solver: exact, backend: cpu" in result.output
    assert "mean ± s.e. of 4 replicas" in result.output
    assert "per cycle, mean of 4 replicas (the first column ± standard error)" in result.output
    run = read_run(out)
    assert run.provenance["solver"] == "exact" and int(run.provenance["replicas"]) == 4
    assert run.checkpoint["counter"].shape == (4,)
