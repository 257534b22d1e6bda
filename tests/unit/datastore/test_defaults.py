"""with-defaults (RFC 6243) on data trees: report-all adds what is in use, trim removes
values equal to their default, tag marks them."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lxml import etree

from agent.datastore import defaults
from agent.datastore import schema as schema_mod
from agent.datastore.schema import Schema
from agent.xmlutil import Element, parse

YANG = Path(__file__).resolve().parents[3] / "yang"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
POOL = "urn:netconf-pki-agent:yang:npa-pki-trustpool"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"
EX = "urn:example:wd"
WD = f"{{{defaults.WD_NS}}}default"

EXAMPLE = f"""module ex {{
  yang-version 1.1; namespace "{EX}"; prefix ex;
  container top {{
    leaf mode {{ type string; default "auto"; }}
    choice transport {{
      default tcp;
      case tcp {{ leaf port {{ type uint16; default 830; }} }}
      case tls {{ leaf tls-port {{ type uint16; default 6513; }} leaf ca {{ type string; }} }}
    }}
    container tuning {{ leaf window {{ type uint8; default 10; }} }}
    container feature {{ presence "on"; leaf level {{ type uint8; default 3; }} }}
    leaf-list tags {{ type string; default "a"; default "b"; }}
    list item {{
      key id;
      leaf id {{ type string; }}
      leaf weight {{ type uint8; default 1; }}
    }}
    container stats {{ config false; leaf drops {{ type uint32; default 0; }} }}
  }}
  augment "/top" {{
    when "mode = 'manual'";
    leaf manual-knob {{ type uint8; default 7; }}
  }}
}}
"""


@pytest.fixture(scope="module")
def schema() -> Schema:
    return schema_mod.load(YANG)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    d = tmp_path_factory.mktemp("yang")
    (d / "ex.yang").write_text(EXAMPLE)
    return schema_mod.load(d)


def tree(body: str) -> Element:
    return parse(f'<data xmlns="{NC}">{body}</data>'.encode())


def leaves(el: Element, ns: str) -> list[tuple[str, str | None]]:
    """(local name, text) of every element without children, in document order."""
    return [(etree.QName(e).localname, e.text) for e in el.iter(f"{{{ns}}}*") if len(e) == 0]


def key(label: str, extra: str = "") -> str:
    return f"<key><label>{label}</label>{extra}</key>"


# -- report-all -----------------------------------------------------------------------------


def test_report_all_respects_when_on_defaults(schema: Schema) -> None:
    """modulus (default 2048) exists only for RSA keys; algorithm's default is rsa."""
    data = tree(
        f'<keys xmlns="{KEYS}" xmlns:t="{TYPES}">{key("plain")}'
        f"{key('ec', '<algorithm>t:ecdsa-p256</algorithm>')}"
        f"{key('big', '<modulus>4096</modulus>')}</keys>"
    )
    defaults.add_defaults(data, schema, config_only=True)
    entries = data.findall(f".//{{{KEYS}}}key")
    assert leaves(entries[0], KEYS) == [
        ("label", "plain"),
        ("algorithm", "t:rsa"),  # the prefix this tree binds the types module to
        ("modulus", "2048"),
        ("usage", "general-keys"),
    ]
    assert leaves(entries[1], KEYS) == [
        ("label", "ec"),
        ("algorithm", "t:ecdsa-p256"),
        ("usage", "general-keys"),
    ]
    assert ("modulus", "4096") in leaves(entries[2], KEYS)
    assert ("modulus", "2048") not in leaves(entries[2], KEYS)


def test_identityref_default_carries_its_prefix(schema: Schema) -> None:
    data = tree(f'<keys xmlns="{KEYS}">{key("k")}</keys>')
    defaults.add_defaults(data, schema, config_only=True)
    alg = data.find(f".//{{{KEYS}}}algorithm")
    assert alg is not None and alg.text == "pki-types:rsa"
    assert alg.nsmap["pki-types"] == TYPES


def test_report_all_creates_containers_that_would_exist(schema: Schema) -> None:
    data = tree(f'<trustpoints xmlns="{TP}"><trustpoint><name>t</name></trustpoint></trustpoints>')
    defaults.add_defaults(data, schema, config_only=True)
    tp = data.find(f".//{{{TP}}}trustpoint")
    assert tp is not None
    assert leaves(tp, TP) == [
        ("name", "t"),
        ("period", "1"),
        ("count", "10"),
        ("include-serial-number", "false"),
        ("revocation-check", "crl"),
    ]
    assert data.findtext(f"{{{TP}}}trustpoints/{{{TP}}}expiry-warning-days") == "90"
    policy = data.find(f"{{{POOL}}}trustpool/{{{POOL}}}policy")
    assert policy is not None and policy.findtext(f"{{{POOL}}}auto-update") == "true"


def test_leaf_list_defaults_only_without_instances(schema: Schema) -> None:
    data = tree(
        f'<trustpoints xmlns="{TP}"><trustpoint><name>t</name>'
        "<revocation-check>none</revocation-check></trustpoint></trustpoints>"
    )
    defaults.add_defaults(data, schema, config_only=True)
    values = [e.text for e in data.iter(f"{{{TP}}}revocation-check")]
    assert values == ["none"]


