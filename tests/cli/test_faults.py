"""Bad input and damaged files: one clear line and an exit code from the README's table, never a
traceback or a hang, and nothing already written lost."""
import random
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from kmc_ald.cli import app
from kmc_ald.errors import ScenarioError
from kmc_ald.scenario.load import load_scenario, loads_scenario
from tests.conftest import SCENARIOS

LANGMUIR_TEXT = (SCENARIOS / "langmuir.yaml").read_text()


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def refused(text: str, *expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text, "bad.yaml")
    for words in expected:
        assert words in str(info.value)


def test_a_negative_rate_prefactor_is_refused_naming_the_field():
    refused(LANGMUIR_TEXT.replace("{A: 2.0 1/s}", "{A: -2.0 1/s}"),
            "events[0].rate.A", "a rate prefactor is a frequency >= 0")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("species: [A]", 'species: ["[/]"]', "species[0] = '[/]'"),
    ("species: [A]", 'species: ["A\\0"]', "a name is one word of printable characters"),
    ("description: |", 'description: "a\\0b"\nnotes: |', "NUL character"),
])
def test_names_and_text_a_run_file_or_a_terminal_cannot_hold_are_refused(old, new, expected):
    refused(LANGMUIR_TEXT.replace(old, new, 1), expected)


def test_control_characters_and_deep_nesting_are_yaml_errors():
    refused(LANGMUIR_TEXT.replace("Langmuir", "Lang\x07muir", 1), "bad.yaml, line 2",
            "'\\x07' is not allowed")
    refused("a: " + "[" * 3000 + "]" * 3000, "nested too deeply")


def test_a_blank_description_has_an_empty_title():
    body = LANGMUIR_TEXT[LANGMUIR_TEXT.index("substrate:"):]
    sc = loads_scenario('description: "   "\n' + body, "blank.yaml")
    assert sc.title == ""


def test_bundled_names_resolve_in_python_and_mistyped_paths_are_errors(tmp_path):
    assert load_scenario("langmuir").title.startswith("Langmuir adsorption")
    result = invoke("check", tmp_path / "no/such/dir/langmuir.yaml")
    assert result.exit_code == 2
    assert "no such scenario file" in result.output and "valid" not in result.output


