"""Per-cycle statistics: definitions checked by hand, the run file's table, and scenario errors."""
import numpy as np
import pytest

from kmc_ald.analysis.cycles import AVOGADRO, CycleStatistics, mean_sem, nucleation_delay
from kmc_ald.errors import ScenarioError
from kmc_ald.io.runfile import read_run
from kmc_ald.model.compile import compile_mechanism
from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation
from kmc_ald.surfaces import lattice_for

TEXT = """
description: deposition on a square lattice
substrate: {lattice: square, size: [8, 8], spacing: 3 Å}
species: [M]
gases: {MX2: {formula: PtCl2}, X2: {formula: Cl2}}
events:
  - {name: deposition, equation: "MX2(g) + * -> M + X2(g)", sticking: 0.01}
recipe:
  temperature: 500 K
  cycles: 3
  phases:
    - {name: pulse, duration: 0.1 s, gas: {MX2: 1 Pa}}
    - {name: purge, duration: 0.1 s}
deposit:
  element: Pt
  density: 21.45 g/cm^3
  composition: {M: Pt}
  specific_area: 100 m^2/g
  conserved: [Cl]
"""


def test_statistics_of_a_hand_made_surface():
    sc = loads_scenario(TEXT, "t.yaml")
    lat, mech = lattice_for(sc), compile_mechanism(sc)
    stats = CycleStatistics(sc.deposit, lat, mech, {"MX2": "PtCl2", "X2": "Cl2"})
    occ = np.zeros(64, dtype=np.uint8)
    occ[[0, 1, 2]] = 1  # a row of three: one cluster
    occ[[20]] = 1  # a single atom
    occ[[42, 50]] = 1  # a vertical pair
    events = np.array([6])  # six depositions in the cycle
    row = stats.row(1, 0.2, occ, events, 0.0, np.zeros((2, 2)))
    area_nm2 = 64 * 9 / 100
    assert row["deposited"] == pytest.approx(6 / area_nm2)
    assert row["metal_atoms"] == pytest.approx(6 / area_nm2)
    assert row["clusters"] == pytest.approx(3 / area_nm2)
    assert row["mean_cluster_size"] == pytest.approx(2.0)
    assert row["largest_cluster"] == 3
    assert row["single_atom_fraction"] == pytest.approx(1 / 6)
    assert list(row["size_distribution"][:3]) == [1, 2, 0]  # sizes 1 | 2-3 | 4-7
    v = 195.084 / (21.45 * AVOGADRO) * 1e24  # Å³ per Pt atom
    d = [2 * (3 * n * v / (2 * np.pi)) ** (1 / 3) / 10 for n in (3, 1, 2)]
    assert row["mean_diameter"] == pytest.approx(np.mean(d), rel=1e-4)
    assert row["mean_projected_diameter"] == pytest.approx(
        np.mean([2 * np.sqrt(n * 9 / np.pi) / 10 for n in (3, 1, 2)]))
    metal = 6 * 195.084 / AVOGADRO
    support = 64 * 9e-20 / 100.0  # g: area / specific area
    assert row["loading"] == pytest.approx(100 * metal / (metal + support), rel=1e-4)
    assert row["growth_thickness"] == pytest.approx(6 / (64 * 9) * v)
    assert list(row["gas_released"] * area_nm2) == pytest.approx([0.0, 6.0])


def test_run_file_holds_the_cycle_table(tmp_path):
    sim = Simulation(loads_scenario(TEXT, "t.yaml"))
    summary = sim.run(tmp_path / "r.h5")
    run = read_run(tmp_path / "r.h5")
    assert list(run.cycles["cycle"]) == [1, 2, 3]
    assert run.cycles_units["loading"] == "wt%"
    np.testing.assert_array_equal(run.cycles["deposited"], summary.cycles["deposited"])
    np.testing.assert_allclose(run.cycles["deposited"], run.cycles["metal_atoms"])
    assert run.cycles["coverage_end_of_phase"].shape == (3, 2, 2)
    assert np.all(run.phases["scale"] == 1.0)  # no stiffness control: true rates


