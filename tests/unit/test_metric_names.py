"""Metric names: emitted only as ``rooms.metric_names`` constants, every one documented, and the
dashboard / alarms built from the same constants."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from rooms import metric_names

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "layers" / "rooms" / "python" / "rooms").rglob("*.py")) + sorted(
    (ROOT / "functions").glob("*/handler.py"))


def _emitted() -> list[tuple[str, ast.expr]]:
    """(file, name expression) of every ``add_metric(name=...)`` call."""
    out = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_metric":
                name = next(k.value for k in node.keywords if k.arg == "name")
                out.append((path.name, name))
    return out


def _constants(expr: ast.expr) -> list[str]:
    """The metric_names constants an expression picks from (``a if c else b`` gives both)."""
    if isinstance(expr, ast.IfExp):
        return _constants(expr.body) + _constants(expr.orelse)
    assert isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name), ast.unparse(expr)
    assert expr.value.id == "metric_names", ast.unparse(expr)
    return [expr.attr]


def test_every_metric_is_emitted_through_a_constant_and_every_constant_is_emitted():
    emitted = {c for _, expr in _emitted() for c in _constants(expr)}
    assert len(_emitted()) > 30
    constants = {k for k, v in vars(metric_names).items() if k.isupper() and isinstance(v, str)}
    assert emitted == constants


def _names() -> set[str]:
    return {v for k, v in vars(metric_names).items() if k.isupper() and isinstance(v, str)}


def test_every_metric_is_documented_in_the_architecture():
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = doc[doc.index("## Metrics"):doc.index("## Events")]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Za-z]+)`", cell)}
    assert _names() <= documented, _names() - documented
    assert documented <= _names(), documented - _names()


def test_the_monitoring_construct_reads_the_same_constants():
    source = (ROOT / "infra" / "constructs" / "monitoring.py").read_text()
    assert "from rooms import metric_names" in source
    assert not re.search(r'^METRIC_\w+ = "', source, re.M)  # no name typed twice
