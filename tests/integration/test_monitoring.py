"""Schema discovery and monitoring over real SSH: get-schema and /netconf-state
(ietf-netconf-monitoring, RFC 6022), /yang-library (RFC 8525) and /modules-state (RFC 7895),
and the hello capabilities that point clients to them (INTEROP.md: yangcli, ncclient)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele
from pyang import context, repository

from agent.datastore.schema import standard_module_dirs
from agent.server import auth
from tests.integration.agent_process import AgentProcess, start_agent
from tests.integration.raw import HELLO_10, RawSession

NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YANGLIB = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
CAP = "urn:ietf:params:netconf:capability:"
NS = {"ncm": NCM, "yl": YANGLIB, "nc": BASE}
YANG_DIR = Path(__file__).resolve().parents[2] / "yang"
PASSWORDS = {"admin": "admin-secret-1", "operator": "operator-secret-2"}


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """An agent with two users, so that sessions can be told apart by username."""
    base = tmp_path_factory.mktemp("monitoring")
    config = base / "agent.toml"
    config.write_text(
        "".join(
            f'[[users]]\nname = "{name}"\npassword-hash = "{auth.hash_password(pw)}"\n'
            for name, pw in PASSWORDS.items()
        )
    )
    state = base / "state"
    state.mkdir()
    # AgentProcess.password (used by RawSession callers) reads this file.
    (state / "admin-password").write_text(PASSWORDS["admin"])
    proc = start_agent(state, "--config", str(config))
    yield proc
    proc.stop()


def connect_as(agent: AgentProcess, user: str = "admin") -> manager.Manager:
    return manager.connect(
        host=agent.host,
        port=agent.port,
        username=user,
        password=PASSWORDS[user],
        hostkey_verify=False,
        look_for_keys=False,
        allow_agent=False,
        timeout=30,
    )


@pytest.fixture(scope="module")
def m(agent: AgentProcess) -> Iterator[manager.Manager]:
    session = connect_as(agent)
    yield session
    if session.connected:
        session.close_session()


def get_state(m: manager.Manager, subtree: str) -> etree._Element:
    data: etree._Element = m.get(filter=("subtree", subtree)).data_ele
    return data


def netconf_state(m: manager.Manager, inner: str = "") -> etree._Element:
    data = get_state(m, f'<netconf-state xmlns="{NCM}">{inner}</netconf-state>')
    found = data.find("ncm:netconf-state", NS)
    assert found is not None, etree.tostring(data)
    return found


def session_entry(m: manager.Manager, session_id: str) -> etree._Element | None:
    state = netconf_state(m, "<sessions/>")
    for s in state.iterfind("ncm:sessions/ncm:session", NS):
        if s.findtext("ncm:session-id", namespaces=NS) == session_id:
            return s
    return None


def counter(entry: etree._Element, name: str) -> int:
    return int(entry.findtext(f"ncm:{name}", namespaces=NS) or "-1")


def poll(fn: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """The first truthy result of ``fn``, or a failure naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = fn()
        if result:
            return result
    raise AssertionError(f"timed out waiting for {what}")


def rpc_error(call: Callable[[], Any]) -> RPCError:
    with pytest.raises(RPCError) as info:
        call()
    return info.value


def parse_back(text: str) -> tuple[str, str, str]:
    """(keyword, name, latest revision) of YANG text, as pyang parses it."""
    ctx = context.Context(repository.FileRepository("", use_env=False))
    mod = ctx.add_module("get-schema-reply", text, in_format="yang")
    assert mod is not None, ctx.errors
    revisions = sorted((r.arg for r in mod.search("revision")), reverse=True)
    return mod.keyword, mod.arg, revisions[0] if revisions else ""


# -- hello ----------------------------------------------------------------------------------


