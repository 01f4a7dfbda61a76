"""Hand-written, in-memory stand-ins for the ports of domain/ports.py."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from domain.catalog_transfer import TransferFailed
from domain.errors import ConcurrentUpdate, Conflict, InvalidRequest
from domain.events import Event
from domain.ports import Stored
from domain.query import Criterion, ListQuery, matches
from domain.resource import Referrer, ResourceType


class FakeRepository:
    """ResourceRepository in dicts: one per collection, each id -> (resource, version)."""

    def __init__(self) -> None:
        self._collections: dict[str, dict[str, tuple[dict[str, Any], int]]] = {}
        self.events: list[Event] = []
        self.writes = 0
        self._after_next_get: Callable[[], None] | None = None

    # -- the port --------------------------------------------------------------------------

    def get(self, rtype: ResourceType, resource_id: str) -> Stored | None:
        found = self._collection(rtype.collection).get(resource_id)
        stored = Stored(copy.deepcopy(found[0]), found[1]) if found else None
        if self._after_next_get:
            interleaved, self._after_next_get = self._after_next_get, None
            interleaved()
        return stored

    def find(self, rtype: ResourceType, query: ListQuery) -> tuple[list[dict[str, Any]], int]:
        documents = [doc for doc, _ in self._collection(rtype.collection).values()]
        hits = [doc for doc in documents if matches(doc, query.criteria)]
        # Stable sorts from the last key to the first; insertion (creation) order breaks ties.
        for key in reversed(query.sort):
            hits.sort(key=partial(_sort_key, path=key.path), reverse=key.descending)
        page = hits[query.offset : query.offset + query.limit]
        return copy.deepcopy(page), len(hits)

    def add(self, rtype: ResourceType, resource: dict[str, Any], events: Sequence[Event]) -> None:
        collection = self._collection(rtype.collection)
        if resource["id"] in collection:
            raise Conflict(f"{rtype.name} with id '{resource['id']}' already exists")
        collection[resource["id"]] = (copy.deepcopy(resource), 1)
        self._written(events)

    def replace(
        self, rtype: ResourceType, stored: Stored, resource: dict[str, Any], events: Sequence[Event]
    ) -> None:
        collection = self._collection(rtype.collection)
        self._check_current(rtype, stored)
        collection[stored.resource["id"]] = (copy.deepcopy(resource), stored.version + 1)
        self._written(events)

    def remove(self, rtype: ResourceType, stored: Stored, events: Sequence[Event]) -> None:
        self._check_current(rtype, stored)
        del self._collection(rtype.collection)[stored.resource["id"]]
        self._written(events)

    def get_document(self, collection: str, resource_id: str) -> dict[str, Any] | None:
        found = self._collection(collection).get(resource_id)
        return copy.deepcopy(found[0]) if found else None

    def find_referrers(self, referrer: Referrer, resource_id: str, limit: int) -> list[str]:
        criteria = [Criterion(referrer.path, "eq", (resource_id,))]
        criteria += [Criterion(path, "eq", values) for path, values in referrer.where.items()]
        documents = self._collection(referrer.collection).values()
        return [doc["id"] for doc, _ in documents if matches(doc, criteria)][:limit]

    # -- for tests -------------------------------------------------------------------------

    def put(self, collection: str, resource: dict[str, Any], version: int = 1) -> None:
        """Store a document directly, as seed data or another resource type would."""
        self._collection(collection)[resource["id"]] = (copy.deepcopy(resource), version)

    def stored(self, collection: str, resource_id: str) -> dict[str, Any] | None:
        found = self._collection(collection).get(resource_id)
        return copy.deepcopy(found[0]) if found else None

    def version(self, collection: str, resource_id: str) -> int:
        return self._collection(collection)[resource_id][1]

    def after_next_get(self, interleaved: Callable[[], None]) -> None:
        """Run `interleaved` right after the next read, as a concurrent request would."""
        self._after_next_get = interleaved

    def _collection(self, name: str) -> dict[str, tuple[dict[str, Any], int]]:
        return self._collections.setdefault(name, {})

    def _check_current(self, rtype: ResourceType, stored: Stored) -> None:
        current = self._collection(rtype.collection).get(stored.resource["id"])
        if current is None or current[1] != stored.version:
            raise ConcurrentUpdate(f"{rtype.name} '{stored.resource['id']}' changed; retry")

    def _written(self, events: Sequence[Event]) -> None:
        self.writes += 1
        self.events.extend(events)


def _sort_key(document: dict[str, Any], path: str) -> tuple[int, Any]:
    """Missing values first, then numbers, then strings (MongoDB's ascending order)."""
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return (0, 0)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return (1, Decimal(value))
    if isinstance(value, str):
        return (2, value)
    return (3, repr(value))


class FakeClock:
    def __init__(self, moment: datetime | None = None) -> None:
        self.moment = moment or datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


class SequentialIds:
    def __init__(self, prefix: str = "id-") -> None:
        self.prefix = prefix
        self.issued = 0

    def new_id(self) -> str:
        self.issued += 1
        return f"{self.prefix}{self.issued}"


class FakeSubscriptions:
    """SubscriptionRepository in a dict keyed by (api, id)."""

    def __init__(self) -> None:
        self._subscriptions: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, subscription: dict[str, Any]) -> None:
        key = (subscription["api"], subscription["id"])
        if key in self._subscriptions:
            raise Conflict(f"subscription '{subscription['id']}' exists")
        self._subscriptions[key] = dict(subscription)

    def get(self, api: str, subscription_id: str) -> dict[str, Any] | None:
        found = self._subscriptions.get((api, subscription_id))
        return dict(found) if found else None

    def remove(self, api: str, subscription_id: str) -> bool:
        return self._subscriptions.pop((api, subscription_id), None) is not None

    def all(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self._subscriptions.values()]


class FakeSchemaCheck:
    """SchemaCheck that records what it saw and refuses once told to."""

    def __init__(self) -> None:
        self.checked: list[dict[str, Any]] = []
        self.refusal: str | None = None

    def __call__(self, resource: dict[str, Any]) -> None:
        self.checked.append(copy.deepcopy(resource))
        if self.refusal:
            raise InvalidRequest(self.refusal)


class FakeExportFiles:
    """ExportFiles in a dict; refuses to keep a file once told it is too large."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.refusal: str | None = None
        self.on_put: Callable[[], None] | None = None  # runs after a file is kept

    def put(self, job_id: str, document: dict[str, Any]) -> None:
        if self.refusal:
            raise TransferFailed(self.refusal)
        self.files[job_id] = copy.deepcopy(document)
        if self.on_put:
            self.on_put()

    def get(self, job_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.files.get(job_id))

    def remove(self, job_id: str) -> None:
        self.files.pop(job_id, None)


class FakeImportSource:
    """ImportSource serving documents by URL; any other URL cannot be read."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}

    def read(self, url: str) -> Any:
        if url not in self.documents:
            raise TransferFailed(f"GET {url}: HTTP 404")
        return copy.deepcopy(self.documents[url])
