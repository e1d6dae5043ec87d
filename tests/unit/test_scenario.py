"""Scenario files: YAML 1.2, units, cross-references, and errors that point into the file."""
import pytest

from kmc_ald.errors import ScenarioError
from kmc_ald.resources import bundled_scenarios
from kmc_ald.scenario.load import load_scenario, loads_scenario
from tests.conftest import SCENARIOS


@pytest.mark.parametrize("name", sorted(bundled_scenarios()))
def test_every_bundled_scenario_is_valid(name):
    scenario = load_scenario(bundled_scenarios()[name])
    assert scenario.description.strip()


def test_yaml_12_reads_exponent_without_dot_as_a_number(scenario_text):
    text = scenario_text("langmuir").replace("rate: {A: 2.0 1/s}", "rate: {A: 2e0 1/s}")
    text = text.replace("description: |", "description: |\n  NO")  # YAML 1.1 would say False
    sc = loads_scenario(text.replace("size: [64, 64]", "size: [64, 64]\n  spacing: 1e0 Å"))
    assert sc.substrate.spacing == 1.0
    assert sc.description.startswith("NO")


def test_units_are_converted(scenario_text):
    sc = loads_scenario(scenario_text("al2o3_tma_h2o"), base=SCENARIOS)
    assert sc.recipe.temperature == pytest.approx(473.15)
    assert sc.recipe.phases[0].gas["TMA"] == pytest.approx(13.3322, rel=1e-5)
    assert sc.events[1].rate.Ea == {"default": 0.742}
    assert sc.substrate.size == (100.0, 100.0)  # 10 nm in Å
    assert sc.substrate.site_types["OH"] == ("density", pytest.approx(0.07))  # 7 /nm^2 in /Å^2


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text, "bad.yaml")
    assert info.value.exit_code == 2
    return str(info.value)


def test_wrong_unit_names_file_line_path_value_and_allowed_units(scenario_text):
    text = scenario_text("langmuir").replace("rate: {A: 1.0 1/s}", "rate: {A: 1.0 1/s, Ea: 0.6 eV/K}")
    message = _error(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "eV/K" in s)
    assert f"bad.yaml, line {line}: events[1].rate.Ea = '0.6 eV/K'" in message
    assert "an energy accepts eV, meV, kJ/mol" in message
    assert f">  {line:3d} |" in message  # the offending line is shown


def test_unknown_key_gets_a_did_you_mean_hint(scenario_text):
    message = _error(scenario_text("langmuir").replace("cycles: 1", "cycles: 1\n  cylces: 2"))
    assert "recipe.cylces" in message
    assert "unknown key 'cylces'; did you mean 'cycles'?" in message


def test_missing_field_is_named_with_the_keys_present(scenario_text):
    text = "\n".join(s for s in scenario_text("langmuir").splitlines()
                     if not s.startswith("species"))
    message = _error(text)
    assert "species" in message and "required key 'species' is missing" in message


def test_every_problem_is_reported_at_once(scenario_text):
    text = (scenario_text("langmuir").replace("cycles: 1", "cycles: 0")
            .replace("300 K", "300 F").replace("lattice: square", "lattice: squar"))
    message = _error(text)
    assert "3 problems" in message
    for path in ("recipe.cycles", "recipe.temperature", "substrate.lattice"):
        assert path in message


def test_schema_and_name_problems_come_together_in_file_order(scenario_text):
    """A wrong unit, an unknown species and an undeclared gas: all three in one report."""
    text = (scenario_text("langmuir").replace("rate: {A: 1.0 1/s}", "rate: {A: 1.0 s}")
            .replace('"A -> *"', '"B -> *"')
            .replace("duration: 5 s}", "duration: 5 s, gas: {O2: 1 Pa}}"))
    message = _error(text)
    assert "3 problems" in message
    order = [message.index(key) for key in ("events[1].equation", "events[1].rate.A",
                                            "recipe.phases[0].gas.O2")]
    assert order == sorted(order)
    assert "species 'B' is not listed" in message and "gas 'O2' is not declared" in message


