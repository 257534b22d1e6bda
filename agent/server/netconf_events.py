"""The RFC 6470 base notifications (ietf-netconf-notifications) that the server publishes on
the NETCONF stream: session start and end, configuration changes and confirmed commits.

Only the content elements are built here; the stream logs them and the subscriptions wrap
them in ``<notification>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from lxml import etree

from agent import xmlutil
from agent.datastore.changes import ConfigEdit
from agent.server.sessions import SessionInfo
from agent.xmlutil import Element

NC_NOTIFICATIONS_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"


class TerminationReason(StrEnum):
    """netconf-session-end's termination-reason (RFC 6470 §2.1.3)."""

    CLOSED = "closed"
    KILLED = "killed"
    DROPPED = "dropped"
    TIMEOUT = "timeout"
    BAD_HELLO = "bad-hello"
    OTHER = "other"


def session_start(info: SessionInfo) -> Element:
    return _with_session_parms(xmlutil.root(NC_NOTIFICATIONS_NS, "netconf-session-start"), info)


def session_end(info: SessionInfo, reason: TerminationReason) -> Element:
    el = _with_session_parms(xmlutil.root(NC_NOTIFICATIONS_NS, "netconf-session-end"), info)
    # killed-by exists only "when ../termination-reason = 'killed'" (RFC 6470 YANG).
    if reason is TerminationReason.KILLED and info.killed_by is not None:
        xmlutil.sub(el, NC_NOTIFICATIONS_NS, "killed-by", str(info.killed_by))
    xmlutil.sub(el, NC_NOTIFICATIONS_NS, "termination-reason", str(reason))
    return el


def config_change(info: SessionInfo | None, edits: Iterable[ConfigEdit]) -> Element:
    """netconf-config-change for a change of running: by a session, or by the server itself
    (``info`` None: a confirmed commit rolled back), with its edit list."""
    el = xmlutil.root(NC_NOTIFICATIONS_NS, "netconf-config-change")
    changed_by = xmlutil.sub(el, NC_NOTIFICATIONS_NS, "changed-by")
    if info is None:
        xmlutil.sub(changed_by, NC_NOTIFICATIONS_NS, "server")
    else:
        _with_session_parms(changed_by, info)
    xmlutil.sub(el, NC_NOTIFICATIONS_NS, "datastore", "running")
    for edit in edits:
        entry = xmlutil.sub(el, NC_NOTIFICATIONS_NS, "edit")
        if edit.target is not None:
            # The instance-identifier's prefixes are declared where it is written.
            qname = xmlutil.qname(NC_NOTIFICATIONS_NS, "target")
            etree.SubElement(entry, qname, nsmap=edit.namespaces).text = edit.target
        xmlutil.sub(entry, NC_NOTIFICATIONS_NS, "operation", edit.operation)
    return el


def confirmed_commit(event: str, info: SessionInfo | None, timeout: float | None) -> Element:
    """netconf-confirmed-commit; the session parameters are absent for a timeout."""
    el = xmlutil.root(NC_NOTIFICATIONS_NS, "netconf-confirmed-commit")
    if info is not None:
        _with_session_parms(el, info)
    xmlutil.sub(el, NC_NOTIFICATIONS_NS, "confirm-event", event)
    if timeout is not None:
        xmlutil.sub(el, NC_NOTIFICATIONS_NS, "timeout", str(int(timeout)))
    return el


def _with_session_parms(el: Element, info: SessionInfo) -> Element:
    """RFC 6470 common-session-parms: username, session-id, source-host (an ip-address, so
    the transport's "address:port" loses its port)."""
    xmlutil.sub(el, NC_NOTIFICATIONS_NS, "username", info.user)
    xmlutil.sub(el, NC_NOTIFICATIONS_NS, "session-id", str(info.session_id))
    if info.host is not None:
        xmlutil.sub(el, NC_NOTIFICATIONS_NS, "source-host", info.host)
    return el