def test_hello_points_to_monitoring_and_both_yang_libraries(m: manager.Manager) -> None:
    caps = list(m.server_capabilities)
    assert any(c.startswith(NCM) for c in caps)  # what yangcli needs before get-schema
    v10 = [c for c in caps if c.startswith(CAP + "yang-library:1.0?")]
    v11 = [c for c in caps if c.startswith(CAP + "yang-library:1.1?")]
    assert len(v10) == 1 and v10[0].startswith(CAP + "yang-library:1.0?revision=2016-06-21&")
    assert len(v11) == 1 and "revision=2019-01-04" in v11[0]


def test_netconf_state_capabilities_are_the_hello_list(m: manager.Manager) -> None:
    state = netconf_state(m, "<capabilities/>")
    listed = [c.text for c in state.iterfind("ncm:capabilities/ncm:capability", NS)]
    assert listed == list(m.server_capabilities)


# -- /modules-state and /yang-library ----------------------------------------------------------


def modules_state(m: manager.Manager) -> etree._Element:
    data = get_state(m, f'<modules-state xmlns="{YANGLIB}"/>')
    found = data.find("yl:modules-state", NS)
    assert found is not None
    return found


def test_modules_state_module_set_id_matches_the_capability(m: manager.Manager) -> None:
    cap = next(c for c in m.server_capabilities if c.startswith(CAP + "yang-library:1.0?"))
    state = modules_state(m)
    module_set_id = state.findtext("yl:module-set-id", namespaces=NS)
    assert module_set_id and cap.endswith("&module-set-id=" + module_set_id)
    # What yangcli asserts for each module: name, revision and namespace present.
    for mod in state.iterfind("yl:module", NS):
        assert mod.findtext("yl:name", namespaces=NS)
        assert mod.find("yl:revision", NS) is not None
        assert mod.findtext("yl:namespace", namespaces=NS)
        assert mod.findtext("yl:conformance-type", namespaces=NS) in ("implement", "import")


def test_every_module_capability_agrees_with_the_library(m: manager.Manager) -> None:
    mods = {
        mod.findtext("yl:name", namespaces=NS): mod
        for mod in modules_state(m).iterfind("yl:module", NS)
    }
    module_caps = [c for c in m.server_capabilities if "?module=" in c]
    assert module_caps
    for cap in module_caps:
        ns, _, query = cap.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&"))
        mod = mods[params["module"]]
        assert mod.findtext("yl:namespace", namespaces=NS) == ns
        assert mod.findtext("yl:revision", namespaces=NS) == params.get("revision", "")
        assert mod.findtext("yl:conformance-type", namespaces=NS) == "implement"
        features = [f.text for f in mod.iterfind("yl:feature", NS)]
        assert features == (params["features"].split(",") if "features" in params else [])
    # ietf-netconf is implemented (by the base operations), with the advertised features.
    netconf = next(c for c in module_caps if "module=ietf-netconf&" in c)
    features = netconf.partition("&features=")[2].split(",")
    assert {"candidate", "rollback-on-error", "validate"} <= set(features)
    for feature in features:  # each one stands for an advertised capability
        assert any(c.startswith(f"{CAP}{feature}:") for c in m.server_capabilities), feature
    implemented = {
        n
        for n, mod in mods.items()
        if mod.findtext("yl:conformance-type", namespaces=NS) == "implement"
    }
    assert {
        "npa-pki-keys",
        "ietf-netconf",
        "ietf-netconf-monitoring",
        "ietf-yang-library",
        "ietf-netconf-notifications",
        "ietf-datastores",  # its identities name the datastores in /yang-library
    } <= implemented
    assert {"ietf-inet-types", "ietf-yang-types", "ietf-netconf-acm"} <= set(mods) - implemented


