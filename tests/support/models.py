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
