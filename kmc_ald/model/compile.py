"""Compile a scenario's mechanism into plain numpy tables that solvers index directly.

No chemistry reaches a solver: species, site types and events become integer indices, and every
rate becomes one number per (phase, event, site type, bond count), computed here once on the
host. Units: rates in 1/s per channel, energies in eV, temperatures in K, pressures in Pa.

Rate laws (per channel; a two-site event has one channel per matching neighbour):

* thermal: ``k = A[t] (T / T0)^m exp(-(Ea[t] + n E_bond) / kB T)`` (``rate.n`` = m, default 0);
  an event with a gas reactant and a ``rate`` has this rate per site in the phases where its
  gas is on (SPPARKS' adsorption given per site), zero elsewhere;
* gas-phase reactant: ``k = min(s[t] exp(-n E_bond / kB T), 1) J(p, T, m) a_site``, with the
  Hertz-Knudsen flux ``J = p / sqrt(2 pi m kB T)`` and the area per site ``a_site``; zero in
  phases where the gas is off. A sticking coefficient is a probability per impact, so a
  negative bond energy raises it with each bond only up to 1;
* cluster migration (``cluster_migration``): one pseudo-event per cluster species, whose channel
  at an atom with at least one cluster neighbour is a *candidate* jump of its whole cluster at
  ``R = z k(2) / 2`` (z lattice translations, ``k(s) = A exp(-Ea / kB T) s^-alpha``). The solver
  accepts a candidate from a cluster of s atoms with probability ``(2 / s)^(1 + alpha)``, so the
  cluster's s candidates add up to ``z k(s)`` (thinning of a Poisson process: exact).

An event with ``phases`` is zero outside the recipe phases it names, and one with
``site_types`` on sites of other types. A two-site event's partner j is a nearest neighbour of
i, or with ``partner.shell: s`` a site s neighbour hops away (``Lattice.shells``), and with
``partner.site_types`` only on those types (``RateTables.partner_ok``).

Here ``t`` is the type of the event's (first) site, and ``n`` the number of its nearest
neighbours (``Lattice.n_nearest``: on a stacked lattice those in its layer, below and above) that
hold one of the species the event's ``bonds`` count; outside ``bonds.min..bonds.max`` (each a
number, or one per site type t) the rate is zero.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kmc_ald.scenario.equation import EMPTY
from kmc_ald.scenario.schema import DEFAULT_KEY, Scenario
from kmc_ald.surfaces.lattice import Lattice
from kmc_ald.surfaces.structure import STRUCTURE
from kmc_ald.units import KB_EV_PER_K, hertz_knudsen_flux

MAX_SPECIES = 63  # species sets are 64-bit masks in the solvers
_TWO64 = float(2**64)
#: Thresholds below this many units of 2^-64 would carry a rounding error above 1/4096.
MIN_THRESHOLD = 4096
#: Thresholds are scaled by 1 - 2^-40 so that the channels of a site at the rate bound sum to
#: less than 2^64 (no wrap of the cumulative sum); a relative change of 1e-12.
_THRESHOLD_SCALE = _TWO64 * (1.0 - 2.0**-40)
#: Sweeps per phase beyond which the parallel clock (tau * sweeps in doubles) is no longer exact;
#: far beyond any run that could finish (2^53 sweeps of one site at 1e9 per second: 100 days).
MAX_SWEEPS = 2**53


@dataclass(frozen=True, eq=False)
class Mechanism:
    """Event structure, independent of phase and temperature.

    Arrays are indexed by event ``e``; ``site_in[e, 1] == -1`` for one-site events.
    """

    species: tuple[str, ...]  # index 0 is the empty site
    event_names: tuple[str, ...]
    gases: tuple[str, ...]  # every gas that reacts or is released
    sites_per_event: np.ndarray  # int32 [e]: 1 or 2 (the event's first site, and a neighbour)
    site_in: np.ndarray  # int32 [e, 2]: species required on site i (and neighbour j)
    site_out: np.ndarray  # int32 [e, 2]: species left on site i (and neighbour j)
    count_mask: np.ndarray  # uint64 [e]: species counted as bonds around site i (bit mask)
    footprint: np.ndarray  # int32 [e]: neighbour shells that must be free of block_mask
    block_mask: np.ndarray  # uint64 [e]: species that block the footprint (bit mask)
    gas_in: np.ndarray  # int32 [e, g]: gas molecules consumed per event
    gas_out: np.ndarray  # int32 [e, g]: gas molecules released per event
    event_order: np.ndarray  # int32 [e]: events grouped by the species on site i
    event_offset: np.ndarray  # int32 [n_species + 1]: CSR offsets into event_order
    reverse: np.ndarray  # int32 [e]: the event that undoes e (e itself for a hop), or -1
    solid_mask: int = 0  # species that hold up a stacked site (substrate.stack.solid), bit mask
    #: bool [e]: the pseudo-events of cluster migration (a channel is a candidate jump of the
    #: whole cluster, not a change of its site); None: there are none
    migrating: np.ndarray | None = None
    migration_exponent: float = 0.0  # alpha in k(s) = k(1) s^-alpha
    migration_max_size: int = 0  # larger clusters do not move
    #: int32 [e]: the neighbour shell of site i that a two-site event's partner j lies in (1:
    #: the nearest neighbours; 2: two hops away, ...); 0 for one-site events; None: all 1
    partner_shell: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.migrating is None:
            object.__setattr__(self, "migrating", np.zeros(self.n_events, dtype=np.bool_))
        if self.partner_shell is None:
            object.__setattr__(self, "partner_shell",
                               np.where(self.sites_per_event > 1, 1, 0).astype(np.int32))

    @property
    def migration_mask(self) -> int:
        """Species that make up a migrating cluster (bit mask; 0 without cluster migration)."""
        return int(np.bitwise_or.reduce(self.count_mask[self.migrating], initial=np.uint64(0)))

    @property
    def n_events(self) -> int:
        return len(self.event_names)

    @property
    def max_footprint(self) -> int:
        return int(self.footprint.max(initial=0))

    @property
    def change_radius(self) -> np.ndarray:
        """int32 [n_species]: hops within which a site's taking or losing each species can
        change another site's rates: the farthest distance at which any event reads it
        (``reads``); 0 for a species no event looks at on another site (a proton hopping
        between O sites need not refresh the footprints four hops around)."""
        reads = self.reads(self.interaction_range)
        out = np.zeros(len(self.species), dtype=np.int32)
        for d in range(1, reads.shape[1]):
            seen = np.bitwise_or.reduce(reads[:, d])
            for s in range(len(self.species)):
                if seen >> np.uint64(s) & np.uint64(1):
                    out[s] = d
        return out

    def reads(self, radius: int) -> np.ndarray:
        """uint64 [n_species, radius + 1]: bit s' of ``reads[s, d]`` is set when an event of a
        site holding s looks at species s' d hops away: its partner (at its shell), the bonds
        it counts (d = 1), what blocks its footprint (d = 1 .. its shells)."""
        out = np.zeros((len(self.species), radius + 1), dtype=np.uint64)
        for e in range(self.n_events):
            s = self.site_in[e, 0]
            if self.footprint[e]:
                out[s, 1:self.footprint[e] + 1] |= np.uint64(self.block_mask[e])
            if self.count_mask[e]:
                out[s, 1] |= np.uint64(self.count_mask[e])
            if self.sites_per_event[e] > 1:
                out[s, self.partner_shell[e]] |= np.uint64(1) << np.uint64(self.site_in[e, 1])
        return out

    @property
    def interaction_range(self) -> int:
        """Neighbour hops within which a site's state can change another site's rates."""
        pairs = int(self.partner_shell.max(initial=0))
        bonds = 1 if self.count_mask.any() else 0
        return max(self.max_footprint, pairs, bonds)


@dataclass(frozen=True, eq=False)
class RateTables:
    """Rates of every event for every phase of the recipe [1/s per channel]."""

    phase_names: tuple[str, ...]
    durations: np.ndarray  # float64 [p] [s]
    temperatures: np.ndarray  # float64 [p] [K]
    pressures: np.ndarray  # float64 [p, g] [Pa]
    rate: np.ndarray  # float64 [p, e, n_site_types, nearest neighbours + 1] [1/s]
    pinned: np.ndarray  # bool [n_site_types]: a cluster touching such a site does not migrate
    #: bool [e, n_site_types]: the site types a two-site event's partner may have (all True
    #: unless ``partner.site_types`` says otherwise); None: all True
    partner_ok: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.partner_ok is None:
            object.__setattr__(self, "partner_ok", np.ones(self.rate.shape[1:3], dtype=np.bool_))

    @property
    def cycle_duration(self) -> float:
        return float(self.durations.sum())


def _mask(names, index: dict[str, int]) -> int:
    out = 0
    for name in names:
        out |= 1 << index[name]
    return out


def compile_mechanism(scenario: Scenario) -> Mechanism:
    species = scenario.species_names
    if len(species) > MAX_SPECIES:
        raise scenario.problems([(("species",), None, f"at most {MAX_SPECIES - 1} species are "
                                  f"supported, got {len(species) - 1}")])
    index = {name: i for i, name in enumerate(species)}
    events = scenario.events
    gases = list(scenario.gases)
    for event in events:
        for gas in (*event.parsed.gas_in, *event.parsed.gas_out):
            if gas not in gases:
                gases.append(gas)
    migration = scenario.cluster_migration
    members = migration.species if migration is not None else []
    n_e, n_g = len(events) + len(members), len(gases)
    n_sites = np.array([e.parsed.n_sites for e in events] + [1] * len(members), dtype=np.int32)
    site_in = np.full((n_e, 2), -1, dtype=np.int32)
    site_out = np.full((n_e, 2), -1, dtype=np.int32)
    count_mask = np.zeros(n_e, dtype=np.uint64)
    footprint = np.zeros(n_e, dtype=np.int32)
    block_mask = np.zeros(n_e, dtype=np.uint64)
    gas_in = np.zeros((n_e, n_g), dtype=np.int32)
    gas_out = np.zeros((n_e, n_g), dtype=np.int32)
    partner_shell = np.zeros(n_e, dtype=np.int32)
    adsorbates = [s for s in species if s != EMPTY]
    for e, event in enumerate(events):
        eq = event.parsed
        if eq.n_sites == 2:
            partner_shell[e] = event.partner.shell if event.partner is not None else 1
        site_in[e, : eq.n_sites] = [index[s] for s in eq.sites_in]
        site_out[e, : eq.n_sites] = [index[s] for s in eq.sites_out]
        if event.bonds is not None:
            count_mask[e] = _mask(event.bonds.with_, index)
        footprint[e] = event.footprint.shells
        block_mask[e] = _mask(event.footprint.blocked_by or adsorbates, index)
        for gas, n in eq.gas_in.items():
            gas_in[e, gases.index(gas)] = n
        for gas, n in eq.gas_out.items():
            gas_out[e, gases.index(gas)] = n
    migrating = np.zeros(n_e, dtype=np.bool_)
    for k, name in enumerate(members):  # changes nothing by itself; the solver moves clusters
        e = len(events) + k
        migrating[e] = True
        site_in[e, 0] = site_out[e, 0] = index[name]
        count_mask[e] = _mask(members, index)
    order = np.argsort(site_in[:, 0], kind="stable").astype(np.int32)
    offset = np.searchsorted(site_in[order, 0], np.arange(len(species) + 1)).astype(np.int32)
    reverse = np.full(n_e, -1, dtype=np.int32)
    for e in range(n_e):
        for r in range(n_e):
            if (partner_shell[r] == partner_shell[e]
                    and _undoes(r, e, n_sites, site_in, site_out, gas_in, gas_out)):
                reverse[e] = r
                break
    reverse[migrating] = np.flatnonzero(migrating)  # a random walk, balanced like a hop
    if scenario.deposit is not None:
        _check_conserved(scenario, species)
    stack = scenario.substrate.stack
    solid = _mask(stack.solid, index) if stack is not None else 0
    names = (*(e.name for e in events), *(f"cluster migration ({m})" for m in members))
    return Mechanism(species, names, tuple(gases), n_sites, site_in, site_out, count_mask,
                     footprint, block_mask, gas_in, gas_out, order, offset, reverse, solid,
                     migrating, migration.size_exponent if migration else 0.0,
                     migration.max_size if migration else 0, partner_shell)


def _undoes(r, e, n_sites, site_in, site_out, gas_in, gas_out) -> bool:
    """Whether event r restores what event e changes (sites in either order, gases swapped)."""
    if n_sites[r] != n_sites[e]:
        return False
    if not (np.array_equal(gas_in[r], gas_out[e]) and np.array_equal(gas_out[r], gas_in[e])):
        return False
    k = n_sites[e]
    forward = (tuple(site_in[e, :k]), tuple(site_out[e, :k]))
    backward = (tuple(site_out[r, :k]), tuple(site_in[r, :k]))
    return forward == backward or (k == 2 and forward == (backward[0][::-1], backward[1][::-1]))


def _check_conserved(scenario: Scenario, species: tuple[str, ...]) -> None:
    """Every event must balance each ``deposit.conserved`` element between sites and gases."""
    from kmc_ald.scenario.schema import formula_count

    deposit = scenario.deposit
    problems = []
    for element in deposit.conserved:
        held = {s: formula_count(f, element) for s, f in deposit.composition.items()}
        for e, event in enumerate(scenario.events):
            eq = event.parsed
            gas_atoms = {g: formula_count(scenario.gases[g].formula, element)
                         if g in scenario.gases and scenario.gases[g].formula else None
                         for g in (*eq.gas_in, *eq.gas_out)}
            unknown = [g for g, n in gas_atoms.items() if n is None]
            if unknown:
                problems.append((("events", e, "equation"), event.equation,
                                 f"gas {unknown[0]!r} needs a 'formula' under 'gases' to check "
                                 f"that {element} is conserved"))
                continue
            before = (sum(held.get(s, 0) for s in eq.sites_in)
                      + sum(n * gas_atoms[g] for g, n in eq.gas_in.items()))
            after = (sum(held.get(s, 0) for s in eq.sites_out)
                     + sum(n * gas_atoms[g] for g, n in eq.gas_out.items()))
            if before != after:
                problems.append((("events", e, "equation"), event.equation,
                                 f"{element} is not conserved: {before} atoms before, {after} "
                                 f"after (deposit.conserved lists {element}; formulas from "
                                 "deposit.composition and gases)"))
    if problems:
        raise scenario.problems(problems)


def _check_type_keys(values: dict, names: tuple[str, ...], loc: tuple, problems: list) -> None:
    """Each key of a per-site-type mapping is a site type of the lattice or the default."""
    for key in values:
        if key != DEFAULT_KEY and key not in names:
            problems.append(((*loc, key), key, f"site type {key!r} does not exist on this "
                             f"substrate (site types: {', '.join(names)}; or '{DEFAULT_KEY}')"))


def _per_type(values: dict[str, float], names: tuple[str, ...], loc: tuple, problems: list,
              ) -> np.ndarray:
    """Expand ``{default: x, <type>: y}`` to one value per site type of the lattice."""
    _check_type_keys(values, names, loc, problems)
    missing = [n for n in names if n not in values]
    if missing and DEFAULT_KEY not in values:
        problems.append((loc, None, f"no value for site type(s) {', '.join(missing)}: give "
                         f"them, or a '{DEFAULT_KEY}'"))
        return np.zeros(len(names))
    return np.array([values.get(n, values.get(DEFAULT_KEY, 0.0)) for n in names], dtype=float)


def compile_rates(scenario: Scenario, mechanism: Mechanism, lattice: Lattice) -> RateTables:
    """Tabulate every rate for every recipe phase; raises ScenarioError naming bad site types."""
    names = lattice.site_type_names
    recipe = scenario.recipe
    n_p, n_e, n_t, z = len(recipe.phases), mechanism.n_events, len(names), lattice.n_nearest
    temperatures = np.array([ph.temperature or recipe.temperature for ph in recipe.phases])
    pressures = np.array([[ph.gas.get(g, 0.0) for g in mechanism.gases] for ph in recipe.phases])
    pressures = pressures.reshape(n_p, len(mechanism.gases))
    rate = np.zeros((n_p, n_e, n_t, z + 1))
    partner_ok = np.ones((n_e, n_t), dtype=np.bool_)
    problems: list = []
    n_bonds = np.arange(z + 1, dtype=float)
    for e, event in enumerate(scenario.events):
        loc = ("events", e)
        on_type = np.ones(n_t, dtype=bool)
        if event.site_types is not None:
            on_type = _type_mask(event.site_types, names, (*loc, "site_types"), problems)
        if event.partner is not None and event.partner.site_types is not None:
            partner_ok[e] = _type_mask(event.partner.site_types, names,
                                       (*loc, "partner", "site_types"), problems)
        bond_energy = event.bonds.energy if event.bonds else 0.0
        allowed = np.ones((n_t, z + 1), dtype=bool)  # [site type, bonds]
        if event.bonds is not None:
            allowed = _bond_windows(event.bonds, names, z, (*loc, "bonds"), problems)
        if event.rate is not None:
            prefactor = _per_type(event.rate.A, names, (*loc, "rate", "A"), problems)
            barrier = _per_type(event.rate.Ea, names, (*loc, "rate", "Ea"), problems)
        else:
            prefactor = _per_type(event.sticking, names, (*loc, "sticking"), problems)
            barrier = np.zeros(n_t)
        gas = next(iter(event.parsed.gas_in), None)
        for p in range(n_p):
            kT = KB_EV_PER_K * temperatures[p]
            if event.phases is not None and recipe.phases[p].name not in event.phases:
                continue
            p_gas = pressures[p, mechanism.gases.index(gas)] if gas is not None else None
            factor = np.exp(-(barrier[:, None] + bond_energy * n_bonds[None, :]) / kT)
            if event.rate is not None:
                if p_gas is not None and not p_gas > 0:  # a direct rate, while its gas is on
                    continue
                per_site = prefactor * (temperatures[p] / event.rate.T0) ** event.rate.n
                channel = per_site[:, None] * factor
            else:  # a probability per impact: at most 1 however many bonds
                mass = scenario.gases[gas].molecular_mass()
                impacts = hertz_knudsen_flux(p_gas, temperatures[p], mass) * lattice.site_area
                channel = impacts * np.minimum(prefactor[:, None] * factor, 1.0)
            rate[p, e] = channel * allowed * on_type[:, None]
    pinned = _migration_rates(scenario, mechanism, lattice, rate, temperatures, problems)
    for site_type in scenario.substrate.initial:
        if site_type not in names:
            problems.append((("substrate", "initial", site_type), site_type,
                             f"site type {site_type!r} does not exist on this substrate "
                             f"(site types: {', '.join(names)})"))
    if problems:
        raise scenario.problems(problems)
    if not np.isfinite(rate).all():
        raise scenario.problems([(("events",), None, "a rate overflowed; check for negative "
                                  "barriers far below -kT")])
    return RateTables(tuple(ph.name for ph in recipe.phases),
                      np.array([ph.duration for ph in recipe.phases]), temperatures,
                      pressures, rate, pinned, partner_ok)


def _bond_windows(bonds, names: tuple[str, ...], z: int, loc: tuple, problems: list
                  ) -> np.ndarray:
    """bool [n_site_types, z + 1]: the bond counts at which the event can happen, per site
    type (``bonds.min`` and ``bonds.max``, each a number or per site type)."""
    for field in ("min", "max"):
        _check_type_keys(getattr(bonds, field) or {}, names, (*loc, field), problems)
    n = np.arange(z + 1)
    out = np.ones((len(names), z + 1), dtype=bool)
    for t, name in enumerate(names):
        low, high = bonds.limits(name)
        out[t] = (n >= low) & (n <= (z if high is None else high))
    return out


def _type_mask(wanted: list[str], names: tuple[str, ...], loc: tuple, problems: list
               ) -> np.ndarray:
    """bool [n_site_types]: which of the lattice's site types ``wanted`` lists (each must be
    one of them)."""
    for k, name in enumerate(wanted):
        if name not in names:
            problems.append(((*loc, k), name, f"site type {name!r} does not exist on this "
                             f"substrate (site types: {', '.join(names)})"))
    return np.isin(np.array(names, dtype=object), wanted)


def _migration_rates(scenario: Scenario, mechanism: Mechanism, lattice: Lattice,
                     rate: np.ndarray, temperatures: np.ndarray, problems: list) -> np.ndarray:
    """Fill the candidate rates of the cluster migration pseudo-events (see the module
    docstring); returns which site types pin a cluster."""
    names = lattice.site_type_names
    pinned = np.zeros(len(names), dtype=np.bool_)
    migration = scenario.cluster_migration
    if migration is None:
        return pinned
    if lattice.name == STRUCTURE:
        problems.append((("cluster_migration",), None, "cluster migration moves clusters by "
                         "the lattice translations of a built-in substrate; a substrate read "
                         "from a structure has none that kmc-ald knows"))
        return pinned
    for i, name in enumerate(migration.pinned_by):
        if name in names:
            pinned[names.index(name)] = True
        else:
            problems.append((("cluster_migration", "pinned_by", i), name,
                             f"site type {name!r} does not exist on this substrate (site "
                             f"types: {', '.join(names)})"))
    n_translations = lattice.translations.shape[0]
    for p, phase in enumerate(scenario.recipe.phases):
        if migration.phases is not None and phase.name not in migration.phases:
            continue
        k2 = migration.A * np.exp(-migration.Ea / (KB_EV_PER_K * temperatures[p]))
        k2 *= 2.0 ** -migration.size_exponent
        for e in np.flatnonzero(mechanism.migrating):
            rate[p, e, ~pinned, 1:] = n_translations * k2 / 2.0  # an atom with a neighbour
    return pinned


@dataclass(frozen=True, eq=False)
class Model:
    """A scenario compiled once: everything a solver, ``check``, export and report need.

    Attributes:
        scenario: The validated scenario it was compiled from.
        lattice: The substrate, with site types placed from ``run.seed``.
        mechanism: Species and events as indices and bit masks.
        rates: Every rate of every recipe phase [1/s].
        occupation: The species on each site at t = 0, uint8 ``[n_sites]`` (read-only).
    """

    scenario: Scenario
    lattice: Lattice
    mechanism: Mechanism
    rates: RateTables
    occupation: np.ndarray

    def __post_init__(self) -> None:
        self.occupation.setflags(write=False)


def compile_scenario(scenario: Scenario) -> Model:
    """Build the lattice and compile the mechanism, rates and initial surface of a scenario.

    Raises:
        ScenarioError: naming the scenario path of anything that cannot be compiled.
    """
    from kmc_ald.surfaces import lattice_for

    lattice = lattice_for(scenario)
    mechanism = compile_mechanism(scenario)
    rates = compile_rates(scenario, mechanism, lattice)
    return Model(scenario, lattice, mechanism, rates,
                 initial_occupation(scenario, mechanism, lattice))


def reachable_species(model: Model) -> np.ndarray:
    """bool [site type, species]: which species can ever sit on a site of each type, from the
    initial surface and every event that has a rate there (a fixed point). An over-estimate
    where geometry is ignored: a migrating cluster may land on any type."""
    lattice, mechanism, rates = model.lattice, model.mechanism, model.rates
    can = np.zeros((len(lattice.site_type_names), len(mechanism.species)), dtype=bool)
    can[lattice.site_type, model.occupation] = True
    possible = rates.rate.any(axis=(0, 3))  # [event, site type]
    for e in np.flatnonzero(mechanism.migrating):  # cluster members can land anywhere
        members = [k for k in range(len(mechanism.species))
                   if (int(mechanism.count_mask[e]) >> k) & 1]
        can[:, members] |= can[:, members].any(axis=0)
        can[:, 0] = True
    changed = True
    while changed:
        changed = False
        for e in range(mechanism.n_events):
            (a, b), (a_out, b_out) = mechanism.site_in[e], mechanism.site_out[e]
            for t in np.flatnonzero(possible[e] & can[:, a]):
                if not can[t, a_out]:
                    can[t, a_out] = changed = True
                if mechanism.sites_per_event[e] == 2:
                    # a partner of an allowed type holding b
                    partners = can[:, b] & ~can[:, b_out] & rates.partner_ok[e]
                    if partners.any():
                        can[partners, b_out] = changed = True
    return can


def initial_occupation(scenario: Scenario, mechanism: Mechanism, lattice: Lattice) -> np.ndarray:
    """Species on each site at t = 0: ``substrate.initial`` maps site types to species."""
    occupation = np.zeros(lattice.n_sites, dtype=np.uint8)
    names = lattice.site_type_names
    for site_type, species in scenario.substrate.initial.items():
        occupation[lattice.site_type == names.index(site_type)] = mechanism.species.index(species)
    return occupation


def max_site_rate(rate: np.ndarray, mechanism: Mechanism, degree: int) -> float:
    """An upper bound of any site's total rate [1/s] for one phase's rate table [e, t, n]."""
    per_event = rate.reshape(rate.shape[0], -1).max(axis=1) * np.where(mechanism.sites_per_event > 1,
                                                                        degree, 1)
    bound = 0.0
    for s in range(len(mechanism.species)):
        events = mechanism.event_order[mechanism.event_offset[s]:mechanism.event_offset[s + 1]]
        bound = max(bound, float(per_event[events].sum()))
    return bound


def thresholds(rate: np.ndarray, r_max: float, event_names: tuple[str, ...] = ()) -> np.ndarray:
    """Integer thresholds floor(k / R_max * 2^64) (uint64): a channel's probability once its site
    is a candidate of a sweep. Candidates have probability q = R_max * tau (see
    :func:`candidate_gaps`), so a channel happens with probability k * tau per sweep.

    Raises:
        ScenarioError: a nonzero rate so far below the fastest that 64 bits cannot resolve it.
    """
    from kmc_ald.errors import ScenarioError

    scaled = rate / r_max * _THRESHOLD_SCALE
    if scaled.max(initial=0.0) >= _TWO64:
        raise ValueError(f"a rate exceeds the bound R_max = {r_max:.6g} 1/s")
    tiny = (scaled > 0) & (scaled < MIN_THRESHOLD)
    if tiny.any():
        e = int(np.argwhere(tiny)[0][0])
        name = event_names[e] if e < len(event_names) else f"#{e}"
        raise ScenarioError(
            f"event {name!r}: its rate is {scaled[tiny].min() / _THRESHOLD_SCALE * r_max:.3g} "
            f"1/s, below the parallel solver's resolution next to the fastest site rate "
            f"({r_max:.3g} 1/s); use the exact solver for mechanisms spanning more than about "
            "14 orders of magnitude")
    return np.floor(scaled).astype(np.uint64)


def candidate_gaps(q: float, domain_size: int) -> np.ndarray:
    """The parallel sweep's gap table (uint32 [domain_size], decreasing): entry g - 1 is
    floor((1 - q)^g 2^32).

    A sweep skips from one candidate site to the next by a geometric gap, P(gap >= g) = (1 - q)^g:
    the gap is the number of leading entries above a uniform 32-bit number. Gaps of a whole
    domain or more all end the domain, so the table stops there; its length is a power of two,
    so that the backends count the entries with a fixed number of halvings.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"candidate probability must lie in (0, 1), got {q}")
    if domain_size < 1 or domain_size & (domain_size - 1):
        raise ValueError(f"domain_size must be a power of two, got {domain_size}")
    g = np.arange(1, domain_size + 1, dtype=float)
    return np.floor(np.exp(g * np.log1p(-q)) * 2.0**32).astype(np.uint32)