def test_yang_library_content_id_matches_the_capability(m: manager.Manager) -> None:
    cap = next(c for c in m.server_capabilities if c.startswith(CAP + "yang-library:1.1?"))
    data = get_state(m, f'<yang-library xmlns="{YANGLIB}"/>')
    lib = data.find("yl:yang-library", NS)
    assert lib is not None
    content_id = lib.findtext("yl:content-id", namespaces=NS)
    assert content_id and cap.endswith("&content-id=" + content_id)
    mset = lib.find("yl:module-set", NS)
    assert mset is not None and mset.findtext("yl:name", namespaces=NS) == "complete"
    implemented = {e.findtext("yl:name", namespaces=NS) for e in mset.iterfind("yl:module", NS)}
    import_only = {
        e.findtext("yl:name", namespaces=NS) for e in mset.iterfind("yl:import-only-module", NS)
    }
    assert "ietf-netconf-monitoring" in implemented and "ietf-inet-types" in import_only
    assert not implemented & import_only
    names = []
    for ds in lib.iterfind("yl:datastore", NS):
        prefix, _, local = (ds.findtext("yl:name", namespaces=NS) or "").partition(":")
        assert ds.nsmap[prefix] == DS  # an identityref of ietf-datastores
        assert ds.findtext("yl:schema", namespaces=NS) == "complete"
        names.append(local)
    assert names == ["running", "candidate"]


def test_library_state_is_not_configuration(m: manager.Manager) -> None:
    config = m.get_config(source="running").data_ele
    assert config.find("yl:yang-library", NS) is None
    assert config.find("ncm:netconf-state", NS) is None


# -- get-schema ---------------------------------------------------------------------------------


def schema_entries(m: manager.Manager) -> list[tuple[str, str, str]]:
    state = netconf_state(m, "<schemas/>")
    out = []
    for s in state.iterfind("ncm:schemas/ncm:schema", NS):
        assert s.findtext("ncm:format", namespaces=NS) == "yang"
        assert s.findtext("ncm:location", namespaces=NS) == "NETCONF"
        assert s.findtext("ncm:namespace", namespaces=NS)
        out.append(
            (
                s.findtext("ncm:identifier", namespaces=NS) or "",
                s.findtext("ncm:version", namespaces=NS) or "",
                s.findtext("ncm:namespace", namespaces=NS) or "",
            )
        )
    return out


def test_every_listed_schema_is_served_and_parses_back(m: manager.Manager) -> None:
    entries = schema_entries(m)
    names = {name for name, _, _ in entries}
    own = {p.name.split("@")[0] for p in YANG_DIR.glob("*.yang")}
    assert own | {"ietf-inet-types", "ietf-yang-types", "ietf-netconf", "ietf-datastores"} <= names
    for name, version, _ in entries:
        text = m.get_schema(name, version, "yang").data
        keyword, parsed_name, revision = parse_back(text)
        assert (parsed_name, revision) == (name, version)
        assert keyword in ("module", "submodule")


def test_get_schema_returns_the_exact_file(m: manager.Manager) -> None:
    for path in YANG_DIR.glob("*.yang"):
        name, _, rev = path.stem.partition("@")
        assert m.get_schema(name, rev, "yang").data == path.read_text(encoding="utf-8")
    inet = next(
        d / "ietf-inet-types.yang"
        for d in standard_module_dirs()
        if (d / "ietf-inet-types.yang").is_file()
    )
    assert m.get_schema("ietf-inet-types").data == inet.read_text(encoding="utf-8")


def test_get_schema_reply_is_data_in_the_monitoring_namespace(m: manager.Manager) -> None:
    reply = m.get_schema("npa-pki-keys")
    root = to_ele(reply.xml)
    assert [c.tag for c in root] == [f"{{{NCM}}}data"]


@pytest.mark.parametrize("fmt", ["yang", "ncm:yang", None])
def test_get_schema_format_yang_prefixed_unbound_or_absent(m: manager.Manager, fmt: str) -> None:
    # ncclient sends "ncm:yang" with the prefix undeclared, as yangcli does.
    text = m.get_schema("npa-pki-types", None, fmt).data
    assert parse_back(text)[1] == "npa-pki-types"


def dispatch_get_schema(m: manager.Manager, body: str, nsdecl: str = "") -> etree._Element:
    reply = m.dispatch(to_ele(f'<get-schema xmlns="{NCM}" {nsdecl}>{body}</get-schema>'))
    root: etree._Element = to_ele(reply.xml)
    return root