def test_resumed_run_keeps_every_cycle_row(tmp_path):
    sc = loads_scenario(TEXT.replace("cycles: 3", "cycles: 2"), "t.yaml")
    Simulation(sc).run(tmp_path / "a.h5")
    sim = Simulation.resume(tmp_path / "a.h5", ("recipe.cycles=4",))
    sim.run(tmp_path / "b.h5")
    assert list(read_run(tmp_path / "b.h5").cycles["cycle"]) == [1, 2, 3, 4]


def test_unconserved_element_is_an_error_naming_the_event():
    bad = TEXT.replace('"MX2(g) + * -> M + X2(g)"', '"MX2(g) + * -> M"')
    with pytest.raises(ScenarioError, match=r"(?s)events\[0\].*Cl is not conserved: 2 atoms before, 0"):
        compile_mechanism(loads_scenario(bad, "t.yaml"))


@pytest.mark.parametrize("edit, message", [
    (("element: Pt", "element: Qx"), "not a chemical element"),
    (("composition: {M: Pt}", "composition: {N: Pt}"), "species 'N' is not listed"),
    (("density: 21.45 g/cm^3", "density: 21.45"), "has no unit"),
])
def test_bad_deposit_sections_are_located(edit, message):
    with pytest.raises(ScenarioError, match=message):
        loads_scenario(TEXT.replace(*edit), "t.yaml")


def test_stiffness_refuses_replicas():
    sc = loads_scenario(TEXT + "run: {solver: parallel, stiffness: {separation: 100}}\n", "t.yaml")
    with pytest.raises(ScenarioError, match=r"(?s)run.stiffness.*one surface at a time, not 4 replicas"):
        Simulation(sc, replicas=4)


def test_cluster_means_of_an_empty_surface_are_undefined_and_left_out_of_replica_means():
    """A bare surface has no mean cluster size (NaN, not 0); over replicas the mean and its
    error come from the replicas that have clusters."""
    sc = loads_scenario(TEXT, "t.yaml")
    lat, mech = lattice_for(sc), compile_mechanism(sc)
    stats = CycleStatistics(sc.deposit, lat, mech, {"MX2": "PtCl2", "X2": "Cl2"})
    row = stats.row(1, 0.2, np.zeros(64, dtype=np.uint8), np.array([0]), 0.0, np.zeros((2, 2)))
    for key in ("mean_cluster_size", "mean_diameter", "mean_projected_diameter",
                "single_atom_fraction"):
        assert np.isnan(row[key]), key
    assert row["clusters"] == 0.0 and row["largest_cluster"] == 0
    mean, sem = mean_sem(np.array([[1.0, np.nan], [2.0, np.nan], [np.nan, np.nan]]), axis=0)
    assert mean[0] == pytest.approx(1.5) and sem[0] == pytest.approx(0.5)
    assert np.isnan(mean[1]) and np.isnan(sem[1])
    one = mean_sem(np.array([[4.0]]), axis=0)
    assert one[0][0] == 4.0 and one[1][0] == 0.0  # one replica: no spread to estimate
    mean, sem = mean_sem(np.arange(6.0).reshape(3, 2), axis=0)
    np.testing.assert_allclose(sem, np.arange(6.0).reshape(3, 2).std(axis=0, ddof=1) / np.sqrt(3))


def test_bonds_min_above_max_is_rejected():
    text = TEXT.replace('sticking: 0.01}', 'sticking: 0.01, bonds: {with: [M], min: 2, max: 1}}')
    with pytest.raises(ScenarioError, match="could never happen"):
        loads_scenario(text, "t.yaml")


def test_nucleation_delay_of_immediate_and_absent_growth():
    assert nucleation_delay(np.array([1.0, 1.0, 1.0, 1.0])) == 0.0
    assert np.isnan(nucleation_delay(np.zeros(5)))


def test_replicas_get_one_column_each(tmp_path):
    sim = Simulation(loads_scenario(TEXT, "t.yaml"), solver="parallel", backend="cpu",
                     replicas=2)
    summary = sim.run(tmp_path / "r.h5")
    assert summary.cycles["deposited"].shape == (3, 2)
    np.testing.assert_allclose(summary.cycles["deposited"], summary.cycles["metal_atoms"])
    run = read_run(tmp_path / "r.h5")
    assert run.cycles["coverage_end_of_phase"].shape == (3, 2, 2, 2)
    np.testing.assert_array_equal(run.cycles["growth"], summary.cycles["growth"])
