"""How ops emits YANG notifications: a publisher (the datastore's EventStream in the agent)
and one builder of a notification's content element, so every PKI notification has the same
shape: the notification element in its module's namespace with one leaf per field."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from agent import xmlutil
from agent.xmlutil import Element


class Publisher(Protocol):
    def publish(self, content: Element, when: datetime | None = None) -> None: ...


def notification(ns: str, name: str, leaves: Iterable[tuple[str, str | None]]) -> Element:
    """``<name xmlns=ns>`` with a child per (leaf, value); None values are left out."""
    el = xmlutil.make(ns, name, nsmap={None: ns})
    for leaf, value in leaves:
        if value is not None:
            xmlutil.sub(el, ns, leaf, value)
    return el


def date_and_time(when: datetime) -> str:
    """yang:date-and-time in UTC with a Z."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
