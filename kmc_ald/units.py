"""Physical quantities with units, as users write them in scenario files.

Internal units, used everywhere inside kmc_ald without suffixes:

=================  ==========================
energy             eV
temperature        K
pressure           Pa
time               s
length             Å
frequency          1/s
mass               amu (g/mol)
areal density      1/Å²
mass density       g/cm³
specific area      m²/g
=================  ==========================

A dimensional value in a scenario is a string ``"<number> <unit>"`` (``"0.9 eV"``,
``"250 degC"``, ``"0.1 Torr"``, ``"48 kJ/mol"``). A bare number is rejected for a dimensional
field, because a silent default unit is how scenarios go wrong.

Example:
    >>> parse_quantity("250 degC", "temperature")
    523.15
    >>> round(parse_quantity("0.1 Torr", "pressure"), 4)
    13.3322
"""
from __future__ import annotations

import math
import re

KB_EV_PER_K = 8.617333262e-5  # Boltzmann constant [eV/K]
KB_J_PER_K = 1.380649e-23  # Boltzmann constant [J/K]
AMU_KG = 1.66053906660e-27  # atomic mass unit [kg]
EV_PER_KJ_MOL = 1.0 / 96.48533212  # [eV per kJ/mol]
ANGSTROM2_PER_NM2 = 100.0

# dimension -> {unit spelling: (scale to internal unit, offset)}
_BASE: dict[str, dict[str, tuple[float, float]]] = {
    "energy": {
        "eV": (1.0, 0.0),
        "meV": (1e-3, 0.0),
        "kJ/mol": (EV_PER_KJ_MOL, 0.0),
        "J/mol": (EV_PER_KJ_MOL * 1e-3, 0.0),
        "kcal/mol": (EV_PER_KJ_MOL * 4.184, 0.0),
    },
    "temperature": {"K": (1.0, 0.0), "degC": (1.0, 273.15), "°C": (1.0, 273.15)},
    "pressure": {
        "Pa": (1.0, 0.0),
        "kPa": (1e3, 0.0),
        "hPa": (1e2, 0.0),
        "mbar": (1e2, 0.0),
        "bar": (1e5, 0.0),
        "Torr": (101325.0 / 760.0, 0.0),
        "mTorr": (101325.0 / 760.0e3, 0.0),
        "atm": (101325.0, 0.0),
    },
    "time": {
        "s": (1.0, 0.0),
        "ms": (1e-3, 0.0),
        "us": (1e-6, 0.0),
        "µs": (1e-6, 0.0),
        "ns": (1e-9, 0.0),
        "ps": (1e-12, 0.0),
        "min": (60.0, 0.0),
        "h": (3600.0, 0.0),
    },
    "length": {
        "Å": (1.0, 0.0),
        "Angstrom": (1.0, 0.0),
        "angstrom": (1.0, 0.0),
        "nm": (10.0, 0.0),
        "pm": (1e-2, 0.0),
        "um": (1e4, 0.0),
        "µm": (1e4, 0.0),
    },
    "frequency": {
        "1/s": (1.0, 0.0),
        "Hz": (1.0, 0.0),
        "kHz": (1e3, 0.0),
        "MHz": (1e6, 0.0),
        "GHz": (1e9, 0.0),
        "THz": (1e12, 0.0),
        "1/ms": (1e3, 0.0),
        "1/us": (1e6, 0.0),
        "1/ns": (1e9, 0.0),
        "1/ps": (1e12, 0.0),
    },
    "mass": {"amu": (1.0, 0.0), "u": (1.0, 0.0), "Da": (1.0, 0.0), "g/mol": (1.0, 0.0)},
    "areal density": {
        "1/Å^2": (1.0, 0.0),
        "1/nm^2": (1.0 / ANGSTROM2_PER_NM2, 0.0),
        "1/cm^2": (1e-16, 0.0),
    },
    "mass density": {"g/cm^3": (1.0, 0.0), "kg/m^3": (1e-3, 0.0)},
    "specific area": {"m^2/g": (1.0, 0.0), "m2/g": (1.0, 0.0)},
}

