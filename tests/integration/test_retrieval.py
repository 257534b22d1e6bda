"""XPath filters (RFC 6241 §8.9) and with-defaults (RFC 6243) on <get> and <get-config>, and
XPath filters on create-subscription, over real SSH with ncclient (INTEROP.md §1: how each
client sends them)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

from tests.integration.agent_process import AgentProcess
from tests.integration.conftest import connect

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
WD_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
WD_ATTR = "{urn:ietf:params:xml:ns:netconf:default:1.0}default"
KEYS = "urn:netconf-pki-agent:yang:npa-pki-keys"
TP = "urn:netconf-pki-agent:yang:npa-pki-trustpoints"
TYPES = "urn:netconf-pki-agent:yang:npa-pki-types"
SYS = "urn:netconf-pki-agent:yang:npa-pki-system"
XPATH_CAP = "urn:ietf:params:netconf:capability:xpath:1.0"
WD_CAP = (
    "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit"
    "&also-supported=report-all,report-all-tagged,trim"
)
WAIT = 15.0

CONFIG = f"""<config xmlns="{NC}">
<keys xmlns="{KEYS}" xmlns:t="{TYPES}">
  <key><label>rsa-key</label></key>
  <key><label>ec-key</label><algorithm>t:ecdsa-p256</algorithm></key>
</keys>
<trustpoints xmlns="{TP}">
  <trustpoint><name>tp1</name><description>first</description>
    <enrollment><retry><period>1</period></retry></enrollment>
    <subject><common-name>one</common-name></subject></trustpoint>
  <trustpoint><name>tp2</name><description>second</description></trustpoint>
  <trustpoint><name>tp3</name></trustpoint>
</trustpoints>
</config>"""


@pytest.fixture(scope="module")
def m(agent: AgentProcess) -> Iterator[manager.Manager]:
    """One session that configured the module's data; tests only read through it."""
    session = connect(agent, timeout=60)
    session.edit_config(target="candidate", config=CONFIG)
    session.commit()
    yield session
    if session.connected:
        session.close_session()


def data_of(reply: object) -> etree._Element:
    data = reply.data_ele  # type: ignore[attr-defined]
    assert data is not None and etree.QName(data).localname == "data"
    return data


def texts(data: etree._Element, ns: str, name: str) -> list[str | None]:
    return [e.text for e in data.iter(f"{{{ns}}}{name}")]


def leaf_names(el: etree._Element) -> list[str]:
    return [etree.QName(e).localname for e in el.iter() if len(e) == 0]


def raw(m: manager.Manager, xml: str) -> etree._Element:
    """Send an operation as written (to choose prefixes, attributes and parameters that
    ncclient's helpers would not produce); its <data>."""
    reply = m.dispatch(to_ele(xml))
    data = etree.fromstring(reply.xml.encode()).find(f"{{{NC}}}data")
    assert data is not None
    return data


def test_hello_advertises_xpath_and_with_defaults(m: manager.Manager) -> None:
    caps = list(m.server_capabilities)
    assert XPATH_CAP in caps
    assert WD_CAP in caps  # basic-mode first: yangcli and ncclient parse it


# -- XPath filters ----------------------------------------------------------------------------


def test_xpath_with_prefixes_declared_on_the_filter(m: manager.Manager) -> None:
    """ncclient declares the namespaces of its tuple on <filter>."""
    flt = ("xpath", ({"t": TP}, "/t:trustpoints/t:trustpoint[t:name='tp2']"))
    data = data_of(m.get_config(source="running", filter=flt))
    assert texts(data, TP, "name") == ["tp2"]
    assert texts(data, TP, "description") == ["second"]
    assert data.find(f"{{{KEYS}}}keys") is None


@pytest.mark.parametrize(
    "select",
    [
        "/pki-tp:trustpoints/pki-tp:trustpoint[pki-tp:name='tp1']/pki-tp:subject/pki-tp:common-name",
        "/npa-pki-trustpoints:trustpoints/trustpoint[name='tp1']/subject/common-name",
        "/trustpoints/trustpoint[name='tp1']/subject/common-name",
        "//trustpoint[name='tp1']/subject/common-name/text()",
    ],
    ids=["module-prefix", "module-name", "unprefixed", "text-node"],
)
def test_xpath_without_declarations(nc: manager.Manager, select: str) -> None:
    """scrapli, Ansible and bare ncclient send unbound prefixes or none at all: the leaf
    comes back under its ancestors, with the key of its list entry."""
    data = data_of(nc.get_config(source="running", filter=("xpath", select)))
    tp = data.find(f"{{{TP}}}trustpoints/{{{TP}}}trustpoint")
    assert tp is not None
    assert leaf_names(data) == ["name", "common-name"]
    assert texts(data, TP, "common-name") == ["one"]


