"""Sweep files: a base scenario, axes over any path ``--set`` accepts, and replicas per point.

Example (``sweeps/ald_window.yaml``)::

    scenario: al2o3_tma_h2o             # a bundled scenario, or a path relative to this file
    set: ["recipe.cycles=20"]           # overrides applied to every point
    axes:
      - {path: recipe.temperature, range: "150 degC..300 degC, 7 points"}
      - {path: "recipe.phases[0].gas.TMA", values: [0.01 Pa, 0.1 Pa]}
    combine: product                    # or zip (axes of equal length, taken together)
    replicas: 16
    seed: 1                             # run.seed of every point; replica r uses seed + r

``values`` lists values as ``--set`` reads them (YAML, units in strings); ``range`` is
``"A unit..B unit, N points"``, linear, or ``"..., N points, log"`` (both ends positive, in the
same unit). Every point is compiled while the file is read, so an unknown path, a value of the
wrong dimension or an empty axis is reported before anything runs, naming the sweep file's line,
the axis and the point.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kmc_ald.errors import ScenarioError
from kmc_ald.scenario.load import Problem, ScenarioSource, loads_scenario, problem_from, read_yaml
from kmc_ald.scenario.schema import Scenario

_RANGE = re.compile(r"^\s*(?P<a>[-+0-9.eE]+)\s*(?P<ua>[^.\s][^,]*?)?\s*\.\.\s*(?P<b>[-+0-9.eE]+)"
                    r"\s*(?P<ub>[^,]*?)\s*,\s*(?P<n>\d+)\s+points?\s*(?:,\s*(?P<log>log))?\s*$")


class Axis(BaseModel):
    """One axis: a scenario path and its values (a list, or a range with units)."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1)
    values: list[bool | str | int | float | list | dict] | None = None  # bool first: not 1.0
    range: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Axis:
        if (self.values is None) == (self.range is None):
            raise ValueError("give either values (a list) or range ('A unit..B unit, N points')")
        if self.values is not None and not self.values:
            raise ValueError("values is empty: an axis needs at least one value")
        return self

    def points(self) -> list[str]:
        """The axis values as ``--set`` value text."""
        if self.values is not None:
            return [v if isinstance(v, str) else json.dumps(v) for v in self.values]
        m = _RANGE.match(self.range or "")
        if m is None:
            raise ValueError(f"range {self.range!r}: write it as '150 degC..300 degC, 7 points' "
                             "or '0.01 Pa..1 Pa, 5 points, log'")
        unit_a, unit_b = (m["ua"] or "").strip(), (m["ub"] or "").strip()
        if unit_a != unit_b:
            raise ValueError(f"range {self.range!r}: unit mismatch, {unit_a or 'none'!r} against "
                             f"{unit_b or 'none'!r}; give both ends in the same unit")
        a, b, n = float(m["a"]), float(m["b"]), int(m["n"])
        if n < 1:
            raise ValueError(f"range {self.range!r}: at least 1 point")
        if m["log"]:
            if a <= 0 or b <= 0:
                raise ValueError(f"range {self.range!r}: a log range needs positive ends")
            numbers = np.geomspace(a, b, n)
        else:
            numbers = np.linspace(a, b, n)
        return [f"{x:.6g} {unit_a}".strip() for x in numbers]

    @property
    def unit(self) -> str:
        """The unit of a range's values ('' for lists: their unit is in each value)."""
        m = _RANGE.match(self.range or "")
        return (m["ua"] or "").strip() if m else ""


class SweepSpec(BaseModel):
    """A sweep file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    scenario: str = Field(min_length=1)
    overrides: list[str] = Field(default_factory=list, alias="set")
    axes: list[Axis] = Field(min_length=1)
    combine: Literal["product", "zip"] = "product"
    replicas: int = Field(default=8, ge=1, le=1 << 20)
    seed: int = Field(default=1, ge=0, lt=2**63)


@dataclass(frozen=True)
class Point:
    """One parameter point: its index, the axis values, and the overrides that make it."""

    index: int
    values: tuple[str, ...]  # one per axis, as --set value text
    overrides: tuple[str, ...]  # base overrides, then path=value per axis


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the base scenario's text and every point."""

    spec: SweepSpec
    name: str  # the sweep file, for messages
    text: str  # the sweep file's text, stored with the results
    scenario_text: str
    scenario_name: str
    points: tuple[Point, ...]
    _scenarios: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.path for a in self.spec.axes)

    def scenario(self, point: Point) -> Scenario:
        """The point's validated scenario (validated once, when the sweep is read)."""
        if point.index not in self._scenarios:
            self._scenarios[point.index] = loads_scenario(self.scenario_text, self.scenario_name,
                                                          point.overrides)
        return self._scenarios[point.index]