def test_get_schema_format_with_a_declared_prefix(m: manager.Manager) -> None:
    root = dispatch_get_schema(
        m, "<identifier>ietf-yang-types</identifier><format>mon:yang</format>", f'xmlns:mon="{NCM}"'
    )
    assert parse_back(root.findtext("ncm:data", namespaces=NS) or "")[1] == "ietf-yang-types"


def test_get_schema_prefix_bound_to_another_namespace_is_invalid(m: manager.Manager) -> None:
    err = rpc_error(
        lambda: dispatch_get_schema(
            m, "<identifier>ietf-yang-types</identifier><format>x:yang</format>", 'xmlns:x="urn:x"'
        )
    )
    assert err.tag == "invalid-value"


@pytest.mark.parametrize("version", ["", None])
def test_get_schema_empty_or_absent_version_means_latest(
    m: manager.Manager, version: str | None
) -> None:
    text = m.get_schema("npa-pki-keys", version, "yang").data
    assert parse_back(text)[1:] == ("npa-pki-keys", "2026-11-25")


def test_get_schema_empty_version_element_on_the_wire(m: manager.Manager) -> None:
    root = dispatch_get_schema(
        m, "<identifier>ietf-netconf-monitoring</identifier><version/><format>yang</format>"
    )
    assert "module ietf-netconf-monitoring" in (root.findtext("ncm:data", namespaces=NS) or "")


@pytest.mark.parametrize(
    ("identifier", "version", "fmt", "tag"),
    [
        ("no-such-module", None, None, "invalid-value"),
        ("npa-pki-keys", "1999-01-01", "yang", "invalid-value"),
        ("npa-pki-keys", None, "yin", "invalid-value"),
        ("npa-pki-keys", None, "ncm:xsd", "invalid-value"),
        ("npa-pki-keys", None, "not-a-format", "invalid-value"),
        ("", None, None, "invalid-value"),
    ],
)
def test_get_schema_failures(
    m: manager.Manager, identifier: str, version: str | None, fmt: str | None, tag: str
) -> None:
    err = rpc_error(lambda: m.get_schema(identifier, version, fmt))
    assert err.tag == tag
    assert err.severity == "error"
    assert err.message


def test_get_schema_without_identifier_or_with_unknown_parameter(m: manager.Manager) -> None:
    err = rpc_error(lambda: dispatch_get_schema(m, "<version>2026-11-25</version>"))
    assert err.tag == "missing-element"
    err = rpc_error(
        lambda: dispatch_get_schema(m, "<identifier>npa-pki-keys</identifier><colour>red</colour>")
    )
    assert err.tag == "unknown-element"
    # The session is still usable after the errors.
    assert m.get_schema("npa-pki-keys").data


# -- sessions and counters ----------------------------------------------------------------------


def test_two_concurrent_sessions_with_their_users_and_counters(
    agent: AgentProcess, m: manager.Manager
) -> None:
    with connect_as(agent, "admin") as a, connect_as(agent, "operator") as b:
        first = session_entry(a, a.session_id)
        other = session_entry(a, b.session_id)
        assert first is not None and other is not None
        assert first.findtext("ncm:username", namespaces=NS) == "admin"
        assert other.findtext("ncm:username", namespaces=NS) == "operator"
        for entry in (first, other):
            assert entry.findtext("ncm:transport", namespaces=NS) == "netconf-ssh"
            assert entry.findtext("ncm:source-host", namespaces=NS) == "127.0.0.1"
            login = datetime.fromisoformat(entry.findtext("ncm:login-time", namespaces=NS) or "")
            assert abs(datetime.now(UTC) - login) < timedelta(minutes=5)
        a_rpcs, b_rpcs = counter(first, "in-rpcs"), counter(other, "in-rpcs")
        assert a_rpcs >= 1
        # a's own next get counts itself; b's count stands still until b sends something.
        again = session_entry(a, b.session_id)
        assert again is not None and counter(again, "in-rpcs") == b_rpcs
        mine = session_entry(a, a.session_id)
        assert mine is not None and counter(mine, "in-rpcs") == a_rpcs + 3
        b.get_config(source="running")
        b.get_config(source="candidate")
        seen_by_b = session_entry(b, b.session_id)
        assert seen_by_b is not None and counter(seen_by_b, "in-rpcs") == b_rpcs + 3
        b_id = b.session_id
    poll(lambda: session_entry(m, b_id) is None, f"session {b_id} to leave the list")


