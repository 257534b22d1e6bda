"""The bridge between YANG RPCs and the PKI engine.

:func:`register` is the one call the composition root makes: it binds the RPC handlers,
commit subscribers, state renderers and background tasks to one set of PKI stores, the
datastore and the notification stream.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.clock import Clock
from agent.datastore.store import RUNNING, Datastore
from agent.ops._config import KEYS_NS, POOL_NS, TP_NS, pool_policy
from agent.ops._notify import Publisher
from agent.ops.apply import KeySubscriber
from agent.ops.expiry import ExpiryWatcher
from agent.ops.keys import KeyHandlers
from agent.ops.polling import Poller
from agent.ops.state import KeysState, TrustpointsState
from agent.ops.trustpoint_removal import TrustpointRemovalSubscriber
from agent.ops.trustpoints import TrustpointHandlers
from agent.ops.trustpool import TrustpoolService
from agent.ops.trustpool_update import TrustpoolUpdater
from agent.ops.verify import VerifyHandler
from agent.pki import Fetcher, KeyStore, TrustPool, UrlFetcher
from agent.pki.pending import PendingStore
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


@dataclass(frozen=True, slots=True)
class PkiStores:
    """Where the PKI state lives: the engine's stores and the directories ops writes."""

    keys: KeyStore
    certs: TrustpointStore
    pool: TrustPool
    requests: Path  # offline (terminal) certificate requests
    enrollments: Path  # pending SCEP enrollments
    expiry: Path  # which certificate-expiring notifications were sent


@dataclass(frozen=True, slots=True)
class Background:
    """The tasks ops runs on the event loop: enrollment polling, the trustpool update timer
    and the expiry watcher.  Started after registration, stopped at shutdown."""

    poller: Poller
    updater: TrustpoolUpdater
    expiry: ExpiryWatcher

    def start(self) -> None:
        self.poller.start()  # resumes pending enrollments recorded before a restart
        self.updater.start()
        self.expiry.start()

    async def stop(self) -> None:
        await self.poller.stop()
        await self.updater.stop()
        await self.expiry.stop()


def register(
    registry: HandlerRegistry,
    datastore: Datastore,
    stores: PkiStores,
    events: Publisher,
    clock: Clock,
    fetcher: Fetcher | None = None,
) -> Background:
    """Wire the PKI RPCs (audited), the commit subscribers, the state and the background
    tasks; notifications go to ``events``."""
    fetcher = fetcher or UrlFetcher()
    _register_keys(registry, datastore, stores)
    running = functools.partial(datastore.tree, RUNNING)
    expiry = ExpiryWatcher(stores.certs, stores.pool, running, events, clock, stores.expiry)
    poller = _register_trustpoints(registry, datastore, stores, events, clock, expiry.wake)
    service = TrustpoolService(stores.pool, running, fetcher, events, clock)
    for name, handler in (
        ("trustpool-import", service.trustpool_import),
        ("trustpool-clean", service.trustpool_clean),
    ):
        registry.register(POOL_NS, name, _then(handler, expiry.wake), audited=True)
    verify = VerifyHandler(stores.certs, stores.pool, datastore, fetcher, clock)
    registry.register(TP_NS, "verify-certificate", verify.verify_certificate, audited=True)
    datastore.add_state_decorator((POOL_NS, "trustpool"), service.decorate)
    updater = TrustpoolUpdater(service, lambda: pool_policy(running()), clock)
    return Background(poller, updater, expiry)


def _register_keys(registry: HandlerRegistry, datastore: Datastore, stores: PkiStores) -> None:
    handlers = KeyHandlers(stores.keys, datastore, stores.certs)
    for name, handler in (
        ("generate-key", handlers.generate_key),
        ("zeroize-key", handlers.zeroize_key),
        ("import-key", handlers.import_key),
    ):
        registry.register(KEYS_NS, name, handler, audited=True)
    state = KeysState(stores.keys, datastore)
    datastore.add_state_provider(((KEYS_NS, "keys-state"),), state.render)


def _register_trustpoints(
    registry: HandlerRegistry,
    datastore: Datastore,
    stores: PkiStores,
    events: Publisher,
    clock: Clock,
    changed: Callable[[], None],
) -> Poller:
    """The trustpoint RPCs; ``changed`` runs after one that may have stored a certificate."""
    certs, keys = stores.certs, stores.keys
    tp = TrustpointHandlers(certs, keys, datastore, stores.requests, clock)
    pending = PendingStore(stores.enrollments / "pending")
    poller = Poller(pending, events, tp.poll_pending, clock)
    tp.poller = poller
    for name, handler in (
        ("authenticate", _then(tp.authenticate, changed)),
        ("enroll", _then(tp.enroll, changed)),
        ("import-certificate", _then(tp.import_certificate, changed)),
        ("delete-certificates", tp.delete_certificates),
        ("cancel-enrollment", tp.cancel_enrollment),
    ):
        registry.register(TP_NS, name, handler, audited=True)
    # Undoable subscribers first: a key zeroize cannot be undone, so it runs last.
    datastore.subscribe(TrustpointRemovalSubscriber(certs, pending))
    datastore.subscribe(KeySubscriber(keys, certs))
    datastore.add_state_decorator(
        (TP_NS, "trustpoints"), TrustpointsState(certs, clock, pending).decorate
    )
    return poller


def _then(handler: OpsHandler, after: Callable[[], None]) -> OpsHandler:
    """``handler``, then ``after`` once it succeeded."""

    async def run(op: Element, ctx: object) -> list[Element]:
        out = await handler(op, ctx)
        after()
        return out

    return run
