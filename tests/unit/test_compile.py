"""Rate tables: every number a solver reads, checked against its formula."""
import math

import numpy as np
import pytest

from kmc_ald.errors import ScenarioError
from kmc_ald.model.compile import compile_mechanism, compile_rates
from kmc_ald.scenario.load import loads_scenario
from kmc_ald.surfaces import lattice_for
from kmc_ald.units import KB_EV_PER_K, hertz_knudsen_flux

TEXT = """
description: compile test
substrate: {lattice: graphene, size: [8, 8], site_types: {vacancy: 0.125}}
species: [Pt, P]
gases: {Prec: {mass: 319.3 g/mol}}
events:
  - name: adsorb
    equation: "Prec(g) + * -> P + 2 CH4(g)"
    sticking: {default: 0.01, vacancy: 0.5}
  - name: hop
    equation: "Pt + * -> * + Pt"
    rate: {A: 1e12 1/s, Ea: {default: 0.5 eV, vacancy: 1.5 eV}}
    bonds: {with: [Pt], energy: 0.25 eV, max: 2}
recipe:
  temperature: 250 degC
  cycles: 1
  phases:
    - {name: pulse, duration: 1 s, gas: {Prec: 0.5 Pa}}
    - {name: purge, duration: 1 s, temperature: 100 degC}
"""


def _compile(text=TEXT):
    sc = loads_scenario(text, "c.yaml")
    lattice = lattice_for(sc)
    mech = compile_mechanism(sc)
    return sc, lattice, mech, compile_rates(sc, mech, lattice)


def test_mechanism_structure():
    _, _, mech, _ = _compile()
    assert mech.species == ("empty", "Pt", "P")
    assert mech.gases == ("Prec", "CH4")
    assert mech.site_in.tolist() == [[0, -1], [1, 0]]
    assert mech.site_out.tolist() == [[2, -1], [0, 1]]
    assert mech.gas_in.tolist() == [[1, 0], [0, 0]]
    assert mech.gas_out.tolist() == [[0, 2], [0, 0]]
    assert mech.count_mask.tolist() == [0, 1 << 1]
    # events grouped by the species on their first site: empty -> adsorb, Pt -> hop
    assert [mech.event_order[k] for k in range(mech.event_offset[0], mech.event_offset[1])] == [0]
    assert [mech.event_order[k] for k in range(mech.event_offset[1], mech.event_offset[2])] == [1]
    assert mech.interaction_range == 1


def test_sticking_rate_is_hertz_knudsen_flux_times_site_area():
    _, lattice, _, rates = _compile()
    T = 523.15
    flux = hertz_knudsen_flux(0.5, T, 319.3)
    vac = lattice.site_type_names.index("vacancy")
    assert rates.rate[0, 0, 0, 0] == pytest.approx(0.01 * flux * lattice.site_area, rel=1e-12)
    assert rates.rate[0, 0, vac, 0] == pytest.approx(0.5 * flux * lattice.site_area, rel=1e-12)
    assert lattice.site_area == pytest.approx(5.2408 / 2, rel=1e-3)  # graphene: 2 C per cell
    assert np.all(rates.rate[1, 0] == 0.0)  # gas off in the purge


def test_a_bond_energy_raises_a_sticking_coefficient_only_up_to_one():
    """Sticking is a probability per impact: s exp(-n E/kT) with E < 0 grows with n, capped at 1."""
    text = TEXT.replace('sticking: {default: 0.01, vacancy: 0.5}',
                        'sticking: {default: 0.01, vacancy: 0.5}\n'
                        '    bonds: {with: [Pt], energy: -0.1 eV}')
    _, lattice, _, rates = _compile(text)
    kT = KB_EV_PER_K * 523.15
    impacts = hertz_knudsen_flux(0.5, 523.15, 319.3) * lattice.site_area
    vac = lattice.site_type_names.index("vacancy")
    for n in range(lattice.n_nearest + 1):
        assert rates.rate[0, 0, 0, n] == pytest.approx(
            impacts * min(0.01 * math.exp(0.1 * n / kT), 1.0), rel=1e-12)
        assert rates.rate[0, 0, vac, n] == pytest.approx(
            impacts * min(0.5 * math.exp(0.1 * n / kT), 1.0), rel=1e-12)
    assert rates.rate[0, 0, 0, 0] < impacts  # uncapped without bonds
    assert rates.rate[0, 0, vac, 1] == pytest.approx(impacts, rel=1e-12)  # 0.5 x 9.2: capped


GATED = TEXT.replace("""    rate: {A: 1e12 1/s, Ea: {default: 0.5 eV, vacancy: 1.5 eV}}""",
                     """    rate: {A: 1e12 1/s, Ea: {default: 0.5 eV, vacancy: 1.5 eV}, n: 1.5, T0: 300 K}
    phases: [purge]""").replace("recipe:", """  - name: direct
    equation: "Prec(g) + * -> P"
    rate: {A: 3.0 1/s, Ea: 0.1 eV}
recipe:""")


