"""The scenario language: a pydantic model of the YAML file a user writes.

Every dimensional value carries a unit and is converted to kmc_ald's internal units on load
(energy eV, temperature K, pressure Pa, time s, length Å, frequency 1/s, mass amu, areal density
1/Å²; see :mod:`kmc_ald.units`). Unknown keys are errors. Field names are the YAML keys, so an
error path such as ``events[2].rate.Ea`` is exactly what the user typed.

Cross-references inside the file (species named in equations, gases named in phases) are checked
here too; references to site types are checked when the lattice is known (kmc_ald.model.compile).
"""
from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kmc_ald.scenario.equation import EMPTY, EMPTY_ALIASES, Equation, parse_equation
from kmc_ald.substrates import STACKABLE_KINDS, SUBSTRATE_KINDS, TEXTBOOK_KINDS
from kmc_ald.units import parse_quantity

DEFAULT_KEY = "default"


def _quantity(dimension: str):
    def parse(value: Any) -> float:
        return parse_quantity(value, dimension)
    return BeforeValidator(parse)


Energy = Annotated[float, _quantity("energy")]
Temperature = Annotated[float, _quantity("temperature"), Field(gt=0)]
Pressure = Annotated[float, _quantity("pressure"), Field(ge=0)]
Duration = Annotated[float, _quantity("time"), Field(gt=0)]
Length = Annotated[float, _quantity("length"), Field(gt=0)]
Frequency = Annotated[float, _quantity("frequency"), Field(ge=0)]
Mass = Annotated[float, _quantity("mass"), Field(gt=0)]
MassDensity = Annotated[float, _quantity("mass density"), Field(gt=0)]
SpecificArea = Annotated[float, _quantity("specific area"), Field(gt=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
def _name(value: str) -> str:
    """A name of a species, event, site type, gas or phase: one printable word. '+' is the
    equations' separator, brackets are the paths' index syntax (and terminal markup)."""
    bad = [c for c in value if c.isspace() or c in "+[]" or not c.isprintable()]
    if not value or bad:
        raise ValueError(f"a name is one word of printable characters without spaces, '+', "
                         f"'[' or ']'; got {value!r}")
    return value


Name = Annotated[str, AfterValidator(_name)]


def _text(value: str) -> str:
    """Free text (a description): anything but NUL, which HDF5 strings cannot hold."""
    if "\x00" in value:
        raise ValueError("the text holds a NUL character (\\0), which a run file cannot store")
    return value


def _per_site_type(parse_one):
    """A value for every site type: a scalar, or a mapping ``{default: .., <site type>: ..}``."""
    def parse(value: Any) -> dict[str, float]:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                try:
                    out[str(key)] = parse_one(item)
                except ValueError as err:
                    raise ValueError(f"[{key}]: {err}") from None
            return out
        return {DEFAULT_KEY: parse_one(value)}
    return BeforeValidator(parse)


def _probability(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"a sticking coefficient is a number between 0 and 1, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a sticking coefficient lies between 0 and 1, got {value!r}")
    return float(value)


PerTypeEnergy = Annotated[dict[str, float], _per_site_type(lambda v: parse_quantity(v, "energy"))]
def _rate_prefactor(value: Any) -> float:
    rate = parse_quantity(value, "frequency")
    if not rate >= 0.0:  # also NaN
        raise ValueError(f"a rate prefactor is a frequency >= 0, got {value!r}")
    return rate


PerTypeFrequency = Annotated[dict[str, float], _per_site_type(_rate_prefactor)]
PerTypeProbability = Annotated[dict[str, float], _per_site_type(_probability)]


def _site_amount(value: Any) -> tuple[str, float]:
    """A site-type amount: a fraction of surface sites (number) or an areal density ('4.5 1/nm^2')."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"a fraction of sites lies between 0 and 1, got {value!r}; "
                             "give an areal density with its unit instead, e.g. '4.5 1/nm^2'")
        return ("fraction", float(value))
    return ("density", parse_quantity(value, "areal density"))


SiteAmount = Annotated[tuple[str, float], BeforeValidator(_site_amount)]


def _size_entry(value: Any) -> float | int:
    """Unit cells (a positive integer) or a length with a unit ('20 nm')."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"a size in unit cells is a positive integer, got {value}")
        return value
    if isinstance(value, float):
        raise ValueError(f"{value!r}: give the size in whole unit cells (an integer) or as a "
                         "length with a unit, e.g. '20 nm'")
    return parse_quantity(value, "length")


SizeEntry = Annotated[int | float, BeforeValidator(_size_entry)]


def _formula(value: str) -> str:
    """A chemical formula ASE can read, made of real elements (e.g. 'C3H9Al')."""
    from ase.data import atomic_numbers  # ase is slow to import; only needed here
    from ase.formula import Formula
    try:
        symbols = Formula(value).count()
    except ValueError as err:
        raise ValueError(f"cannot read the chemical formula {value!r}: {err}") from None
    unknown = [s for s in symbols if s not in atomic_numbers]
    if unknown:
        raise ValueError(f"unknown element(s) {unknown} in formula {value!r}")
    return value


ChemicalFormula = Annotated[str, Field(min_length=1), AfterValidator(_formula)]


@functools.lru_cache(maxsize=1024)
def formula_mass(formula: str) -> float:
    """Mass of a formula unit [amu] (cached: statistics ask once per substrate atom)."""
    from ase.data import atomic_masses, atomic_numbers
    from ase.formula import Formula
    return float(sum(atomic_masses[atomic_numbers[s]] * n
                     for s, n in Formula(formula).count().items()))


@functools.lru_cache(maxsize=1024)
def formula_count(formula: str, element: str) -> int:
    """Atoms of ``element`` in one formula unit."""
    from ase.formula import Formula
    return int(Formula(formula).count().get(element, 0))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stack(Strict):
    """Layers of sites above the surface, where particles grow in 3D (an fcc(111) stack).

    A stacked site can hold a species only while the three sites it rests on hold one of
    ``solid`` (the metal species), and a site with something resting on it cannot change into a
    species outside ``solid``; every event that would break either rule is closed. Stacked sites
    have site type ``stack``. Only the exact solver runs stacked lattices.
    """

    layers: int = Field(ge=1, le=40)
    solid: list[Name] = Field(min_length=1)


def _cutoff(value: Any) -> float | dict[str, float]:
    """A neighbour cutoff: one length, or one per element pair (``{Hf-O: 2.6 Å}``)."""
    def length(item: Any) -> float:
        out = parse_quantity(item, "length")
        if not out > 0:
            raise ValueError(f"a cutoff is a length > 0, got {item!r}")
        return out
    if isinstance(value, dict):
        pairs = {}
        for key, item in value.items():
            parts = str(key).split("-")
            if len(parts) != 2 or not all(p.isalpha() for p in parts):
                raise ValueError(f"[{key}]: an element pair is two element symbols joined by "
                                 "'-', e.g. 'Hf-O'")
            pairs[str(key)] = length(item)
        return pairs
    return length(value)


def _surface_sites(value: Any) -> float | list[str]:
    """Which sites of a structure are the surface: a depth below the topmost site, or a list
    of site types."""
    if isinstance(value, list):
        return [_name(str(v)) for v in value]
    out = parse_quantity(value, "length")
    if not out >= 0:
        raise ValueError(f"a surface depth is a length >= 0, got {value!r}")
    return out


#: The options of a substrate read from a structure file (``substrate.from``).
STRUCTURE_OPTIONS = ("format", "sites", "cutoff", "site_kinds", "kind_names", "surface", "box",
                     "positions_only")


class Substrate(Strict):
    """The surface: a built-in lattice of adsorption sites (``lattice`` and ``size``) or one read
    from a structure file (``from``, kmc_ald.surfaces.structure), and the types of its sites.

    A structure is any file ASE reads, whose ``sites`` (elements or tags; default all atoms)
    are neighbours within ``cutoff`` and take their type from ``site_kinds`` (``element``,
    ``tag`` or a per-atom array), or a SPPARKS site file (``format: spparks``, detected too),
    whose neighbours are listed in it and whose ``site_kinds`` is a Values column (``i1``).
    ``kind_names`` names integer kinds, ``surface`` says which sites count for coverages and the
    flux per site (a depth below the top, or site types; default all), and ``box`` gives a
    SPPARKS box's edge lengths when its coordinates are not in Å. ``positions_only`` names the
    site types whose atoms only mark positions (a growth volume that the film fills): they are
    not part of the exported substrate, so such a site shows what it holds and nothing when
    empty.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    lattice: Literal[SUBSTRATE_KINDS] | None = None  # kmc_ald.substrates
    size: tuple[SizeEntry, SizeEntry] | None = None
    spacing: Length | None = None
    site_types: dict[Name, SiteAmount] = Field(default_factory=dict)
    initial: dict[Name, Name] = Field(default_factory=dict)
    stack: Stack | None = None
    from_: str | None = Field(default=None, alias="from", min_length=1)
    format: str | None = Field(default=None, min_length=1)
    sites: list[int | Name] | None = Field(default=None, min_length=1)
    cutoff: Annotated[float | dict[str, float], BeforeValidator(_cutoff)] | None = None
    site_kinds: Name | None = None
    kind_names: dict[int, Name] = Field(default_factory=dict)
    surface: Annotated[float | list[str], BeforeValidator(_surface_sites)] | None = None
    box: tuple[Length, Length, Length] | None = None
    positions_only: list[Name] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _built_in_or_structure(self) -> Substrate:
        given = [k for k in STRUCTURE_OPTIONS if getattr(self, k) not in (None, {})]
        if self.from_ is None:
            if self.lattice is None:
                raise PydanticCustomError(
                    "substrate", "give 'lattice' (a built-in kind: {kinds}) with 'size', or "
                    "'from' (a structure file)", {"kinds": ", ".join(SUBSTRATE_KINDS)})
            if self.size is None:
                raise PydanticCustomError("substrate", "a built-in lattice needs 'size' (unit "
                                          "cells or lengths, e.g. [20 nm, 20 nm])")
            if given:
                raise PydanticCustomError(
                    "substrate", "{keys} describe a substrate read from a structure file "
                    "('from'), not a built-in lattice", {"keys": ", ".join(given)})
            return self
        built_in = [k for k in ("lattice", "size", "spacing", "stack")
                    if getattr(self, k) is not None] + (["site_types"] if self.site_types else [])
        if built_in:
            raise PydanticCustomError(
                "substrate", "a substrate read from a structure ('from') takes its sites, "
                "neighbours and site types from the file; remove {keys}",
                {"keys": ", ".join(built_in)})
        return self  # what suits the file's format is checked where it is read

    @model_validator(mode="after")
    def _stack_on_triangular(self) -> Substrate:
        if self.stack is not None and self.lattice not in STACKABLE_KINDS:
            raise PydanticCustomError(
                "stack", "a stack for 3D particles needs a triangular lattice ({allowed}); "
                "{lattice} has none", {"allowed": ", ".join(STACKABLE_KINDS),
                                       "lattice": self.lattice or "a structure file"})
        return self

    @model_validator(mode="after")
    def _spacing_only_for_textbook(self) -> Substrate:
        if self.spacing is not None and self.lattice not in TEXTBOOK_KINDS:
            raise PydanticCustomError(
                "spacing", "spacing sets the site distance of the textbook lattices ({allowed}); "
                "{lattice} has its own lattice constant",
                {"allowed": ", ".join(TEXTBOOK_KINDS),
                 "lattice": self.lattice or "a structure file"})
        return self


class Gas(Strict):
    """A gas-phase reactant; its mass sets the Hertz-Knudsen flux."""

    mass: Mass | None = None
    formula: str | None = None

    @model_validator(mode="after")
    def _mass_or_formula(self) -> Gas:
        if (self.mass is None) == (self.formula is None):
            raise PydanticCustomError(
                "gas_mass", "give exactly one of 'mass' (e.g. '72.09 g/mol') or 'formula' "
                "(e.g. 'C3H9Al')")
        return self

    def molecular_mass(self) -> float:
        """Molecular mass [amu]."""
        return self.mass if self.mass is not None else formula_mass(self.formula)

    @field_validator("formula")
    @classmethod
    def _formula_readable(cls, value: str | None) -> str | None:
        return value if value is None else _formula(value)


class Arrhenius(Strict):
    """k = A (T / T0)^n exp(-Ea / kB T), per site (or per neighbour pair for two-site events);
    n = 0 by default, and T0 = 1 K gives the ``A T^n`` of SPPARKS and Cantera."""

    A: PerTypeFrequency
    Ea: PerTypeEnergy = Field(default_factory=lambda: {DEFAULT_KEY: 0.0})
    n: float = Field(default=0.0, ge=-10, le=10)
    T0: Temperature = 1.0


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"a number of bonds is a whole number >= 0, got {value!r}")
    return value


#: A bond count per site type: a whole number, or ``{default: n, <site type>: m}``; a site type
#: not named keeps the plain limit (no minimum, no maximum).
PerTypeCount = Annotated[dict[str, int], _per_site_type(_count)]


class Bonds(Strict):
    """Bond counting: each neighbour of the event's site holding one of ``with`` adds ``energy``
    to the barrier; below ``min`` or above ``max`` such neighbours the event cannot happen (``min:
    1`` makes an event autocatalytic: it needs a neighbour of its own kind). Either limit may be
    given per site type, e.g. ``min: {Hf: 4}, max: {Hf: 4}`` for exactly four on Hf sites."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    with_: list[Name] = Field(alias="with", min_length=1)
    energy: Energy = 0.0
    min: PerTypeCount = Field(default_factory=lambda: {DEFAULT_KEY: 0})
    max: PerTypeCount | None = None

    def limits(self, site_type: str) -> tuple[int, int | None]:
        """(min, max) bonds on sites of ``site_type`` (max None: no maximum)."""
        low = self.min.get(site_type, self.min.get(DEFAULT_KEY, 0))
        high = None if self.max is None else self.max.get(site_type, self.max.get(DEFAULT_KEY))
        return low, high

    @model_validator(mode="after")
    def _min_below_max(self) -> Bonds:
        for key in dict.fromkeys([DEFAULT_KEY, *self.min, *(self.max or {})]):
            low, high = self.limits(key)
            if high is not None and low > high:
                where = "" if key == DEFAULT_KEY else f" on {key} sites"
                raise PydanticCustomError(
                    "bonds_range", "bonds.min ({min}) is above bonds.max ({max}){where}: the "
                    "event could never happen", {"min": low, "max": high, "where": where})
        return self


class Footprint(Strict):
    """Sites within ``shells`` neighbour hops of the event's (first) site must hold none of
    ``blocked_by`` (default: any adsorbate) for the event to happen: steric exclusion of a bulky
    adsorbate, or a site that is free only while nothing sits within reach of it."""

    shells: int = Field(ge=0, le=4)
    blocked_by: list[Name] | None = None


def _footprint(value: Any) -> Any:
    return {"shells": value} if isinstance(value, int) and not isinstance(value, bool) else value


_SHELL_WORDS = {"first": 1, "second": 2, "third": 3}


def _shell(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in _SHELL_WORDS:
        return _SHELL_WORDS[value.strip()]
    if isinstance(value, str):
        raise ValueError(f"a shell is first, second or third (or 1, 2, 3), got {value!r}")
    return value


class Partner(Strict):
    """Where a two-site event finds its second site: in which neighbour ``shell`` of the first
    (1, the nearest neighbours; 2, the sites two neighbour hops away, such as O and O through a
    shared Hf; 3) and, optionally, on which ``site_types``."""

    shell: Annotated[int, BeforeValidator(_shell), Field(ge=1, le=3)] = 1
    site_types: list[Name] | None = Field(default=None, min_length=1)


class Event(Strict):
    """One elementary event, as a chemical equation with a rate law."""

    name: Name
    equation: str
    rate: Arrhenius | None = None
    sticking: PerTypeProbability | None = None
    footprint: Annotated[Footprint, BeforeValidator(_footprint)] = Footprint(shells=0)
    bonds: Bonds | None = None
    #: Recipe phases the event can happen in (default: all), e.g. a thermal step that only runs
    #: while a gas is on.
    phases: list[Name] | None = Field(default=None, min_length=1)
    #: Site types the event's (first) site may have (default: all).
    site_types: list[Name] | None = Field(default=None, min_length=1)
    partner: Partner | None = None
    _parsed: Equation = PrivateAttr()

    @field_validator("equation")
    @classmethod
    def _equation_readable(cls, value: str) -> str:
        parse_equation(value)
        return value

    @model_validator(mode="after")
    def _one_rate_law(self) -> Event:
        eq = parse_equation(self.equation)
        self._parsed = eq
        if eq.gas_in and self.sticking is None and self.rate is None:
            raise PydanticCustomError(
                "rate_law", "a gas reacts in '{equation}': give 'sticking' (a probability, or "
                "one per site type; the rate then follows the gas flux), or 'rate' (a rate per "
                "site while the gas is on)", {"equation": self.equation})
        if self.sticking is not None and not eq.gas_in:
            raise PydanticCustomError(
                "rate_law", "'sticking' needs a gas reactant, and '{equation}' has none: give "
                "'rate'", {"equation": self.equation})
        if not eq.gas_in and self.rate is None:
            raise PydanticCustomError(
                "rate_law", "no gas reacts in '{equation}': give 'rate' with A (e.g. "
                "'1e13 1/s') and Ea (e.g. '0.8 eV')", {"equation": self.equation})
        if self.rate is not None and self.sticking is not None:
            raise PydanticCustomError(
                "rate_law", "give either 'rate' or 'sticking', not both ('{equation}')",
                {"equation": self.equation})
        if self.partner is not None and eq.n_sites != 2:
            raise PydanticCustomError(
                "partner", "'partner' says where the second site of a two-site event is; "
                "'{equation}' involves one site", {"equation": self.equation})
        return self

    @property
    def parsed(self) -> Equation:
        return self._parsed


class Phase(Strict):
    """One step of an ALD cycle: gases on (partial pressures) for a duration."""

    name: Name
    duration: Duration
    gas: dict[str, Pressure] = Field(default_factory=dict)
    temperature: Temperature | None = None


class Recipe(Strict):
    temperature: Temperature
    cycles: int = Field(ge=1)
    phases: list[Phase] = Field(min_length=1)


class Stiffness(Strict):
    """Stiffness control of the exact solver: quasi-equilibrated fast channels are slowed down.

    ``separation`` is its one accuracy knob: a scaled channel still fires at least that many
    times per firing of the fastest non-equilibrated event (larger is more accurate and slower;
    kmc_ald.engine.stiffness documents the scheme).
    """

    separation: float = Field(default=1000.0, ge=10.0)


class Run(Strict):
    """How to run: the random seed, the solver, where it runs, and the parallel solver's accuracy.

    ``step_probability`` is the parallel solver's one accuracy knob: the largest probability that
    a site changes in one sweep (its bias grows linearly with it: about 33 % for a Langmuir
    transient at the allowed maximum 0.5; the exact solver ignores it).
    """

    seed: int = Field(default=0, ge=0, lt=2**64)
    solver: Literal["exact", "parallel"] = "exact"
    backend: Literal["auto", "cpu", "gpu"] = "auto"
    step_probability: float = Field(default=0.02, gt=0, le=0.5)
    stiffness: Stiffness | None = None


class ClusterMigration(Strict):
    """Rigid moves of whole clusters by one lattice vector: particle diffusion and coalescence.

    A cluster is a connected group of sites holding ``species`` (nearest neighbours, stacked
    layers included) with anything resting on it. A cluster of ``s`` atoms, 2 <= s <= ``max_size``,
    jumps to each of the lattice's nearest translations (6 on hexagonal lattices, 4 on the square
    one) at ``k(s) = A exp(-Ea / kB T) s^-size_exponent``, its surface diffusion coefficient
    being ``D(s) = k(s) z a^2 / 4``. Single atoms move by their own hop events. A jump needs every
    target site empty; clusters touching a site of a ``pinned_by`` type do not move. Merging is
    coalescence. ``phases`` limits the moves to some recipe phases (default: all). Only the exact
    solver runs it (kmc_ald.engine.solvers.exact documents the algorithm).
    """

    species: list[Name] = Field(min_length=1)
    A: Frequency
    Ea: Energy = 0.0
    size_exponent: float = Field(default=1.0, ge=0.0, le=10.0)
    max_size: int = Field(default=50, ge=2, le=100_000)
    pinned_by: list[Name] = Field(default_factory=list)
    phases: list[Name] | None = None


class Deposit(Strict):
    """What the process deposits, for the per-cycle statistics (kmc_ald/cycles in the run file).

    ``composition`` gives the formula of what each surface species holds (one site); a site is
    part of a metal cluster when its formula contains ``element``. Growth counts every ``element``
    atom taken from the gas (consumed minus released), so atoms buried in the film count too.
    ``film`` and ``density`` turn atoms per area into thickness. The support's mass, for weight
    loadings, is that of the modelled substrate atoms unless ``specific_area`` (of a powder or a
    flake, both faces) is given. ``conserved`` elements are checked in every event's equation.
    """

    element: Name
    film: ChemicalFormula | None = None  # default: the element itself
    density: MassDensity
    composition: dict[Name, ChemicalFormula] = Field(default_factory=dict)
    anchoring: list[Name] = Field(default_factory=list)
    specific_area: SpecificArea | None = None
    conserved: list[Name] = Field(default_factory=list)

    @field_validator("element")
    @classmethod
    def _element_known(cls, value: str) -> str:
        from ase.data import atomic_numbers
        if value not in atomic_numbers:
            raise ValueError(f"{value!r} is not a chemical element symbol (e.g. 'Pt', 'Al')")
        return value

    @property
    def film_formula(self) -> str:
        return self.film or self.element


#: Where a snapshot can be taken (``output.snapshots.at``), besides ``end_of_<phase name>``.
SNAPSHOT_POINTS = ("start", "end_of_cycle", "end_of_phase", "end_of_pulse", "end_of_purge")


class Snapshots(Strict):
    """When the run file stores the whole surface (``kmc_ald/snapshots``), for export and plots.

    ``every`` n cycles (default: about 100 snapshots per run, i.e. every ceil(cycles / 100)
    cycles; the last cycle is always included), at the points listed in ``at``: ``start`` (the
    surface before the first pulse), ``end_of_cycle``, ``end_of_phase`` (every phase),
    ``end_of_pulse`` (phases with a gas), ``end_of_purge`` (phases without), or
    ``end_of_<phase name>``. ``at: []`` stores none.
    """

    every: int | None = Field(default=None, ge=1)
    at: list[str] = Field(default_factory=lambda: ["start", "end_of_cycle"])

    @field_validator("every", mode="before")
    @classmethod
    def _cycles(cls, value: Any) -> Any:
        """Accept ``10`` or ``"10 cycles"``."""
        if isinstance(value, str):
            number, _, unit = value.strip().partition(" ")
            if unit.strip() not in ("", "cycle", "cycles") or not number.isdigit():
                raise ValueError(f"{value!r} is not a number of cycles (e.g. 10 or '10 cycles')")
            return int(number)
        return value

    def interval(self, cycles: int) -> int:
        """Cycles between snapshots for a recipe of ``cycles`` cycles."""
        return self.every if self.every is not None else max(1, -(-cycles // 100))

    def takes(self, point: str, phase: Phase | None, cycle: int, cycles: int) -> bool:
        """Whether a snapshot is due at ``point`` (``"start"``, ``"end_of_phase"`` or
        ``"end_of_cycle"``) of 0-based ``cycle``; ``phase`` is the phase that just ended."""
        if point == "start":
            return "start" in self.at
        if (cycle + 1) % self.interval(cycles) and cycle != cycles - 1:
            return False
        if point == "end_of_cycle":
            return "end_of_cycle" in self.at
        pulse = bool(phase.gas)
        return ("end_of_phase" in self.at or f"end_of_{phase.name}" in self.at
                or ("end_of_pulse" in self.at and pulse)
                or ("end_of_purge" in self.at and not pulse))


class Output(Strict):
    """What the run writes besides the run file's traces.

    ``trajectory`` names an extended-XYZ file that receives every snapshot as the run goes (of
    the first replica), for watching a long run in OVITO; ``kmc-ald export`` writes the same
    from a finished run file.
    """

    file: str | None = None
    samples_per_phase: int = Field(default=10, ge=1, le=100_000)
    snapshots: Snapshots = Snapshots()
    trajectory: str | None = None

    @field_validator("trajectory")
    @classmethod
    def _extxyz(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith((".extxyz", ".xyz")):
            raise ValueError(f"{value!r}: the streamed trajectory is extended XYZ; name it "
                             "*.extxyz or *.xyz (other formats: kmc-ald export)")
        return value


class Scenario(Strict):
    """A complete simulation: substrate, chemistry, process recipe, run settings and outputs."""

    description: Annotated[str, AfterValidator(_text)] = Field(min_length=1)
    substrate: Substrate
    species: list[Name] = Field(min_length=1)
    gases: dict[Name, Gas] = Field(default_factory=dict)
    events: list[Event] = Field(min_length=1)
    recipe: Recipe
    deposit: Deposit | None = None
    cluster_migration: ClusterMigration | None = None
    run: Run = Run()
    output: Output = Output()
    _source: Any = PrivateAttr(default=None)
    _text: str = PrivateAttr(default="")
    _overrides: tuple[str, ...] = PrivateAttr(default=())

    @property
    def text(self) -> str:
        """The scenario file as the user wrote it (stored in the run file); with ``include:``
        fragments, the expanded text (kmc_ald.scenario.load.expand_includes)."""
        return self._text

    @property
    def overrides(self) -> tuple[str, ...]:
        """The ``--set PATH=VALUE`` overrides applied on top of :attr:`text`."""
        return self._overrides

    def problems(self, problems: list) -> Exception:
        """A ScenarioError for ``(loc, value, message)`` problems, pointing into the file."""
        from kmc_ald.errors import ScenarioError
        from kmc_ald.scenario.load import Problem  # load imports this module
        items = [p if isinstance(p, Problem) else Problem(*p) for p in problems]
        if self._source is None:
            return ScenarioError("invalid scenario:\n" + "\n".join(
                f"{'.'.join(map(str, p.loc))}: {p.message}" for p in items), items)
        return self._source.error(items)

    @field_validator("species")
    @classmethod
    def _species_unique(cls, value: list[str]) -> list[str]:
        names = [s for s in value if s not in EMPTY_ALIASES]
        dup = sorted({s for s in names if names.count(s) > 1})
        if dup:
            raise ValueError(f"species listed more than once: {dup}")
        return names

    @property
    def species_names(self) -> tuple[str, ...]:
        """All site states, index 0 being the empty site."""
        return (EMPTY, *self.species)

    @property
    def title(self) -> str:
        """The first line of the description (empty when it is blank)."""
        lines = self.description.strip().splitlines()
        return lines[0] if lines else ""


def _entries(data: Any, key: str, kind: type) -> Any:
    """``data[key]`` if data is a mapping and the value has the expected kind, else empty."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, kind) else kind()


def cross_reference_problems(data: dict) -> list[tuple[tuple, Any, str]]:
    """Names used in one part of a scenario that another part does not define.

    Works on the raw file data, so these problems are reported together with the schema's, in
    one pass; parts the schema rejects are skipped here. Returns ``(location, value, message)``
    triples; location is a pydantic-style path.
    """
    problems: list[tuple[tuple, Any, str]] = []
    species_given = isinstance(data.get("species"), list)
    names = [EMPTY, *(s for s in _entries(data, "species", list)
                      if isinstance(s, str) and s not in EMPTY_ALIASES)]
    allowed = ", ".join(names)
    gases = _entries(data, "gases", dict)

    def species_problem(loc, value, name):
        if species_given and isinstance(name, str) and name not in names:
            problems.append((loc, value, f"species {name!r} is not listed under 'species' "
                                         f"(known: {allowed})"))

    events = _entries(data, "events", list)
    event_names = [e.get("name") for e in events if isinstance(e, dict)]
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            continue
        text = event.get("equation")
        try:
            eq = parse_equation(text) if isinstance(text, str) else None
        except ValueError:  # the schema reports a malformed equation
            eq = None
        if eq is not None:
            for term in (*eq.sites_in, *eq.sites_out):
                species_problem(("events", i, "equation"), text, term)
            for gas in eq.gas_in:
                if gas not in gases:
                    problems.append((("events", i, "equation"), text,
                                     f"gas {gas!r} reacts here but is not declared under "
                                     "'gases' (it needs a mass for the Hertz-Knudsen flux)"))
        if event.get("name") is not None and event_names.count(event.get("name")) > 1:
            problems.append((("events", i, "name"), event.get("name"),
                             "event names must be unique"))
        for sp in _entries(_entries(event, "bonds", dict), "with", list):
            species_problem(("events", i, "bonds"), sp, sp)
        for sp in _entries(_entries(event, "footprint", dict), "blocked_by", list):
            species_problem(("events", i, "footprint"), sp, sp)
    for i, phase in enumerate(_entries(_entries(data, "recipe", dict), "phases", list)):
        for gas in _entries(phase, "gas", dict):
            if gas not in gases:
                problems.append((("recipe", "phases", i, "gas", gas), gas,
                                 f"gas {gas!r} is not declared under 'gases' (declared: "
                                 f"{', '.join(gases) or 'none'})"))
    for site_type, species in _entries(_entries(data, "substrate", dict), "initial", dict).items():
        species_problem(("substrate", "initial", site_type), species, species)
    stack = _entries(_entries(data, "substrate", dict), "stack", dict)
    for i, species in enumerate(_entries(stack, "solid", list)):
        species_problem(("substrate", "stack", "solid", i), species, species)
    for species in _entries(_entries(data, "deposit", dict), "composition", dict):
        species_problem(("deposit", "composition", species), species, species)
    phase_names = [p.get("name") for p in _entries(_entries(data, "recipe", dict), "phases", list)
                   if isinstance(p, dict) and isinstance(p.get("name"), str)]  # the schema
    # reports names of the wrong type
    migration = _entries(data, "cluster_migration", dict)
    for i, species in enumerate(_entries(migration, "species", list)):
        species_problem(("cluster_migration", "species", i), species, species)
    limited = [(("events", e), event) for e, event in enumerate(_entries(data, "events", list))]
    for at, node in [*limited, (("cluster_migration",), migration)]:
        for i, name in enumerate(_entries(node, "phases", list)):
            if name not in phase_names:
                problems.append(((*at, "phases", i), name, f"no recipe phase is called "
                                 f"{name!r} (phases: {', '.join(map(str, phase_names))})"))
    points = [*SNAPSHOT_POINTS, *(f"end_of_{n}" for n in dict.fromkeys(phase_names))]
    snapshots = _entries(_entries(data, "output", dict), "snapshots", dict)
    for i, point in enumerate(_entries(snapshots, "at", list)):
        if point not in points:
            problems.append((("output", "snapshots", "at", i), point,
                             f"unknown snapshot point (allowed: {', '.join(points)})"))
    return problems
