"""The validator, one constraint kind per golden case, in full and incrementally.

Golden cases live in tests/vectors/validate/cases/<name>/ (see the README there):
``data.xml`` + ``errors.txt`` is a whole datastore; ``changes.txt`` + ``errors.txt`` is a
change to ``base.xml``. Each expected error is "tag app-tag path", never prose. Every case
runs through validate() and validate_changes(); the unit tests below cover the rest of the
API, the error-info contents and the invariants (the tree is left as it was given).
"""

from __future__ import annotations

import copy
import random
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from agent.datastore import schema
from agent.datastore.schema import Kind, SchemaNode, regex_schema
from agent.datastore.validate import Validator
from agent.datastore.xpathfn import python_regex
from agent.datastore.xpathparse import XPathSyntaxError, parse
from agent.errors import RpcError
from agent.xmlutil import YANG_NS

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "validate"
CASES = sorted(p for p in (VECTORS / "cases").iterdir() if p.is_dir())
NSMAP = {"vm": "urn:example:vt-main", "va": "urn:example:vt-aug", "vtt": "urn:example:vt-types"}
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"

Changes = tuple[list[etree._Element], list[tuple[SchemaNode, etree._Element]]]


@pytest.fixture(scope="module")
def sch() -> schema.Schema:
    return schema.load(VECTORS / "yang")


@pytest.fixture(scope="module")
def validator(sch: schema.Schema) -> Validator:
    return Validator(sch)


def parse_file(path: Path) -> etree._Element:
    return etree.parse(str(path), etree.XMLParser(remove_blank_text=True)).getroot()


def summary(errors: list[RpcError]) -> list[str]:
    return sorted(f"{e.tag.value} {e.app_tag or '-'} {e.path}" for e in errors)


def expected(case: Path) -> list[str]:
    return sorted(line for line in (case / "errors.txt").read_text().splitlines() if line)


# -- applying a change script the way edit.py reports changes ----------------------------


def locate(sch: schema.Schema, el: etree._Element) -> SchemaNode:
    chain = []
    while el.getparent() is not None:
        chain.append(el)
        el = el.getparent()
    node = sch.root
    for e in reversed(chain):
        q = etree.QName(e)
        node = node.children[(q.namespace or "", q.localname)]
    return node


def apply_script(sch: schema.Schema, root: etree._Element, script: str) -> Changes:
    """delete XPATH | set XPATH VALUE | add XPATH XML: changed lists new subtrees by their
    root and leaves whose value changed; removed lists (schema node, former parent)."""
    changed: list[etree._Element] = []
    removed: list[tuple[SchemaNode, etree._Element]] = []
    for line in script.splitlines():
        verb, rest = line.split(" ", 1)
        target, _, arg = rest.partition(" ")
        el = root.xpath("/*" + target, namespaces=NSMAP)[0]
        if verb == "delete":
            removed.append((locate(sch, el), el.getparent()))
            el.getparent().remove(el)
        elif verb == "set":
            el.text = arg
            changed.append(el)
        else:
            new = etree.fromstring(arg)
            el.append(new)
            changed.append(new)
    return [c for c in changed if root in c.iterancestors()], removed


def tree_diff(sch: schema.Schema, before: etree._Element, after: etree._Element) -> Changes:
    """The changes turning ``before`` into ``after`` (entries matched by their keys)."""
    changed: list[etree._Element] = []
    removed: list[tuple[SchemaNode, etree._Element]] = []

    def ident(el: etree._Element, node: SchemaNode | None) -> tuple[object, ...]:
        if node is not None and node.kind is Kind.LIST:
            return (el.tag, *(el.findtext(f"{{{node.namespace}}}{k}") for k in node.keys))
        if node is not None and node.kind is Kind.LEAF_LIST:
            return (el.tag, el.text)
        return (el.tag,)

    def walk(b: etree._Element, a: etree._Element, node: SchemaNode) -> None:
        def kids(e: etree._Element) -> dict[tuple[object, ...], list[etree._Element]]:
            out: dict[tuple[object, ...], list[etree._Element]] = {}
            for c in e:
                out.setdefault(ident(c, node.children.get(split(c))), []).append(c)
            return out

        bk, ak = kids(b), kids(a)
        for key, acs in ak.items():
            cnode = node.children.get(split(acs[0]))
            changed.extend(acs[1:])  # a second instance is always new
            if key not in bk or cnode is None:
                changed.append(acs[0])
            elif cnode.kind in (Kind.CONTAINER, Kind.LIST):
                walk(bk[key][0], acs[0], cnode)
            elif (bk[key][0].text or "") != (acs[0].text or ""):
                changed.append(acs[0])
        for key, bcs in bk.items():
            cnode = node.children.get(split(bcs[0]))
            if cnode is not None:
                missing = len(bcs) - len(ak.get(key, []))
                removed.extend((cnode, a) for _ in range(max(missing, 0)))

    walk(before, after, sch.root)
    return changed, removed


