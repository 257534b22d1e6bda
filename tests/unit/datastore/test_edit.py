"""edit-config engine: golden vectors (tests/vectors/edit/<case>/) plus properties they
cannot express (idempotence, attribute spellings, check_value plumbing)."""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from lxml import etree

from agent.datastore import schema as schema_mod
from agent.datastore.edit import (
    EditResult,
    ErrorOption,
    Operation,
    ValueChecker,
    apply_edit,
)
from agent.datastore.index import EntryIndex
from agent.datastore.journal import Journal
from agent.datastore.schema import Kind, Schema, SchemaNode
from agent.datastore.stored import bind_module_prefixes
from agent.errors import InvalidValue, RpcError
from agent.xmlutil import Element, children, parse, split
from tests.xmlcompare import render

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "edit"
CASES = sorted(p.name for p in VECTORS.iterdir() if (p / "edit.xml").is_file())
EX = "urn:example:edit"
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"

_INT_BOUNDS = {"uint8": 255, "uint16": 65535, "uint32": 2**32 - 1}


@pytest.fixture(scope="module")
def schema() -> Schema:
    return schema_mod.load(VECTORS / "yang")


# -- canonical comparison ------------------------------------------------------------------


# -- reading a vector ------------------------------------------------------------------------


def load(case: str, name: str, schema: Schema | None = None) -> Element:
    """A vector file; a before.xml enters the datastore as store.py lets data in."""
    el = parse((VECTORS / case / name).read_bytes())
    if name == "before.xml":
        bind_module_prefixes(schema or schema_mod.load(VECTORS / "yang"), el)
    return el


def options(case: str) -> dict[str, str]:
    path = VECTORS / case / "options.txt"
    if not path.is_file():
        return {}
    pairs = (line.split(":", 1) for line in path.read_text().splitlines() if line.strip())
    return {k.strip(): v.strip() for k, v in pairs}


def expected_lines(case: str, name: str) -> list[str] | None:
    path = VECTORS / case / name
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def error_line(err: RpcError) -> str:
    return f"{err.tag} {err.app_tag or '-'} {err.path or '-'}"


def data_path(el: Element, schema: Schema) -> str:
    """The instance path of a data element, with key predicates, as errors spell it."""
    chain = [el, *el.iterancestors()][:-1]  # drop the datastore root
    sn: SchemaNode = schema.root
    parts = []
    for node in reversed(chain):
        child = sn.child(*split(node))
        assert child is not None
        sn = child
        part = f"{sn.prefix}:{sn.name}"
        if sn.kind is Kind.LIST:
            for k in sn.keys:
                part += f"[{sn.prefix}:{k}='{node.findtext(f'{{{sn.namespace}}}{k}').strip()}']"
        elif sn.kind is Kind.LEAF_LIST:
            part += f"[.='{(node.text or '').strip()}']"
        parts.append(part)
    return "/" + "/".join(parts)


def change_lines(result: EditResult, target: Element, schema: Schema) -> list[str]:
    lines = [f"changed {data_path(el, schema)}" for el in result.changed]
    for sn, parent in result.removed:
        where = "/" if parent is target else data_path(parent, schema)
        lines.append(f"removed {sn.path()} {where}")
    return lines


def make_checker(schema: Schema) -> ValueChecker:
    """A small stand-in for validate.py's type checks: integer ranges, booleans, empty and
    identityref bases (enough to see check_value errors flow through the engine)."""

    def check(node: SchemaNode, text: str, nsmap: Mapping[str | None, str]) -> RpcError | None:
        base = node.type.base if node.type else ""
        ok = True
        if base in _INT_BOUNDS:
            ok = text.isdigit() and int(text) <= _INT_BOUNDS[base]
        elif base == "boolean":
            ok = text in ("true", "false")
        elif base == "empty":
            ok = text == ""
        elif base == "identityref" and node.type is not None:
            prefix, _, name = text.rpartition(":")
            ident = (nsmap.get(prefix or None), name)
            ok = any(schema.derived_from(ident, b) for b in node.type.identity_bases)  # type: ignore[arg-type]
        return None if ok else InvalidValue(f"bad {base} value {text!r}")

    return check