DIMENSIONS = tuple(_BASE)


def _spellings(unit: str) -> list[str]:
    """Equivalent spellings: '1/s' ~ '/s' ~ 's^-1' ~ 's-1'; 'nm^2' ~ 'nm2'."""
    out = [unit]
    if unit.startswith("1/"):
        base = unit[2:]
        bare = base.replace("^", "")
        power = re.search(r"\^?(\d)$", base)
        stem = base[: power.start()] if power else base
        exp = power.group(1) if power else "1"
        out += [f"/{base}", f"1/{bare}", f"/{bare}", f"{stem}^-{exp}", f"{stem}-{exp}"]
    return out


_LOOKUP: dict[str, tuple[str, float, float]] = {}
for _dim, _units in _BASE.items():
    for _unit, (_scale, _offset) in _units.items():
        for _alias in _spellings(_unit):
            _LOOKUP[_alias] = (_dim, _scale, _offset)

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"\s*({_NUMBER})\s*(.*?)\s*")


def _a(dimension: str) -> str:
    return ("an " if dimension[0] in "aeiou" else "a ") + dimension


def allowed_units(dimension: str) -> str:
    """The unit spellings accepted for a dimension, for error messages."""
    return ", ".join(_BASE[dimension])


def parse_quantity(value: object, dimension: str) -> float:
    """Convert ``"<number> <unit>"`` to the internal unit of ``dimension``.

    Raises:
        ValueError: with a message that says what was given and what is allowed.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected {_a(dimension)} as '<number> <unit>' ({allowed_units(dimension)})")
    if isinstance(value, (int, float)):
        raise ValueError(
            f"{value!r} has no unit; write it as '{value} <unit>' with {_a(dimension)} unit "
            f"({allowed_units(dimension)})")
    match = _QUANTITY.fullmatch(value)
    if not match:
        raise ValueError(f"expected '<number> <unit>', e.g. '1.0 {next(iter(_BASE[dimension]))}'")
    number, unit = float(match[1]), match[2].replace(" ", "").replace("**", "^")
    if not unit:
        raise ValueError(
            f"{value!r} has no unit; {_a(dimension)} needs one of: {allowed_units(dimension)}")
    if unit not in _LOOKUP:
        raise ValueError(f"unknown unit {unit!r}; {_a(dimension)} accepts {allowed_units(dimension)}")
    dim, scale, offset = _LOOKUP[unit]
    if dim != dimension:
        raise ValueError(
            f"{unit!r} is a unit of {dim}, but {_a(dimension)} is expected "
            f"({allowed_units(dimension)})")
    result = number * scale + offset
    if not math.isfinite(result):
        raise ValueError(f"{value!r} is not a finite number")
    return result


def format_quantity(value: float, dimension: str) -> str:
    """Internal value back to a string in the first listed unit of its dimension."""
    unit = next(iter(_BASE[dimension]))
    return f"{value:.6g} {unit}"


def hertz_knudsen_flux(pressure: float, temperature: float, mass: float) -> float:
    """Impingement rate of gas molecules on a surface, p / sqrt(2 pi m kB T).

    Args:
        pressure: Partial pressure of the gas [Pa].
        temperature: Gas temperature [K].
        mass: Molecular mass [amu].

    Returns:
        Flux [molecules Å^-2 s^-1].

    Example:
        >>> round(hertz_knudsen_flux(1.0, 300.0, 32.0) * 1e20 / 1e22, 2)   # per m^2 s, / 1e22
        2.69
    """
    flux_si = pressure / math.sqrt(2.0 * math.pi * mass * AMU_KG * KB_J_PER_K * temperature)
    return flux_si * 1e-20  # m^-2 -> Å^-2
