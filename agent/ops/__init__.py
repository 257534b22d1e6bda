"""The bridge between YANG RPCs and the PKI engine.

:func:`register` is the one call the composition root makes: it binds the key RPC handlers,
the /keys commit subscriber and the keys-state provider to one key store and datastore.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from agent.datastore.store import Datastore
from agent.ops._config import KEYS_NS
from agent.ops.apply import KeySubscriber
from agent.ops.keys import KeyHandlers
from agent.ops.state import KeysState
from agent.pki import KeyStore
from agent.xmlutil import Element

# ops may not import server/: a handler's context is opaque here (the handlers read what
# they need from the datastore and key store they are bound to).
OpsHandler = Callable[[Element, object], Awaitable[list[Element]]]


class HandlerRegistry(Protocol):
    """The part of server.dispatch.Registry that ops uses."""

    def register(
        self, ns: str, name: str, handler: OpsHandler, *, audited: bool = False
    ) -> None: ...


def register(registry: HandlerRegistry, datastore: Datastore, keys: KeyStore) -> None:
    """Wire the key RPCs (audited), the commit subscriber and keys-state."""
    handlers = KeyHandlers(keys, datastore)
    for name, handler in (
        ("generate-key", handlers.generate_key),
        ("zeroize-key", handlers.zeroize_key),
        ("import-key", handlers.import_key),
    ):
        registry.register(KEYS_NS, name, handler, audited=True)
    datastore.subscribe(KeySubscriber(keys))
    datastore.add_state_provider(KeysState(keys, datastore).render)
