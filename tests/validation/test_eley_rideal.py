"""A radical co-reactant (plasma H) as an Eley-Rideal flux with a recombination probability,
written in the ordinary scenario language, against the rate equations it must follow.

Gas-phase H atoms strike every site at J a_site per second. On a ligand-covered site they
abstract the ligand with probability s_r (``H(g) + L -> * + LH(g)``); on a bare site they stick
with probability s_a; on an adsorbed H they recombine with probability gamma and leave as H2
(``H(g) + H -> * + H2(g)``), which is how a plasma loses radicals at the surface. With no
neighbour dependence the mean-field equations are exact:

    dL/dt = -k_r L,   dH/dt = k_a (1 - L - H) - k_g H,   d(H2)/dt = k_g H,   k_x = s_x J a_site.
"""
import numpy as np
from scipy.integrate import solve_ivp

from kmc_ald.scenario.load import loads_scenario
from kmc_ald.simulation import Simulation
from kmc_ald.units import hertz_knudsen_flux

S_R, S_A, GAMMA = 1.0e-3, 2.0e-3, 0.5e-3
PRESSURE, TEMPERATURE, DURATION, SIZE = 0.5, 400.0, 3.0, 48

TEXT = f"""
description: H radicals strip ligands (Eley-Rideal) and recombine on the surface
substrate: {{lattice: square, size: [{SIZE}, {SIZE}], initial: {{site: L}}}}
species: [L, H]
gases:
  H: {{formula: H}}
events:
  - {{name: abstraction, equation: "H(g) + L -> * + LH(g)", sticking: {S_R}}}
  - {{name: adsorption, equation: "H(g) + * -> H", sticking: {S_A}}}
  - {{name: recombination, equation: "H(g) + H -> * + H2(g)", sticking: {GAMMA}}}
recipe:
  temperature: {TEMPERATURE} K
  cycles: 1
  phases: [{{name: plasma, duration: {DURATION} s, gas: {{H: {PRESSURE} Pa}}}}]
output: {{samples_per_phase: 6}}
"""


def test_radical_flux_follows_the_eley_rideal_rate_equations():
    sc = loads_scenario(TEXT, "eley_rideal.yaml")
    runs = [Simulation(sc, seed=seed) for seed in range(4)]
    summaries = [sim.run() for sim in runs]
    impacts = hertz_knudsen_flux(PRESSURE, TEMPERATURE, 1.008) * runs[0].lattice.site_area
    k_r, k_a, k_g = S_R * impacts, S_A * impacts, GAMMA * impacts
    assert 0.2 < k_r * DURATION < 5  # the transient is resolved, not over at the first sample

    def rhs(_, y):
        ligand, hydrogen, _h2 = y
        return [-k_r * ligand, k_a * (1 - ligand - hydrogen) - k_g * hydrogen, k_g * hydrogen]

    t = summaries[0].coverage_time
    exact = solve_ivp(rhs, (0, DURATION), [1.0, 0.0, 0.0], t_eval=t, rtol=1e-10, atol=1e-12).y
    coverage = np.mean([s.coverage for s in summaries], axis=0)  # [samples, (empty, L, H)]
    n = runs[0].lattice.n_sites * len(runs)
    tolerance = 4 * np.sqrt(0.25 / n) + 1e-3
    np.testing.assert_allclose(coverage[:, 1], exact[0], atol=tolerance)
    np.testing.assert_allclose(coverage[:, 2], exact[1], atol=tolerance)
    # the H2 released per site is the recombination integral; each ligand left as one LH
    names = runs[0].mechanism.event_names
    h2 = np.mean([sim.state.event_counts[names.index("recombination")] for sim in runs])
    assert abs(h2 / runs[0].lattice.n_sites - exact[2][-1]) < 4 * np.sqrt(exact[2][-1] / n) + 1e-3
    for sim in runs:
        counts = sim.state.event_counts
        removed = counts[names.index("abstraction")]
        assert removed == sim.lattice.n_sites - np.count_nonzero(sim.state.occupation == 1)
