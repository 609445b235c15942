"""The layers of DESIGN.md §2, read from the code: a module imports only its
own layer and the layers below; shared money constants are defined once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {
    "loyalty": 1,
    "members": 2,
    "rewards": 3,
    "campaigns": 4,
    "purchases": 5,
    "analytics": 6,
    "demo": 7,
}
# Configuration may name every app.
WIRING = {"loyalty/settings.py", "loyalty/urls.py"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_no_module_imports_a_layer_above_its_own(package):
    above = []
    for path in modules(package):
        name = path.relative_to(ROOT).as_posix()
        if name in WIRING:
            continue
        above += [
            f"{name}:{line} imports {module}"
            for line, module in imported(path)
            if LAYERS.get(module.split(".")[0], 0) > LAYERS[package]
        ]
    assert above == []


@pytest.mark.parametrize("constant", ["CENT", "MONEY"])
def test_money_constants_are_defined_once_in_loyalty_money(constant):
    defined = []
    for package in LAYERS:
        for path in modules(package):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                targets = node.targets if isinstance(node, ast.Assign) else []
                if isinstance(node, ast.AnnAssign):
                    targets = [node.target]
                if any(isinstance(t, ast.Name) and t.id == constant for t in targets):
                    defined.append(path.relative_to(ROOT).as_posix())
    assert defined == ["loyalty/money.py"]