def split(el: etree._Element) -> tuple[str, str]:
    q = etree.QName(el)
    return q.namespace or "", q.localname


# -- golden cases -------------------------------------------------------------------------


def case_id(case: Path) -> str:
    return case.name


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_golden_case(case: Path, sch: schema.Schema, validator: Validator) -> None:
    base = parse_file(VECTORS / "base.xml")
    if (case / "data.xml").exists():
        after = parse_file(case / "data.xml")
        starts = [etree.Element(f"{{{NC}}}data"), base]
        runs = [(after, tree_diff(sch, start, after)) for start in starts]
    else:
        after = copy.deepcopy(base)
        runs = [(after, apply_script(sch, after, (case / "changes.txt").read_text()))]
    want = expected(case)
    assert summary(validator.validate(after)) == want
    for root, (changed, removed) in runs:
        assert summary(validator.validate_changes(root, changed, removed)) == want


def test_base_is_valid(validator: Validator) -> None:
    assert validator.validate(parse_file(VECTORS / "base.xml")) == []


def test_the_tree_is_left_as_given(validator: Validator) -> None:
    """Defaults are added for XPath and always taken out again."""
    for case in [VECTORS / "base.xml", *(c / "data.xml" for c in CASES)]:
        if case.exists():
            root = parse_file(case)
            before = etree.tostring(root)
            validator.validate(root)
            assert etree.tostring(root) == before, case


# -- error contents -------------------------------------------------------------------------


def errors_of(validator: Validator, case: str) -> list[RpcError]:
    return validator.validate(parse_file(VECTORS / "cases" / case / "data.xml"))


def test_unique_error_names_the_leaves(validator: Validator) -> None:
    (err,) = errors_of(validator, "unique-with-default")
    assert err.info == (
        (YANG_NS, "non-unique", "/vm:keys/vm:key[vm:label='b']/vm:usage"),
        (YANG_NS, "non-unique", "/vm:keys/vm:key[vm:label='b']/vm:alias"),
    )
    assert err.path_ns == {"vm": NSMAP["vm"]}


def test_key_error_names_the_keys(validator: Validator) -> None:
    (err,) = errors_of(validator, "key-duplicate-canonical")
    assert [i[2] for i in err.info] == [
        "/vm:multi[vm:a='01'][vm:b='a']/vm:a",
        "/vm:multi[vm:a='01'][vm:b='a']/vm:b",
    ]


def test_missing_choice_names_the_choice(validator: Validator) -> None:
    (err,) = errors_of(validator, "mandatory-choice")
    assert err.info == ((YANG_NS, "missing-choice", "enrollment"),)


def test_element_errors_name_the_element(validator: Validator) -> None:
    for case, name in [
        ("key-missing", "label"),
        ("mandatory-leaf", "description"),
        ("unknown-element", "nonexistent"),
        ("when-augment", "extra"),
        ("choice-two-cases", "terminal"),
    ]:
        (err,) = errors_of(validator, case)
        assert err.info == (("", "bad-element", name),), case


def test_messages_come_from_the_module(validator: Validator) -> None:
    assert errors_of(validator, "type-range-app-tag")[0].message == "u8: u8 must be positive"
    assert (
        errors_of(validator, "must-app-tag")[0].message == "encryption keys need 2048 bits or more"
    )
    assert "lowercase only" in errors_of(validator, "type-pattern")[0].message


def test_errors_are_application_errors(validator: Validator) -> None:
    for case in CASES:
        if (case / "data.xml").exists():
            assert all(e.error_type.value == "application" for e in errors_of(validator, case.name))


# -- check_value ------------------------------------------------------------------------------


def leaf(sch: schema.Schema, *names: str) -> SchemaNode:
    node = sch.root
    for name in names:
        node = next(c for c in node.children.values() if c.name == name)
    return node


def test_check_value(sch: schema.Schema, validator: Validator) -> None:
    u8 = leaf(sch, "types", "u8")
    assert validator.check_value(u8, "7", {}) is None
    err = validator.check_value(u8, "0", {})
    assert err is not None and (err.tag.value, err.app_tag, err.path) == (
        "invalid-value",
        "u8-range",
        "/vm:types/vm:u8",
    )
    idr = leaf(sch, "types", "idr")
    assert validator.check_value(idr, "x:rsa", {"x": NSMAP["vtt"]}) is None
    assert validator.check_value(idr, "x:rsa", {}) is not None
    ii = leaf(sch, "types", "ii")
    assert validator.check_value(ii, "/p:keys/p:key[p:label='a']", {"p": NSMAP["vm"]}) is None
    assert validator.check_value(ii, "/p:keys/p:key", {"p": NSMAP["vm"]}) is not None


# -- the XSD regex fast path ---------------------------------------------------------------