def test_xpath_prefix_declared_on_get(m: manager.Manager) -> None:
    """netconf-console2 --ns declares prefixes on <get>, not on <filter>."""
    data = raw(
        m,
        f'<get xmlns="{NC}" xmlns:t="{TP}" xmlns:k="{KEYS}"><filter type="xpath" '
        "select=\"/k:keys/k:key[k:label='ec-key']/k:algorithm"
        ' | /t:trustpoints/t:trustpoint/t:name"/></get>',
    )
    assert texts(data, TP, "name") == ["tp1", "tp2", "tp3"]
    assert texts(data, KEYS, "label") == ["ec-key"]
    alg = data.find(f".//{{{KEYS}}}algorithm")
    assert alg is not None and alg.text is not None
    prefix, _, name = alg.text.partition(":")
    assert (alg.nsmap[prefix], name) == (TYPES, "ecdsa-p256")


def test_xpath_base_qualified_attributes(m: manager.Manager) -> None:
    data = raw(
        m,
        f'<get-config xmlns="{NC}" xmlns:nc="{NC}"><source><running/></source>'
        '<filter nc:type="xpath" nc:select="/trustpoints/trustpoint/description"/></get-config>',
    )
    assert texts(data, TP, "description") == ["first", "second"]
    assert texts(data, TP, "name") == ["tp1", "tp2"]


def test_xpath_slash_is_everything(m: manager.Manager) -> None:
    everything = data_of(m.get_config(source="running"))
    data = data_of(m.get_config(source="running", filter=("xpath", "/")))
    assert etree.tostring(data, method="c14n") == etree.tostring(everything, method="c14n")


def test_xpath_on_get_reaches_state(m: manager.Manager) -> None:
    data = data_of(m.get(filter=("xpath", "/keys-state/key[label='ec-key']/algorithm")))
    assert texts(data, KEYS, "label") == ["ec-key"]
    state = data.find(f"{{{KEYS}}}keys-state")
    assert state is not None and leaf_names(state) == ["label", "algorithm"]


def test_xpath_on_get_adds_state_only_inside_the_selection(m: manager.Manager) -> None:
    """An expression naming only config nodes is evaluated on running; the state of the
    entries it selects whole is there, and nothing else is."""
    data = data_of(m.get(filter=("xpath", "/trustpoints/trustpoint[name='tp1']")))
    assert [etree.QName(c).localname for c in data] == ["trustpoints"]
    assert texts(data, TP, "authenticated") == ["false"]
    data = data_of(m.get(filter=("xpath", "/trustpoints/trustpoint/description")))
    assert data.find(f".//{{{TP}}}state") is None
    assert leaf_names(data) == ["name", "description"] * 2


def test_xpath_matching_nothing_is_empty_data(m: manager.Manager) -> None:
    data = data_of(
        m.get_config(source="running", filter=("xpath", "/trustpoints/trustpoint[name='x']"))
    )
    assert len(data) == 0


@pytest.mark.parametrize(
    ("select", "words"),
    [
        ("/trustpoints/trustpoint[", "invalid XPath"),
        ("/nosuch:trustpoints", "unknown prefix 'nosuch'"),
        ("/no-such-top", "no module has a top-level node named 'no-such-top'"),
        ("//description", "ambiguous"),
        ("count(/trustpoints/trustpoint)", "not a node-set"),
        ("$v", "Undefined variable"),
    ],
)
def test_xpath_refused_with_the_reason(nc: manager.Manager, select: str, words: str) -> None:
    with pytest.raises(RPCError) as exc:
        nc.get(filter=("xpath", select))
    assert exc.value.tag == "invalid-value"
    assert exc.value.type == "protocol"
    assert words in exc.value.message


def test_xpath_without_select_is_refused(m: manager.Manager) -> None:
    with pytest.raises(RPCError) as exc:
        m.dispatch(to_ele(f'<get xmlns="{NC}"><filter type="xpath"/></get>'))
    assert exc.value.tag == "missing-attribute"
    assert "select" in exc.value.message


def test_xpath_ambiguity_names_the_modules(m: manager.Manager) -> None:
    with pytest.raises(RPCError) as exc:
        m.get_config(source="running", filter=("xpath", "//description"))
    assert "npa-pki-trustpoints" in exc.value.message
    assert "npa-pki-trustpool" in exc.value.message


