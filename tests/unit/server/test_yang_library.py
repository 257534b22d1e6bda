"""The YANG library, the hello's module capabilities and the monitoring trees, built from
the real compiled modules; the trees are checked against their YANG modules by yanglint."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from agent.datastore import schema as schema_mod
from agent.datastore.store import Datastore
from agent.errors import InvalidValue, MissingElement, UnknownElement
from agent.server import capabilities, monitoring, yang_library
from agent.server.sessions import Sessions
from agent.server.yang_library import YangLibrary

YANG = Path(__file__).resolve().parents[3] / "yang"
NCM = monitoring.NCM_NS
CAP = "urn:ietf:params:netconf:capability:"
WITH_DEFAULTS = CAP + "with-defaults:1.0?basic-mode=explicit"


def library(protocol: list[str]) -> YangLibrary:
    schema = schema_mod.load(YANG, extra_implemented=capabilities.standard_modules(protocol))
    return yang_library.build(
        schema,
        also_implemented=["ietf-netconf"],
        features={"ietf-netconf": capabilities.netconf_features(protocol)},
    )


@pytest.fixture(scope="module")
def protocol() -> list[str]:
    return capabilities.protocol()


@pytest.fixture(scope="module")
def lib(protocol: list[str]) -> YangLibrary:
    return library(protocol)


def module_caps(caps: list[str]) -> dict[str, str]:
    """module name -> its capability."""
    out = {}
    for cap in caps:
        if "?module=" in cap:
            out[cap.split("?module=")[1].split("&")[0]] = cap
    return out


def test_every_implemented_yang10_module_has_its_capability(
    protocol: list[str], lib: YangLibrary
) -> None:
    caps = capabilities.capabilities(protocol, lib)
    by_name = module_caps(caps)
    expected = {m.name for m in lib.modules if m.implemented and m.yang_version == "1"}
    assert set(by_name) == expected
    assert {"ietf-netconf", "ietf-netconf-monitoring", "ietf-netconf-notifications"} <= expected
    for m in lib.modules:
        if m.name in by_name:
            assert by_name[m.name].startswith(
                f"{m.namespace}?module={m.name}&revision={m.revision}"
            )
    # YANG 1.1 modules only through the library (RFC 7950 §5.6.4).
    assert "npa-pki-keys" not in by_name and "ietf-yang-library" not in by_name
    assert caps[: len(protocol)] == protocol


def test_both_yang_library_capabilities_carry_the_content_id(
    protocol: list[str], lib: YangLibrary
) -> None:
    caps = capabilities.capabilities(protocol, lib)
    assert f"{CAP}yang-library:1.0?revision=2016-06-21&module-set-id={lib.content_id}" in caps
    assert f"{CAP}yang-library:1.1?revision=2019-01-04&content-id={lib.content_id}" in caps


def test_the_ids_are_stable_and_change_with_the_module_set(
    protocol: list[str], lib: YangLibrary
) -> None:
    assert library(protocol).content_id == lib.content_id
    without = [c for c in protocol if not c.startswith(CAP + "with-defaults:")]
    with_defaults = [*without, WITH_DEFAULTS]
    with_lib, without_lib = library(with_defaults), library(without)
    assert "ietf-netconf-with-defaults" in module_caps(
        capabilities.capabilities(with_defaults, with_lib)
    )
    assert "ietf-netconf-with-defaults" not in module_caps(
        capabilities.capabilities(without, without_lib)
    )
    assert with_lib.content_id != without_lib.content_id


def test_ietf_netconf_features_follow_the_capabilities(protocol: list[str]) -> None:
    assert capabilities.netconf_features([CAP + "candidate:1.0", CAP + "validate:1.0"]) == (
        "candidate",
    )
    features = capabilities.netconf_features([CAP + "url:1.0?scheme=file", CAP + "xpath:1.0"])
    assert features == ("url", "xpath")
    # A new feature is a new module set.
    without = [c for c in protocol if c != CAP + "xpath:1.0"]
    assert library([*without, CAP + "xpath:1.0"]).content_id != library(without).content_id


def test_ietf_netconf_is_implemented_and_its_imports_are_not(lib: YangLibrary) -> None:
    by_name = {m.name: m for m in lib.modules}
    assert by_name["ietf-netconf"].implemented
    assert "candidate" in by_name["ietf-netconf"].features
    assert not by_name["ietf-inet-types"].implemented
    assert not by_name["ietf-netconf-acm"].implemented
    assert by_name["ietf-datastores"].implemented  # its identities are values in the library


# -- get-schema parameters -----------------------------------------------------------------------


def op(body: str, nsdecl: str = "") -> etree._Element:
    return etree.fromstring(f'<get-schema xmlns="{NCM}" {nsdecl}>{body}</get-schema>')


ENTRIES = [
    monitoring.SchemaEntry("m", "2020-01-01", "urn:m", "old"),
    monitoring.SchemaEntry("m", "2021-01-01", "urn:m", "new"),
    monitoring.SchemaEntry("n", "", "urn:n", "undated"),
]


@pytest.mark.parametrize(
    ("body", "nsdecl"),
    [
        ("<format>yang</format>", ""),
        ("<format>ncm:yang</format>", ""),  # unbound prefix, as yangcli sends it
        ("<format>x:yang</format>", f'xmlns:x="{NCM}"'),
        ("<format> yang </format>", ""),
        ("", ""),
    ],
)
def test_format_yang_in_every_spelling(body: str, nsdecl: str) -> None:
    reply = monitoring.get_schema(ENTRIES, op(f"<identifier>n</identifier>{body}", nsdecl))
    assert etree.QName(reply).text == f"{{{NCM}}}data"
    assert reply.text == "undated"


@pytest.mark.parametrize(
    "fmt", ["yin", "ncm:xsd", "x:yang", "json", ""], ids=["yin", "xsd", "other-ns", "json", "empty"]
)
def test_other_formats_are_invalid_values(fmt: str) -> None:
    with pytest.raises(InvalidValue) as info:
        monitoring.get_schema(
            ENTRIES, op(f"<identifier>n</identifier><format>{fmt}</format>", 'xmlns:x="urn:x"')
        )
    assert info.value.path == "/ncm:get-schema/ncm:format"


def test_version_absent_or_empty_is_the_latest() -> None:
    assert monitoring.find_schema(ENTRIES, "m", "").text == "new"
    assert monitoring.find_schema(ENTRIES, "m", "2020-01-01").text == "old"
    assert monitoring.get_schema(ENTRIES, op("<identifier>m</identifier><version/>")).text == "new"
    assert monitoring.find_schema(ENTRIES, "n", "").text == "undated"


@pytest.mark.parametrize(
    ("identifier", "version", "param"),
    [("zz", "", "identifier"), ("m", "2019-01-01", "version"), ("n", "2020-01-01", "version")],
)
def test_unknown_identifier_or_version(identifier: str, version: str, param: str) -> None:
    with pytest.raises(InvalidValue) as info:
        monitoring.find_schema(ENTRIES, identifier, version)
    assert ("", "bad-element", param) in info.value.info


def test_missing_and_unknown_parameters() -> None:
    with pytest.raises(MissingElement):
        monitoring.get_schema(ENTRIES, op("<version>2021-01-01</version>"))
    with pytest.raises(UnknownElement):
        monitoring.get_schema(ENTRIES, op('<identifier>m</identifier><x xmlns="urn:x"/>'))
    # Unqualified parameters are accepted (INTEROP.md §2.3).
    unqualified = etree.fromstring(
        f'<get-schema xmlns="{NCM}"><identifier xmlns="">m</identifier></get-schema>'
    )
    assert monitoring.get_schema(ENTRIES, unqualified).text == "new"


def test_schemas_include_every_module_with_its_text(lib: YangLibrary) -> None:
    entries = monitoring.schema_entries(lib)
    assert {e.identifier for e in entries} == {m.name for m in lib.modules}
    keys = monitoring.find_schema(entries, "npa-pki-keys", "")
    assert keys.text == next(YANG.glob("npa-pki-keys@*.yang")).read_text(encoding="utf-8")


# -- the trees against their YANG ---------------------------------------------------------------


def yanglint_errors(tmp_path: Path, schema: schema_mod.Schema, trees: list[etree._Element]) -> str:
    """yanglint's complaints about ``trees`` as complete state data ('' when valid)."""
    yanglint = shutil.which("yanglint")
    assert yanglint, "yanglint not found: install libyang2-tools"
    data = tmp_path / "get.xml"
    data.write_bytes(b"".join(etree.tostring(t) for t in trees))
    dirs = [d for p in schema_mod.standard_module_dirs() for d in ("-p", str(p))]
    mods = [
        str(m.path)
        for m in schema.modules.values()
        if m.name in ("ietf-yang-library", "ietf-netconf-monitoring", "ietf-datastores")
    ]
    out = subprocess.run(
        [yanglint, *dirs, "-t", "data", *mods, str(data)], capture_output=True, text=True
    )
    return out.stderr if out.returncode or out.stderr else ""


