"""The description of one TMF resource type, which drives the generic machinery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.lifecycle import Lifecycle
from domain.query import AttrType

# Attributes every TMF resource has that only the server writes.
SERVER_OWNED = frozenset({"id", "href"})
POLYMORPHISM = frozenset({"@type", "@baseType", "@schemaLocation"})


@dataclass(frozen=True)
class Referrer:
    """A resource type whose documents point at this one through `path` (e.g. relatedParty.id)."""

    collection: str
    path: str


class Rules:
    """Per-resource business rules; the defaults accept everything."""

    def on_create(self, resource: dict[str, Any]) -> None:
        """Complete or check a new resource before it is stored."""

    def on_update(self, before: Mapping[str, Any], after: dict[str, Any]) -> None:
        """Check a change before it is stored."""


@dataclass(frozen=True)
class ResourceType:
    name: str  # TMF resource name, also the default @type: "Customer"
    api: str  # API it belongs to, e.g. "customerManagement"
    path: str  # collection path under the API base: "customer"
    attributes: frozenset[str]  # declared attributes; others need a subtype (@type)
    filters: Mapping[str, AttrType]  # filterable and sortable attributes
    instant_keys: frozenset[str] = frozenset({"startDateTime", "endDateTime"})
    server_dates: tuple[str, ...] = ()  # set by the server on create and on every change
    create_dates: tuple[str, ...] = ()  # set by the server on create only
    immutable: frozenset[str] = frozenset({"@baseType"})
    lifecycle: Lifecycle | None = None
    referrers: tuple[Referrer, ...] = ()
    rules: Rules = field(default_factory=Rules)

    @property
    def collection(self) -> str:
        return self.path

    @property
    def event_key(self) -> str:
        """Key of the resource inside a TMF event payload: {"event": {"customer": {...}}}."""
        return self.name[0].lower() + self.name[1:]

    def event_type(self, kind: str) -> str:
        return f"{self.name}{kind}Event"

    @property
    def not_patchable(self) -> frozenset[str]:
        return SERVER_OWNED | self.immutable | frozenset(self.server_dates + self.create_dates)