def test_xpath_from_concurrent_sessions(agent: AgentProcess, m: manager.Manager) -> None:
    """Readers in several sessions while another one commits: every reply is whole."""
    sessions = [connect(agent) for _ in range(3)]
    names = {0: "tp1", 1: "tp2", 2: "tp3"}

    def read(i: int) -> list[list[str | None]]:
        flt = ("xpath", f"/trustpoints/trustpoint[name='{names[i]}']/name")
        return [
            texts(data_of(sessions[i].get_config(source="running", filter=flt)), TP, "name")
            for _ in range(15)
        ]

    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(read, i) for i in range(3)]
            for k in range(3):
                m.edit_config(
                    target="candidate",
                    config=f'<config xmlns="{NC}"><device-identity xmlns="{SYS}">'
                    f"<hostname>h{k}</hostname></device-identity></config>",
                )
                m.commit()
            results = [f.result(timeout=60) for f in futures]
    finally:
        for s in sessions:
            s.close_session()
    for i, got in enumerate(results):
        assert got == [[names[i]]] * 15


# -- with-defaults ------------------------------------------------------------------------------


def key_leaves(data: etree._Element, label: str) -> dict[str, etree._Element]:
    entry = next(k for k in data.iter(f"{{{KEYS}}}key") if k.findtext(f"{{{KEYS}}}label") == label)
    return {etree.QName(c).localname: c for c in entry}


def test_explicit_is_what_was_written(m: manager.Manager) -> None:
    for mode in (None, "explicit"):
        data = data_of(m.get_config(source="running", with_defaults=mode))
        assert set(key_leaves(data, "rsa-key")) == {"label"}
        assert texts(data, TP, "period") == ["1"]  # written, although it is the default
        assert data.find(f".//{{{TP}}}expiry-warning-days") is None


def test_report_all_adds_defaults_in_use(m: manager.Manager) -> None:
    data = data_of(m.get_config(source="running", with_defaults="report-all"))
    rsa = key_leaves(data, "rsa-key")
    assert [rsa[n].text for n in ("modulus", "usage")] == ["2048", "general-keys"]
    assert rsa["algorithm"].text is not None and rsa["algorithm"].text.endswith(":rsa")
    assert "modulus" not in key_leaves(data, "ec-key")  # its when is false for ECDSA
    assert texts(data, TP, "expiry-warning-days") == ["90"]
    assert texts(data, TP, "count") == ["10", "10", "10"]  # in containers that would exist
    assert all(e.get(WD_ATTR) is None for e in data.iter())


def test_report_all_tagged_marks_default_values(m: manager.Manager) -> None:
    data = data_of(m.get_config(source="running", with_defaults="report-all-tagged"))
    rsa = key_leaves(data, "rsa-key")
    assert rsa["modulus"].get(WD_ATTR) == "true"
    assert rsa["label"].get(WD_ATTR) is None
    ec = key_leaves(data, "ec-key")
    assert ec["algorithm"].get(WD_ATTR) is None and ec["usage"].get(WD_ATTR) == "true"
    period = data.find(f".//{{{TP}}}trustpoint/{{{TP}}}enrollment/{{{TP}}}retry/{{{TP}}}period")
    assert period is not None and period.get(WD_ATTR) == "true"  # written, equal to default


def test_trim_removes_values_equal_to_defaults(m: manager.Manager) -> None:
    data = data_of(m.get_config(source="running", with_defaults="trim"))
    assert texts(data, TP, "period") == []
    assert data.find(f".//{{{TP}}}enrollment") is None  # emptied by the trim
    assert key_leaves(data, "ec-key")["algorithm"].text is not None


def test_report_all_with_get_and_state(m: manager.Manager) -> None:
    data = data_of(m.get(with_defaults="report-all"))
    assert data.find(f"{{{KEYS}}}keys-state") is not None
    assert "modulus" in key_leaves(data.find(f"{{{KEYS}}}keys"), "rsa-key")  # type: ignore[arg-type]


def test_xpath_sees_defaults_in_report_all(m: manager.Manager) -> None:
    flt = ("xpath", "/keys/key/modulus")
    data = data_of(m.get_config(source="running", filter=flt, with_defaults="report-all"))
    assert texts(data, KEYS, "label") == ["rsa-key"]
    assert texts(data, KEYS, "modulus") == ["2048"]
    data = data_of(m.get_config(source="running", filter=flt))
    assert len(data) == 0


