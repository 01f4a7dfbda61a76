"""The description of one TMF resource type, which drives the generic machinery."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain import events as ev
from domain.lifecycle import Lifecycle
from domain.query import AttrType, Criterion

# Attributes every TMF resource has that only the server writes.
SERVER_OWNED = frozenset({"id", "href"})
POLYMORPHISM = frozenset({"@type", "@baseType", "@schemaLocation"})


@dataclass(frozen=True)
class Referrer:
    """Documents of `collection` that point at a resource through `path` (relatedParty.id),
    counted only when they also match `where` (e.g. lifecycleStatus Launched)."""

    collection: str
    path: str
    where: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


class ReferenceReader(Protocol):
    def get_document(self, collection: str, resource_id: str) -> dict[str, Any] | None: ...

    def find_referrers(self, referrer: Referrer, resource_id: str, limit: int) -> list[str]: ...


class Lookup:
    """What rules may read of other resources: by collection and id, and who refers to one."""

    REFERRERS_NAMED = 10

    def __init__(self, reader: ReferenceReader) -> None:
        self._reader = reader

    def get(self, collection: str, resource_id: str) -> dict[str, Any] | None:
        return self._reader.get_document(collection, resource_id)

    def referrers(self, referrer: Referrer, resource_id: str) -> list[str]:
        """Ids of (at most REFERRERS_NAMED of) the documents that refer to resource_id."""
        return self._reader.find_referrers(referrer, resource_id, self.REFERRERS_NAMED)

    def memoized(self) -> Lookup:
        """A Lookup that reads each resource once: for one decision over many rules."""
        return Lookup(_Memo(self._reader))


class _Memo:
    def __init__(self, reader: ReferenceReader) -> None:
        self._reader = reader
        self._read: dict[tuple[str, str], dict[str, Any] | None] = {}

    def get_document(self, collection: str, resource_id: str) -> dict[str, Any] | None:
        key = (collection, resource_id)
        if key not in self._read:
            self._read[key] = self._reader.get_document(collection, resource_id)
        return self._read[key]

    def find_referrers(self, referrer: Referrer, resource_id: str, limit: int) -> list[str]:
        return self._reader.find_referrers(referrer, resource_id, limit)


class Rules:
    """Per-resource business rules; the defaults accept everything."""

    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        """Complete or check a new resource before it is stored."""

    def on_update(self, before: Mapping[str, Any], after: dict[str, Any], lookup: Lookup) -> None:
        """Check a change before it is stored."""

    def on_import(
        self, before: Mapping[str, Any] | None, resource: dict[str, Any], lookup: Lookup
    ) -> None:
        """Check a resource stored as given, in any state (an import): as a create when it
        is new (`before` None), as a change of `before` otherwise."""
        if before is None:
            self.on_create(resource, lookup)
        else:
            self.on_update(before, resource, lookup)


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
    # a server-maintained "major.minor" version bumped on every change (TMF catalog entities)
    version_attribute: str | None = None
    # states in which DELETE is refused (e.g. Launched: retire first)
    undeletable_states: frozenset[str] = frozenset()
    # query parameters that stand for several criteria, e.g. sellableAt=<instant>
    derived_filters: Mapping[str, Callable[[str], tuple[Criterion, ...]]] = field(
        default_factory=dict
    )
    # attributes only the server writes that a create body may carry: ignored (job status)
    ignored_on_create: frozenset[str] = frozenset()
    # the kinds of events the resource emits (TMF620 jobs: Create and StateChange only)
    event_kinds: frozenset[str] = frozenset(
        {ev.CREATE, ev.ATTRIBUTE_VALUE_CHANGE, ev.STATE_CHANGE, ev.DELETE}
    )

    # states in which a background worker has work to do on the resource (order fulfilment)
    work_states: frozenset[str] = frozenset()
    # stored under its id as the database key: one index fewer to write per change, for
    # types written in volume by the server (balances); their list order is the id's
    keyed_by_id: bool = False
    # filters not worth an index for types written in volume: values shared by most
    # resources (a type, a flag), which an index would not narrow; found by scanning
    unindexed: frozenset[str] = frozenset()
    # attributes the server appends to as a record of other changes (a product's history):
    # no change of their own, so not named by change events
    change_records: frozenset[str] = frozenset()

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
        server_set = self.server_dates + self.create_dates
        if self.version_attribute:
            server_set += (self.version_attribute,)
        return SERVER_OWNED | self.immutable | frozenset(server_set)