def test_a_deposit_section_without_gases_runs_reports_and_resumes(tmp_path):
    scenario = tmp_path / "deposit.yaml"
    scenario.write_text("""
description: deposit without gases
substrate: {lattice: square, size: [8, 8]}
species: [A]
events:
  - {name: adsorb, equation: "* -> A", rate: {A: 2 1/s}}
  - {name: desorb, equation: "A -> *", rate: {A: 1 1/s}}
recipe: {temperature: 300 K, cycles: 2, phases: [{name: run, duration: 1 s}]}
deposit: {element: Pt, density: 21.45 g/cm^3, composition: {A: Pt}}
""")
    assert invoke("check", scenario).exit_code == 0
    run_file = tmp_path / "deposit.h5"
    result = invoke("run", scenario, "-o", run_file)
    assert result.exit_code == 0, result.output
    assert invoke("report", run_file, "-o", tmp_path / "report").exit_code == 0
    resumed = invoke("resume", run_file, "-o", tmp_path / "more.h5", "--cycles", 3)
    assert resumed.exit_code == 0, resumed.output


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("damage") / "run.h5"
    result = invoke("run", "langmuir", "-o", path, "--set", "substrate.size=[16, 16]")
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize("fraction", [0.001, 0.1, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("command", ["export", "report", "resume"])
def test_a_truncated_run_file_is_one_line_within_seconds(run_file, tmp_path, fraction, command):
    cut = tmp_path / "cut.h5"
    data = run_file.read_bytes()
    cut.write_bytes(data[:int(len(data) * fraction)])
    target = {"export": ("-o", tmp_path / "x.extxyz"), "report": ("-o", tmp_path / "r"),
              "resume": ("-o", tmp_path / "more.h5")}[command]
    result = subprocess.run([sys.executable, "-m", "kmc_ald.cli", command, str(cut),
                             *map(str, target)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 5, result.stderr
    assert "truncated" in result.stderr and "Traceback" not in result.stderr


def test_files_that_are_not_run_files_are_one_line(run_file, tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not HDF5 at all")
    result = invoke("export", text, "-o", tmp_path / "x.extxyz")
    assert result.exit_code == 5 and "not an HDF5 file" in result.output
    import h5py
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = [1, 2, 3]
    result = invoke("report", other, "-o", tmp_path / "r")
    assert result.exit_code == 5 and "not a kmc-ald run file" in result.output


def test_flipped_bytes_never_give_a_traceback(run_file, tmp_path):
    data = bytearray(run_file.read_bytes())
    rng = random.Random(7)
    for k in range(8):
        damaged = bytearray(data)
        damaged[rng.randrange(0, min(len(data), 8192))] ^= 0xFF
        path = tmp_path / f"flip{k}.h5"
        path.write_bytes(damaged)
        result = subprocess.run([sys.executable, "-m", "kmc_ald.cli", "export", str(path), "-o",
                                 str(tmp_path / f"flip{k}.extxyz")], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode in (0, 5), result.stderr
        assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(("dataset", "command"), [
    ("observables/coverage/value", "resume"), ("kmc_ald/phases/events", "resume"),
    ("kmc_ald/checkpoint/occupation", "resume"), ("kmc_ald/snapshots/occupation", "export"),
    ("kmc_ald/lattice/positions", "export")])
def test_a_bit_flip_in_stored_data_fails_its_checksum(run_file, tmp_path, dataset, command):
    """Flips in the data (not the metadata) used to export without a word, one with a
    coverage of 1.999: every array now carries a Fletcher-32 checksum."""
    import h5py
    with h5py.File(run_file, "r") as f:
        ds = f[dataset].id
        chunk = ds.get_chunk_info(ds.get_num_chunks() - 1)  # the last frame is exported
    data = bytearray(run_file.read_bytes())
    data[chunk.byte_offset + chunk.size // 2] ^= 0x04
    damaged = tmp_path / "flipped.h5"
    damaged.write_bytes(data)
    result = (invoke("export", damaged, "-o", tmp_path / "x.extxyz") if command == "export"
              else invoke("resume", damaged, "-o", tmp_path / "more.h5", "--cycles", 2))
    assert result.exit_code == 5, result.output
    assert "Fletcher-32 checksum" in result.output and "flipped.h5" in result.output


@pytest.mark.parametrize("edit", ["cycle", "occupation"])
def test_resume_refuses_an_altered_checkpoint_and_export_still_reads_the_file(run_file,
                                                                              tmp_path, edit):
    """A checkpoint whose cycle (or surface) was changed used to resume without a word: its
    digest ties the state to its position among the rows."""
    import h5py
    altered = tmp_path / "altered.h5"
    altered.write_bytes(run_file.read_bytes())
    with h5py.File(altered, "r+") as f:
        if edit == "cycle":
            f["kmc_ald/checkpoint/cycle"][()] = 7
        else:
            f["kmc_ald/checkpoint/occupation"][0] ^= 1
    result = invoke("resume", altered, "-o", tmp_path / "more.h5", "--cycles", 9)
    assert result.exit_code == 5, result.output
    assert "does not match its digest" in result.output
    assert not (tmp_path / "more.h5").exists()
    assert invoke("export", altered, "-o", tmp_path / "x.extxyz").exit_code == 0


def _unprivileged() -> list[str]:
    """A command prefix under which a read-only folder is read-only: nothing as a user, and
    setpriv to the user nobody as root (who may write anywhere)."""
    import os
    import shutil
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and no setpriv to run as an unprivileged user")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def read_only_folder(run_file):
    """(a folder everyone may write, its read-only subfolder ro/, a copy of the run file)."""
    import os
    import shutil
    import tempfile
    from pathlib import Path
    base = Path(tempfile.mkdtemp(prefix="kmc-ald-ro-"))
    base.chmod(0o777)
    (base / "ro").mkdir()
    (base / "ro").chmod(0o555)
    copy = base / "run.h5"
    shutil.copy(run_file, copy)
    copy.chmod(0o644)
    yield base, base / "ro", copy
    os.chmod(base / "ro", 0o755)
    shutil.rmtree(base, ignore_errors=True)


def test_a_read_only_folder_is_one_line_for_every_command_that_writes(read_only_folder):
    """Each output into a folder the user may not write: one line naming it, exit 5, no
    traceback, nothing written. Run as an unprivileged user, the package's own folder is
    read-only too, so this also checks that numba's cache moves to a writable place (it
    refused to import there)."""
    import os
    base, ro, run = read_only_folder
    prefix = _unprivileged()
    env = {**os.environ, "HOME": str(base)}

    def kmc(*args):
        return subprocess.run([*prefix, sys.executable, "-m", "kmc_ald.cli", *map(str, args)],
                              capture_output=True, text=True, timeout=120, cwd=base, env=env)
    first = kmc("check", "langmuir")
    if prefix and "Permission denied" in first.stderr and "kmc_ald" not in first.stderr:
        pytest.skip(f"the unprivileged user cannot start this Python: {first.stderr[-200:]}")
    assert first.returncode == 0, first.stderr
    for args, what in [
            (("run", "langmuir", "-o", ro / "x.h5"), "cannot write"),
            (("run", "langmuir", "-o", base / "ok.h5", "--set", "output.trajectory=ro/t.xyz"),
             "cannot write the trajectory"),
            (("resume", run, "-o", ro / "more.h5", "--cycles", 2), "cannot write"),
            (("export", run, "-o", ro / "x.extxyz"), "cannot write the structure file"),
            (("report", run, "-o", ro / "report"), "cannot write the report folder"),
            (("report", run, "-o", ro), "cannot write the report folder"),
            (("sweep", "run", "--scenario", "al2o3_tma_h2o", "--vary", "recipe.cycles=1,2",
              "-o", ro / "sweep"), "cannot write the sweep folder")]:
        result = kmc(*args)
        assert result.returncode == 5, (args, result.stderr)
        assert what in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
        assert "Permission denied" in result.stderr
    assert sorted(p.name for p in ro.iterdir()) == []
    assert not (base / "ok.h5").exists()  # the trajectory is opened before the run file


def test_a_second_run_onto_a_file_being_written_is_refused_and_the_file_kept(run_file):
    from kmc_ald.io.runfile import read_run, writer_lock

    before = run_file.read_bytes()
    with writer_lock(run_file):  # as a run writing it holds it
        result = invoke("run", "langmuir", "-o", run_file, "--overwrite")
    assert result.exit_code == 5
    assert "is being written by another run" in result.output
    assert run_file.read_bytes() == before and read_run(run_file).checkpoint is not None


def test_sigterm_ends_a_run_as_interrupted_with_its_flushed_cycles(tmp_path):
    import signal
    import time

    from kmc_ald.io.runfile import read_run

    out = tmp_path / "term.h5"
    proc = subprocess.Popen([sys.executable, "-m", "kmc_ald.cli", "run", "island_nucleation",
                             "-o", str(out), "--cycles", "400", "--set",
                             "substrate.size=[64, 64]", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for the first flushed checkpoint
        time.sleep(0.2)
        try:
            if out.exists() and read_run(out).checkpoint is not None:
                break
        except Exception:  # noqa: BLE001 - the file is being created
            continue
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    run = read_run(out)
    assert run.provenance["status"] == "interrupted" and run.checkpoint is not None


@pytest.mark.parametrize(("size", "expected"), [
    ("[1000000, 1000000]", "is more than the 2,147,483,647 sites a lattice can have"),
    ("[46000, 46000]", "of memory are free"),  # 2.1e9 sites: about 315 GiB
])
def test_a_lattice_too_large_is_refused_before_anything_is_allocated(size, expected):
    result = invoke("check", "langmuir", "--set", f"substrate.size={size}")
    assert result.exit_code == 2 and expected in result.output


@pytest.mark.parametrize("command", ["check", "export"])
def test_a_fifo_or_a_device_is_refused_without_reading_it(tmp_path, command):
    import os
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    args = [fifo] if command == "check" else [fifo, "-o", tmp_path / "x.extxyz"]
    result = invoke(command, *args)
    assert result.exit_code in (2, 5) and "not a regular file" in result.output
    result = invoke("check", "/dev/zero")
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_threads_sets_the_kernels_thread_count_and_refuses_more_than_there_are(tmp_path):
    import numba
    out = tmp_path / "one.h5"
    code = ("import numba, sys; from kmc_ald.cli import app; "
            "sys.argv = ['kmc-ald', '--threads', '1', 'info']; "
            "app(standalone_mode=False); print('threads', numba.get_num_threads())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert "threads 1" in result.stdout, result.stderr
    too_many = invoke("--threads", numba.config.NUMBA_NUM_THREADS + 1, "run", "langmuir",
                      "-o", out)
    assert too_many.exit_code == 2 and "at most" in too_many.output and not out.exists()


def test_a_full_disk_stops_the_run_with_its_flushed_cycles_intact(tmp_path, monkeypatch):
    """The disk fills after a few flushes (os.statvfs reports it, as on a full tmpfs): the run
    stops with one line, the file keeps its checkpointed cycles, and resume finishes the run
    as if nothing had happened."""
    import os

    import numpy as np

    from kmc_ald.io import runfile
    from kmc_ald.io.runfile import read_run

    calls = {"n": 0}
    real = os.statvfs

    class Full:
        f_bavail, f_frsize = 1, 4096

    def statvfs(path):
        calls["n"] += 1
        return real(path) if calls["n"] <= 3 else Full()
    monkeypatch.setattr(runfile.os, "statvfs", statvfs)
    monkeypatch.setattr(runfile.RunFileWriter, "__init__", _flush_every_cycle(
        runfile.RunFileWriter.__init__))
    args = ["langmuir", "--set", "substrate.size=[8, 8]", "--set", "recipe.cycles=6",
            "--set", "recipe.phases[0].duration=0.5 s"]
    full = tmp_path / "full.h5"
    result = invoke("run", *args[:1], "-o", full, *args[1:])
    assert result.exit_code == 5 and "is full" in result.output, result.output
    run = read_run(full)
    assert run.provenance["status"] == "disk full"
    kept = int(run.checkpoint["cycle"])
    assert 1 <= kept < 6
    monkeypatch.setattr(runfile.os, "statvfs", real)
    assert invoke("resume", full, "-o", tmp_path / "rest.h5").exit_code == 0
    assert invoke("run", *args[:1], "-o", tmp_path / "whole.h5", *args[1:]).exit_code == 0
    a, b = read_run(tmp_path / "rest.h5"), read_run(tmp_path / "whole.h5")
    np.testing.assert_array_equal(a.checkpoint["occupation"], b.checkpoint["occupation"])
    np.testing.assert_array_equal(a.coverage, b.coverage)


def _flush_every_cycle(init):
    def wrapped(self, *args, **kwargs):
        init(self, *args, **{**kwargs, "flush_seconds": 0.0})
    return wrapped


def test_kill_9_during_a_run_and_during_its_resume_then_resume_is_bit_identical(tmp_path):
    """Two kill points (in the run, in the first resume) and a final resume: the same state and
    rows as a run never interrupted."""
    import numpy as np

    from kmc_ald.io.runfile import read_run
    from tests.support.processes import kill_when

    args = ["--cycles", "3000", "--set", "substrate.size=[12, 12]", "--set",
            "recipe.phases[0].duration=0.05 s", "--no-progress"]

    def killed_after(command: list, path, cycles: int) -> None:
        kill_when(command, lambda: int(read_run(path).checkpoint["cycle"]) >= cycles)

    first, second, final = (tmp_path / f"{n}.h5" for n in ("first", "second", "final"))
    killed_after(["run", "langmuir", "-o", str(first), *args], first, 100)
    killed_after(["resume", str(first), "-o", str(second), "--no-progress"], second,
                 int(read_run(first).checkpoint["cycle"]) + 100)
    assert invoke("resume", second, "-o", final).exit_code == 0
    whole = tmp_path / "whole.h5"
    assert invoke("run", "langmuir", "-o", whole, *args).exit_code == 0
    a, b = read_run(whole), read_run(final)
    assert b.provenance["status"] == "completed"
    for key in ("occupation", "counter", "time", "events", "cycle", "event_counts"):
        np.testing.assert_array_equal(a.checkpoint[key], b.checkpoint[key], err_msg=key)
    np.testing.assert_array_equal(a.phases["events"], b.phases["events"])
    np.testing.assert_array_equal(a.coverage, b.coverage)
