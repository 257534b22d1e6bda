"""Subtree filtering: golden vectors (tests/vectors/filter/<case>/), the RFC 6241 §6.4
examples among them, plus properties the vectors cannot express."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from agent.datastore import schema as schema_mod
from agent.datastore.filter import subtree_filter
from agent.datastore.schema import Schema
from agent.xmlutil import Element, children, parse
from tests.xmlcompare import render

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
CASES = sorted(p.name for p in (VECTORS / "filter").iterdir() if p.is_dir())
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return schema_mod.load(VECTORS / "edit" / "yang")


def load(case: str, name: str) -> Element:
    return parse((VECTORS / "filter" / case / name).read_bytes())


def uses_schema(case: str) -> bool:
    path = VECTORS / "filter" / case / "options.txt"
    return path.is_file() and "schema: yes" in path.read_text()


@pytest.mark.parametrize("case", CASES)
def test_vector(case: str, schema: Schema) -> None:
    data = load(case, "data.xml")
    before = etree.tostring(data)
    given = schema if uses_schema(case) else None
    out = subtree_filter(data, load(case, "filter.xml"), schema=given)
    assert render(out) == render(load(case, "expected.xml"))
    assert etree.tostring(data) == before  # the datastore is only read


def test_rfc_examples_are_all_there() -> None:
    rfc = {c.split("-")[1] for c in CASES if c.startswith("rfc6241-")}
    assert rfc == {f"6.4.{n}" for n in range(2, 9)}


def test_output_is_a_new_tree_of_copies() -> None:
    data = load("rfc6241-6.4.3-entire-users-subtree", "data.xml")
    out = subtree_filter(data, load("rfc6241-6.4.3-entire-users-subtree", "filter.xml"))
    before = etree.tostring(data)
    assert out is not data and out.tag == data.tag
    for el in out.iter():
        el.text = "changed"
    assert etree.tostring(data) == before


def test_unqualified_filter_element_is_accepted() -> None:
    """Clients send <filter> without a namespace (INTEROP.md §2.3); only its children count."""
    data = load("rfc6241-6.4.5-one-user", "data.xml")
    plain = etree.fromstring(
        '<filter type="subtree"><top xmlns="http://example.com/schema/1.2/config">'
        "<users><user><name>fred</name></user></users></top></filter>"
    )
    expected = load("rfc6241-6.4.5-one-user", "expected.xml")
    assert render(subtree_filter(data, plain)) == render(expected)


def test_value_prefixes_survive_a_move_into_a_reply() -> None:
    data = load("value-prefix-declared-on-ancestor", "data.xml")
    out = subtree_filter(data, load("value-prefix-declared-on-ancestor", "filter.xml"))
    reply = etree.Element(f"{{{BASE}}}data", nsmap={None: BASE})
    for top in children(out):
        reply.append(top)
    alg = reply.find(".//{urn:example:edit}algorithm")
    assert alg is not None and alg.nsmap.get("et") == "urn:example:types"