def test_choice_default_case_presence_and_augment_when(example: Schema) -> None:
    data = tree(f'<top xmlns="{EX}"><item><id>i</id></item></top>')
    defaults.add_defaults(data, example)
    assert leaves(data, EX) == [
        ("mode", "auto"),
        ("port", "830"),
        ("window", "10"),
        ("tags", "a"),
        ("tags", "b"),
        ("id", "i"),
        ("weight", "1"),
        ("drops", "0"),
    ]  # no feature (a presence container), no tls-port, no manual-knob (when false)


def test_active_case_and_true_augment_when(example: Schema) -> None:
    data = tree(f'<top xmlns="{EX}"><mode>manual</mode><ca>x</ca></top>')
    defaults.add_defaults(data, example, config_only=True)
    got = dict(leaves(data, EX))
    assert got["tls-port"] == "6513" and "port" not in got
    assert got["manual-knob"] == "7"
    assert "drops" not in got  # config false: not in a get-config reply


def test_existing_presence_container_gets_its_defaults(example: Schema) -> None:
    data = tree(f'<top xmlns="{EX}"><feature/></top>')
    defaults.add_defaults(data, example)
    assert data.findtext(f".//{{{EX}}}feature/{{{EX}}}level") == "3"


def test_explicit_values_are_kept_in_place(example: Schema) -> None:
    data = tree(f'<top xmlns="{EX}"><mode>auto</mode><tags>z</tags></top>')
    defaults.add_defaults(data, example)
    assert [e.text for e in data.iter(f"{{{EX}}}mode")] == ["auto"]
    assert [e.text for e in data.iter(f"{{{EX}}}tags")] == ["z"]


def test_empty_datastore_gets_the_top_containers(example: Schema) -> None:
    data = tree("")
    defaults.add_defaults(data, example)
    assert data.findtext(f"{{{EX}}}top/{{{EX}}}mode") == "auto"


# -- trim and tag ------------------------------------------------------------------------------


def test_trim_compares_values_not_text(schema: Schema) -> None:
    data = tree(
        f'<keys xmlns="{KEYS}" xmlns:t="{TYPES}">'
        + key("a", "<algorithm>t:rsa</algorithm><modulus>02048</modulus>")
        + key("b", "<usage>usage-keys</usage>")
        + "</keys>"
    )
    defaults.trim(data, schema)
    assert leaves(data, KEYS) == [("label", "a"), ("label", "b"), ("usage", "usage-keys")]


def test_trim_drops_containers_it_empties(schema: Schema) -> None:
    data = tree(
        f'<trustpoints xmlns="{TP}"><trustpoint><name>t</name><enrollment><retry>'
        "<period>1</period><count>10</count></retry></enrollment></trustpoint></trustpoints>"
    )
    defaults.trim(data, schema)
    tp = data.find(f".//{{{TP}}}trustpoint")
    assert tp is not None and [etree.QName(c).localname for c in tp] == ["name"]


def test_trim_keeps_non_default_and_leaf_lists(example: Schema) -> None:
    data = tree(f'<top xmlns="{EX}"><mode>fast</mode><tags>a</tags></top>')
    before = etree.tostring(data)
    defaults.trim(data, example)
    assert etree.tostring(data) == before


def test_report_all_then_trim_gives_back_the_explicit_tree(schema: Schema) -> None:
    body = f'<keys xmlns="{KEYS}">{key("k", "<modulus>1024</modulus>")}</keys>'
    data = tree(body)
    defaults.add_defaults(data, schema, config_only=True)
    defaults.trim(data, schema)
    assert leaves(data, KEYS) == leaves(tree(body), KEYS)


def test_tag_marks_every_default_valued_leaf(schema: Schema) -> None:
    data = parse(
        f'<data xmlns="{NC}" xmlns:wd="{defaults.WD_NS}"><keys xmlns="{KEYS}">'
        f"{key('a', '<modulus>2048</modulus>')}{key('b', '<modulus>1024</modulus>')}"
        "</keys></data>".encode()
    )
    defaults.add_defaults(data, schema, config_only=True)
    defaults.tag(data, schema)
    tagged = [(etree.QName(e).localname, e.text) for e in data.iter(f"{{{KEYS}}}*") if e.get(WD)]
    assert tagged == [
        ("algorithm", "pki-types:rsa"),
        ("modulus", "2048"),  # set by the client to the default: tagged too (RFC 6243 A.3.3)
        ("usage", "general-keys"),
        ("algorithm", "pki-types:rsa"),
        ("usage", "general-keys"),
    ]
    assert b"xmlns:wd" in etree.tostring(data) and b"ns0" not in etree.tostring(data)


def test_nodes_outside_the_schema_are_left_alone(schema: Schema) -> None:
    data = tree('<other xmlns="urn:unknown"><modulus>2048</modulus></other>')
    before = copy.deepcopy(data)
    for step in (defaults.trim, defaults.tag):
        step(data, schema)
    assert etree.tostring(data) == etree.tostring(before)
