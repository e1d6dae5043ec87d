"""Load a scenario file (YAML 1.2) into a validated :class:`Scenario`, or explain what is wrong.

YAML 1.2 (ruamel.yaml) reads ``1e-3`` as a number and ``NO`` as a string, where YAML 1.1 loaders
do not. Every problem is reported at once, each with the file, the line, the dotted field path,
the value given and what is allowed, followed by the lines of the file around it.
"""
from __future__ import annotations

import copy
import difflib
import functools
import io
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from kmc_ald.errors import ScenarioError
from kmc_ald.scenario.schema import Scenario, cross_reference_problems

Loc = tuple[str | int, ...]


def dotted(loc: Loc) -> str:
    """``("events", 2, "rate", "Ea")`` -> ``"events[2].rate.Ea"``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


@dataclass(frozen=True)
class Problem:
    loc: Loc
    value: Any
    message: str


@dataclass
class ScenarioSource:
    """The text a scenario came from, to point error messages at lines of it."""

    name: str
    text: str
    data: Any

    def line_of(self, loc: Loc) -> int | None:
        """1-based line of the deepest node of ``loc`` that exists in the file."""
        node, line = self.data, None
        for part in loc:
            try:
                if isinstance(node, CommentedMap) and part in node:
                    line = node.lc.key(part)[0] + 1
                    node = node[part]
                elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                    line = node.lc.item(part)[0] + 1
                    node = node[part]
                else:
                    break
            except KeyError:  # a key added by --set has no line: point at its parent
                break
        if line is None and isinstance(self.data, CommentedMap):
            line = 1
        return line

    def context(self, line: int, around: int = 2) -> str:
        lines = self.text.splitlines()
        lo, hi = max(1, line - around), min(len(lines), line + around)
        return "\n".join(f"  {'>' if i == line else ' '} {i:4d} | {lines[i - 1]}"
                         for i in range(lo, hi + 1))

    def format(self, problem: Problem, with_context: bool = True) -> str:
        line = self.line_of(problem.loc)
        where = f"{self.name}, line {line}" if line else self.name
        path = dotted(problem.loc) or "(top level)"
        shown = (f" = {problem.value!r}" if isinstance(problem.value, (str, int, float))
                 and not isinstance(problem.value, bool) else "")
        text = f"{where}: {path}{shown}\n    {problem.message}"
        if with_context and line:
            text += "\n" + self.context(line)
        return text

    def error(self, problems: list[Problem]) -> ScenarioError:
        """One ScenarioError reporting every problem."""
        head = ("1 problem" if len(problems) == 1 else f"{len(problems)} problems")
        body = "\n".join(self.format(p) for p in problems)
        return ScenarioError(f"invalid scenario ({head} in {self.name}):\n{body}", problems)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(tp)
                      if isinstance(a, type) and issubclass(a, pydantic.BaseModel)]
            others = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = models[0] if models else others[0]
        else:
            return tp


def _fields_at(model: type[pydantic.BaseModel], loc: Loc) -> list[str]:
    """Keys allowed at ``loc`` in the schema (for 'did you mean' hints)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            field = next((f for n, f in tp.model_fields.items()
                          if part in (n, f.alias)), None)
            if field is None:
                return []
            tp = field.annotation
        elif origin in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def problem_from(err: dict, model: type[pydantic.BaseModel] = Scenario) -> Problem:
    """A pydantic error of ``model`` as a Problem, with the keys allowed where it is."""
    loc = tuple(err["loc"])
    msg = re.sub(r"^(Value error|Assertion failed), ", "", err["msg"])
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        msg = f"unknown key {loc[-1]!r}{hint} (allowed here: {', '.join(allowed)})"
        return Problem(loc, None, msg)
    if err["type"] == "missing":
        present = err["input"] if isinstance(err["input"], dict) else {}
        allowed = _fields_at(model, loc[:-1])
        msg = f"required key {loc[-1]!r} is missing"
        if present:
            msg += f" (present: {', '.join(map(str, present))}; allowed: {', '.join(allowed)})"
        return Problem(loc, None, msg)
    if err["type"] == "literal_error":
        msg = f"{msg}"
    return Problem(loc, err.get("input"), msg)


def _in_file_order(source: ScenarioSource, problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: source.line_of(p.loc) or 0)