def sweep_schedule(rate: np.ndarray, duration: float, mechanism: Mechanism, degree: int,
                   step_probability: float) -> tuple[int, float, float]:
    """The parallel solver's time steps over ``duration`` [s] at the rates ``rate`` [e, t, n]
    (one phase's table, possibly stiffness-scaled): (sweeps, tau [s], R_max [1/s]).

    tau is the largest step with R_max * tau <= step_probability that divides the duration into
    whole sweeps; if nothing can happen, or no time is left, there are no sweeps (tau infinite).

    Raises:
        ScenarioError: more sweeps than :data:`MAX_SWEEPS` (or infinitely many).
    """
    from kmc_ald.errors import ScenarioError

    r_max = max_site_rate(rate, mechanism, degree)
    if r_max <= 0.0 or duration <= 0.0:
        return 0, float("inf"), r_max
    exact = np.ceil(duration * r_max / step_probability)
    if not np.isfinite(exact) or exact > MAX_SWEEPS:
        raise ScenarioError(f"{r_max:.3g} 1/s over {duration:.6g} s needs {exact:.3g} sweeps of "
                            f"the parallel solver (at most {MAX_SWEEPS:.3g}); use the exact "
                            "solver, or shorten the phase")
    sweeps = max(1, int(exact))
    return sweeps, duration / sweeps, r_max