def test_trees_are_valid_for_yanglint(
    tmp_path: Path, protocol: list[str], lib: YangLibrary
) -> None:
    schema = schema_mod.load(YANG, extra_implemented=capabilities.standard_modules(protocol))
    datastore = Datastore(schema, tmp_path / "state")
    datastore.load()
    sessions = Sessions()
    alice = sessions.open("alice", "127.0.0.1:50000", datetime.now(UTC))
    sessions.open("bob", "[::1]:50001", datetime.now(UTC))
    sessions.rpc_received(alice)
    datastore.lock("candidate", alice.session_id)
    caps = capabilities.capabilities(protocol, lib)
    state = monitoring.netconf_state(datastore, sessions, monitoring.schema_entries(lib), caps)
    trees = [yang_library.yang_library_tree(lib), yang_library.modules_state_tree(lib), state]
    assert yanglint_errors(tmp_path, schema, trees) == ""
    # The lock and both sessions are there.
    assert state.findtext(f".//{{{NCM}}}locked-by-session") == str(alice.session_id)
    hosts = [e.text for e in state.iter(f"{{{NCM}}}source-host")]
    assert hosts == ["127.0.0.1", "::1"]
    # The check can fail: a library without its content-id does.
    broken = yang_library.yang_library_tree(lib)
    content_id = broken.find(f"{{{yang_library.YANGLIB_NS}}}content-id")
    assert content_id is not None
    broken.remove(content_id)
    assert "content-id" in yanglint_errors(tmp_path, schema, [broken])
