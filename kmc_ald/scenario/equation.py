"""Reaction equations of the scenario language.

An event is written as a chemical equation over one site or over a site and one neighbour::

    "TMA(g) + OH -> AlMe2 + CH4(g)"     one site, gas reactant (flux-driven), gas product
    "A -> * + A(g)"                     desorption; ``*`` (or ``empty``) is an empty site
    "Pt + * -> * + Pt"                  a hop: site i and a neighbour j, in that order
    "PtMeCp* + O -> Pt + *"             conversion with a neighbour

Surface terms are species names (or ``*``, the empty site, named ``empty`` in outputs); gas
terms end in ``(g)`` and may carry an integer coefficient (``2 CH4(g)``). The surface terms on
each side must match in number (1 or 2): the first refers to the site the event happens at, the
second to one of its neighbours.

Example:
    >>> parse_equation("TMA(g) + OH -> AlMe2 + CH4(g)")
    Equation(sites_in=('OH',), sites_out=('AlMe2',), gas_in={'TMA': 1}, gas_out={'CH4': 1})
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

EMPTY = "empty"
EMPTY_ALIASES = ("*", "empty")
_TERM = re.compile(r"(?:(\d+)\s*)?([^\s+]+?)(\(g\))?")


@dataclass(frozen=True)
class Equation:
    sites_in: tuple[str, ...]
    sites_out: tuple[str, ...]
    gas_in: dict[str, int] = field(default_factory=dict)
    gas_out: dict[str, int] = field(default_factory=dict)

    @property
    def n_sites(self) -> int:
        return len(self.sites_in)


def _side(text: str, side: str) -> tuple[tuple[str, ...], dict[str, int]]:
    sites: list[str] = []
    gases: dict[str, int] = {}
    for raw in re.split(r"\s*\+\s*", text.strip()):
        term = raw.strip()
        match = _TERM.fullmatch(term)
        if not term or not match:
            raise ValueError(f"cannot read the term {term!r} on the {side} side; terms are "
                             "species names, '*' for an empty site, or gases written 'NAME(g)'")
        coef, name, gas = match.groups()
        if gas:
            gases[name] = gases.get(name, 0) + int(coef or 1)
        elif coef:
            raise ValueError(f"{term!r}: only gases take coefficients; repeat a surface species "
                             "as a separate term for a second site")
        else:
            sites.append(EMPTY if name in EMPTY_ALIASES else name)
    return tuple(sites), gases


def parse_equation(text: str) -> Equation:
    """Parse ``"reactants -> products"``; raises ValueError saying what is wrong and allowed."""
    if "<=>" in text or "<->" in text:
        raise ValueError("reversible equations are not supported; write the forward and the "
                         "reverse event separately, each with its own rate")
    parts = re.split(r"\s*->\s*", text)
    if len(parts) != 2:
        raise ValueError(f"{text!r} must contain exactly one '->' between reactants and products")
    sites_in, gas_in = _side(parts[0], "left")
    sites_out, gas_out = _side(parts[1], "right")
    if len(sites_in) not in (1, 2):
        raise ValueError(f"an event involves 1 site or 2 neighbouring sites; the left side has "
                         f"{len(sites_in)} surface terms (use '*' for an empty site)")
    if len(sites_in) != len(sites_out):
        raise ValueError(f"the left side has {len(sites_in)} surface terms and the right side "
                         f"{len(sites_out)}; each site must appear on both sides "
                         "(use '*' for a site left empty)")
    if sum(gas_in.values()) > 1:
        raise ValueError("at most one gas molecule may react from the gas phase per event "
                         f"(got {gas_in})")
    if sites_in == sites_out:
        raise ValueError("the event changes no site (products equal reactants)")
    return Equation(sites_in, sites_out, gas_in, gas_out)
