"""The RFC 6470 base notifications (ietf-netconf-notifications) that the server publishes on
the NETCONF stream: session start and end, and configuration changes.

Only the content elements are built here; the stream logs them and the subscriptions wrap
them in ``<notification>``.
"""

from __future__ import annotations

from enum import StrEnum

from agent import xmlutil
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


def config_change(info: SessionInfo) -> Element:
    """netconf-config-change for a commit to running.

    The optional ``edit`` list is left out: the datastore does not expose, after a commit,
    which nodes changed, and RFC 6470 makes the list optional.
    """
    el = xmlutil.root(NC_NOTIFICATIONS_NS, "netconf-config-change")
    changed_by = xmlutil.sub(el, NC_NOTIFICATIONS_NS, "changed-by")
    _with_session_parms(changed_by, info)
    xmlutil.sub(el, NC_NOTIFICATIONS_NS, "datastore", "running")
    return el


def _with_session_parms(el: Element, info: SessionInfo) -> Element:
    """RFC 6470 common-session-parms: username, session-id, source-host (an ip-address, so
    the transport's "address:port" loses its port)."""
    xmlutil.sub(el, NC_NOTIFICATIONS_NS, "username", info.user)
    xmlutil.sub(el, NC_NOTIFICATIONS_NS, "session-id", str(info.session_id))
    host = info.source.rpartition(":")[0].strip("[]")
    if host and host != "?":
        xmlutil.sub(el, NC_NOTIFICATIONS_NS, "source-host", host)
    return el
