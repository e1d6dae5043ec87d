"""Pt on alumina (scenarios/pt_oxide.yaml) and on a closed Pt film, with the shared Pt fragment.

FITTED: Pt on a closed Pt film grows about 0.45 A/cycle (Dendooven et al., J. Phys. Chem. C 117,
20557 (2013); the precursor's sticking on Pt), and the loading rises steeply between 10 and 100
mbar s of O2 per cycle (Grillo et al., Small 14, 1800765 (2018): a threshold near 120 mbar s on
TiO2; the O2 bond energy on Pt and the direct combustion of an isolated PtL).
HELD OUT: below the threshold the Pt stays single at the OH sites; above it the particles are 3D
and grow autocatalytically; growth on the oxide is substrate-inhibited with a long nucleation
delay (Knoops et al., ECS Trans. 16, 209 (2008): "long nucleation delay" with thermal O2) and stays
below the film's growth per cycle for 120 cycles.
Runs, 8 nm x 8 nm: 1 and 10 mbar s for 60 cycles with 4 and 8 replicas (about 60 and 110 Pt atoms
per cell), 100 mbar s for 120 cycles with 2 (about 1,500 Pt atoms each) and for 60 cycles with 4
more; the film on 3 nm x 3 nm. About 60 s.
"""
import numpy as np
import pytest

from kmc_ald.analysis.cycles import mean_sem
from kmc_ald.analysis.growth import growth_type, steady_line
from kmc_ald.scenario.load import load_scenario
from kmc_ald.simulation import Simulation
from tests.conftest import ROOT
from tests.support.models import supports_hold

SCENARIO = ROOT / "scenarios/pt_oxide.yaml"
EXPOSURES = (1, 10, 100)  # mbar s per cycle: O2 at 10, 100, 1000 Pa for the 10 s pulse
CYCLES = {1: 60, 10: 60, 100: 120}
REPLICAS = {1: 4, 10: 8, 100: 2}
FILM_CYCLES = 16


def _replica_axis(column: np.ndarray) -> np.ndarray:
    """A per-cycle column as [replica, cycle]."""
    column = np.asarray(column, dtype=float)
    return column.T if column.ndim == 2 else column[None]


def _run(exposure, cycles, replicas):
    sc = load_scenario(SCENARIO, (f"recipe.cycles={cycles}", "substrate.size=[8 nm, 8 nm]",
                                  "substrate.stack.layers=20",
                                  f"recipe.phases[2].gas.O2={10 * exposure} Pa"))
    sim = Simulation(sc, solver="exact", backend="cpu", replicas=replicas)
    return sim, sim.run()


@pytest.fixture(scope="module")
def runs():
    return {exposure: _run(exposure, CYCLES[exposure], REPLICAS[exposure])
            for exposure in EXPOSURES}


@pytest.fixture(scope="module")
def threshold(runs):
    """The loading after 60 cycles at each exposure, mean and SEM over replicas; at 100 mbar s
    over 6: 4 more replicas run to 60 cycles beside the 2 that run on to 120."""
    out = {e: _at(runs, e, "deposited", 60) for e in EXPOSURES}
    more = _replica_axis(_run(100, 60, 4)[1].cycles["deposited"])[:, 59]
    both = np.concatenate([_replica_axis(runs[100][1].cycles["deposited"])[:, 59], more])
    out[100] = tuple(float(x) for x in mean_sem(both, axis=0))
    return out


@pytest.fixture(scope="module")
def film():
    """The recipe at 10 mbar s on a surface whose every site already holds Pt."""
    sc = load_scenario(SCENARIO, ("substrate.initial={OH: Pt, O: Pt}", f"recipe.cycles="
                                  f"{FILM_CYCLES}", "substrate.size=[3 nm, 3 nm]",
                                  "substrate.stack.layers=24"))
    return Simulation(sc).run()


def _at(runs, exposure, key, cycle):
    """Mean and standard error over replicas of a per-cycle column at a cycle."""
    mean, sem = mean_sem(_replica_axis(runs[exposure][1].cycles[key])[:, cycle - 1], axis=0)
    return float(mean), float(sem)