def test_unknown_species_in_equation(scenario_text):
    message = _error(scenario_text("langmuir").replace('"A -> *"', '"B -> *"'))
    assert "species 'B' is not listed under 'species'" in message


def test_gas_reactant_takes_sticking_or_a_direct_rate_and_a_declared_gas(scenario_text):
    text = scenario_text("langmuir").replace('"* -> A"', '"A2(g) + * -> A"')
    assert "gas 'A2' reacts here but is not declared under 'gases'" in _error(text)  # rate: ok
    assert "give 'sticking'" in _error(text.replace("    rate: {A: 2.0 1/s}\n", "", 1))
    both = text.replace("rate: {A: 2.0 1/s}", "rate: {A: 2.0 1/s}\n    sticking: 0.5")
    assert "either 'rate' or 'sticking', not both" in _error(both)
    thermal = scenario_text("langmuir").replace("rate: {A: 2.0 1/s}", "sticking: 0.5")
    assert "'sticking' needs a gas reactant" in _error(thermal)


def test_event_phases_name_recipe_phases(scenario_text):
    text = scenario_text("langmuir").replace("rate: {A: 2.0 1/s}",
                                             "rate: {A: 2.0 1/s}\n    phases: [exposur]")
    message = _error(text)
    assert "events[0].phases[0] = 'exposur'" in message
    assert "no recipe phase is called 'exposur' (phases: exposure)" in message


def test_bad_equations_are_explained(scenario_text):
    message = _error(scenario_text("langmuir").replace('"* -> A"', '"* <=> A"'))
    assert "reversible equations are not supported" in message
    message = _error(scenario_text("langmuir").replace('"* -> A"', '"* + * -> A"'))
    assert "the left side has 2 surface terms and the right side 1" in message


def test_overrides_apply_before_validation(scenario_text):
    sc = loads_scenario(scenario_text("langmuir"), overrides=(
        "recipe.cycles=3", "events[0].rate.A=5 1/s", "substrate.size=[8, 8]"))
    assert sc.recipe.cycles == 3
    assert sc.events[0].rate.A == {"default": 5.0}
    assert sc.substrate.size == (8, 8)


@pytest.mark.parametrize(("override", "match"), [
    ("events[7].rate.A=1 1/s", r"events has 2 entries \(indices 0 to 1\)"),
    ("recipe.cycles", "expected PATH=VALUE"),
    ("recipe.cycles=-1", "recipe.cycles = -1"),
    ("recipe.cycles=[1", "the value is not valid YAML"),
    ("run.step_probability=1", r"line \d+: run.step_probability = 1\n.*less than or equal to 0.5"),
])
def test_bad_overrides_are_explained(scenario_text, override, match):
    with pytest.raises(ScenarioError, match=match):
        loads_scenario(scenario_text("langmuir"), overrides=(override,))


def test_invalid_yaml_points_at_the_line():
    with pytest.raises(ScenarioError, match=r"line 2: not valid YAML"):
        loads_scenario("description: x\nsubstrate: lattice: square\nspecies: [A]\n", "broken.yaml")


def test_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")


# -- mechanism fragments (include:) -------------------------------------------------------------

FRAGMENT = """\
description: a shared desorption step
species: [A]
gases: {X: {formula: Xe}}
events:
  - name: desorption
    equation: "A -> *"
    rate: {A: 1.0 1/s}
"""
INCLUDER = """\
description: Langmuir whose desorption comes from a fragment
include: [fragments/desorb.yaml]
substrate: {lattice: square, size: [8, 8]}
species: [A]
events:
  - name: adsorption
    equation: "* -> A"
    rate: {A: 2.0 1/s}
recipe:
  temperature: 300 K
  cycles: 1
  phases:
    - {name: exposure, duration: 1 s}
"""


def _write_included(tmp_path, fragment=FRAGMENT, includer=INCLUDER):
    (tmp_path / "fragments").mkdir(exist_ok=True)
    (tmp_path / "fragments" / "desorb.yaml").write_text(fragment)
    path = tmp_path / "lang.yaml"
    path.write_text(includer)
    return path