def schema_patterns(sch: schema.Schema) -> list[str]:
    out = []
    for node in sch.root.walk():
        stack = [node.type] if node.type else []
        while stack:
            spec = stack.pop()
            out += [p.regex for p in spec.patterns]
            stack += list(spec.members)
    return sorted(set(out))


REGEXES = ["[a-z0-9-]+", "x.*", "a$b^c", "[^a]\\d{2,3}", "\\s?[A-Z]+\\.", "(ab|c)*d?"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(REGEXES),
    st.text(
        alphabet=string.ascii_letters + string.digits + string.punctuation + " \t\n\r\u00e9\u0663",
        max_size=8,
    ),
)
def test_python_regex_agrees_with_libxml2(regex: str, text: str) -> None:
    fast = python_regex(regex)
    assert fast is not None
    probe = etree.Element("v")
    probe.text = text
    assert (fast.fullmatch(text) is not None) == regex_schema(regex).validate(probe)


def test_python_regex_refuses_what_differs(sch: schema.Schema) -> None:
    for regex in ["\\p{L}+", "\\w+", "[a-z-[aeiou]]", "\\i\\c*"]:
        assert python_regex(regex) is None
    assert schema_patterns(sch)  # the modules' own patterns all take one of the two roads


# -- the XPath rewrite ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "lxml"),
    [
        ("/a:b/a:c", "$root/ a:b / a:c"),
        ("/", "$root"),
        ("//a:x", "$root// a:x"),
        ("current()/../a:x", "$current / .. / a:x"),
        ("../a:k[a:n = current()/../a:m] * 2", ".. / a:k [ a:n = $current / .. / a:m ] * 2"),
        ("count(a:x) div 2 mod 3", "count ( a:x ) div 2 mod 3"),
    ],
)
def test_xpath_rewrite(expr: str, lxml: str) -> None:
    assert parse(expr).lxml == lxml


@pytest.mark.parametrize("expr", ["a:b[", "f(", "a:b ]", "1 +", "#"])
def test_xpath_syntax_errors(expr: str) -> None:
    with pytest.raises(XPathSyntaxError):
        parse(expr)


# -- incremental against full, on random changes ------------------------------------------

SNIPPETS = [
    ("/vm:keys", '<key xmlns="urn:example:vt-main"><label>k9</label><alias>two</alias></key>'),
    ("/vm:keys", '<key xmlns="urn:example:vt-main"><label>k1</label></key>'),
    (
        "/vm:tps",
        '<tp xmlns="urn:example:vt-main"><name>t9</name><key-label>k2</key-label><terminal/></tp>',
    ),
    ("/vm:tps/vm:tp[1]", '<url xmlns="urn:example:vt-main">http://x/</url>'),
    ("/vm:sys", '<ssh-port xmlns="urn:example:vt-main">22</ssh-port>'),
    ("/vm:sys", '<tls-port xmlns="urn:example:vt-main">6513</tls-port>'),
    ("/vm:pool", '<ca xmlns="urn:example:vt-main">c</ca>'),
    ("/vm:refs", '<lref xmlns="urn:example:vt-main">y</lref>'),
    ("/vm:opts", '<b1 xmlns="urn:example:vt-main">z</b1>'),
    ("/va:grp", '<name2 xmlns="urn:example:vt-aug">abcd</name2>'),
]
VALUES = [
    "k1",
    "k2",
    "k9",
    "encryption",
    "general",
    "advanced",
    "basic",
    "1",
    "2",
    "3",
    "x",
    "y",
    "ocsp",
    "crl",
    "vtt:ecdsa",
    "vtt:rsa",
    "true",
    "false",
    "AB1",
    "",
]


def random_edit(rng: random.Random, sch: schema.Schema, root: etree._Element) -> str:
    """One to three random deletions, value changes and additions, applied one by one;
    returns the script that makes them."""
    done = []
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["delete", "set", "add"])
        if op == "add":
            parent, xml = rng.choice(SNIPPETS)
            line = f"add {parent} {xml}"
            if not root.xpath("/*" + parent, namespaces=NSMAP):
                continue
        else:
            tree = root.getroottree()
            el = rng.choice([e for e in root.iter() if e is not root])
            path = tree.getpath(el)[len(tree.getpath(root)) :]
            line = (
                f"delete {path}"
                if op == "delete" or len(el)
                else f"set {path} {rng.choice(VALUES)}"
            )
        apply_script(sch, root, line)
        done.append(line)
    return "\n".join(done)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False))
def test_changes_agree_with_full_on_random_edits(
    rng: random.Random, sch: schema.Schema, validator: Validator
) -> None:
    probe = parse_file(VECTORS / "base.xml")
    script = random_edit(rng, sch, probe)
    root = parse_file(VECTORS / "base.xml")
    changed, removed = apply_script(sch, root, script)
    full = summary(validator.validate(root))
    assert summary(validator.validate_changes(root, changed, removed)) == full, script
