"""Fuzzing the scenario loader, the compile step and the parsers: whatever the input, the answer
is a value or a clear error (ScenarioError, ValueError from a parser), never another exception.

Fixed example budgets, derandomised (the same examples on every run), within about half a
minute; ``KMC_ALD_FUZZ_EXAMPLES=N`` runs N examples per test for a longer search.
"""
import copy
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmc_ald.errors import KmcAldError
from kmc_ald.model.compile import compile_scenario
from kmc_ald.scenario.equation import parse_equation
from kmc_ald.scenario.load import load_scenario, loads_scenario, read_yaml
from kmc_ald.units import parse_quantity
from tests.conftest import SCENARIOS

EXAMPLES = int(os.environ.get("KMC_ALD_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NAMES = ("langmuir", "al2o3_tma_h2o", "pt_oxide", "pt_n_graphene", "island_nucleation")
#: The texts as they run (fragments included), so that mutations reach the included steps too.
TEXTS = {name: load_scenario(SCENARIOS / f"{name}.yaml").text for name in NAMES}
#: Values of every kind a mutation puts in place of a scalar or a whole subtree.
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["1 nm", "-5 eV", "1e308 1/s", "300 degC", "[/]",
                                           "0 s", "1e-320 Pa", "* -> A", "A + -> B", "\x00"]),
    st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=4),
                                                              st.integers(), max_size=2))


def _paths(node, prefix=()):
    """Every path into a parsed scenario (mapping keys and list indices)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for k, value in enumerate(node):
            yield from _paths(value, (*prefix, k))


def _accepts_or_refuses(text: str, name: str) -> None:
    try:
        scenario = loads_scenario(text, name)
    except KmcAldError:
        return
    try:
        model = compile_scenario(scenario)
    except KmcAldError:
        return
    # what check and run ask next: which solver can run it (sweep counts, thresholds)
    from kmc_ald.engine.solvers import exact_unsupported, parallel_unsupported
    exact_unsupported(model, replicas=2)
    parallel_unsupported(model, step_probability=scenario.run.step_probability)


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.data())
def test_replacing_any_value_of_a_bundled_scenario_gives_a_clear_answer(name, data):
    """Type-preserving and type-changing mutations: one node of the YAML tree replaced."""
    from ruamel.yaml import YAML
    tree = copy.deepcopy(read_yaml(TEXTS[name], name))
    paths = [p for p in _paths(tree) if p]
    path = data.draw(st.sampled_from(paths))
    node = tree
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = data.draw(VALUES)
    import io
    out = io.StringIO()
    try:
        YAML(typ="rt").dump(tree, out)
    except Exception:  # noqa: BLE001 - a value ruamel cannot write is not an input
        return
    _accepts_or_refuses(out.getvalue(), f"{name}.yaml")


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.data())
def test_corrupting_the_text_of_a_bundled_scenario_gives_a_clear_answer(name, data):
    """Raw mutations: characters deleted, inserted or replaced anywhere in the file."""
    text = TEXTS[name]
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        piece = data.draw(st.text(min_size=1, max_size=3))
        if kind == "delete":
            text = text[:at] + text[at + 3:]
        elif kind == "insert":
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + piece + text[at + len(piece):]
    _accepts_or_refuses(text, f"{name}.yaml")


@FUZZ
@given(value=st.one_of(st.text(max_size=20), VALUES),
       dimension=st.sampled_from(["time", "energy", "frequency", "temperature", "pressure",
                                  "length", "mass", "mass density"]))
def test_the_unit_parser_returns_a_finite_number_or_a_value_error(value, dimension):
    try:
        result = parse_quantity(value, dimension)
    except ValueError:
        return
    assert result == result and abs(result) != float("inf")


@FUZZ
@given(text=st.one_of(st.text(max_size=30),
                      st.lists(st.sampled_from(["A", "B", "*", "+", "->", " ", "2", "(g)",
                                                "X(g)", "<=>"]), max_size=10).map("".join)))
def test_the_equation_parser_returns_an_equation_or_a_value_error(text):
    try:
        parse_equation(text)
    except ValueError:
        pass


@pytest.mark.parametrize("name", NAMES)
def test_the_bundled_scenarios_pass_through_the_fuzzers_harness_unchanged(name):
    """The harness itself: an unmutated scenario loads and compiles."""
    compile_scenario(loads_scenario(TEXTS[name], f"{name}.yaml"))
