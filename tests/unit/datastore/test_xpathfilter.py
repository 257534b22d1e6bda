"""XPath filters (RFC 6241 §8.9) on the project's YANG modules: name resolution, the shape
of the reply, and every way a select expression can be refused."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
from lxml import etree

from agent.datastore import schema as schema_mod
from agent.datastore.schema import Schema
from agent.datastore.xpathfilter import MAX_LENGTH, compile_element, compile_filter
from agent.errors import ErrorTag, ErrorType, RpcError
from agent.xmlutil import Element, parse

YANG = Path(__file__).resolve().parents[3] / "yang"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"

DATA = f"""<data xmlns="{NC}">
<keys xmlns="{KEYS}" xmlns:t="{TYPES}">
  <key><label>k1</label><algorithm>t:ecdsa-p256</algorithm></key>
  <key><label>k2</label><modulus>4096</modulus></key>
</keys>
<trustpoints xmlns="{TP}">
  <trustpoint><name>tp1</name><description>first</description>
    <subject><common-name>one</common-name><country>FR</country></subject></trustpoint>
  <trustpoint><name>tp2</name><description>second</description>
    <subject><common-name>two</common-name></subject></trustpoint>
</trustpoints>
</data>"""


@pytest.fixture(scope="module")
def schema() -> Schema:
    return schema_mod.load(YANG)


@pytest.fixture
def data() -> Element:
    return parse(
        DATA.encode(),
    )


def canon(el: Element) -> str:
    """Serialisation without whitespace-only text, for comparisons."""
    el = copy.deepcopy(el)
    for e in el.iter():
        if e.text is not None and not e.text.strip():
            e.text = None
        if e.tail is not None and not e.tail.strip():
            e.tail = None
    return etree.tostring(el, method="c14n").decode()


def select(schema: Schema, data: Element, expr: str, **nsmap: str) -> Element:
    return compile_filter(expr, nsmap, schema).select(data)


def expect(body: str) -> str:
    return canon(parse(f'<data xmlns="{NC}">{body}</data>'.encode()))


TP2 = f'<trustpoints xmlns="{TP}"><trustpoint><name>tp2</name>{{}}</trustpoint></trustpoints>'


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "/pki-tp:trustpoints/pki-tp:trustpoint[pki-tp:name='tp2']",  # module prefix
        "/npa-pki-trustpoints:trustpoints/trustpoint[name='tp2']",  # module name, then JSON rule
        "/trustpoints/trustpoint[name='tp2']",  # unprefixed: the one module with that top node
        "trustpoints/trustpoint[name = 'tp2']",  # relative to the root (§8.9.1)
        "/trustpoints/trustpoint[subject/common-name='two']",  # predicates follow the schema
        "//trustpoint[name='tp2']",  # the one module with such a node anywhere
        "/*/trustpoint[name='tp2']",
    ],
)
def test_names_resolve_without_declarations(schema: Schema, data: Element, expr: str) -> None:
    got = select(schema, data, expr)
    want = TP2.format(
        "<description>second</description><subject><common-name>two</common-name></subject>"
    )
    assert canon(got) == expect(want)


def test_declared_prefix_wins_over_module_prefix(schema: Schema, data: Element) -> None:
    # "pki-keys" is the keys module's prefix, but the request binds it to trustpoints
    got = select(
        schema, data, "/pki-keys:trustpoints/pki-keys:trustpoint/pki-keys:name", **{"pki-keys": TP}
    )
    assert [e.text for e in got.iter(f"{{{TP}}}name")] == ["tp1", "tp2"]


def test_prefixes_from_every_ancestor_of_the_filter(schema: Schema, data: Element) -> None:
    """netconf-console2 declares --ns prefixes on <get>, ncclient on <filter>."""
    rpc = parse(
        f'<rpc xmlns="{NC}" xmlns:k="{KEYS}"><get xmlns:t="{TP}">'
        '<filter type="xpath" select="/t:trustpoints/t:trustpoint[t:name=\'tp1\']/t:name'
        " | /k:keys/k:key[k:label='k2']\"/></get></rpc>".encode()
    )
    flt = rpc[0][0]
    got = compile_element(flt, schema).select(data)
    assert canon(got) == expect(
        f'<keys xmlns="{KEYS}" xmlns:t="{TYPES}">'
        "<key><label>k2</label><modulus>4096</modulus></key></keys>"
        f'<trustpoints xmlns="{TP}"><trustpoint><name>tp1</name></trustpoint></trustpoints>'
    )


def test_base_qualified_select_attribute(schema: Schema, data: Element) -> None:
    flt = parse(f'<filter xmlns:nc="{NC}" nc:type="xpath" nc:select="/keys/key/label"/>'.encode())
    got = compile_element(flt, schema).select(data)
    assert [e.text for e in got.iter(f"{{{KEYS}}}label")] == ["k1", "k2"]


# -- the reply --------------------------------------------------------------------------------


def test_slash_selects_everything(schema: Schema, data: Element) -> None:
    assert canon(select(schema, data, "/")) == canon(data)


def test_leaf_comes_with_its_ancestors_and_entry_keys(schema: Schema, data: Element) -> None:
    got = select(schema, data, "/trustpoints/trustpoint/subject/country")
    assert canon(got) == expect(
        f'<trustpoints xmlns="{TP}"><trustpoint><name>tp1</name>'
        "<subject><country>FR</country></subject></trustpoint></trustpoints>"
    )


def test_text_and_attribute_results_select_their_parent(schema: Schema, data: Element) -> None:
    got = select(schema, data, "/trustpoints/trustpoint[name='tp2']/description/text()")
    assert canon(got) == expect(TP2.format("<description>second</description>"))
    data[1][0].set("origin", "x")  # an attribute on tp1
    got = select(schema, data, "/trustpoints/trustpoint/@origin")
    assert [e.text for e in got.iter(f"{{{TP}}}name")] == ["tp1"]
    assert got.find(f".//{{{TP}}}description") is not None  # the whole entry


def test_document_order_whatever_the_union_order(schema: Schema, data: Element) -> None:
    got = select(schema, data, "/trustpoints/trustpoint[name='tp2'] | /keys/key[label='k1']")
    assert [etree.QName(e).localname for e in got] == ["keys", "trustpoints"]
    got = select(schema, data, "//common-name | //trustpoint/description")
    names = [etree.QName(e).localname for e in got.iter() if len(e) == 0]
    assert names == ["name", "description", "common-name"] * 2


def test_key_selected_alone_appears_once(schema: Schema, data: Element) -> None:
    got = select(schema, data, "//trustpoint/name | //trustpoint/description")
    assert [e.text for e in got.iter(f"{{{TP}}}name")] == ["tp1", "tp2"]


def test_nested_selection_is_not_repeated(schema: Schema, data: Element) -> None:
    got = select(schema, data, "/trustpoints/trustpoint[name='tp1'] | //common-name")
    assert len(list(got.iter(f"{{{TP}}}common-name"))) == 2


def test_value_prefixes_stay_bound(schema: Schema, data: Element) -> None:
    got = select(schema, data, "/keys/key/algorithm")
    alg = got.find(f".//{{{KEYS}}}algorithm")
    assert alg is not None and alg.text == "t:ecdsa-p256" and alg.nsmap["t"] == TYPES


def test_reply_is_a_copy(schema: Schema, data: Element) -> None:
    before = canon(data)
    got = select(schema, data, "/keys")
    got[0].clear()
    assert canon(data) == before


def test_valid_path_without_match_is_empty(schema: Schema, data: Element) -> None:
    assert len(select(schema, data, "/trustpoints/trustpoint[name='none']")) == 0
    assert len(select(schema, data, "/trustpoints/trustpoint/unknown-leaf")) == 0


def test_one_entry_of_ten_thousand(schema: Schema) -> None:
    entries = "".join(f"<trustpoint><name>tp{i}</name></trustpoint>" for i in range(10_000))
    big = parse(
        f'<data xmlns="{NC}"><trustpoints xmlns="{TP}">{entries}</trustpoints></data>'.encode()
    )
    flt = compile_filter("/trustpoints/trustpoint[name='tp7777']", {}, schema)
    start = time.perf_counter()
    got = flt.select(big)
    elapsed = time.perf_counter() - start
    assert [e.text for e in got.iter(f"{{{TP}}}name")] == ["tp7777"]
    assert elapsed < 0.5, f"{elapsed:.3f}s to select one entry of 10,000"
    assert len(list(flt.select(big).iter())) == 4  # data, trustpoints, trustpoint, name


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "nsmap", "words"),
    [
        ("/keys/key[", {}, "invalid XPath"),
        ("/keys/key]", {}, "invalid XPath"),
        ("/nope:keys", {}, "unknown prefix 'nope'"),
        ("/unknown-top", {}, "no module has a top-level node named 'unknown-top'"),
        ("//no-such-node", {}, "no module has a node named 'no-such-node'"),
        ("count(/keys/key)", {}, "not a node-set"),
        ("string(/keys)", {}, "not a node-set"),
        ("/keys/key/label = 'k1'", {}, "not a node-set"),
        ("$var", {}, "Undefined variable"),
        ("current()", {}, "Undefined variable"),
        ("frobnicate(/keys)", {}, "Unregistered function"),
        ("/keys/namespace::*", {}, "namespace"),
        ("   ", {}, "empty"),
        ("/" + "a" * MAX_LENGTH, {}, "longer than"),
    ],
)
def test_refused_with_a_reason(
    schema: Schema, data: Element, expr: str, nsmap: dict[str, str], words: str
) -> None:
    with pytest.raises(RpcError) as exc:
        compile_filter(expr, nsmap, schema).select(data)
    assert exc.value.tag is ErrorTag.INVALID_VALUE
    assert exc.value.error_type is ErrorType.PROTOCOL
    assert words in exc.value.message


def test_missing_select_attribute(schema: Schema) -> None:
    with pytest.raises(RpcError) as exc:
        compile_element(parse(b'<filter type="xpath"/>'), schema)
    assert exc.value.tag is ErrorTag.MISSING_ATTRIBUTE
    assert ("", "bad-attribute", "select") in exc.value.info


def test_unknown_prefix_names_the_fix(schema: Schema) -> None:
    with pytest.raises(RpcError) as exc:
        compile_filter("/x:trustpoints", {}, schema)
    assert "xmlns:x=" in exc.value.message and "pki-tp" in exc.value.message


def test_ambiguous_unprefixed_name_names_the_modules(tmp_path: Path) -> None:
    for mod in ("alpha", "beta"):
        (tmp_path / f"{mod}.yang").write_text(
            f'module {mod} {{ namespace "urn:{mod}"; prefix {mod[0]}; '
            "container top { leaf x { type string; } } }"
        )
    two = schema_mod.load(tmp_path)
    with pytest.raises(RpcError) as exc:
        compile_filter("/top/x", {}, two)
    assert "ambiguous" in exc.value.message
    assert "alpha, beta" in exc.value.message
    doc = parse(b'<data xmlns="n"><top xmlns="urn:beta"><x>1</x></top></data>')
    assert len(compile_filter("/beta:top/x", {}, two).select(doc)) == 1
    assert len(compile_filter("/a:top/x", {}, two).select(doc)) == 0


# -- config-only expressions: select from config, then add state -------------------------------


@pytest.mark.parametrize(
    ("expr", "reads_state"),
    [
        ("/trustpoints/trustpoint[name='tp1']", False),
        ("/trustpoints/trustpoint/subject/common-name | /keys/key/label", False),
        ("//trustpoint[name='tp1']/description", False),
        ("/trustpoints/trustpoint[name='tp1']/..", False),
        ("/", True),
        (".", True),
        ("/keys-state", True),
        ("/trustpoints/trustpoint/state/authenticated", True),
        ("/trustpoints/trustpoint[state/authenticated='true']", True),
        ("/trustpoints/*", True),
        ("/trustpoints/trustpoint/node()", True),
        ("/pki-tp:trustpoints/pki-tp:*", True),
    ],
)
def test_reads_state(schema: Schema, expr: str, reads_state: bool) -> None:
    assert compile_filter(expr, {}, schema).reads_state is reads_state


def add_state(root: Element) -> None:
    """A decorator like the agent's: state in every trustpoint, and a top-level node."""
    for tp in root.iterfind(f"{{{TP}}}trustpoints/{{{TP}}}trustpoint"):
        etree.SubElement(tp, f"{{{TP}}}state").text = "s"
    etree.SubElement(root, f"{{{TP}}}other")


def test_decorate_adds_state_only_inside_what_was_selected(schema: Schema, data: Element) -> None:
    expr = "/trustpoints/trustpoint[name='tp1'] | /trustpoints/trustpoint/description"
    flt = compile_filter(expr, {}, schema)
    got = flt.select(data, add_state)
    entries = got.findall(f"{{{TP}}}trustpoints/{{{TP}}}trustpoint")
    assert [len(e.findall(f"{{{TP}}}state")) for e in entries] == [1, 0]  # tp2 is a shell
    assert got.find(f"{{{TP}}}other") is None
    assert [e.text for e in entries[1]] == ["tp2", "second"]
    assert canon(data) == canon(parse(DATA.encode()))  # the source was not decorated
