"""The substrate kinds a scenario can name: one registry, read by the schema and the builders.

It sits below the scenario layer, so the schema's allowed values (``substrate.lattice``, which
kinds carry a stack, which take a ``spacing``) and the lattice builders
(kmc_ald.surfaces.builders) come from the same table. Lengths in Å.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

_S3 = math.sqrt(3.0)


@dataclass(frozen=True)
class SubstrateKind:
    """What a substrate name means: its site lattice, site types and the physics of a site.

    Attributes:
        name: Key in ``SUBSTRATES``.
        motif: The Bravais lattice with basis and bonds: ``square``, ``triangular`` or
            ``honeycomb`` (kmc_ald.surfaces.lattice).
        lattice_constant: |a1| [Å]; ``spacing`` overrides it for the textbook lattices.
        default_site_type: Type of every site not assigned another type.
        site_types: All allowed site-type names, default first; the index is ``Lattice.site_type``.
        description: One line on what a site physically is.
        textbook: A validation lattice whose site distance ``spacing`` may set.
    """

    name: str
    motif: str
    lattice_constant: float
    default_site_type: str
    site_types: tuple[str, ...]
    description: str
    textbook: bool = False

    def __post_init__(self) -> None:
        if not self.site_types or self.site_types[0] != self.default_site_type:
            raise ValueError(f"{self.name}: the default site type must be listed first")

    @property
    def stackable(self) -> bool:
        """Whether fcc(111) layers for 3D particles can stack on it (a triangular lattice)."""
        return self.motif == "triangular"


SUBSTRATES: dict[str, SubstrateKind] = {k.name: k for k in (
    SubstrateKind(
        "square", "square", 1.0, "site", ("site",),
        "textbook square lattice, 4 neighbours, nearest-neighbour distance 1 Å unless spacing",
        textbook=True),
    SubstrateKind(
        "triangular", "triangular", 1.0, "site", ("site",),
        "textbook triangular lattice, 6 neighbours, nearest-neighbour distance 1 Å unless spacing",
        textbook=True),
    SubstrateKind(
        "honeycomb", "honeycomb", _S3, "site", ("site",),
        "textbook honeycomb lattice, 3 neighbours, bond length 1 Å (|a1| = sqrt(3) Å) unless "
        "spacing", textbook=True),
    SubstrateKind(
        "graphene", "honeycomb", 2.46, "pristine",
        ("pristine", "vacancy", "pyridinic_N", "graphitic_N"),
        "graphene top sites: one site per carbon atom, a = 2.46 Å, C-C 1.42 Å, 3 neighbours"),
    SubstrateKind(
        "graphene_hollow", "triangular", 2.46, "pristine", ("pristine", "vacancy", "pyridinic_N"),
        "graphene hollow sites: one site per carbon hexagon, a = 2.46 A, 6 neighbours; a stack "
        "on it is Ni(111)-like"),
    SubstrateKind(
        "mxene", "triangular", 3.07, "O", ("O", "OH", "F", "bare_Ti"),
        "Ti3C2Tx termination sites, one per surface Ti, a = 3.07 Å, 6 neighbours; top side only"),
    SubstrateKind(
        "oxide", "triangular", 2.9, "O", ("O", "OH", "Al"),
        "hydroxylated Al2O3 surface oxygen sites (bridging O, OH, Lewis-acid Al), 2.9 Å apart "
        "(13.7 sites/nm²), 6 neighbours"),
)}

SUBSTRATE_KINDS = tuple(SUBSTRATES)
STACKABLE_KINDS = tuple(n for n, k in SUBSTRATES.items() if k.stackable)
TEXTBOOK_KINDS = tuple(n for n, k in SUBSTRATES.items() if k.textbook)
