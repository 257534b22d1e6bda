"""check_input: the generic YANG check of an RPC's input, on the project's own modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import xmlutil
from agent.datastore import schema
from agent.datastore.rpcinput import check_input
from agent.datastore.validate import Validator

YANG = Path(__file__).resolve().parents[3] / "yang"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"


@pytest.fixture(scope="module")
def sch() -> schema.Schema:
    return schema.load(YANG)


def errors(
    sch: schema.Schema, rpc: str, body: str
) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """(tag, path, bad-element values) of each error, in order."""
    el = xmlutil.parse(f'<{rpc} xmlns="{KEYS}" xmlns:t="{TYPES}">{body}</{rpc}>'.encode())
    node = sch.rpcs[(KEYS, rpc)].input
    assert node is not None
    found = check_input(node, el, Validator(sch))
    return [(str(e.tag), e.path, tuple(i[2] for i in e.info)) for e in found]


GK = "/pki-keys:generate-key"


@pytest.mark.parametrize(
    "body",
    [
        "<label>k1</label>",
        "<label>k1</label><algorithm>t:ecdsa-p384</algorithm><overwrite>true</overwrite>",
        "<label>k1</label><algorithm>t:rsa</algorithm><modulus>4096</modulus><usage>usage-keys</usage>",
    ],
)
def test_valid_generate_key_input(sch: schema.Schema, body: str) -> None:
    assert errors(sch, "generate-key", body) == []


def test_value_types_are_checked_with_the_input_leaf_path(sch: schema.Schema) -> None:
    found = errors(
        sch, "generate-key", "<label>a b</label><modulus>100</modulus><overwrite>yes</overwrite>"
    )
    assert [(tag, path) for tag, path, _ in found] == [
        ("invalid-value", f"{GK}/pki-keys:label"),
        ("invalid-value", f"{GK}/pki-keys:modulus"),
        ("invalid-value", f"{GK}/pki-keys:overwrite"),
    ]


def test_identityref_outside_its_base_is_invalid(sch: schema.Schema) -> None:
    found = errors(sch, "generate-key", "<label>k1</label><algorithm>t:pkcs12</algorithm>")
    assert [(tag, path) for tag, path, _ in found] == [
        ("invalid-value", f"{GK}/pki-keys:algorithm")
    ]


def test_unknown_element(sch: schema.Schema) -> None:
    assert errors(sch, "generate-key", "<label>k1</label><colour>red</colour>") == [
        ("unknown-element", GK, ("colour",))
    ]


def test_unqualified_parameters_take_the_rpc_namespace(sch: schema.Schema) -> None:
    el = xmlutil.parse(
        f'<generate-key xmlns="{KEYS}"><label xmlns="">k1</label></generate-key>'.encode()
    )
    node = sch.rpcs[(KEYS, "generate-key")].input
    assert node is not None
    assert check_input(node, el, Validator(sch)) == []


def test_missing_mandatory_leaf(sch: schema.Schema) -> None:
    assert errors(sch, "generate-key", "<modulus>2048</modulus>") == [
        ("missing-element", f"{GK}/pki-keys:label", ("label",))
    ]


def test_mandatory_choice_without_a_case(sch: schema.Schema) -> None:
    assert errors(sch, "zeroize-key", "") == [
        ("missing-element", "/pki-keys:zeroize-key", ("target",))
    ]


def test_two_cases_of_one_choice(sch: schema.Schema) -> None:
    assert errors(sch, "zeroize-key", "<label>k1</label><all/>") == [
        ("bad-element", "/pki-keys:zeroize-key/pki-keys:all", ("all",))
    ]


def test_every_error_is_reported(sch: schema.Schema) -> None:
    found = errors(sch, "import-key", "<public-key-pem>x</public-key-pem><pkcs12>AAAA</pkcs12><x/>")
    assert sorted(tag for tag, _, _ in found) == [
        "bad-element",
        "invalid-value",
        "missing-element",
        "unknown-element",
    ]


def test_a_leaf_given_twice(sch: schema.Schema) -> None:
    assert errors(sch, "generate-key", "<label>k1</label><label>k2</label>") == [
        ("bad-element", f"{GK}/pki-keys:label", ("label",))
    ]