def test_rpc_errors_are_counted(m: manager.Manager) -> None:
    before = session_entry(m, m.session_id)
    assert before is not None
    rpc_error(lambda: m.get_schema("no-such-module"))
    after = session_entry(m, m.session_id)
    assert after is not None
    assert counter(after, "out-rpc-errors") == counter(before, "out-rpc-errors") + 1
    assert counter(after, "in-rpcs") == counter(before, "in-rpcs") + 2
    assert counter(after, "in-bad-rpcs") == counter(before, "in-bad-rpcs")


def statistics(m: manager.Manager) -> dict[str, str]:
    stats = netconf_state(m, "<statistics/>").find("ncm:statistics", NS)
    assert stats is not None
    return {etree.QName(c).localname: c.text or "" for c in stats}


def test_bad_rpcs_from_a_raw_session_are_counted(agent: AgentProcess, m: manager.Manager) -> None:
    raw = RawSession(agent.host, agent.port, agent.password)
    try:
        raw.send(HELLO_10)
        sid = etree.fromstring(raw.server_hello.strip()).findtext("nc:session-id", namespaces=NS)
        assert sid
        global_before = statistics(m)
        raw.send(f'<rpc xmlns="{BASE}"><get/></rpc>]]>]]>'.encode())  # no message-id
        assert b"missing-attribute" in raw.read_until(b"]]>]]>")
        raw.send(b"<not-xml]]>]]>")
        assert b"malformed-message" in raw.read_until(b"]]>]]>")
        entry = session_entry(m, sid)
        assert entry is not None
        assert (counter(entry, "in-rpcs"), counter(entry, "in-bad-rpcs")) == (0, 2)
        assert counter(entry, "out-rpc-errors") == 2
        global_after = statistics(m)
        assert int(global_after["in-bad-rpcs"]) == int(global_before["in-bad-rpcs"]) + 2
        assert int(global_after["out-rpc-errors"]) >= int(global_before["out-rpc-errors"]) + 2
    finally:
        raw.close()


def test_statistics_count_sessions_bad_hellos_and_drops(
    agent: AgentProcess, m: manager.Manager
) -> None:
    before = statistics(m)
    start = datetime.fromisoformat(before["netconf-start-time"])
    assert start <= datetime.now(UTC)
    bad = RawSession(agent.host, agent.port, agent.password)
    bad.send(b'<hello xmlns="urn:not-netconf"/>]]>]]>')
    assert bad.closed_by_peer()
    bad.close()
    dropped = RawSession(agent.host, agent.port, agent.password)
    dropped.send(HELLO_10)
    dropped.close()  # no close-session: a dropped session
    with connect_as(agent) as c:
        c.get_config(source="running")  # ended by close-session: not dropped
    after = poll(
        lambda: (s := statistics(m))["dropped-sessions"] != before["dropped-sessions"] and s,
        "the dropped session to be counted",
    )
    assert int(after["in-bad-hellos"]) == int(before["in-bad-hellos"]) + 1
    assert int(after["in-sessions"]) == int(before["in-sessions"]) + 3
    # The bad hello's session and the dropped one; the closed one is not.
    poll(
        lambda: int(statistics(m)["dropped-sessions"]) == int(before["dropped-sessions"]) + 2,
        "both abnormal ends to be counted",
    )
    assert int(statistics(m)["in-rpcs"]) > int(after["in-rpcs"])