def _scenario_text(ref: str, base: Path) -> tuple[str, str]:
    """(text, name) of a bundled scenario name or a path relative to the sweep file; the text
    has its ``include:`` fragments expanded, so that no worker needs the fragment files."""
    from kmc_ald.resources import bundled_scenarios

    path = Path(ref)
    if not path.is_absolute():
        path = base / path
    bundled = bundled_scenarios()
    if not path.is_file() and ref in bundled:
        path = bundled[ref]
    if path.is_file():  # its text with any fragments expanded: what every worker validates
        from kmc_ald.scenario.load import load_scenario
        return load_scenario(path).text, str(path)
    raise ValueError(f"no scenario file {path} and no bundled scenario {ref!r} (bundled: "
                     f"{', '.join(sorted(bundled))})")


def loads_sweep(text: str, name: str = "<sweep>", base: Path = Path(".")) -> Sweep:
    """Validate a sweep file's text; raises ScenarioError naming the file, line and path."""
    data = read_yaml(text, name)
    source = ScenarioSource(name, text, data)
    if not isinstance(data, dict):
        raise ScenarioError(f"{name}: a sweep file is a YAML mapping with keys scenario, axes "
                            "(and set, combine, replicas, seed)")
    try:
        spec = SweepSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        raise source.error([problem_from(e, SweepSpec) for e in exc.errors()]) from None
    try:
        scenario_text, scenario_name = _scenario_text(spec.scenario, base)
    except ValueError as err:
        raise source.error([Problem(("scenario",), spec.scenario, str(err))]) from None
    columns = []
    for k, axis in enumerate(spec.axes):
        try:
            columns.append(axis.points())
        except ValueError as err:
            raise source.error([Problem(("axes", k, "range"), axis.range, str(err))]) from None
    if spec.combine == "zip" and len({len(c) for c in columns}) > 1:
        lengths = ", ".join(str(len(c)) for c in columns)
        raise source.error([Problem(("combine",), "zip", f"zipped axes need equal lengths, got "
                                    f"{lengths}")])
    combos = zip(*columns) if spec.combine == "zip" else itertools.product(*columns)
    # run.seed as kmc-ald run --seed sets it: the surface's site types and replica 0's stream
    points = tuple(Point(i, tuple(values), (*spec.overrides, f"run.seed={spec.seed}", *(
        f"{axis.path}={value}" for axis, value in zip(spec.axes, values))))
        for i, values in enumerate(combos))
    sweep = Sweep(spec, name, text, scenario_text, scenario_name, points)
    for point in points:  # every point must be a valid scenario before anything runs
        try:
            sweep.scenario(point)
        except ScenarioError as err:
            which = ", ".join(f"{a}={v}" for a, v in zip(sweep.axis_names, point.values))
            loc = ("set",) if not point.values else ("axes",)
            raise source.error([Problem(loc, None, f"point {point.index} ({which}) is not a "
                                        f"valid scenario:\n{err}")]) from None
    return sweep


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ScenarioError(f"{path}: not a regular file, so not a sweep file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such sweep file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read the sweep file ({err})") from None
    return loads_sweep(text, str(path), path.parent)


def quick_sweep(scenario: str, vary: list[str], replicas: int, seed: int,
                overrides: list[str] = ()) -> Sweep:
    """The sweep of ``--vary 'PATH=V1,V2,...'`` options (values split at top-level commas)."""
    axes = []
    for item in vary:
        if "=" not in item:
            raise ScenarioError(f"--vary {item!r}: expected PATH=V1,V2,... e.g. "
                                "'recipe.temperature=150 degC,200 degC'")
        path, raw = (s.strip() for s in item.split("=", 1))
        if ".." in raw:
            axes.append({"path": path, "range": raw})
        else:
            axes.append({"path": path, "values": [v.strip() for v in _split(raw)]})
    text = json.dumps({"scenario": scenario, "set": list(overrides), "axes": axes,
                       "replicas": replicas, "seed": seed}, indent=1)
    return loads_sweep(text, "<--vary>")


def _split(raw: str) -> list[str]:
    """Split at commas outside brackets: '[1 nm, 2 nm],[3 nm, 3 nm]' -> two values."""
    out, depth, cur = [], 0, ""
    for ch in raw:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [v for v in out if v.strip()]
