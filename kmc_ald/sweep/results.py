"""A sweep's results: the sweep file (HDF5), the tidy table, and the figures of the answer.

``sweep.h5`` holds, per finished point, its axis values and per-cycle statistics as
mean ± standard error over replicas (and every replica's values). The tidy table has one row per
point × cycle: the axis values as columns (numbers, with the unit in the column name where the
axis has one), the cycle, and each observable's mean and standard error, units in the names.

Layout of ``sweep.h5``::

    attrs: kind = "kmc_ald sweep", sweep (the sweep file's text), scenario (the base scenario's
           text), axes (JSON list of paths), replicas, seed, failed (JSON {index: error})
    points/<index>/  attrs values (JSON), overrides (JSON), key, events, wall_time [s];
                     <observable>/mean, <observable>/sem [cycle] and <observable>/replicas
                     [cycle, replica], with attrs units; coverage_end_of_cycle [cycle, replica,
                     species] (attr species)
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import h5py

from kmc_ald.analysis.cycles import COLUMNS, mean_sem
from kmc_ald.errors import RunFileError
from kmc_ald.sweep.spec import Sweep

_QUANTITY = re.compile(r"^\s*([-+0-9.eE]+)\s*(.*?)\s*$")


def write_sweep_file(sweep: Sweep, folder: Path, keys: dict[int, str]) -> Path:
    """Collect every finished point of ``folder/points`` into ``folder/sweep.h5`` (atomically)."""
    from kmc_ald.sweep.run import _atomic_write

    species = sweep.scenario(sweep.points[0]).species_names  # with the sweep's overrides
    failed = {}
    for point in sweep.points:
        path = folder / "points" / f"{keys[point.index]}.failed.txt"
        if path.exists():
            failed[point.index] = path.read_text()

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as out:
            out.attrs.update(kind="kmc_ald sweep", sweep=sweep.text, scenario=sweep.scenario_text,
                             axes=json.dumps(sweep.axis_names), replicas=sweep.spec.replicas,
                             seed=sweep.spec.seed, failed=json.dumps(failed))
            group = out.create_group("points")
            for point in sweep.points:
                path = folder / "points" / f"{keys[point.index]}.h5"
                if not path.exists():
                    continue
                g = group.create_group(str(point.index))
                with h5py.File(path, "r") as f:
                    g.attrs.update(dict(f.attrs), key=keys[point.index])
                    for name in f:
                        data = f[name][()]
                        if name == "coverage_end_of_cycle":
                            g.create_dataset(name, data=data).attrs["species"] = json.dumps(
                                list(species))
                            continue
                        mean, sem = mean_sem(data, axis=1)
                        g.create_dataset(f"{name}/mean", data=mean)
                        g.create_dataset(f"{name}/sem", data=sem)
                        g.create_dataset(f"{name}/replicas", data=data)
                        g[name].attrs["units"] = COLUMNS[name].units
    target = folder / "sweep.h5"
    _atomic_write(target, write)
    return target


def _sweep_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "sweep.h5"
    if not path.exists():
        raise RunFileError(f"{path}: no sweep file (run the sweep first: kmc-ald sweep run)")
    return path


def _axis_column(name: str, values: list[str]) -> tuple[str, list]:
    """The axis as numbers with the unit in the column name, when every value is a number
    in one unit; else the values as given."""
    parsed = [_QUANTITY.match(v) for v in values]
    units = {m[2] for m in parsed if m}
    if all(parsed) and len(units) == 1:
        try:
            numbers = [float(m[1]) for m in parsed]
        except ValueError:
            return name, values
        unit = units.pop()
        return (f"{name} [{unit}]" if unit else name), numbers
    return name, values


def load_table(path: str | Path, observables: tuple[str, ...] | None = None):
    """The tidy table of a sweep (``sweep.h5`` or its folder) as a pandas DataFrame: one row per
    point x cycle; columns: point, the axes, cycle, then ``<observable> [units]`` and
    ``<observable> s.e. [units]``, and the final surface coverage per species."""
    import pandas as pd

    with h5py.File(_sweep_file(path), "r") as f:
        axes = json.loads(f.attrs["axes"])
        points = sorted(f["points"], key=int)
        values = {k: json.loads(f["points"][k].attrs["values"]) for k in points}
        columns: dict[str, list] = {"point": []}
        axis_names = []
        for a, name in enumerate(axes):
            label, numbers = _axis_column(name, [values[k][a] for k in points])
            axis_names.append((label, dict(zip(points, numbers))))
            columns[label] = []
        columns["cycle"] = []
        for k in points:
            g = f["points"][k]
            n = len(g["deposited/mean"])
            columns["point"] += [int(k)] * n
            for label, by_point in axis_names:
                columns[label] += [by_point[k]] * n
            columns["cycle"] += list(range(1, n + 1))
            from kmc_ald.sweep.run import OBSERVABLES
            names = observables or [name for name in OBSERVABLES if name in g]
            for name in names:
                units = g[name].attrs["units"]
                for stat, suffix in (("mean", ""), ("sem", " s.e.")):
                    columns.setdefault(f"{name}{suffix} [{units}]", []).extend(
                        g[f"{name}/{stat}"][()].tolist())
            coverage = g["coverage_end_of_cycle"]
            species = json.loads(coverage.attrs["species"])
            mean = coverage[()].mean(axis=1)
            for s, sp in enumerate(species):
                columns.setdefault(f"coverage {sp or 'empty'} [1]", []).extend(mean[:, s].tolist())
    return pd.DataFrame(columns)


def write_table(path: str | Path, output: str | Path) -> int:
    """Write the tidy table as CSV (``.csv``) or Parquet (``.parquet``, needs pyarrow); the
    number of rows."""
    output = Path(output)
    table = load_table(path)
    if output.suffix == ".parquet":
        try:
            table.to_parquet(output, index=False)
        except ImportError as err:
            raise RunFileError(f"Parquet needs pyarrow ({err}); pip install pyarrow, or write "
                               "a .csv") from None
    elif output.suffix == ".csv":
        table.to_csv(output, index=False)
    else:
        raise RunFileError(f"{output}: write the table as .csv or .parquet")
    return len(table)


def load_dataset(path: str | Path):
    """The tidy table as an xarray Dataset indexed by the axes and the cycle (needs xarray)."""
    try:
        import xarray  # noqa: F401 - pandas' to_xarray needs it
    except ImportError as err:
        raise RunFileError(f"load_dataset needs xarray ({err}): pip install xarray, or use "
                           "load_table for a pandas DataFrame") from None
    table = load_table(path)
    index = [c for c in table.columns[1:] if c != "cycle"][:_n_axes(path)] + ["cycle"]
    return table.drop(columns="point").set_index(index).to_xarray()


def _n_axes(path: str | Path) -> int:
    with h5py.File(_sweep_file(path), "r") as f:
        return len(json.loads(f.attrs["axes"]))
