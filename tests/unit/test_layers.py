"""Dependencies point one way: a module imports only from its own layer or the layers below.

The engine knows no file and no analysis: the run file, the trajectory stream and the per-cycle
statistics are observers of its recipe loop, in io and analysis above it, and kmc_ald.simulation
composes them. cli is the top and the only module that prints.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kmc_ald"
LAYERS = [
    {"units", "errors", "resources", "substrates", "__init__"},
    {"scenario"},
    {"surfaces", "model"},
    {"engine"},
    {"analysis"},
    {"io"},
    {"simulation", "sweep", "report", "cli"},
]


def layer_of(module: str) -> int:
    part = module.split(".")[1] if "." in module else "__init__"
    return next(i for i, names in enumerate(LAYERS) if part in names)


def imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kmc_ald"):
            yield node.module, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kmc_ald"):
                    yield alias.name, node.lineno


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    module = "kmc_ald." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    if module.endswith("__init__") and module.count(".") == 1:
        return  # the package root re-exports lazily
    here = layer_of(module)
    for target, line in imports(path):
        assert layer_of(target) <= here, f"{path.name}:{line} imports {target} (a higher layer)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_prints(path):
    if path.name == "cli.py":
        return
    calls = [n for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"]
    assert not calls, f"{path.name}:{calls[0].lineno} prints; library code returns data or logs"
