"""The recipe loop calls its observers at fixed points, in order, and always closes them."""
import pytest

from kmc_ald.engine.recipe import Observer
from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation

TWO_PHASES = """
description: adsorption in a pulse, desorption in a purge
substrate: {lattice: square, size: [8, 8]}
species: [A]
gases: {G: {mass: 28 g/mol}}
events:
  - {name: adsorption, equation: "G(g) + * -> A", sticking: 0.5}
  - {name: desorption, equation: "A -> * + G(g)", rate: {A: 1 1/s}}
recipe:
  temperature: 300 K
  cycles: 2
  phases:
    - {name: pulse, gas: {G: 1e-4 Pa}, duration: 1 s}
    - {name: purge, duration: 2 s}
run: {seed: 4}
output: {samples_per_phase: 3}
"""


class Recorder(Observer):
    def __init__(self, sim, fail_at=None):
        self.sim, self.calls, self.fail_at = sim, [], fail_at

    def start(self, summary):
        self.calls.append(("start",))

    def sample(self, t, coverage):
        self.calls.append(("sample", t, self.sim.state.time))
        if len(self.calls) == self.fail_at:
            raise KeyboardInterrupt

    def phase_end(self, phase_index, row):
        self.calls.append(("phase_end", phase_index, row[0], row[3], self.sim.state.time))

    def cycle_end(self, events, phase_coverage):
        self.calls.append(("cycle_end", self.sim.state.cycle, int(events.sum()),
                           phase_coverage.shape))

    def close(self):
        self.calls.append(("close",))


def test_every_point_of_the_loop_is_observed_once_in_order():
    sim = Simulation(loads_scenario(TWO_PHASES, "t.yaml"))
    rec = Recorder(sim)
    summary = sim.run(observers=[rec])
    kinds = [c[0] for c in rec.calls]
    per_cycle = ["sample"] * 3 + ["phase_end"] + ["sample"] * 3 + ["phase_end", "cycle_end"]
    assert kinds == ["start", "sample", *per_cycle, *per_cycle, "close"]
    phase_ends = [c for c in rec.calls if c[0] == "phase_end"]
    # (phase, cycle, t_end of the row, the state's clock when observed)
    assert [c[1:4] for c in phase_ends] == [(0, 0, 1.0), (1, 0, 3.0), (0, 1, 4.0), (1, 1, 6.0)]
    assert all(c[3] == c[4] for c in phase_ends)  # observers see the state at the phase end
    cycle_ends = [c for c in rec.calls if c[0] == "cycle_end"]
    assert [c[1] for c in cycle_ends] == [1, 2]
    assert sum(c[2] for c in cycle_ends) == summary.state.events
    assert all(c[3] == (2, 2) for c in cycle_ends)  # [phases, species]


def test_observers_are_closed_when_the_run_is_interrupted():
    sim = Simulation(loads_scenario(TWO_PHASES, "t.yaml"))
    rec = Recorder(sim, fail_at=5)
    with pytest.raises(KeyboardInterrupt):
        sim.run(observers=[rec])
    assert rec.calls[-1] == ("close",)
