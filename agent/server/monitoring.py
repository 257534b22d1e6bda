"""ietf-netconf-monitoring (RFC 6022): the get-schema operation and /netconf-state.

/netconf-state is built on each <get> by a datastore state provider, so subtree filters
apply to it like to any other data.  The schemas it lists are exactly those get-schema
serves: every module and submodule of the YANG library, as YANG, retrieved over NETCONF.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from agent import xmlutil
from agent.datastore.store import DATASTORES, Datastore
from agent.errors import InvalidValue, MissingElement, UnknownElement
from agent.server.dispatch import HandlerResult, Registry, RpcContext
from agent.server.sessions import Sessions
from agent.server.yang_library import YangLibrary
from agent.xmlutil import Element

NCM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
GET_SCHEMA = (NCM_NS, "get-schema")
# The schema-format identities of ietf-netconf-monitoring; the agent serves only yang.
_FORMATS = frozenset({"xsd", "yang", "yin", "rng", "rnc"})
_PARAMETERS = frozenset({"identifier", "version", "format"})


@dataclass(frozen=True, slots=True)
class SchemaEntry:
    """One /netconf-state/schemas/schema entry (format yang, location NETCONF)."""

    identifier: str
    version: str  # the revision, "" when none
    namespace: str  # a submodule's is the one of the module it belongs to
    text: str


def schema_entries(library: YangLibrary) -> list[SchemaEntry]:
    entries = []
    for m in library.modules:
        entries.append(SchemaEntry(m.name, m.revision, m.namespace, m.text))
        entries.extend(SchemaEntry(s.name, s.revision, m.namespace, s.text) for s in m.submodules)
    return entries


def register(
    registry: Registry,
    datastore: Datastore,
    sessions: Sessions,
    library: YangLibrary,
    capabilities: list[str],
) -> None:
    entries = schema_entries(library)
    # get-schema parses its own input, like the base operations: clients send the format
    # as `yang`, as `ncm:yang` with the prefix declared, or with it unbound (yangcli,
    # INTEROP.md §2.7), which the generic YANG input check would refuse.
    datastore.schema.rpcs.pop(GET_SCHEMA, None)

    def get_schema_handler(op: Element, ctx: RpcContext) -> HandlerResult:
        return [get_schema(entries, op)]

    registry.register(*GET_SCHEMA, get_schema_handler)
    datastore.add_state_provider(
        ((NCM_NS, "netconf-state"),),
        lambda: [netconf_state(datastore, sessions, entries, capabilities)],
    )


# -- get-schema -------------------------------------------------------------------------------


def get_schema(entries: list[SchemaEntry], op: Element) -> Element:
    """RFC 6022 §3.1: the schema text in <data>, which goes right under <rpc-reply>."""
    params = _parameters(op)
    if "identifier" not in params:
        raise MissingElement(
            "<get-schema> needs an <identifier>", info=[("", "bad-element", "identifier")]
        )
    _check_format(params.get("format"))
    entry = find_schema(
        entries, xmlutil.text_of(params["identifier"]), _text(params.get("version"))
    )
    return xmlutil.make(NCM_NS, "data", entry.text, nsmap={None: NCM_NS})


def find_schema(entries: list[SchemaEntry], identifier: str, version: str) -> SchemaEntry:
    """The entry with this identifier and version; an empty version means the latest.
    Every other case is invalid-value, as RFC 6022 says for a schema that does not exist."""
    found = [e for e in entries if e.identifier == identifier]
    if not found:
        raise _invalid("identifier", f"no schema {identifier!r} on this server")
    if version:
        found = [e for e in found if e.version == version]
        if not found:
            raise _invalid("version", f"schema {identifier!r} has no version {version!r}")
    return max(found, key=lambda e: e.version)


def _parameters(op: Element) -> dict[str, Element]:
    """The parameters by name, in the monitoring namespace or unqualified (INTEROP §2.3)."""
    params: dict[str, Element] = {}
    for child in xmlutil.children(op):
        ns, name = xmlutil.split(child)
        if ns not in (NCM_NS, "") or name not in _PARAMETERS:
            raise UnknownElement(
                f"<{name}> is not a parameter of get-schema",
                error_type=None,
                info=[("", "bad-element", name)],
            )
        params[name] = child
    return params


def _check_format(el: Element | None) -> None:
    """Absent means yang.  The identityref's prefix, when bound, must name this module; an
    unbound one is taken as meant for it (yangcli sends `ncm:yang` undeclared)."""
    if el is None:
        return
    prefix, _, name = xmlutil.text_of(el).strip().rpartition(":")
    bound = el.nsmap.get(prefix) if prefix else None
    if bound is not None and bound != NCM_NS:
        raise _invalid("format", f"format {name!r} is not a schema-format of {NCM_NS}")
    if name not in _FORMATS:
        raise _invalid("format", f"unknown schema format {name!r}")
    if name != "yang":
        raise _invalid("format", f"schemas are served in format yang only, not {name!r}")


def _text(el: Element | None) -> str:
    return "" if el is None else xmlutil.text_of(el).strip()


def _invalid(param: str, message: str) -> InvalidValue:
    return InvalidValue(
        message,
        path=f"/ncm:get-schema/ncm:{param}",
        path_ns={"ncm": NCM_NS},
        info=[("", "bad-element", param)],
    )


# -- /netconf-state -----------------------------------------------------------------------------


def netconf_state(
    datastore: Datastore, sessions: Sessions, entries: list[SchemaEntry], capabilities: list[str]
) -> Element:
    root = xmlutil.root(NCM_NS, "netconf-state")
    caps = _sub(root, "capabilities")
    for uri in capabilities:
        _sub(caps, "capability", uri)
    _datastores(_sub(root, "datastores"), datastore)
    schemas = _sub(root, "schemas")
    for e in entries:
        el = _sub(schemas, "schema")
        for name, text in _schema_leaves(e):
            _sub(el, name, text)
    _sessions(_sub(root, "sessions"), sessions)
    _statistics(_sub(root, "statistics"), sessions)
    return root


def _schema_leaves(e: SchemaEntry) -> Iterator[tuple[str, str]]:
    yield from (("identifier", e.identifier), ("version", e.version), ("format", "yang"))
    yield from (("namespace", e.namespace), ("location", "NETCONF"))


def _datastores(parent: Element, datastore: Datastore) -> None:
    for name in DATASTORES:
        ds = _sub(parent, "datastore")
        _sub(ds, "name", name)
        holder, since = datastore.locks.holder(name), datastore.locks.locked_since(name)
        if holder is not None and since is not None:
            lock = _sub(_sub(ds, "locks"), "global-lock")
            _sub(lock, "locked-by-session", str(holder))
            _sub(lock, "locked-time", _time(since))


def _sessions(parent: Element, sessions: Sessions) -> None:
    for info in sorted(sessions.all(), key=lambda i: i.session_id):
        el = _sub(parent, "session")
        _sub(el, "session-id", str(info.session_id))
        _sub(el, "transport", "netconf-ssh")  # an identity of this module: no prefix needed
        _sub(el, "username", info.user)
        if info.host is not None:
            _sub(el, "source-host", info.host)
        _sub(el, "login-time", _time(info.started))
        _counters(el, info.in_rpcs, info.in_bad_rpcs, info.out_rpc_errors, info.out_notifications)


def _statistics(parent: Element, sessions: Sessions) -> None:
    s = sessions.stats
    _sub(parent, "netconf-start-time", _time(s.netconf_start_time))
    _sub(parent, "in-bad-hellos", str(s.in_bad_hellos))
    _sub(parent, "in-sessions", str(s.in_sessions))
    _sub(parent, "dropped-sessions", str(s.dropped_sessions))
    _counters(parent, s.in_rpcs, s.in_bad_rpcs, s.out_rpc_errors, s.out_notifications)


def _counters(parent: Element, *values: int) -> None:
    for name, value in zip(
        ("in-rpcs", "in-bad-rpcs", "out-rpc-errors", "out-notifications"), values, strict=True
    ):
        _sub(parent, name, str(value))


def _time(when: datetime) -> str:
    """yang:date-and-time in UTC."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: Element, name: str, text: str | None = None) -> Element:
    return xmlutil.sub(parent, NCM_NS, name, text)