def test_modified_arrhenius_phase_gating_and_a_direct_rate_while_the_gas_is_on():
    """k = A (T/T0)^n exp(-Ea/kT) only in the phases named; a gas event given a rate runs at
    that rate per site while its gas is on (SPPARKS' per-site adsorption), and not at all when
    it is off."""
    _, lattice, _, rates = _compile(GATED)
    kT = KB_EV_PER_K * 373.15
    assert np.all(rates.rate[0, 1] == 0.0)  # the pulse is not among the hop's phases
    for n in range(3):
        assert rates.rate[1, 1, 0, n] == pytest.approx(
            1e12 * (373.15 / 300.0) ** 1.5 * math.exp(-(0.5 + 0.25 * n) / kT), rel=1e-12)
    assert rates.rate[0, 2, 0, 0] == pytest.approx(3.0 * math.exp(-0.1 / (KB_EV_PER_K * 523.15)),
                                                   rel=1e-12)
    assert np.all(rates.rate[1, 2] == 0.0)  # the purge: no Prec
    # T0 defaults to 1 K, the A T^n of SPPARKS and Cantera
    _, _, _, plain = _compile(GATED.replace(", T0: 300 K", ""))
    assert plain.rate[1, 1, 0, 0] == pytest.approx(1e12 * 373.15 ** 1.5 * math.exp(-0.5 / kT))


def test_arrhenius_with_bond_counting_and_site_types():
    _, lattice, _, rates = _compile()
    vac = lattice.site_type_names.index("vacancy")
    for p, T in enumerate((523.15, 373.15)):
        kT = KB_EV_PER_K * T
        for n in range(3):
            assert rates.rate[p, 1, 0, n] == pytest.approx(1e12 * math.exp(-(0.5 + 0.25 * n) / kT))
            assert rates.rate[p, 1, vac, n] == pytest.approx(1e12 * math.exp(-(1.5 + 0.25 * n) / kT))
        assert rates.rate[p, 1, 0, 3] == 0.0  # above bonds.max
    assert rates.temperatures.tolist() == [523.15, 373.15]


def test_bond_windows_per_site_type():
    """``min``/``max`` per site type: exactly one Pt neighbour on vacancies, at most two on the
    others (the default); the energy per bond is the same on both."""
    _, lattice, _, rates = _compile(TEXT.replace("max: 2}", "min: {vacancy: 1}, "
                                                 "max: {default: 2, vacancy: 1}}"))
    vac = lattice.site_type_names.index("vacancy")
    for t in range(len(lattice.site_type_names)):
        window = [1] if t == vac else [0, 1, 2]
        open_ = rates.rate[0, 1, t] > 0
        assert np.flatnonzero(open_).tolist() == window, lattice.site_type_names[t]
    kT = KB_EV_PER_K * 523.15
    assert rates.rate[0, 1, vac, 1] == pytest.approx(1e12 * math.exp(-(1.5 + 0.25) / kT))


@pytest.mark.parametrize("bonds, message", [
    ("max: {vacany: 1}}", r"events\[1\].bonds.max.vacany = 'vacany'\n.*site type 'vacany' "
     r"does not exist"),
    ("min: {vacancy: 3}, max: 2}", r"bonds.min \(3\) is above bonds.max \(2\) on vacancy "
     r"sites"),
    ("min: {vacancy: -1}}", r"(?s)events\[1\].bonds.min.*a number of bonds is a whole number >= 0"),
])
def test_bad_bond_windows_are_located(bonds, message):
    with pytest.raises(ScenarioError, match=message):
        _compile(TEXT.replace("max: 2}", bonds))


def test_unknown_and_missing_site_types_are_located():
    text = TEXT.replace("vacancy: 0.5}", "vacancy: 0.5, vacany: 0.1}")
    with pytest.raises(ScenarioError, match=r"events\[0\].sticking.vacany = 'vacany'\n.*site type "
                       r"'vacany' does not exist on this substrate \(site types: pristine, vacancy"):
        _compile(text)
    text = TEXT.replace("{default: 0.5 eV, vacancy: 1.5 eV}", "{vacancy: 1.5 eV}")
    with pytest.raises(ScenarioError, match=r"events\[1\].rate.Ea\n.*no value for site type\(s\) "
                       r"pristine, pyridinic_N, graphitic_N"):
        _compile(text)


def test_reachable_species_follow_the_initial_surface_and_the_events():
    """pt_oxide: OH starts on the OH sites and no event makes it elsewhere; Pt lands anywhere."""
    from kmc_ald.model.compile import compile_scenario, reachable_species
    from kmc_ald.scenario.load import load_scenario
    model = compile_scenario(load_scenario("pt_oxide", ("substrate.size=[3 nm, 3 nm]",)))
    can = reachable_species(model)
    types, species = model.lattice.site_type_names, model.mechanism.species
    oh = species.index("OH")
    assert [types[t] for t in map(int, can[:, oh].nonzero()[0])] == ["OH"]
    assert can[:, species.index("Pt")].all() and can[:, species.index("PtL")].all()