def _events(sim, name):
    counts = np.asarray(sim.state.event_counts).reshape(-1, sim.mechanism.n_events)
    return int(counts[:, sim.mechanism.event_names.index(name)].sum())


def _film_growth(film):
    """Growth per cycle on the film, A/cycle, after the first cycles, and its standard error."""
    per_cycle = 10.0 * np.diff(np.concatenate([[0.0], film.cycles["thickness"]]))[3:]
    return per_cycle.mean(), per_cycle.std(ddof=1) / np.sqrt(per_cycle.size)


def test_fitted_pt_on_a_closed_pt_film_grows_045_angstrom_per_cycle(film):
    gpc, err = _film_growth(film)
    assert abs(gpc - 0.45) < 0.05 + 2 * err, (gpc, err)
    # the film stays closed: every surface site still holds Pt under whatever sits on it
    assert film.cycles["covered_fraction"][-1] == 1.0


def _ratio(a, b):
    """a / b and its standard error, from the means and standard errors of a and b."""
    r = a[0] / b[0]
    return r, r * float(np.hypot(a[1] / a[0], b[1] / b[0]))


def test_fitted_loading_rises_steeply_between_10_and_100_mbar_s(threshold):
    """The loading after 60 cycles rises with the O2 exposure, and the rise steepens towards
    Grillo's ~120 mbar s threshold: the tenfold exposure from 10 to 100 mbar s multiplies it by
    more than the tenfold from 1 to 10 does, by more than 2 SEM of the difference (convex
    against log exposure, which a loading proportional to a power of the exposure is not); the
    steep factor is consistent with 3 or more within 2 SEM."""
    low, mid, high = (threshold[e] for e in EXPOSURES)
    assert low[0] < mid[0] - 2 * np.hypot(low[1], mid[1]), (low, mid)
    steep, gentle = _ratio(high, mid), _ratio(mid, low)
    assert steep[0] - gentle[0] > 2 * np.hypot(steep[1], gentle[1]), (steep, gentle)
    assert steep[0] + 2 * steep[1] > 3, (steep, high, mid)


def test_held_out_low_exposure_keeps_single_atoms_at_the_oh_sites(runs):
    low = runs[1][0]
    single, err = _at(runs, 1, "single_atom_fraction", 60)
    assert single - 2 * err > 0.8
    assert np.count_nonzero(low.state.occupation[..., low.lattice.layer > 0]) == 0
    # no autocatalytic growth: nearly every Pt came by ligand exchange with an OH
    assert _events(low, "chemisorption_on_Pt") < 0.1 * _events(low, "chemisorption_OH")


def test_held_out_high_exposure_grows_3d_particles_autocatalytically(runs):
    high = runs[100][0]
    assert _at(runs, 100, "single_atom_fraction", 120)[0] < 0.05
    species = high.mechanism.species
    occupation = np.asarray(high.state.occupation).reshape(-1, high.lattice.n_sites)
    for pt in np.isin(occupation, [species.index(s) for s in ("Pt", "PtO")]):  # each replica
        assert np.count_nonzero(pt & (high.lattice.layer > 0)) > 0.3 * np.count_nonzero(pt)
        assert high.lattice.layer[pt].max() >= 3
    assert _events(high, "chemisorption_on_Pt") > 5 * _events(high, "chemisorption_OH")
    # small clusters diffuse and merge while O2 is on
    counts = np.asarray(high.state.event_counts).reshape(-1, high.mechanism.n_events)
    assert np.all(counts[:, high.mechanism.migrating].sum(axis=1) > 20)


def test_held_out_substrate_inhibited_growth_below_the_film_rate(runs, film):
    """At 100 mbar s: a long delay before the steady line, growth per cycle rising over the 120
    cycles as the particles grow (Puurunen's substrate-inhibited growth) and still below that of
    the closed film from the same parameters."""
    cycles = runs[100][1].cycles
    growth = _replica_axis(cycles["growth"])
    for each in growth:
        assert growth_type(each).startswith("substrate-inhibited")  # type 1 or 2 with the seed
    thirds = [growth[:, k:k + 40].mean() for k in (0, 40, 80)]
    assert thirds[0] < thirds[1] < thirds[2], thirds
    for deposited in _replica_axis(cycles["deposited"]):
        assert steady_line(deposited)[1] > 20
    per_cycle = 10.0 * np.diff(_replica_axis(cycles["thickness"]), axis=1)[:, -30:].mean()
    assert per_cycle < _film_growth(film)[0]