def test_subtree_filter_with_tagged_defaults(m: manager.Manager) -> None:
    flt = ("subtree", f'<keys xmlns="{KEYS}"><key><label>ec-key</label></key></keys>')
    data = data_of(m.get_config(source="running", filter=flt, with_defaults="report-all-tagged"))
    ec = key_leaves(data, "ec-key")
    assert ec["usage"].get(WD_ATTR) == "true"
    assert texts(data, KEYS, "label") == ["ec-key"]


def test_trim_with_xpath(m: manager.Manager) -> None:
    flt = ("xpath", "/trustpoints/trustpoint[name='tp1']")
    data = data_of(m.get_config(source="running", filter=flt, with_defaults="trim"))
    assert texts(data, TP, "name") == ["tp1"] and texts(data, TP, "period") == []


@pytest.mark.parametrize("mode", ["report-some", "", "EXPLICIT"])
def test_unknown_mode_is_invalid_value(m: manager.Manager, mode: str) -> None:
    with pytest.raises(RPCError) as exc:
        m.dispatch(
            to_ele(
                f'<get-config xmlns="{NC}"><source><running/></source>'
                f'<with-defaults xmlns="{WD_NS}">{mode}</with-defaults></get-config>'
            )
        )
    assert exc.value.tag == "invalid-value"
    assert "with-defaults" in exc.value.message and "report-all" in exc.value.message


# -- XPath filters on notifications ---------------------------------------------------------------


def take_contents(sub: manager.Manager, until: str) -> list[etree._Element]:
    """Notification contents up to one named ``until``, with a deadline."""
    got: list[etree._Element] = []
    deadline = time.monotonic() + WAIT
    while (left := deadline - time.monotonic()) > 0:
        n = sub.take_notification(timeout=left)
        if n is None:
            break
        content = next(c for c in n.notification_ele if etree.QName(c).localname != "eventTime")
        got.append(content)
        if etree.QName(content).localname == until:
            return got
    raise AssertionError(f"no {until} within {WAIT}s; got {[etree.QName(c) for c in got]}")


def commit_hostname(s: manager.Manager, name: str) -> None:
    s.edit_config(
        target="candidate",
        config=f'<config xmlns="{NC}"><device-identity xmlns="{SYS}"><hostname>{name}'
        "</hostname></device-identity></config>",
    )
    s.commit()


@pytest.mark.parametrize(
    "body",
    [
        f'<filter type="xpath" xmlns:n="{NCN}" select="/n:netconf-config-change"/>',
        '<filter type="xpath" select="/netconf-config-change[datastore=\'running\']"/>',
        '<filter type="xpath" select="/ietf-netconf-notifications:netconf-config-change"/>',
    ],
    ids=["declared", "unprefixed", "module-name"],
)
def test_subscription_xpath_filter(
    agent: AgentProcess, body: str, request: pytest.FixtureRequest
) -> None:
    """Session start and end events of the committing session are filtered out: the first
    notification to arrive is its config change."""
    with connect(agent) as sub:
        sub.dispatch(to_ele(f'<create-subscription xmlns="{NOTIF}">{body}</create-subscription>'))
        with connect(agent) as other:
            commit_hostname(other, f"xpath-{request.node.callspec.id}")  # a real change
        got = take_contents(sub, "netconf-config-change")
        assert [etree.QName(c).localname for c in got] == ["netconf-config-change"]


def test_subscription_xpath_filter_by_ncclient(agent: AgentProcess) -> None:
    with connect(agent) as sub:
        sub.create_subscription(filter=("xpath", ({"n": NCN}, "/n:netconf-config-change")))
        with connect(agent) as other:
            commit_hostname(other, "xpath-ncclient")
        assert len(take_contents(sub, "netconf-config-change")) == 1


@pytest.mark.parametrize(
    ("select", "words"),
    [
        ("/netconf-config-change[", "invalid XPath"),
        ("/nope:netconf-config-change", "unknown prefix"),
        ("count(/netconf-config-change)", "not a node-set"),
        ("$x", "Undefined variable"),
    ],
)
def test_subscription_refuses_bad_xpath(agent: AgentProcess, select: str, words: str) -> None:
    with connect(agent) as sub:
        with pytest.raises(RPCError) as exc:
            sub.dispatch(
                to_ele(
                    f'<create-subscription xmlns="{NOTIF}"><filter type="xpath" '
                    f'select="{select}"/></create-subscription>'
                )
            )
        assert exc.value.tag == "invalid-value" and words in exc.value.message
        # the refused request left no subscription behind: a good one is accepted
        assert sub.create_subscription().ok
