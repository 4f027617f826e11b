"""Packages whose ``__init__`` only re-exports its submodules, made lazy.

Powertools' ``aws_lambda_powertools.event_handler`` imports every resolver at package import (AppSync's
pulls in ``asyncio`` and ``ssl``; Bedrock's, VPC Lattice's and the rest come too), and
``aws_lambda_powertools.utilities.data_classes`` imports every event source's class (CodePipeline's
pulls in ``zipfile``). Python runs a package's ``__init__`` before any of its submodules, so importing
only ``event_handler.api_gateway`` still pays for all of it, on every cold start of every function
(``make bench BENCH=cold_start``: about 6% of the baseline ``import boto3; boto3.client("dynamodb")``
on the token path). Neither Powertools nor the standard library offers a lazy form of such a package
(``importlib.util.LazyLoader`` defers a module's body until first attribute access, and the first
``from pkg.sub import x`` is such an access), hence this module.

``lazy_package(name)`` puts the package in ``sys.modules`` without running its ``__init__``: the
submodules import as usual, and a name the ``__init__`` re-exports (``from pkg import Response``,
which Powertools' own modules do) is imported from its submodule on first use (PEP 562
``__getattr__``). It is applied only to an ``__init__`` that holds nothing but a docstring, imports and
``__all__``: any other statement there could matter, so such a package is imported as it is. A package
already imported is left alone.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

POWERTOOLS_EVENT_HANDLER = "aws_lambda_powertools.event_handler"
POWERTOOLS_DATA_CLASSES = "aws_lambda_powertools.utilities.data_classes"


def reexports(package: str, source: str) -> dict[str, str] | None:
    """{name: the module it comes from} of an ``__init__`` made only of a docstring, imports and
    ``__all__``; None if it holds anything else (or a star import)."""
    where: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # the docstring
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        if isinstance(node, ast.ImportFrom) and node.level <= 1 and node.module:
            module = node.module if node.level == 0 else f"{package}.{node.module}"
            for alias in node.names:
                if alias.name == "*":
                    return None
                where[alias.asname or alias.name] = module
            continue
        return None
    return where


def lazy_package(name: str) -> ModuleType:
    """The package ``name``, in ``sys.modules``, with its re-exports resolved on first use."""
    if name in sys.modules:
        return sys.modules[name]
    parent, _, child = name.rpartition(".")
    parent_module = importlib.import_module(parent) if parent else None
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        return importlib.import_module(name)
    with open(spec.origin, encoding="utf-8") as init:
        where = reexports(name, init.read())
    if where is None:
        return importlib.import_module(name)
    module = importlib.util.module_from_spec(spec)

    def __getattr__(attribute: str) -> Any:  # PEP 562
        source = where.get(attribute)
        if source is None:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        value = getattr(importlib.import_module(source), attribute)
        setattr(module, attribute, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__all__ = sorted(where)
    sys.modules[name] = module
    if parent_module is not None:
        setattr(parent_module, child, module)
    return module
