"""The import rules of DESIGN.md and STYLE.md ("Layers"), enforced on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[2] / "agent"

# layer -> agent sub-packages it must not import
FORBIDDEN = {
    "pki": {"server", "datastore", "ops"},
    "datastore": {"server", "ops", "pki"},
    "ops": {"server"},
    "server": set(),
}
LEAVES = {"errors", "xmlutil", "clock", "durable"}
# outside library -> the only modules allowed to import it
SOLE_IMPORTER = {
    "asyncssh": {"agent/server/transport.py"},
    "pyang": {"agent/datastore/schema.py"},
}
PKI_ONLY = {"cryptography", "asn1crypto", "pyasn1"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _modules() -> list[Path]:
    return sorted(AGENT.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(AGENT)))
def test_layering(path: Path) -> None:
    rel = path.relative_to(AGENT.parent).as_posix()
    parts = path.relative_to(AGENT).parts
    layer = parts[0] if len(parts) > 1 else None
    for mod in _imports(path):
        top = mod.split(".")[0]
        if top == "agent":
            sub = mod.split(".")[1] if "." in mod else ""
            if layer in LEAVES or (layer is None and path.stem in LEAVES):
                assert sub == "", f"{rel}: leaf module imports {mod}"
            if layer in FORBIDDEN:
                assert sub not in FORBIDDEN[layer], f"{rel} must not import {mod}"
        if top in SOLE_IMPORTER:
            assert rel in SOLE_IMPORTER[top], f"{rel} imports {top}; only {SOLE_IMPORTER[top]} may"
        if top in PKI_ONLY:
            assert layer == "pki", f"{rel} imports {top}; only agent/pki may"
        if layer == "pki":
            assert top != "lxml", f"{rel}: pki must not import lxml"
