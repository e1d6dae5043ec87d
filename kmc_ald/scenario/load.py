"""Load a scenario file (YAML 1.2) into a validated :class:`Scenario`, or explain what is wrong.

YAML 1.2 (ruamel.yaml) reads ``1e-3`` as a number and ``NO`` as a string, where YAML 1.1 loaders
do not. Every problem is reported at once, each with the file, the line, the dotted field path,
the value given and what is allowed, followed by the lines of the file around it.

Mechanism fragments. ``include: [FILE, ...]`` (paths relative to the scenario's folder) adds the
``species``, ``gases`` and ``events`` of each fragment file to the scenario's own: a chemistry
shared by several substrates is written once, and each scenario adds only the steps where its
substrate differs. A problem inside a fragment names the fragment's file and line. The scenario
that runs, and that a run file stores, is the expanded one (:func:`expand_includes`), so that a
run file or a sweep worker never needs the fragment files.
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
    """The text a scenario came from, to point error messages at lines of it.

    ``origins`` maps the id of a node merged in from a fragment file to that file's source, so
    that a location inside it is reported in the fragment."""

    name: str
    text: str
    data: Any
    origins: dict[int, ScenarioSource] | None = None

    def locate(self, loc: Loc) -> tuple[ScenarioSource, int | None]:
        """The file (this one, or a fragment) and 1-based line of the deepest node of ``loc``."""
        origins = self.origins or {}
        node, here, line = self.data, self, None
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                child, where = node[part], (node.lc.key, part)
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                child, where = node[part], (node.lc.item, part)
            else:
                break
            if id(child) in origins:  # from here on, the fragment's lines
                here, line = origins[id(child)], child.lc.line + 1
            else:
                try:
                    line = where[0](where[1])[0] + 1
                except KeyError:  # a key added by --set or a merge has no line: its parent's
                    break
            node = child
        if line is None and isinstance(self.data, CommentedMap):
            line = 1
        return here, line

    def line_of(self, loc: Loc) -> int | None:
        """1-based line of the deepest node of ``loc`` that exists in its file."""
        return self.locate(loc)[1]

    def context(self, line: int, around: int = 2) -> str:
        lines = self.text.splitlines()
        lo, hi = max(1, line - around), min(len(lines), line + around)
        return "\n".join(f"  {'>' if i == line else ' '} {i:4d} | {lines[i - 1]}"
                         for i in range(lo, hi + 1))

    def format(self, problem: Problem, with_context: bool = True) -> str:
        source, line = self.locate(problem.loc)
        where = f"{source.name}, line {line}" if line else source.name
        if source is not self:
            where += f" (included by {self.name})"
        path = dotted(problem.loc) or "(top level)"
        shown = (f" = {problem.value!r}" if isinstance(problem.value, (str, int, float))
                 and not isinstance(problem.value, bool) else "")
        text = f"{where}: {path}{shown}\n    {problem.message}"
        if with_context and line:
            text += "\n" + source.context(line)
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


#: What a fragment file (``include:``) may hold.
FRAGMENT_KEYS = ("description", "species", "gases", "events")


def _merge_fragment(data: CommentedMap, fragment: Any, source: ScenarioSource,
                    origins: dict[int, ScenarioSource], problems: list[Problem],
                    at: Loc) -> None:
    """Add a fragment's species, gases and events to the scenario data, in place."""
    if not isinstance(fragment, dict):
        problems.append(Problem(at, None, f"{source.name}: a fragment is a YAML mapping with "
                                f"keys {', '.join(FRAGMENT_KEYS)}"))
        return
    for key in fragment:
        if key not in FRAGMENT_KEYS:
            line = fragment.lc.key(key)[0] + 1
            problems.append(Problem(at, None, f"{source.name}, line {line}: unknown key "
                                    f"{key!r} in a fragment (allowed: "
                                    f"{', '.join(FRAGMENT_KEYS)})"))
    species = data.setdefault("species", CommentedSeq()) if fragment.get("species") else None
    if isinstance(species, list):
        for name in fragment.get("species") or []:
            if name not in species:
                species.append(name)
    gases = data.setdefault("gases", CommentedMap()) if fragment.get("gases") else None
    if isinstance(gases, dict):
        for name, gas in (fragment.get("gases") or {}).items():
            if name in gases and gases[name] != gas:
                problems.append(Problem(("gases", name), None, f"gas {name!r} is defined here "
                                        f"and differently in {source.name}"))
            gases.setdefault(name, gas)
    events = data.setdefault("events", CommentedSeq()) if fragment.get("events") else None
    if isinstance(events, list):
        known = {e.get("name"): k for k, e in enumerate(events) if isinstance(e, dict)}
        for event in fragment.get("events") or []:
            name = event.get("name") if isinstance(event, dict) else None
            if name is not None and name in known:
                problems.append(Problem(("events", known[name], "name"), name,
                                        f"event {name!r} is also defined in {source.name}, "
                                        f"line {event.lc.line + 1}: a fragment's step is "
                                        "defined once; give a substrate's own step its own name"))
                continue
            if isinstance(event, CommentedMap):
                origins[id(event)] = source
            known[name] = len(events)
            events.append(event)