def run_case(
    case: str, schema: Schema, journal: Journal | None = None, target: Element | None = None
) -> tuple[Element, EditResult]:
    opts = options(case)
    target = load(case, "before.xml") if target is None else target
    result = apply_edit(
        schema,
        target,
        load(case, "edit.xml"),
        default_operation=Operation(opts.get("default-operation", "merge")),
        error_option=ErrorOption(opts.get("error-option", "stop-on-error")),
        check_value=make_checker(schema),
        journal=journal,
    )
    return target, result


# -- the golden vectors ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_vector(case: str, schema: Schema) -> None:
    errors = expected_lines(case, "errors.txt")
    if errors is not None and options(case).get("error-option") != "continue-on-error":
        with pytest.raises(RpcError) as info:
            run_case(case, schema)
        assert [error_line(info.value)] == errors
        return
    target, result = run_case(case, schema)
    assert [error_line(e) for e in result.errors] == (errors or [])
    assert render(target) == render(load(case, "after.xml"))
    changes = expected_lines(case, "changes.txt")
    if changes is not None:
        assert change_lines(result, target, schema) == changes


def test_enough_vectors() -> None:
    assert len(CASES) >= 40


def test_every_vector_has_an_outcome() -> None:
    for case in CASES:
        names = {p.name for p in (VECTORS / case).iterdir()}
        assert "before.xml" in names, case
        assert names & {"after.xml", "errors.txt"}, case


# -- properties ------------------------------------------------------------------------------


def _edit(xml: str) -> Element:
    return etree.fromstring(xml)


def _target() -> Element:
    return load("merge-leaf-change", "before.xml")


def test_same_edit_twice_is_byte_identical_and_reports_nothing(schema: Schema) -> None:
    """Ansible runs netconf_config twice and expects changed=false the second time."""
    edit = load("schema-order", "edit.xml")
    first = _target()
    apply_edit(schema, first, edit)
    second = copy.deepcopy(first)
    result = apply_edit(schema, second, edit)
    assert etree.tostring(second) == etree.tostring(first)
    assert result.changed == [] and result.removed == []


def test_prefixed_and_unqualified_config_are_accepted(schema: Schema) -> None:
    plain = _edit(f'<config><top xmlns="{EX}"><descr>d</descr></top></config>')
    prefixed = _edit(
        f'<nc:config xmlns:nc="{BASE}"><top xmlns="{EX}">'
        '<name nc:operation="delete"/><descr>d</descr></top></nc:config>'
    )
    a, b = _target(), _target()
    apply_edit(schema, a, plain)
    apply_edit(schema, b, prefixed)
    assert a.find(f"{{{EX}}}top/{{{EX}}}descr").text == "d"
    assert b.find(f"{{{EX}}}top/{{{EX}}}name") is None


def test_unqualified_operation_attribute_is_not_an_operation(schema: Schema) -> None:
    """Only the base-namespace attribute is the RFC 6241 operation; others are not ours."""
    target = _target()
    edit = f'<config><top xmlns="{EX}"><name operation="delete">n</name></top></config>'
    apply_edit(schema, target, _edit(edit))
    assert target.find(f"{{{EX}}}top/{{{EX}}}name").text == "n"


def test_rollback_on_error_raises_the_first_error(schema: Schema) -> None:
    edit = load("continue-on-error", "edit.xml")
    with pytest.raises(RpcError) as info:
        apply_edit(schema, _target(), edit, error_option=ErrorOption.ROLLBACK_ON_ERROR)
    assert info.value.tag == "unknown-element"


def test_check_value_error_keeps_its_own_path(schema: Schema) -> None:
    def checker(node: SchemaNode, text: str, nsmap: Mapping[str | None, str]) -> RpcError | None:
        return InvalidValue("no", path="/mine", app_tag="custom")

    edit = _edit(f'<config><top xmlns="{EX}"><descr>d</descr></top></config>')
    with pytest.raises(RpcError) as info:
        apply_edit(schema, _target(), edit, check_value=checker)
    assert (info.value.path, info.value.app_tag) == ("/mine", "custom")


