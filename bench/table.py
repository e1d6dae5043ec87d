"""Regenerate the results table in bench/README.md from the newest results JSON.

``python -m bench.table [--results bench/results] [--readme bench/README.md]`` replaces the text
between ``<!-- bench-table:start -->`` and ``<!-- bench-table:end -->``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
MODELS = {"langmuir": "Langmuir", "dda": "DDA (0 to 0.1 ML)"}


def newest(results: Path) -> Path:
    """The results file with the latest recorded date (file name as tie-break)."""
    files = sorted(results.glob("*.json"))
    if not files:
        raise SystemExit(f"no results JSON in {results}; run `python -m bench.run` first")

    def key(p: Path) -> tuple[str, str]:
        try:
            return json.loads(p.read_text(encoding="utf-8")).get("date", ""), p.name
        except (OSError, ValueError):
            return "", p.name
    return max(files, key=key)


def render(result: dict, name: str) -> str:
    m = result["machine"]
    where = f"{m['cpu_model']}, {m['cpu_count']} cores (1 used), host {m['host']}"
    lines = [
        f"Results: `{name}`, {result['date']}, git `{result['git_sha'][:12]}` (exact.py sha256 "
        f"`{result.get('exact_solver_sha256', '?')}`); {where}; "
        f"Python {m['python']}, NumPy {m['numpy']}, numba {m['numba']}.",
        "",
        "| model | sites | events timed | kmc-ald events/s (best; median) | reference events/s (best) "
        "| ratio | machine |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["cases"]["exact_throughput"]:
        k, ref = r["kmc_ald"], r["reference"]
        n = r["size"]
        lines.append(
            f"| {MODELS.get(r['model'], r['model'])} | {n[0]}² | {k['events']:,} "
            f"| {k['events_per_s'] / 1e6:.2f}e6; {k['events_per_s_median'] / 1e6:.2f}e6 "
            f"| {ref['events_per_s'] / 1e6:.2f}e6 | {r['ratio']:.2f} | {m['cpu_model']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.table", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--readme", type=Path, default=REPO / "bench" / "README.md")
    args = parser.parse_args(argv)
    path = newest(args.results)
    table = render(json.loads(path.read_text(encoding="utf-8")), path.name)
    text = args.readme.read_text(encoding="utf-8")
    if START not in text or END not in text or text.index(START) > text.index(END):
        raise SystemExit(f"{args.readme}: markers {START} ... {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    args.readme.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
