"""The translation of a SPPARKS ALD event table into kmc-ald events
(scenarios/tools/spparks_ald_events.py), on a table written here in in.ald's format: the
coordination becomes a bonds window per site type, a positive one a four-hop footprint, masked
variants one event, and the type-3 events' gating as SPPARKS runs it follows the type-2 flags."""
from __future__ import annotations

import importlib.util
import sys

from kmc_ald.scenario.load import loads_scenario
from tests.conftest import SCENARIOS

spec = importlib.util.spec_from_file_location(
    "spparks_ald_events", SCENARIOS / "tools" / "spparks_ald_events.py")
tool = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = tool  # its dataclass looks its module up
spec.loader.exec_module(tool)

TABLE = """\
# adsorption of metal precursor
event 1 OH HfX4OH 44879.2 0 0.00 1 1 ads
event 1 HfHX4O HfX3O 1.0E13 0 0.89 2 0 elim
# third desorption
event 1 HfH2X2 HfHX 1.0E13 0 0.30 5 0 third
# water adsorption type II
event 2 HfX OH2HfX HfX HfX 2.0E5 0 0.00 4 2 w2
# water decompostion
event 2 O OH OH2 OH 1.0E13 0 0.40 1 0 wd
event 2 O OH OH2 OH 1.0E13 0 0.40 -9 0 wd
event 2 O OH OH2 OH 1.0E13 0 0.40 -19 0 wd
# Hf densification
event 3 HfX2O O VAC HfX2 1.0E13 0 0.20 0 0 dens
event 3 HfH4X4O O VAC HfH2X2 1.0E13 0 0.20 0 0 dens4
"""


def test_coordination_becomes_a_window_per_site_type_and_masks_a_footprint():
    lines = tool.parse(TABLE)
    events, as_run = tool.translate(lines)
    by_name = {e.split("\n")[0].split(": ")[1]: e for e in events.split("  - name: ")[1:]
               for e in ["  - name: " + e]}
    ads = by_name["OH_to_HfX4OH_c1"]
    # coordination 1 on an OH: no Hf around it on O_term (1 substrate bond), one in the volume
    assert "min: {O_site: 1, O_term: 0}" in ads and "site_types: [O_site, O_term]" in ads
    assert "footprint: {shells: 4" in ads and "TDMAH(g) + OH -> HfX4OH" in ads
    # coordination 2 on a fragment: the fragment's own Hf counts one
    elim = by_name["HfHX4O_to_HfX3O_c2"]
    assert "min: {O_site: 1, O_term: 0}" in elim and "+ HNMe2(g)" in elim
    # on a Hf position: coordination 5 of HfH2X2 (two ligands) is three O around it
    assert "min: {Hf_site: 3}" in by_name["HfH2X2_to_HfHX_c5"]
    # c, c - 10, c - 20: one event, masks ignored (no footprint)
    wd = by_name["O_OH2_to_OH_OH_c1"]
    assert "line 9, 10, 11: coordination 1, -9, -19" in wd and "footprint" not in wd
    assert "partner: {shell: 2}" in wd
    assert by_name["HfX_HfX_to_OH2HfX_HfX_c4"].count("H2O(g) + HfX + HfX") == 1
    dens4 = by_name["HfH4X4O_vac_to_O_HfH2X2"]
    assert "+ 2 HNMe2(g)" in dens4 and "partner: {site_types: [Hf_site]}" in dens4
    # type-3 event m runs with type-2 event m's flag: the first with the water adsorption's 2
    # (the water pulse only), the second with the water dissociation's 0 (as written)
    assert as_run == {"HfX2O_vac_to_O_HfX2": 2}
    assert "SPPARKS runs it in the water pulse only" in by_name["HfX2O_vac_to_O_HfX2"]
    assert "SPPARKS runs it" not in dens4


def test_the_bundled_scenario_carries_the_gating_the_bench_applies():
    """Every event the peer benchmark re-gates is a type-3 event of the scenario whose note
    says SPPARKS runs it otherwise."""
    from bench.peers.spparks_hfo2 import AS_RUN_PHASES

    text = (SCENARIOS / "hfo2_tdmah_h2o.yaml").read_text()
    noted = {block.split("\n")[0] for block in text.split("  - name: ")[1:]
             if "app_ald.cpp line 577" in block}
    assert noted == set(AS_RUN_PHASES)


def test_the_translated_events_are_a_valid_scenario():
    events, _ = tool.translate(tool.parse(TABLE))
    species = sorted({*tool.ON_O, *tool.ON_HF, *tool.O_FILLED})
    text = f"""
description: translated
substrate: {{lattice: square, size: [4, 4], site_types: {{O_term: 0.25, O_bridge: 0.25,
                                                           Hf_site: 0.25}}}}
species: [{", ".join(species)}]
gases: {{TDMAH: {{formula: C8H24N4Hf}}, H2O: {{formula: H2O}}, HNMe2: {{formula: C2H7N}}}}
events:
{events}
recipe:
  temperature: 551 K
  cycles: 1
  phases:
    - {{name: tdmah_pulse, duration: 1e-4 s, gas: {{TDMAH: 1 Pa}}}}
    - {{name: h2o_pulse, duration: 1e-4 s, gas: {{H2O: 1 Pa}}}}
"""
    sc = loads_scenario(text, "translated.yaml")
    assert len(sc.events) == 7