def expand_includes(data: Any, source: ScenarioSource, base: Path | None) -> bool:
    """Merge the fragments ``data["include"]`` names into ``data`` (in place; paths relative to
    ``base``, the scenario's folder, or the working directory), recording in
    ``source.origins`` where each merged event came from. True if there were any.

    Raises:
        ScenarioError: a fragment that is missing, unreadable or not a fragment, or a step
            defined twice; each named with its file and line.
    """
    if not isinstance(data, dict) or "include" not in data:
        return False
    files = data["include"]
    problems: list[Problem] = []
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise source.error([Problem(("include",), None, "include is a list of fragment files, "
                                    "e.g. [fragments/pt_mecpptme3_o2.yaml]")])
    source.origins = source.origins or {}
    folder = base if base is not None else Path.cwd()
    for k, file in enumerate(files):
        path = Path(file) if Path(file).is_absolute() else folder / file
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = "no such file" if isinstance(err, FileNotFoundError) else str(err)
            problems.append(Problem(("include", k), file, f"cannot read the fragment {path}: "
                                    f"{reason}"))
            continue
        fragment = copy.deepcopy(_parsed(text, str(path)))
        _merge_fragment(data, fragment, ScenarioSource(str(path), text, fragment),
                        source.origins, problems, ("include", k))
    if problems:
        raise source.error(problems)
    del data["include"]
    return True


def _anchor_structure(data: Any, base: Path | None) -> bool:
    """Make a relative ``substrate.from`` absolute, relative to the scenario's folder (in
    place), so that the text a run stores and a sweep hands to its workers names the same file.
    Returns whether it changed."""
    sub = data.get("substrate") if isinstance(data, dict) else None
    if base is None or not isinstance(sub, dict) or not isinstance(sub.get("from"), str):
        return False
    path = Path(sub["from"]).expanduser()
    if path.is_absolute():
        return False
    sub["from"] = str((base / path).resolve())
    return True


def expanded_text(data: Any) -> str:
    """The scenario data as YAML text (comments kept): what a scenario with includes runs as."""
    stream = io.StringIO()
    writer = YAML(typ="rt")
    writer.width = 4096  # no re-wrapping of long lines
    writer.dump(data, stream)
    return stream.getvalue()


def loads_scenario(text: str, name: str = "<scenario>", overrides: tuple[str, ...] = (),
                   base: Path | None = None) -> Scenario:
    """Validate scenario text; raises ScenarioError listing every problem found.

    ``base`` is the folder that ``include:`` paths are relative to (default: the working
    directory); the scenario's :attr:`~Scenario.text` is then the expanded text."""
    data = copy.deepcopy(_parsed(text, name))  # overrides change it: a copy of the cached tree
    source = ScenarioSource(name, text, data)
    if not isinstance(data, dict):
        raise ScenarioError(f"{name}: a scenario is a YAML mapping with keys description, "
                            "substrate, species, events, recipe (got "
                            f"{type(data).__name__})")
    if expand_includes(data, source, base) | _anchor_structure(data, base):
        text = expanded_text(data)
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
    return loads_scenario(text, str(path), overrides, base=path.parent)