def test_an_included_fragment_adds_its_species_gases_and_events(tmp_path):
    """The merged scenario compiles to the rates of the same scenario written out by hand, and
    its text (what a run file stores) is self-contained: it loads again with no fragment."""
    import numpy as np

    from kmc_ald.model.compile import compile_scenario
    merged = load_scenario(_write_included(tmp_path))
    assert [e.name for e in merged.events] == ["adsorption", "desorption"]
    assert list(merged.gases) == ["X"] and merged.species == ["A"]
    assert "include" not in merged.text and "desorption" in merged.text
    by_hand = loads_scenario(INCLUDER.replace("include: [fragments/desorb.yaml]\n", "").replace(
        "    rate: {A: 2.0 1/s}\n", "    rate: {A: 2.0 1/s}\n  - name: desorption\n"
        "    equation: \"A -> *\"\n    rate: {A: 1.0 1/s}\n"), "by_hand.yaml")
    alone = loads_scenario(merged.text, "stored.yaml")  # no base folder, no fragment needed
    for other in (by_hand, alone):
        assert [e.name for e in other.events] == ["adsorption", "desorption"]
        np.testing.assert_array_equal(compile_scenario(other).rates.rate,
                                      compile_scenario(merged).rates.rate)


@pytest.mark.parametrize(("fragment", "includer", "expected"), [
    (FRAGMENT.replace("{A: 1.0 1/s}", "{A: -1.0 1/s}"), INCLUDER,
     ["desorb.yaml, line 7 (included by", "events[1].rate.A", "frequency >= 0"]),
    (FRAGMENT, INCLUDER.replace("name: adsorption", "name: desorption"),
     ["lang.yaml, line 6", "is also defined in", "desorb.yaml, line 5"]),
    (FRAGMENT, INCLUDER.replace("desorb.yaml]", "nope.yaml]"),
     ["lang.yaml, line 2", "include[0]", "nope.yaml: no such file"]),
    (FRAGMENT + "recipe: {cycles: 2}\n", INCLUDER,
     ["desorb.yaml, line 8: unknown key 'recipe' in a fragment"]),
    (FRAGMENT.replace("formula: Xe", "formula: Kr"),
     INCLUDER.replace("events:\n", "gases: {X: {formula: Xe}}\nevents:\n", 1),
     ["gas 'X' is defined here and differently in"]),
])
def test_a_problem_inside_or_between_fragments_names_the_file_and_line(tmp_path, fragment,
                                                                        includer, expected):
    from kmc_ald.scenario.load import load_scenario
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write_included(tmp_path, fragment, includer))
    for words in expected:
        assert words in str(info.value), str(info.value)


@pytest.mark.parametrize(("fragment", "steps", "users"), [
    ("pt_mecpptme3_o2", {"chemisorption_on_Pt", "O2_dissociation_on_Pt", "ligand_combustion_O"},
     ("pt_oxide", "pt_n_graphene", "pt_mxene")),
    ("alumina_hydroxyls", {"water_dissociation", "dehydroxylation"},
     ("al2o3_tma_h2o", "pt_oxide")),
])
def test_shared_steps_are_written_once_in_their_fragment(fragment, steps, users):
    """Every Pt-on-Pt step is written once, in fragments/pt_mecpptme3_o2.yaml, and runs unchanged
    on the oxide, N-graphene and MXene; the alumina's own OH chemistry (water dissociation,
    dehydroxylation) once, in fragments/alumina_hydroxyls.yaml, for Al2O3 and Pt on alumina. The
    scenarios add only their own steps, by other names."""
    from kmc_ald.resources import scenario_dir
    from kmc_ald.scenario.load import load_scenario, read_yaml
    file = f"fragments/{fragment}.yaml"
    shared = {e["name"]: e for e in read_yaml((scenario_dir() / file).read_text(), file)["events"]}
    assert steps <= set(shared)
    for name in users:
        path = scenario_dir() / f"{name}.yaml"
        own = read_yaml(path.read_text(), path.name)
        assert file in own["include"]
        assert not set(shared) & {e["name"] for e in own["events"]}
        events = {e.name: e for e in load_scenario(path).events}
        for step in shared:
            assert events[step].equation == shared[step]["equation"]
