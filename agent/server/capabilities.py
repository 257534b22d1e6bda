"""The capabilities the agent advertises in its hello (RFC 6241 §8, RFC 7950 §5.6.4).

The protocol capabilities are a fixed list; the module capabilities and the yang-library
ones come from the YANG library, so the hello and /modules-state always agree.
"""

from __future__ import annotations

from agent.server import notifications
from agent.server.session import BASE_1_0, BASE_1_1
from agent.server.yang_library import YangLibrary

_NC = "urn:ietf:params:netconf:capability:"
YANG_LIBRARY_REVISION = "2019-01-04"
# yang-library:1.0 (RFC 7895) is the only one yangcli knows; it then reads /modules-state.
MODULES_STATE_REVISION = "2016-06-21"
# The standard modules the agent implements besides its own (cli.py loads them).
# ietf-datastores has only identities, but /yang-library uses them as values, which
# requires the module to be implemented (RFC 7950 §9.10.2: valid identityref values are
# the identities "defined in the modules implemented by the server").
STANDARD_MODULES = (
    "ietf-datastores",
    "ietf-netconf-monitoring",
    "ietf-netconf-notifications",
    "ietf-yang-library",
)
WITH_DEFAULTS_MODULE = "ietf-netconf-with-defaults"
# ietf-netconf features (RFC 6241 YANG) by the capability that announces each.
_NETCONF_FEATURES = {
    "writable-running:1.0": "writable-running",
    "candidate:1.0": "candidate",
    "confirmed-commit:1.1": "confirmed-commit",
    "rollback-on-error:1.0": "rollback-on-error",
    "validate:1.1": "validate",
    "startup:1.0": "startup",
    "url:1.0": "url",
    "xpath:1.0": "xpath",
}


def protocol() -> list[str]:
    """The protocol capabilities, without the module ones."""
    caps = [
        BASE_1_0,
        BASE_1_1,
        _NC + "candidate:1.0",
        _NC + "confirmed-commit:1.0",
        _NC + "confirmed-commit:1.1",
        _NC + "rollback-on-error:1.0",
        _NC + "writable-running:1.0",
        _NC + "validate:1.0",
        _NC + "validate:1.1",
        _NC + "xpath:1.0",
        # basic-mode first: yangcli and ncclient parse it (INTEROP.md §1)
        _NC + "with-defaults:1.0?basic-mode=explicit"
        "&also-supported=report-all,report-all-tagged,trim",
        *notifications.CAPABILITIES,
    ]
    return caps


def standard_modules(protocol_caps: list[str]) -> tuple[str, ...]:
    """The standard modules to compile as implemented; with-defaults only while its
    capability is advertised."""
    with_defaults = any(c.startswith(_NC + "with-defaults:1.0") for c in protocol_caps)
    return STANDARD_MODULES + ((WITH_DEFAULTS_MODULE,) if with_defaults else ())


def netconf_features(protocol_caps: list[str]) -> tuple[str, ...]:
    """The ietf-netconf features that the advertised capabilities stand for."""
    return tuple(
        feature
        for cap, feature in _NETCONF_FEATURES.items()
        if any(c == _NC + cap or c.startswith(f"{_NC}{cap}?") for c in protocol_caps)
    )


def capabilities(protocol_caps: list[str], library: YangLibrary) -> list[str]:
    """The hello's list: protocol, then one per implemented YANG 1.0 module (YANG 1.1
    modules appear only through yang-library, RFC 7950 §5.6.4), then yang-library."""
    caps = list(protocol_caps)
    for mod in library.modules:
        if mod.yang_version == "1" and mod.implemented:
            rev = f"&revision={mod.revision}" if mod.revision else ""
            feats = f"&features={','.join(mod.features)}" if mod.features else ""
            caps.append(f"{mod.namespace}?module={mod.name}{rev}{feats}")
    caps.append(
        f"{_NC}yang-library:1.0?revision={MODULES_STATE_REVISION}"
        f"&module-set-id={library.content_id}"
    )
    caps.append(
        f"{_NC}yang-library:1.1?revision={YANG_LIBRARY_REVISION}&content-id={library.content_id}"
    )
    return caps
