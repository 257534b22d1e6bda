"""The capabilities the agent advertises in its hello (RFC 6241 §8, RFC 7950 §5.6.4)."""

from __future__ import annotations

import hashlib

from agent.datastore.schema import Schema
from agent.server import notifications
from agent.server.session import BASE_1_0, BASE_1_1

_NC = "urn:ietf:params:netconf:capability:"
YANG_LIBRARY_REVISION = "2019-01-04"


def capabilities(schema: Schema) -> list[str]:
    caps = [
        BASE_1_0,
        BASE_1_1,
        _NC + "candidate:1.0",
        _NC + "rollback-on-error:1.0",
        _NC + "validate:1.0",
        _NC + "validate:1.1",
        *notifications.CAPABILITIES,
    ]
    # YANG 1.0 modules are listed one by one; YANG 1.1 modules only through the
    # yang-library capability (RFC 7950 §5.6.4).
    for mod in sorted(schema.modules.values(), key=lambda m: m.name):
        if mod.yang_version == "1" and mod.implemented:
            rev = f"&revision={mod.revision}" if mod.revision else ""
            caps.append(f"{mod.namespace}?module={mod.name}{rev}")
    caps.append(
        f"{_NC}yang-library:1.1?revision={YANG_LIBRARY_REVISION}&content-id={content_id(schema)}"
    )
    return caps


def content_id(schema: Schema) -> str:
    """Changes whenever the module set does (RFC 8525 content-id)."""
    h = hashlib.sha256()
    for mod in sorted(schema.modules.values(), key=lambda m: m.name):
        h.update(f"{mod.name}@{mod.revision}:{mod.implemented};".encode())
    return h.hexdigest()[:16]