def read_yaml(text: str, name: str) -> Any:
    # A round-trip loader reads YAML 1.2 scalars and keeps line numbers on every node. One per
    # call: ruamel's loaders keep parser state and are not safe to share between threads.
    try:
        return YAML(typ="rt").load(text)
    except ReaderError as err:  # a control character: ruamel reads printable text only
        line = text.count("\n", 0, max(0, err.position)) + 1
        raise ScenarioError(f"{name}, line {line}: not valid YAML: character {chr(err.character)!r} "
                            "is not allowed (a control character; YAML files are printable "
                            "text)") from None
    except RecursionError:
        raise ScenarioError(f"{name}: not valid YAML: nested too deeply (more levels than any "
                            "scenario needs)") from None
    except MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark else None
        source = ScenarioSource(name, text, None)
        ctx = ("\n" + source.context(line)) if line else ""
        raise ScenarioError(f"{name}, line {line}: not valid YAML: {err.problem}{ctx}") from None


@functools.lru_cache(maxsize=16)
def _parsed(text: str, name: str) -> Any:
    """The YAML tree of a scenario text, parsed once per process: a sweep validates and runs
    the same base text with many override sets, and parsing is most of a validation."""
    return read_yaml(text, name)


def _parse_path(path: str) -> Loc:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    if not parts or "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                            for p in parts).lstrip(".") != path.replace("].", "]."):
        raise ScenarioError(f"--set {path!r}: cannot read the path; write it like "
                            "'recipe.cycles' or 'events[2].rate.Ea'")
    return tuple(parts)


def apply_override(data: Any, assignment: str) -> None:
    """Apply ``path=value`` (value read as YAML 1.2) to the raw scenario data, in place."""
    if "=" not in assignment:
        raise ScenarioError(f"--set {assignment!r}: expected PATH=VALUE, e.g. recipe.cycles=10")
    path, raw = (s.strip() for s in assignment.split("=", 1))
    loc = _parse_path(path)
    try:
        value = YAML(typ="safe").load(io.StringIO(raw)) if raw else None
    except MarkedYAMLError as err:
        raise ScenarioError(f"--set {assignment!r}: the value is not valid YAML ({err.problem}); "
                            "quote it, e.g. --set 'recipe.cycles=10'") from None
    node = data
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        here = dotted(loc[:depth]) or "the scenario"
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ScenarioError(f"--set {path}: {here} is not a list")
            if part >= len(node):
                raise ScenarioError(f"--set {path}: {here} has {len(node)} entries "
                                    f"(indices 0 to {len(node) - 1})")
        elif not isinstance(node, dict):
            raise ScenarioError(f"--set {path}: {here} is not a mapping")
        if last:
            node[part] = value
        else:
            if isinstance(part, str) and part not in node:
                node[part] = CommentedMap()
            node = node[part]


def loads_scenario(text: str, name: str = "<scenario>", overrides: tuple[str, ...] = ()
                   ) -> Scenario:
    """Validate scenario text; raises ScenarioError listing every problem found."""
    data = copy.deepcopy(_parsed(text, name))  # overrides change it: a copy of the cached tree
    source = ScenarioSource(name, text, data)
    if not isinstance(data, dict):
        raise ScenarioError(f"{name}: a scenario is a YAML mapping with keys description, "
                            "substrate, species, events, recipe (got "
                            f"{type(data).__name__})")
    for assignment in overrides:
        apply_override(data, assignment)
    names = [Problem(*p) for p in cross_reference_problems(data)]
    try:
        scenario = Scenario.model_validate(data)
    except RecursionError:
        raise ScenarioError(f"{name}: nested too deeply to validate") from None
    except pydantic.ValidationError as exc:
        schema = [problem_from(e) for e in exc.errors()]
        seen = {p.loc for p in schema}
        raise source.error(_in_file_order(source, schema + [p for p in names
                                                            if p.loc not in seen])) from None
    if names:
        raise source.error(names)
    scenario._source = source
    scenario._text = text
    scenario._overrides = tuple(overrides)
    return scenario


def load_scenario(path: str | Path, overrides: tuple[str, ...] = ()) -> Scenario:
    """Read and validate a scenario file, or a bundled scenario by name (``"langmuir"``)."""
    from kmc_ald.resources import resolve_scenario
    path = resolve_scenario(path)
    if path.exists() and not path.is_file():  # a folder, a FIFO, /dev/zero: never read it
        raise ScenarioError(f"{path}: not a regular file, so not a scenario file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        from kmc_ald.resources import bundled_scenarios
        raise ScenarioError(f"{path}: no such scenario file (bundled scenarios, by name: "
                            f"{', '.join(bundled_scenarios())})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read the scenario file ({err})") from None
    return loads_scenario(text, str(path), overrides)