def _oh_per_nm2(sim, coverage):
    return coverage[..., sim.mechanism.species.index("OH")] * sim.lattice.n_surface_sites / (
        sim.lattice.area / 100.0)


def test_the_alumina_starts_as_the_al2o3_process_leaves_it_and_loses_only_crowded_oh():
    """The support is ALD alumina with the OH chemistry of the Al2O3 process (the shared
    fragments/alumina_hydroxyls.yaml): the OH density pt_oxide starts from is the one
    al2o3_tma_h2o leaves at 250 degC at the start of its TMA pulses (4 replicas, cycles 21-40;
    within 3 SEM and 0.2 OH/nm^2 of rounding). Without water (the precursor off, O2 pulses
    only) the crowded OH go within the first cycle, while the sparse ones hold: more than 3
    OH/nm^2 remain after 60 cycles at 250 degC (3.3-3.6), and every OH that started with no OH
    beside it is still there."""
    al2o3 = load_scenario(ROOT / "scenarios/al2o3_tma_h2o.yaml", (
        "recipe.temperature=250 degC", "recipe.cycles=40", "substrate.size=[6 nm, 6 nm]"))
    sim = Simulation(al2o3, solver="exact", backend="cpu", replicas=4)
    # coverage at each phase's end: [cycle, replica, phase, species]; the last purge's end
    ends = np.asarray(sim.run().cycles["coverage_end_of_phase"])[20:, :, -1]
    oh, sem = mean_sem(_oh_per_nm2(sim, ends).mean(axis=0), axis=0)
    start = load_scenario(SCENARIO).substrate.site_types["OH"][1] * 100.0  # 1/A^2 -> 1/nm^2
    assert abs(start - oh) < 3 * sem + 0.2, (start, oh, sem)

    bare = load_scenario(SCENARIO, ("recipe.cycles=60", "substrate.size=[8 nm, 8 nm]",
                                    "recipe.phases[0].gas.MeCpPtMe3=0 Pa"))
    sim = Simulation(bare, solver="exact", backend="cpu", replicas=2)
    oh_id = sim.mechanism.species.index("OH")
    before = np.asarray(sim.state.occupation).reshape(2, -1) == oh_id
    trace = _oh_per_nm2(sim, np.asarray(sim.run().cycles["coverage_end_of_phase"]))
    trace = trace.transpose(1, 0, 2).reshape(2, -1)  # [replica, each phase's end in order]
    assert trace[:, 0].max() < start and np.all(trace[:, -1] > 3.0), (start, trace[:, [0, -1]])
    # an OH with no OH beside it has no partner to leave with: every lone OH of the start stays
    after = np.asarray(sim.state.occupation).reshape(2, -1) == oh_id
    surface = sim.lattice.neighbours[: before.shape[1]]
    for had, has in zip(before, after):
        beside = np.where(surface >= 0, had[np.maximum(surface, 0)], False).any(axis=1)
        lone = had & ~beside
        assert lone.sum() >= 5 and np.all(has[lone]), (lone.sum(), has[lone].sum())


def test_invariants(runs, film):
    for sim, summary in [*runs.values()]:
        c = summary.cycles
        np.testing.assert_allclose(c["deposited"], c["metal_atoms"], rtol=1e-12)
        assert np.all((summary.coverage >= 0) & (summary.coverage <= 1))
        solid = [sim.mechanism.species.index(s) for s in ("Pt", "PtO")]
        for occupation in np.asarray(sim.state.occupation).reshape(-1, sim.lattice.n_sites):
            assert supports_hold(sim.lattice, occupation, solid)
    assert np.all(np.diff(film.cycles["deposited"]) > 0)
