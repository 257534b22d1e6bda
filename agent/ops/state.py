"""The config-false ``keys-state`` tree, rendered from the key store on every <get>.

Why rendered, not stored: the key store is the one source of truth for key material, and
``used-by`` follows running config; a copy in the datastore could only drift.  Entries come in
label order so replies are deterministic.
"""

from __future__ import annotations

import base64
from datetime import UTC

from agent import xmlutil
from agent.datastore.store import RUNNING, Datastore
from agent.ops._config import KEYS_NS, TYPES_NS, TYPES_PREFIX, key_users
from agent.pki import KeyComponent, KeyInfo, KeyStore
from agent.xmlutil import Element


class KeysState:
    """A datastore state provider for /pki-keys:keys-state."""

    def __init__(self, store: KeyStore, datastore: Datastore) -> None:
        self._store = store
        self._datastore = datastore

    def render(self) -> list[Element]:
        """One ``keys-state`` element holding every key, sorted by label."""
        nsmap: dict[str | None, str] = {None: KEYS_NS, TYPES_PREFIX: TYPES_NS}
        top = xmlutil.make(KEYS_NS, "keys-state", nsmap=nsmap)
        users = key_users(self._datastore.tree(RUNNING))
        for info in sorted(self._store.list(), key=lambda i: i.label):
            _key(top, info, users.get(info.label, []))
        return [top]


def _key(parent: Element, info: KeyInfo, used_by: list[str]) -> None:
    el = xmlutil.sub(parent, KEYS_NS, "key")
    xmlutil.sub(el, KEYS_NS, "label", info.label)
    xmlutil.sub(el, KEYS_NS, "algorithm", f"{TYPES_PREFIX}:{info.algorithm.value}")
    xmlutil.sub(el, KEYS_NS, "key-size", str(info.key_size))
    xmlutil.sub(el, KEYS_NS, "usage", info.usage.value)
    created = info.created.astimezone(UTC).isoformat().replace("+00:00", "Z")
    xmlutil.sub(el, KEYS_NS, "created", created)
    xmlutil.sub(el, KEYS_NS, "origin", info.origin.value)
    xmlutil.sub(el, KEYS_NS, "public-only", "true" if info.public_only else "false")
    for component in info.components:
        _component(el, component)
    for name in used_by:
        xmlutil.sub(el, KEYS_NS, "used-by", name)


def _component(parent: Element, c: KeyComponent) -> None:
    el = xmlutil.sub(parent, KEYS_NS, "component")
    xmlutil.sub(el, KEYS_NS, "role", c.role.value)
    xmlutil.sub(el, KEYS_NS, "public-key-pem", c.public_key_pem)
    xmlutil.sub(el, KEYS_NS, "sha256-fingerprint", c.sha256_fingerprint)
    xmlutil.sub(el, KEYS_NS, "public-key-der", base64.b64encode(c.public_key_der).decode())
    xmlutil.sub(el, KEYS_NS, "public-key-hex", c.public_key_hex)
