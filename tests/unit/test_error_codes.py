"""The error-code catalogue (rooms.errors.ERROR_CODES) is every code the API can answer, and nothing else:
read from the code itself (every ``code=`` given to an error, every error class's default, every literal
error body), so a new code that is not catalogued fails here. The catalogue is what docs/errors.md and the
OpenAPI document publish (``rooms openapi --check`` holds them to it)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from rooms.errors import ERROR_CODES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = sorted((ROOT / "layers" / "rooms" / "python" / "rooms").rglob("*.py"))
HANDLERS = sorted((ROOT / "functions").glob("*/handler.py"))
LOCAL = [ROOT / "rooms_local" / "gateway.py", ROOT / "rooms_local" / "auth.py"]


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def codes_in(source: str) -> set[str]:
    """Every error code a module can answer with, as literals:
    ``X(..., code="c")``, ``code = "c"`` in a class, ``error_response(status, "c", ...)``, ``{"code": "c"}``,
    ``AuthorizerDenied(message, "c")`` and the (error type, "c") pairs of the authorizer's table."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            found.update(c for k in node.keywords if k.arg == "code" and (c := _str(k.value)))
            name = ast.unparse(node.func)
            if name.endswith("error_response") and len(node.args) > 1 and (c := _str(node.args[1])):
                found.add(c)
            if name.endswith("AuthorizerDenied") and len(node.args) > 1 and (c := _str(node.args[1])):
                found.add(c)
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if (isinstance(stmt, ast.Assign) and [ast.unparse(t) for t in stmt.targets] == ["code"]
                        and (c := _str(stmt.value))):
                    found.add(c)
        elif isinstance(node, ast.Dict):
            found.update(c for k, v in zip(node.keys, node.values, strict=True)
                         if _str(k) == "code" and (c := _str(v)))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            positional = node.args.args[len(node.args.args) - len(node.args.defaults):]
            pairs = [*zip(positional, node.args.defaults, strict=True),
                     *zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)]
            found.update(c for a, d in pairs if a.arg == "code" and (c := _str(d)))
        elif (isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[0], ast.Attribute)
              and ast.unparse(node.elts[0]).startswith("jwt.") and (c := _str(node.elts[1]))):
            found.add(c)
    return found


def answered_codes() -> set[str]:
    return {c for path in [*PACKAGE, *HANDLERS, *LOCAL] for c in codes_in(path.read_text())}


def test_every_code_the_api_answers_is_catalogued_and_every_catalogued_code_is_answered():
    answered = answered_codes()
    assert len(answered) > 70  # the scan did read the code
    assert sorted(answered - ERROR_CODES.keys()) == [], "answered but not in rooms.errors.ERROR_CODES"
    assert sorted(ERROR_CODES.keys() - answered) == [], "catalogued but nothing answers it"


def test_the_scan_finds_each_way_a_code_is_written():
    source = '''
class E(RoomsError):
    code = "class_default"
def f(code: str = "def_default"): ...
raise Conflict("x", code="keyword")
error_response(409, "positional", "m")
_json(405, {"code": "literal_body"})
raise AuthorizerDenied("m", "authorizer")
_DENIALS = ((jwt.DecodeError, "from_table"),)
'''
    assert codes_in(source) == {"class_default", "def_default", "keyword", "positional", "literal_body",
                                "authorizer", "from_table"}


def test_catalogue_entries_are_well_formed():
    for code, entry in ERROR_CODES.items():
        assert entry.code == code and code.islower() and " " not in code
        assert entry.statuses and all(400 <= s < 600 for s in entry.statuses), code
        assert entry.meaning.strip().endswith((".", ")")), code
        assert entry.source in ("api", "authorizer", "gateway"), code


def test_the_published_catalogue_is_the_registry():
    from rooms_local import openapi

    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"] == sorted(ERROR_CODES)
    assert {e["code"]: e["statuses"] for e in doc["x-error-codes"]} == {
        c: list(e.statuses) for c, e in ERROR_CODES.items()}
    published = (ROOT / "docs" / "errors.md").read_text()
    assert published == openapi.render_error_catalogue()
    for code in ERROR_CODES:
        assert f"`{code}`" in published