def test_notifications_sent_are_counted(agent: AgentProcess) -> None:
    with connect_as(agent) as sub:
        sub.create_subscription()
        with connect_as(agent, "operator"):
            pass  # its session-start (and end) go to the subscriber
        assert sub.take_notification(timeout=15) is not None
        entry = session_entry(sub, sub.session_id)
        assert entry is not None and counter(entry, "out-notifications") >= 1
        assert int(statistics(sub)["out-notifications"]) >= 1


def test_subtree_filter_selects_one_session(agent: AgentProcess, m: manager.Manager) -> None:
    with connect_as(agent, "operator") as other:
        state = netconf_state(
            m,
            f"<sessions><session><session-id>{other.session_id}</session-id></session></sessions>",
        )
        ids = [e.text for e in state.iterfind("ncm:sessions/ncm:session/ncm:session-id", NS)]
        assert ids == [other.session_id]
        assert state.find("ncm:schemas", NS) is None


# -- locks -----------------------------------------------------------------------------------


def locks_by_datastore(m: manager.Manager) -> dict[str, tuple[str, str] | None]:
    out: dict[str, tuple[str, str] | None] = {}
    for ds in netconf_state(m, "<datastores/>").iterfind("ncm:datastores/ncm:datastore", NS):
        lock = ds.find("ncm:locks/ncm:global-lock", NS)
        out[ds.findtext("ncm:name", namespaces=NS) or ""] = (
            None
            if lock is None
            else (
                lock.findtext("ncm:locked-by-session", namespaces=NS) or "",
                lock.findtext("ncm:locked-time", namespaces=NS) or "",
            )
        )
    return out


def test_a_lock_shows_in_datastores(agent: AgentProcess, m: manager.Manager) -> None:
    assert locks_by_datastore(m) == {"running": None, "candidate": None}
    with connect_as(agent, "operator") as holder:
        holder.lock("candidate")
        seen = locks_by_datastore(m)
        assert seen["running"] is None
        lock = seen["candidate"]
        assert lock is not None and lock[0] == holder.session_id
        assert abs(datetime.now(UTC) - datetime.fromisoformat(lock[1])) < timedelta(minutes=5)
        holder.unlock("candidate")
        assert locks_by_datastore(m)["candidate"] is None
        holder.lock("running")
        running = locks_by_datastore(m)["running"]
        assert running is not None and running[0] == holder.session_id
    # A lock dies with its session (the transport may close just after the reply).
    poll(lambda: locks_by_datastore(m)["running"] is None, "the lock to be released")


# -- yangcli ----------------------------------------------------------------------------------


def test_yangcli_autoloads_every_module_through_the_library(
    agent: AgentProcess, m: manager.Manager, tmp_path: Path
) -> None:
    """yangcli 2.13 reads /modules-state (yang-library:1.0), then fetches with get-schema
    (format ncm:yang) every module it lacks: ours, and ietf-yang-library 2019-01-04."""
    yangcli = shutil.which("yangcli")
    assert yangcli, "yangcli not found: install the Debian yangcli package (INTEROP.md §3)"
    script = tmp_path / "script"
    script.write_text("sget /netconf-state/sessions\n")
    out = subprocess.run(
        [
            yangcli,
            f"--server={agent.host}",
            f"--ncport={agent.port}",
            "--user=operator",
            f"--password={PASSWORDS['operator']}",
            "--batch-mode",
            f"--run-script={script}",
            "--log-level=debug",
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=120,
    ).stdout
    module_set_id = modules_state(m).findtext("yl:module-set-id", namespaces=NS)
    assert f"Current module-set-id: {module_set_id}." in out
    for path in YANG_DIR.glob("*.yang"):
        name, _, rev = path.stem.partition("@")
        assert f"Got autoload reply for '{name}' r'{rev}'" in out
    assert "Got autoload reply for 'ietf-yang-library' r'2019-01-04'" in out
    assert "RPC Data Reply" in out and "RPC Error Reply" not in out
    assert "username operator" in out