def test_check_value_sees_stripped_text_and_the_edit_namespaces(schema: Schema) -> None:
    seen: list[tuple[str, str, str | None]] = []

    def checker(node: SchemaNode, text: str, nsmap: Mapping[str | None, str]) -> RpcError | None:
        seen.append((node.name, text, nsmap.get("t")))
        return None

    edit = _edit(
        f'<config><top xmlns="{EX}" xmlns:t="urn:example:types">'
        "<algorithm>\n  t:ecdsa\n</algorithm></top></config>"
    )
    apply_edit(schema, _target(), edit, check_value=checker)
    assert seen == [("algorithm", "t:ecdsa", "urn:example:types")]


def test_error_path_namespaces_are_given(schema: Schema) -> None:
    edit = _edit(f'<config><top xmlns="{EX}"><user><type>x</type></user></top></config>')
    with pytest.raises(RpcError) as info:
        apply_edit(schema, _target(), edit)
    assert info.value.path == "/ex:top/ex:user"
    assert info.value.path_ns == {"ex": EX}
    assert info.value.info == (("", "bad-element", "name"),)


def test_unknown_element_names_the_element(schema: Schema) -> None:
    edit = _edit(f'<config><top xmlns="{EX}"><bogus/></top></config>')
    with pytest.raises(RpcError) as info:
        apply_edit(schema, _target(), edit)
    assert info.value.error_type == "application"
    assert info.value.info == (("", "bad-element", "bogus"),)


def test_engine_refuses_an_unresolvable_identity_without_a_checker(schema: Schema) -> None:
    edit = _edit(f'<config><top xmlns="{EX}"><algorithm>zz:rsa</algorithm></top></config>')
    with pytest.raises(RpcError) as info:
        apply_edit(schema, _target(), edit)
    assert error_line(info.value) == "invalid-value - /ex:top/ex:algorithm"


def _prefixed_values(el: Element, sn: SchemaNode) -> list[Element]:
    out = []
    for c in children(el):
        csn = sn.child(*split(c))
        if csn is None or csn.kind is Kind.ANYDATA:
            continue
        if csn.type is not None and csn.type.base in ("identityref", "instance-identifier"):
            out.append(c)
        out += _prefixed_values(c, csn)
    return out


@pytest.mark.parametrize("case", [c for c in CASES if (VECTORS / c / "after.xml").is_file()])
def test_stored_prefixes_resolve_wherever_the_data_goes(case: str, schema: Schema) -> None:
    """Values keep their prefixes declared through serialization and through being moved
    into another tree (as a reply's <data> does), which drops redundant declarations."""
    target, _ = run_case(case, schema)
    reply = etree.Element(f"{{{BASE}}}data", nsmap={None: BASE})
    for top in children(parse(etree.tostring(target))):
        reply.append(top)
    for el in _prefixed_values(reply, schema.root):
        for prefix in re.findall(r"([A-Za-z_][\w.-]*):", re.sub(r"'[^']*'", "", el.text or "")):
            assert schema.module_by_namespace(el.nsmap.get(prefix, "")), (case, el.text)


@pytest.mark.parametrize("case", CASES)
def test_journal_undoes_the_edit_exactly(case: str, schema: Schema) -> None:
    """store.py edits the candidate in place and undoes a failed edit through the journal."""
    target = load(case, "before.xml")
    before = etree.tostring(target)
    journal = Journal()
    with contextlib.suppress(RpcError):
        run_case(case, schema, journal, target)
    journal.undo()
    assert etree.tostring(target) == before


@pytest.mark.parametrize("case", CASES)
def test_entry_index_changes_nothing(case: str, schema: Schema) -> None:
    """An indexed journal (as store.py uses) gives the same trees as a plain scan, also
    after an undo has moved entries back behind the index's back."""
    plain = load(case, "before.xml")
    with contextlib.suppress(RpcError):
        run_case(case, schema, Journal(), plain)
    indexed = load(case, "before.xml")
    index = EntryIndex()
    first = Journal(index)
    with contextlib.suppress(RpcError):
        run_case(case, schema, first, indexed)
    assert etree.tostring(indexed) == etree.tostring(plain)
    first.undo()
    with contextlib.suppress(RpcError):
        run_case(case, schema, Journal(index), indexed)
    assert etree.tostring(indexed) == etree.tostring(plain)
