"""HfO2 from TDMAH and water (scenarios/hfo2_tdmah_h2o.yaml): the SPPARKS ALD application's
HfO2 mechanism on a slab built from the crystal structure.

* The slab: the committed structure is what its script builds from baddeleyite; Hf positions
  have 7 O neighbours, O positions 3 or 4 Hf (fewer only at the open top), no Hf-Hf or O-O
  bonds; 192 hydroxyls and 64 bridging O on 8 x 8 cells of a x b.
* The port's rules: after a short cycle with every kind of step, each site's rate equals the
  recount from the rules (coordination windows per site type, four-hop footprints, second-shell
  partners); every Hf on the surface came from a TDMAH consumed and not released; coverages are
  whole site counts in [0, 1]; every ensemble replica (numba, kernels/ensemble.cu through the
  host shim) is the serial run.
* Against SPPARKS (bench/peers/spparks_hfo2.py, its committed JSON): Hf per initial OH after
  the first TDMAH pulse within 10 % of SPPARKS run on the same lattice, gated as SPPARKS runs it.
"""
from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

from kmc_ald.engine.recipe import gas_exchange
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.conftest import SCENARIOS
from tests.support.models import reference_site_rates

ase_io = pytest.importorskip("ase.io")

PATH = SCENARIOS / "hfo2_tdmah_h2o.yaml"
SLAB = SCENARIOS / "structures" / "hfo2_001_slab.extxyz"
PEERS = SCENARIOS.parent / "bench" / "results" / "peers_spparks_hfo2.json"
# a, b of baddeleyite (Ruh & Corfield 1970), 8 x 8 cells
AREA_NM2 = 64 * 5.117 * 5.1754 / 100.0


def short(duration: str = "5e-6 s", cycles: int = 1) -> tuple[str, ...]:
    return (f"recipe.cycles={cycles}",
            *(f"recipe.phases[{p}].duration={duration}" for p in range(4)))


def hf_on_surface(sim) -> int:
    species = sim.mechanism.species
    held = np.array([s.count("Hf") for s in species])
    occ = sim.state.occupation
    return int(held[occ].sum())


def test_the_committed_slab_is_what_its_script_builds():
    spec = importlib.util.spec_from_file_location("make_hfo2_slab",
                                                  SLAB.parent / "make_hfo2_slab.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    built, committed = script.build(), ase_io.read(SLAB)
    np.testing.assert_allclose(built.positions, committed.positions, atol=1e-6)
    assert built.get_chemical_symbols() == committed.get_chemical_symbols()
    np.testing.assert_array_equal(built.get_tags(), committed.get_tags())
    np.testing.assert_array_equal(built.arrays["site_type"], committed.arrays["site_type"])


def test_the_slab_is_baddeleyite_cut_along_001():
    sim = Simulation(load_scenario(PATH), seed=1)
    lat = sim.lattice
    types = np.array(lat.site_type_names)[lat.site_type]
    degree = (lat.neighbours >= 0).sum(axis=1)
    is_hf = types == "Hf_site"
    assert (degree[is_hf] == 7).all()
    top = lat.positions[:, 2] > lat.positions[is_hf, 2].max()  # the open top O layer
    assert set(degree[~is_hf & ~top & (types == "O_site")]) == {3, 4}
    for i in range(lat.n_sites):  # Hf bonds to O only, O to Hf only
        nb = lat.neighbours[i][lat.neighbours[i] >= 0]
        assert (is_hf[nb] != is_hf[i]).all(), i
    assert lat.site_type_counts() == {"O_bridge": 64, "O_term": 192, "Hf_site": 640,
                                      "O_site": 1280}
    species = np.array(sim.mechanism.species)[sim.state.occupation]
    assert (species[types == "O_term"] == "OH").all()
    assert (species[types == "O_bridge"] == "O").all()
    assert (species[(types == "Hf_site") | (types == "O_site")] == "empty").all()
    assert lat.n_surface_sites == 256
    assert lat.area / 100.0 == pytest.approx(AREA_NM2, rel=1e-6)


@pytest.mark.slow
def test_rates_hf_and_coverages_follow_the_rules_through_a_short_cycle():
    sim = Simulation(load_scenario(PATH, short()), seed=4)
    summary = sim.run()
    np.testing.assert_allclose(sim.solver.site_rates(), reference_site_rates(sim), rtol=1e-11,
                               atol=0)
    consumed, released = gas_exchange(sim.mechanism, sim.state.event_counts)["TDMAH"]
    assert hf_on_surface(sim) == consumed - released > 20
    counts = summary.coverage * sim.lattice.n_surface_sites
    np.testing.assert_allclose(counts, np.rint(counts), atol=1e-9)
    assert (summary.coverage >= 0).all() and (summary.coverage <= 1).all()
    fired = {n for n, c in zip(sim.mechanism.event_names, sim.state.event_counts) if c}
    # adsorption, proton hops, proton transfer to the ligands, and more besides
    assert {"OH_to_HfX4OH_c1", "O_OH_to_OH_O_c1", "HfX4O_OH_to_HfHX4O_O_c2"} <= fired
    assert len(fired) >= 12, sorted(fired)


@pytest.mark.slow
def test_every_ensemble_replica_equals_the_serial_solver(ensemble_backend):
    sc = load_scenario(PATH, short("1e-6 s"))
    sim = Simulation(sc, seed=2, replicas=2, backend="cpu")
    sim.run()
    for r in range(2):
        alone = Simulation(sc, seed=2 + r)
        alone.run()
        np.testing.assert_array_equal(sim.state.occupation[r], alone.state.occupation)
        np.testing.assert_array_equal(sim.state.event_counts[r], alone.state.event_counts)


@pytest.mark.slow
def test_the_first_pulse_takes_up_the_hf_spparks_takes_up_on_the_same_lattice():
    """Hf per initial OH after the first TDMAH pulse (1e-4 s) within 10 % of SPPARKS' mean on
    this slab, gated as SPPARKS runs its type-3 events."""
    from bench.peers.spparks_hfo2 import as_run_overrides

    peers = json.loads(PEERS.read_text())["lattices"]["kmc-ald slab"]
    reference = peers["summary"]["spparks"]["hf_per_initial_OH_after_first_pulse"]
    first_pulse = ("recipe.cycles=1",
                   *(f"recipe.phases[{p}].duration=1e-12 s" for p in (1, 2, 3)))
    sim = Simulation(load_scenario(PATH, (*first_pulse, *as_run_overrides(PATH))), seed=11)
    sim.run()
    per_oh = hf_on_surface(sim) / peers["initial_OH"]
    assert per_oh == pytest.approx(reference["mean"], rel=0.10), (per_oh, reference)
    assert math.isfinite(reference["sem"])
