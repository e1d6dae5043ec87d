"""Translate the event table of the SPPARKS ALD application's HfO2 example into kmc-ald events.

``python scenarios/tools/spparks_ald_events.py CHECKOUT/examples/ald-HfO2/in.ald
[--into scenarios/hfo2_tdmah_h2o.yaml] [--as-run]`` prints the ``events:`` list of
hfo2_tdmah_h2o (or writes it into the scenario, between ``events:`` and ``recipe:``), each event
naming the in.ald lines it comes from; ``--as-run`` prints instead the type-3 events whose
phases SPPARKS changes (app_ald.cpp line 577 gates its m-th type-3 event with the pressure flag
of its m-th type-2 event), as bench/peers/spparks_hfo2.py's AS_RUN_PHASES.

The rules (the scenario's description says why):

* An in.ald line ``event 1 A B  k n E coord p`` is ``A -> B``; ``event 2 A B C D ...`` is
  ``A + C -> B + D`` with the partner on the second shell; ``event 3`` the same on the first
  shell. The rate is k exp(-E/kT) per site (n is 0 throughout); an adsorption's rate is per
  site while its gas is on (pressure flag 1: TDMAH, 2: water), other flagged events get
  ``phases``.
* SPPARKS' coordination c of the first site becomes a bonds window: on an O position the
  densified Hf around it, c - (1 for a fragment on it) - (1 on O_term, 2 on O_bridge, 0 in the
  volume); on a Hf position the O, OH and OH2 around it, c - (ligands X). c = 0 is no window.
* A positive c requires no mask (coordination - 10 per fragment within four hops): a four-hop
  footprint blocked by the fragments on O and the densified HfX2. Lines that differ only in c,
  c - 10, c - 20, ... (the same rate with up to three masks) are one event without footprint.
* Ligands leave as dimethylamine (HNMe2); TDMAH and water leave as themselves.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

#: Fragments on an O position (they and the densified HfX2 mask the O positions around them).
ON_O = ("HfX4O HfX4OH HfHX4O HfHX4OH HfH2X4O HfH2X4OH HfH3X4O HfH3X4OH HfH4X4O HfH4X4OH "
        "HfX3O HfX3OH HfHX3O HfHX3OH HfH2X3O HfH2X3OH HfH3X3O HfH3X3OH "
        "HfX2O HfX2OH HfHX2O HfHX2OH HfH2X2O HfH2X2OH").split()
ON_HF = "HfX2 HfHX2 HfH2X2 HfHX HfX Hf OH2HfX OH2HfHX OH2Hf".split()
O_FILLED = ["O", "OH", "OH2"]
MASKING = ON_O + ["HfX2", "HfHX2", "HfH2X2"]
O_SPECIES = set(O_FILLED + ON_O)
#: Hf bonds of each kind of O position into the substrate (SPPARKS' starting coordination).
BASE = {"O_site": 0, "O_term": 1, "O_bridge": 2}
PHASE = {1: "tdmah_pulse", 2: "h2o_pulse"}
TITLES = {
    "adsorption of metal": "TDMAH adsorption on a coordination-1 O or OH, and its desorption",
    "Hydrogen diffusion from oxygen to Ligand_":
        "proton transfer from the hydroxyl under a fragment to its ligands",
    "first desorption": "elimination of the first protonated ligand (HX)",
    "second desorption": "elimination of the second ligand",
    "third desorption":
        "ligand elimination from densified Hf (HfX2 -> HfX -> Hf), by coordination",
    "make site active": "re-activation after densification (artificial in the source table)",
    "water decomp": "water dissociation on a neighbouring O (second shell): O + OH2 -> 2 OH",
    "water adsorption type II":
        "water adsorption on a HfX / HfHX next to another (cooperative, second shell)",
    "water adsorption typeI": "water adsorption on bare Hf",
    "water desorption": "water desorption from bare Hf",
    "Hydrogen diffusion from oxygen to oxygen":
        "proton hops between O (second shell), and between a fragment's O and a hydroxyl",
    "Hydrogen diffusion from oxygen to Ligand (test":
        "proton transfer from a hydroxyl (second shell) to a fragment's ligands",
    "these should change":
        "proton transfer to three-ligand fragments (marked in the source table as not accurate)",
    "the water densification":
        "water densification: adsorbed water moves onto a vacant O position (first shell)",
    "the reverse of water densification": "reverse water densification",
    "Hydrogen diffusion from oxygen to Ligand6":
        "proton transfer between a densified Hf's ligands and a neighbouring O",
    "Hf densification": "Hf densification: a two-ligand fragment moves onto a vacant Hf position",
    "Hf reverse densification": "reverse Hf densification (coordination 3 and 4)",
}


@dataclass
class Line:
    number: int
    kind: int  # 1: one site, 2: second-shell pair, 3: first-shell pair
    sites_in: tuple[str, ...]
    sites_out: tuple[str, ...]
    prefactor: str  # as written in in.ald [1/s]
    barrier: str  # [eV]
    coord: int
    flag: int  # 0 always, 1 TDMAH pulse, 2 water pulse
    section: str
    flag_as_run: int | None = None


def ligands(species: str) -> int:
    m = re.search(r"X(\d?)", species)
    return 0 if not m else int(m.group(1) or 1)


def parse(text: str) -> list[Line]:
    lines, section = [], ""
    for number, raw in enumerate(text.splitlines(), 1):
        t = raw.strip()
        if t.startswith("#") and not t.startswith("#event"):
            section = t.lstrip("#").strip()
        if not t.startswith("event"):
            continue
        p = t.split()
        if p[1] == "1":
            lines.append(Line(number, 1, (p[2],), (p[3],), p[4], p[6], int(p[7]), int(p[8]),
                              section))
        else:
            lines.append(Line(number, int(p[1]), (p[2], p[4]), (p[3], p[5]), p[6], p[8],
                              int(p[9]), int(p[10]), section))
    flags = [line.flag for line in lines if line.kind == 2]
    for m, line in enumerate(line for line in lines if line.kind == 3):
        line.flag_as_run = flags[m]  # app_ald.cpp line 577 reads dpresson[m]
    return lines


def _equation(line: Line) -> str:
    a, b = line.sites_in[0], line.sites_out[0]
    gas_in = gas_out = ""
    if line.kind == 1 and line.flag == 1 and a in ("O", "OH") and b.startswith("HfX4"):
        gas_in = "TDMAH(g) + "
    if line.flag == 2 and b.startswith("OH2") and not a.startswith("OH2"):
        gas_in = "H2O(g) + "
    if line.flag == 2 and a.startswith("OH2") and not b.startswith("OH2"):
        gas_out = " + H2O(g)"
    if line.kind == 1 and not line.flag and a.startswith("OH2Hf") and b == "Hf":
        gas_out = " + H2O(g)"
    if line.kind == 1 and ligands(b) < ligands(a) and not gas_out:
        gas_out = " + HNMe2(g)"
    if line.kind == 3 and line.sites_in[1] == "VAC" and ligands(line.sites_out[1]) < ligands(a):
        gas_out = f" + {ligands(a) - ligands(line.sites_out[1])} HNMe2(g)"
    if line.kind == 1 and a in ("HfX4O", "HfX4OH") and b in ("O", "OH"):
        gas_out = " + TDMAH(g)"
    left = " + ".join("*" if s == "VAC" else s for s in line.sites_in)
    right = " + ".join("*" if s == "VAC" else s for s in line.sites_out)
    return f"{gas_in}{left} -> {right}{gas_out}"


def _window(species: str, coord: int) -> tuple[dict[str, int], list[str]]:
    """Bond counts per site type that give SPPARKS' coordination ``coord``, and the types."""
    if species in O_SPECIES:
        own = 1 if species in ON_O else 0
        per = {t: coord - own - b for t, b in BASE.items() if coord - own - b >= 0}
        return per, list(per)
    return {"Hf_site": coord - ligands(species)}, ["Hf_site"]


