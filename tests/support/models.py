"""Small scenarios for tests, written as text so each test shows its whole model."""
from __future__ import annotations

import numpy as np

from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation


def scenario(body: str, *, lattice: str = "square", size: int = 32, duration: str = "1 s",
             samples: int = 10, seed: int = 1, cycles: int = 1, temperature: str = "300 K",
             run: str = ""):
    """A one-phase textbook scenario around an ``species:``/``events:`` body; ``run`` adds
    settings to the run section, e.g. ``"stiffness: {separation: 100}"``."""
    text = f"""
description: test model
substrate: {{lattice: {lattice}, size: [{size}, {size}]}}
{body.strip()}
recipe:
  temperature: {temperature}
  cycles: {cycles}
  phases: [{{name: run, duration: {duration}}}]
run: {{seed: {seed}{", " + run if run else ""}}}
output: {{samples_per_phase: {samples}}}
"""
    return loads_scenario(text, "test.yaml")


def final_coverage(sc, seed: int) -> np.ndarray:
    sim = Simulation(sc, seed=seed)
    return sim.run().coverage[-1]


def supports_hold(lattice, occupation, solid):
    """Every occupied stacked site rests on three solid sites; nothing rests on a non-solid."""
    upper = np.flatnonzero((lattice.layer > 0) & (occupation > 0))
    ok_below = np.isin(occupation[lattice.support[upper]], solid).all()
    not_solid = np.flatnonzero(~np.isin(occupation, solid))
    above = lattice.supported[not_solid]
    ok_above = not (occupation[above[above >= 0]] > 0).any()
    return bool(ok_below and ok_above)


def reference_site_rates(sim) -> np.ndarray:
    """Every site's total rate, recounted from the rules in plain Python: the footprint, the
    bond count, and a two-site event's partners in its shell (``Lattice.shells``) on the
    partner site types allowed."""
    lat, mech, occ = sim.lattice, sim.mechanism, sim.state.occupation
    rate = sim.rates.rate[sim.solver._phase]
    near, dist = lat.shells(max(1, mech.max_footprint, int(mech.partner_shell.max())))
    out = np.zeros(lat.n_sites)
    for i in range(lat.n_sites):
        for e in range(mech.n_events):
            if occ[i] != mech.site_in[e, 0]:
                continue
            f = mech.footprint[e]
            shell = [s for s, d in zip(near[i], dist[i]) if 1 <= d <= f]
            if any((int(mech.block_mask[e]) >> int(occ[s])) & 1 for s in shell):
                continue
            nbs = lat.neighbours[i][lat.neighbours[i] >= 0]
            n = sum((int(mech.count_mask[e]) >> int(occ[s])) & 1 for s in nbs)
            r = rate[e, lat.site_type[i], n]
            if mech.sites_per_event[e] == 1:
                out[i] += r
                continue
            partners = [s for s, d in zip(near[i], dist[i]) if d == mech.partner_shell[e]]
            out[i] += r * sum(occ[s] == mech.site_in[e, 1]
                              and sim.rates.partner_ok[e, lat.site_type[s]] for s in partners)
    return out


def ensemble_equal_to_serial(sc, seed: int, replicas: int = 3) -> Simulation:
    """Run ``replicas`` replicas as one ensemble and each alone with the serial exact solver;
    assert they end on the same surface with the same event counts; the ensemble run."""
    sim = Simulation(sc, seed=seed, replicas=replicas, backend="cpu")
    sim.run()
    for r in range(replicas):
        alone = Simulation(sc, seed=seed + r)
        alone.run()
        np.testing.assert_array_equal(sim.state.occupation[r], alone.state.occupation)
        np.testing.assert_array_equal(sim.state.event_counts[r], alone.state.event_counts)
    return sim
