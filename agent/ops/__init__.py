"""The bridge between YANG RPCs and the PKI engine.

:func:`register` is the one call the composition root makes: it binds the key RPC handlers,
the /keys commit subscriber and the keys-state provider to one key store and datastore.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from agent.clock import Clock
from agent.datastore.store import Datastore
from agent.ops._config import KEYS_NS, TP_NS
from agent.ops.apply import KeySubscriber
from agent.ops.keys import KeyHandlers
from agent.ops.polling import Poller
from agent.ops.state import KeysState, TrustpointsState
from agent.ops.trustpoint_removal import TrustpointRemovalSubscriber
from agent.ops.trustpoints import TrustpointHandlers
from agent.pki import KeyStore
from agent.pki.pending import EventLog, PendingStore
from agent.pki.trustpoints import TrustpointStore
from agent.xmlutil import Element

# ops may not import server/: a handler's context is opaque here (the handlers read what
# they need from the datastore and key store they are bound to).
OpsHandler = Callable[[Element, object], Awaitable[list[Element]]]


class HandlerRegistry(Protocol):
    """The part of server.dispatch.Registry that ops uses."""

    def register(
        self, ns: str, name: str, handler: OpsHandler, *, audited: bool = False
    ) -> None: ...


def register(
    registry: HandlerRegistry,
    datastore: Datastore,
    keys: KeyStore,
    certs: TrustpointStore,
    requests: Path,
    clock: Clock,
    enrollments: Path,
) -> Poller:
    """Wire the key and trustpoint RPCs (audited), the commit subscriber and the state.

    ``requests`` is where offline (terminal) certificate requests are written;
    ``enrollments`` holds pending SCEP enrollments and the enrollment notifications.  The
    returned :class:`Poller` is started by the caller on its event loop (it resumes the
    recorded pending work) and stopped at shutdown."""
    handlers = KeyHandlers(keys, datastore, certs)
    for name, handler in (
        ("generate-key", handlers.generate_key),
        ("zeroize-key", handlers.zeroize_key),
        ("import-key", handlers.import_key),
    ):
        registry.register(KEYS_NS, name, handler, audited=True)
    tp = TrustpointHandlers(certs, keys, datastore, requests, clock)
    pending = PendingStore(enrollments / "pending")
    poller = Poller(pending, EventLog(enrollments / "notifications.json"), tp.poll_pending, clock)
    tp.poller = poller
    for name, handler in (
        ("authenticate", tp.authenticate),
        ("enroll", tp.enroll),
        ("import-certificate", tp.import_certificate),
        ("delete-certificates", tp.delete_certificates),
        ("cancel-enrollment", tp.cancel_enrollment),
    ):
        registry.register(TP_NS, name, handler, audited=True)
    # Undoable subscribers first: a key zeroize cannot be undone, so it runs last.
    datastore.subscribe(TrustpointRemovalSubscriber(certs, pending))
    datastore.subscribe(KeySubscriber(keys, certs))
    datastore.add_state_provider(KeysState(keys, datastore).render)
    datastore.add_state_decorator(TrustpointsState(certs, clock, pending).decorate)
    return poller
