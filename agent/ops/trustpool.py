"""The trustpool RPCs and state of npa-pki-trustpool: trustpool-import, trustpool-clean and the
config-false certificate list and update status.

:meth:`TrustpoolService.load` is the one way a bundle enters the pool, for the RPC (manual)
and the automatic update alike: fetch or decode, parse the whole bundle, replace the
downloaded set in one write, record the attempt, send trustpool-updated.  A failure at any
step changes nothing but the recorded status and says why.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from datetime import datetime

from agent import xmlutil
from agent.clock import Clock
from agent.errors import InvalidValue
from agent.ops._config import POOL_NS, POOL_PREFIX, pool_policy
from agent.ops._notify import Publisher, date_and_time, notification
from agent.ops.errors import to_rpc_error
from agent.ops.state import CertificateXml
from agent.pki import Fetcher, PkiError, PoolChange, TrustPool
from agent.pki.trustpool import parse_bundle
from agent.xmlutil import Element

log = logging.getLogger(__name__)

MANUAL, AUTOMATIC = "manual", "automatic"


class TrustpoolService:
    """Bound to the pool, the datastore (policy) and the notification stream."""

    def __init__(
        self,
        pool: TrustPool,
        running: Callable[[], Element],
        fetcher: Fetcher,
        publish: Publisher,
        clock: Clock,
    ) -> None:
        self.pool = pool
        self._running = running  # the running config tree (the policy's cabundle-url)
        self._fetcher = fetcher
        self._publish = publish
        self._clock = clock
        self._certs = CertificateXml(POOL_NS, fingerprint_first=True)
        self.on_change: Callable[[], None] | None = None  # the updater re-plans its timer

    # -- RPCs ----------------------------------------------------------------------------

    async def trustpool_import(self, op: Element, ctx: object) -> list[Element]:
        source = _source(op)
        clean = (_leaf(op, "clean") or "true") != "false"
        if source == "from-policy":
            url = pool_policy(self._running()).cabundle_url
            if url is None:
                raise InvalidValue(
                    "trustpool-import from-policy: no cabundle-url in /trustpool/policy: "
                    "configure one or give url",
                    app_tag="cabundle-url-not-configured",
                    path=f"/{POOL_PREFIX}:trustpool-import/{POOL_PREFIX}:from-policy",
                    path_ns={POOL_PREFIX: POOL_NS},
                )
            change = await asyncio.to_thread(self._load_rpc, url, None, clean)
        elif source == "url":
            change = await asyncio.to_thread(self._load_rpc, _leaf(op, "url"), None, clean)
        else:
            data = _inline(op, source)
            change = await asyncio.to_thread(self._load_rpc, None, data, clean)
        return [
            xmlutil.make(POOL_NS, "added", str(change.added)),
            xmlutil.make(POOL_NS, "inactive-built-in", str(change.inactive_built_in)),
            xmlutil.make(POOL_NS, "total", str(change.total)),
        ]

    async def trustpool_clean(self, op: Element, ctx: object) -> list[Element]:
        removed = await asyncio.to_thread(self.pool.clean)
        self._updated(MANUAL, None, added=0)
        return [xmlutil.make(POOL_NS, "removed", str(removed))]

    def _load_rpc(self, url: str | None, data: bytes | None, clean: bool) -> PoolChange:
        try:
            return self.load(MANUAL, url=url, data=data, clean=clean)
        except PkiError as exc:
            raise to_rpc_error(
                exc, f"/{POOL_PREFIX}:trustpool-import", {POOL_PREFIX: POOL_NS}
            ) from None

    # -- the one way in ------------------------------------------------------------------

    def load(
        self, trigger: str, *, url: str | None = None, data: bytes | None = None, clean: bool = True
    ) -> PoolChange:
        """Download (or take) a bundle and make it the downloaded set (added to it when not
        ``clean``).  Blocking: call in a worker thread.  Raises PkiError, having recorded
        the failure and sent trustpool-updated with result failure."""
        now = self._clock.now()
        try:
            certs = parse_bundle(data if data is not None else self._fetcher.get(url or ""))
            if not clean:
                kept = [e.certificate for e in self.pool.entries() if e.source == "downloaded"]
                certs = kept + certs
            change = self.pool.replace(certs)
        except PkiError as exc:
            self.report_failure(trigger, exc.message)
            raise
        self.pool.record_update(at=now, trigger=trigger, error=None, next_update=None)
        self._updated(trigger, None, added=change.added)
        log.info("trustpool %s update: %d added, %d in total", trigger, change.added, change.total)
        return change

    def report_failure(self, trigger: str, message: str) -> None:
        """Record a failed attempt and send trustpool-updated with result failure."""
        now = self._clock.now()
        self.pool.record_update(at=now, trigger=trigger, error=message, next_update=None)
        self._updated(trigger, message)
        log.warning("trustpool %s update failed: %s", trigger, message)

    def _updated(self, trigger: str, error: str | None, *, added: int | None = None) -> None:
        if self.on_change is not None:
            self.on_change()
        status = self.pool.update_status()
        self._publish.publish(
            notification(
                POOL_NS,
                "trustpool-updated",
                (
                    ("trigger", trigger),
                    ("result", "failure" if error else "success"),
                    ("added", None if added is None else str(added)),
                    ("error", error),
                    ("next-update", _when(status.next_update)),
                ),
            )
        )

    # -- state ---------------------------------------------------------------------------

    def decorate(self, root: Element) -> None:
        """Add the certificate list and update status inside /trustpool (created when the
        policy is not configured)."""
        pool = root.find(f"{{{POOL_NS}}}trustpool")
        if pool is None:
            pool = xmlutil.make(POOL_NS, "trustpool", nsmap={None: POOL_NS})
            root.append(pool)
        for entry in self.pool.entries():
            el = xmlutil.sub(pool, POOL_NS, "certificate")
            self._certs.add(el, entry.certificate)
            el.insert(1, xmlutil.make(POOL_NS, "source", entry.source))
            el.insert(2, xmlutil.make(POOL_NS, "active", "true" if entry.active else "false"))
        self._status(xmlutil.sub(pool, POOL_NS, "update"))

    def _status(self, el: Element) -> None:
        status = self.pool.update_status()
        for leaf, value in (
            ("last-attempt", _when(status.last_attempt)),
            ("last-trigger", status.trigger),
            ("last-result", status.result),
            ("last-success", _when(status.last_success)),
            ("last-error", status.last_error),
            ("next-update", _when(status.next_update)),
        ):
            if value is not None:
                xmlutil.sub(el, POOL_NS, leaf, value)


def _when(when: datetime | None) -> str | None:
    return None if when is None else date_and_time(when)


def _leaf(op: Element, name: str) -> str | None:
    el = op.find(f"{{{POOL_NS}}}{name}")
    return None if el is None else xmlutil.text_of(el)


def _source(op: Element) -> str:
    for name in ("url", "bundle-pem", "bundle-pkcs7", "from-policy"):
        if op.find(f"{{{POOL_NS}}}{name}") is not None:
            return name
    return "url"  # unreachable: the input check enforces the mandatory choice


def _inline(op: Element, source: str) -> bytes:
    text = _leaf(op, source) or ""
    if source == "bundle-pem":
        return text.encode()
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError:
        raise InvalidValue(
            "bundle-pkcs7 is not valid base64",
            app_tag="malformed-bundle",
            path=f"/{POOL_PREFIX}:trustpool-import/{POOL_PREFIX}:bundle-pkcs7",
            path_ns={POOL_PREFIX: POOL_NS},
        ) from None
