"""Write ``hfo2_001_slab.extxyz``: the monoclinic HfO2 (001) slab of the ``hfo2_tdmah_h2o``
scenario, built from the crystal structure with ASE.

Baddeleyite-type HfO2, P2_1/c, a = 5.117, b = 5.1754, c = 5.2915 Å, beta = 99.216 deg, Hf, O1
and O2 on 4e sites (Ruh & Corfield, J. Am. Ceram. Soc. 53, 126 (1970)), cut along (001) with
``ase.build.surface``: the c axis becomes the surface normal and the slab is a stack of periods
of 2.61 Å, each two Hf levels and four O levels (threefold O, two fourfold O, threefold O).

The slab is the substrate below, the layer of O atoms that bonds to both (the starting
surface) and an empty growth volume above, in which every Hf and O position is a site:

* ``tags``: 1 for a site, 0 for a substrate atom (kept for export only).
* ``site_type``: ``Hf_site`` and ``O_site`` in the growth volume. A surface O with two or more
  bonds open to the growth volume is ``O_term``, a hydroxyl of coordination 1 at the start; one
  with a single open bond is ``O_bridge``, a bridging O of coordination 2. This is how the
  HfO2 example of the SPPARKS ALD application assigns its starting surface (its site file gives
  OH and coordination 1 to every surface O with two or three neighbours, O and coordination 2
  to those with one); on this cut it gives 3 OH for each bridging O, 11.3 OH/nm^2.

Run from anywhere: ``python scenarios/structures/make_hfo2_slab.py``. The output is committed;
rerun only to change the slab (``--cells``, ``--periods``).
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

HF_O_CUTOFF = 2.5  # Å: Hf-O bonds in baddeleyite are 2.03-2.25 Å, the next Hf-O 3.7 Å
SUBSTRATE_PERIODS = 2


def monoclinic_hfo2():
    from ase.spacegroup import crystal

    return crystal(["Hf", "O", "O"], basis=[(0.2759, 0.0412, 0.2078), (0.0690, 0.3315, 0.3467),
                                            (0.4497, 0.7576, 0.4800)],
                   spacegroup=14, cellpar=[5.117, 5.1754, 5.2915, 90, 99.216, 90])


def build(cells: int = 8, periods: int = 5):
    """The slab: ``cells`` x ``cells`` surface cells, ``periods`` periods of growth volume."""
    from ase.build import surface
    from ase.neighborlist import neighbor_list

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ASE's note on the vacuum argument
        # one layer of surface() is a conventional cell: two periods
        slab = surface(monoclinic_hfo2(), (0, 0, 1), (SUBSTRATE_PERIODS + periods + 1) // 2 + 1,
                       vacuum=6.0)
    slab = slab.repeat((cells, cells, 1))
    slab.pbc = (True, True, False)
    symbols = np.array(slab.get_chemical_symbols())
    z = slab.positions[:, 2]
    hf_levels = np.unique(np.round(z[symbols == "Hf"], 3))
    cut = hf_levels[2 * SUBSTRATE_PERIODS] - 0.05  # below the first Hf pair of the growth volume
    top = hf_levels[2 * (SUBSTRATE_PERIODS + periods)] - 0.05 if len(hf_levels) > 2 * (
        SUBSTRATE_PERIODS + periods) else np.inf
    slab = slab[z < top]
    symbols = np.array(slab.get_chemical_symbols())
    z = slab.positions[:, 2]
    growth = z > cut
    i, j = neighbor_list("ij", slab, {("Hf", "O"): HF_O_CUTOFF})
    o_surface = (symbols == "O") & ~growth
    up = np.bincount(i[growth[j] & (symbols[j] == "Hf")], minlength=len(slab))
    o_surface &= up > 0
    site_type = np.where(symbols == "Hf", "Hf_site", "O_site").astype("<U9")
    site_type[o_surface & (up >= 2)] = "O_term"
    site_type[o_surface & (up == 1)] = "O_bridge"
    site_type[~growth & ~o_surface] = "substrate"
    slab.set_tags((growth | o_surface).astype(int))
    slab.new_array("site_type", site_type)
    return slab


def main() -> None:
    import ase.io

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=8, help="surface cells along a and b")
    parser.add_argument("--periods", type=int, default=5, help="periods of growth volume")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("hfo2_001_slab.extxyz"))
    args = parser.parse_args()
    slab = build(args.cells, args.periods)
    ase.io.write(args.out, slab, format="extxyz")
    kinds, counts = np.unique(slab.arrays["site_type"], return_counts=True)
    print(f"{args.out}: {len(slab)} atoms,", ", ".join(f"{k} {c}" for k, c in zip(kinds, counts)))


if __name__ == "__main__":
    main()