def translate(lines: list[Line]) -> tuple[str, dict[str, int]]:
    """The events block (YAML text) and, by event name, the flag SPPARKS runs it with where it
    differs from the table's."""
    groups: dict[tuple, list[Line]] = {}
    for line in lines:
        c = line.coord if line.coord >= 0 else line.coord % 10  # c - 10 k: k masks
        key = (line.kind, line.sites_in, line.sites_out, line.prefactor, line.barrier,
               line.flag, c, line.flag_as_run)
        groups.setdefault(key, []).append(line)
    out, names, as_run, section = [], set(), {}, None
    aliases = {"hf_neighbours": ON_HF, "o_neighbours": O_FILLED, "masking": MASKING}
    for (kind, sites_in, sites_out, _, _, _, c, _), group in groups.items():
        line = group[0]
        if line.section != section:
            section = line.section
            title = next(v for k, v in TITLES.items() if section.startswith(k))
            out.append(f"  # --- {title} ---")
        base = "_".join("vac" if s == "VAC" else s for s in sites_in) + "_to_" + "_".join(
            "vac" if s == "VAC" else s for s in sites_out)
        name, k = base + (f"_c{c}" if c else ""), 2
        while name in names:
            name, k = f"{base}_c{c}_{k}" if c else f"{base}_{k}", k + 1
        names.add(name)
        a = sites_in[0]
        rows = [f"  - name: {name}", f'    equation: "{_equation(line)}"',
                f"    rate: {{A: {line.prefactor.replace('E', 'e')} 1/s, Ea: {line.barrier} eV}}"]
        if c:
            per, types = _window(a, c)
            limits = "{" + ", ".join(f"{t}: {v}" for t, v in per.items()) + "}"
            alias = "*hf_neighbours" if a in O_SPECIES else "*o_neighbours"
            rows.append(f"    bonds: {{with: {alias}, min: {limits}, max: {limits}}}")
            if a in O_SPECIES and all(g.coord > 0 for g in group):
                rows.append("    footprint: {shells: 4, blocked_by: *masking}")
            rows.append(f"    site_types: [{', '.join(types)}]")
        if kind == 2:
            rows.append("    partner: {shell: 2}")
        elif kind == 3 and sites_in[1] == "VAC":
            types = "Hf_site" if sites_out[1] in ON_HF else "O_site, O_term, O_bridge"
            rows.append(f"    partner: {{site_types: [{types}]}}")
        if line.flag and not _equation(line).startswith(("TDMAH(g)", "H2O(g)")):
            rows.append(f"    phases: [{PHASE[line.flag]}]")
        note = (f"    # in.ald line {', '.join(str(g.number) for g in group)}: coordination "
                f"{', '.join(str(g.coord) for g in group)}")
        if line.flag_as_run is not None and line.flag_as_run != line.flag:
            as_run[name] = line.flag_as_run
            note += ("; SPPARKS runs it " + ("in the water pulse only" if line.flag_as_run == 2
                                             else "in every phase") + " (app_ald.cpp line 577)")
        rows.append(note)
        out.append("\n".join(rows))
    text = "\n".join(out)
    for alias, items in aliases.items():  # the first use defines the YAML anchor
        text = text.replace("*" + alias, f"&{alias} [{', '.join(items)}]", 1)
    return text + "\n", as_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("in_ald", type=Path, help="examples/ald-HfO2/in.ald of a checkout")
    parser.add_argument("--into", type=Path, help="a scenario whose events block to replace")
    parser.add_argument("--as-run", action="store_true",
                        help="print the type-3 events SPPARKS gates otherwise")
    args = parser.parse_args()
    events, as_run = translate(parse(args.in_ald.read_text()))
    if args.as_run:
        for name, flag in as_run.items():
            print(name, PHASE.get(flag, "every phase"))
    elif args.into:
        text = args.into.read_text()
        start, stop = text.index("\nevents:\n") + len("\nevents:\n"), text.index("\nrecipe:")
        args.into.write_text(text[:start] + events + text[stop:])
        print(f"{args.into}: {events.count('  - name:')} events")
    else:
        sys.stdout.write(events)


if __name__ == "__main__":
    main()
