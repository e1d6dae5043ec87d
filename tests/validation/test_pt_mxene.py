"""Pt on Ti3C2Tx MXene (scenarios/pt_mxene.yaml): the loading after 40 cycles.

Zhang et al. (Ind. Eng. Chem. Res. 59, 1822 (2020), via the seed review) report 0.98-3.10 wt% Pt
after 40 cycles. Four seeds of the bundled 20 nm x 20 nm scenario (about 0.3 s each).
"""
import numpy as np
import pytest

from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.conftest import ROOT

SCENARIO = ROOT / "scenarios/pt_mxene.yaml"


@pytest.fixture(scope="module")
def runs():
    return [Simulation(load_scenario(SCENARIO, (f"run.seed={seed}",))).run()
            for seed in range(1, 5)]


def test_loading_after_40_cycles_lies_in_the_measured_window(runs):
    loading = np.array([summary.cycles["loading"][39] for summary in runs])
    assert np.all((loading > 0.98) & (loading < 3.10)), loading
    # and it rises with cycles
    assert all(summary.cycles["loading"][19] < summary.cycles["loading"][39] for summary in runs)


def test_invariants(runs):
    for summary in runs:
        c = summary.cycles
        np.testing.assert_allclose(c["deposited"], c["metal_atoms"], rtol=1e-12)
        assert np.all((summary.coverage >= 0) & (summary.coverage <= 1))
        assert np.all(c["single_atom_fraction"] <= 1)
