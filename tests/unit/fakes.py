"""Hand-written, in-memory stand-ins for the ports of domain/ports.py and domain/rating.py."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from domain.account import AccountTerms
from domain.catalog_transfer import TransferFailed
from domain.errors import ConcurrentUpdate, Conflict, InvalidRequest
from domain.events import Event
from domain.ports import (
    DONE,
    FAILED,
    PENDING,
    NetworkOutcome,
    NetworkRequest,
    PoolExhausted,
    ResourceUnavailable,
    Sim,
    Stored,
)
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


# Resource pools and the network (order fulfilment) ----------------------------------------

AVAILABLE, RESERVED, ASSIGNED = "available", "reserved", "assigned"
QUARANTINED, RETIRED = "quarantined", "retired"


@dataclass
class PoolEntry:
    """One number or SIM. `holder` is the order item that reserved it, then the product it
    is assigned to; `reserved_by` stays the order item while it is assigned, so that
    reserving again after the assignment (a resumed fulfilment) finds it."""

    status: str = AVAILABLE
    holder: str | None = None
    reserved_by: str | None = None
    quarantine_until: datetime | None = None


class _FakePool:
    """What FakeNumberPool and FakeSimStock share, as adapters/resource_pools.py does it."""

    released: str  # what an assigned resource becomes once released

    def __init__(self, resource_ids: Iterable[str], clock: FakeClock) -> None:
        self.entries = {resource_id: PoolEntry() for resource_id in resource_ids}
        self._clock = clock

    def status(self, resource_id: str) -> str:
        return self.entries[resource_id].status

    def count(self, status: str) -> int:
        return sum(1 for entry in self.entries.values() if entry.status == status)

    def assign(self, resource_id: str, holder: str, product_id: str) -> None:
        entry = self.entries.get(resource_id)
        if entry and entry.status == RESERVED and entry.holder == holder:
            entry.status, entry.holder = ASSIGNED, product_id
        elif not (entry and entry.status == ASSIGNED and entry.holder == product_id):
            raise ResourceUnavailable(f"{resource_id} is not reserved by {holder}")

    def release(self, resource_id: str, holder: str) -> None:
        entry = self.entries.get(resource_id)
        if entry is None or entry.holder != holder or entry.status not in (RESERVED, ASSIGNED):
            return  # released already, or held by another
        if entry.status == RESERVED:
            self.entries[resource_id] = PoolEntry()
        else:
            self.entries[resource_id] = PoolEntry(self.released, quarantine_until=self._until())

    def _held(self, holder: str) -> str | None:
        for resource_id, entry in self.entries.items():
            if entry.reserved_by == holder or (entry.status == ASSIGNED and entry.holder == holder):
                return resource_id
        return None

    def _claim(self, holder: str, candidates: Iterable[str]) -> str | None:
        """The holder's resource: the one it holds, else the first free candidate."""
        held = self._held(holder)
        if held is not None:
            return held
        for resource_id in candidates:
            entry = self.entries.get(resource_id)
            if entry and self._free(entry):
                self.entries[resource_id] = PoolEntry(RESERVED, holder, holder)
                return resource_id
        return None

    def _free(self, entry: PoolEntry) -> bool:
        if entry.status == QUARANTINED and entry.quarantine_until is not None:
            return entry.quarantine_until <= self._clock.now()
        return entry.status == AVAILABLE

    def _until(self) -> datetime | None:
        return None


class FakeNumberPool(_FakePool):
    """NumberPool: MSISDNs handed out in the order given; a released assigned number rests
    in quarantine for `quarantine` (by the clock) before anyone may have it again."""

    released = QUARANTINED

    def __init__(
        self, numbers: Iterable[str], clock: FakeClock, quarantine: timedelta = timedelta(days=90)
    ) -> None:
        super().__init__(numbers, clock)
        self.quarantine = quarantine

    def reserve(self, holder: str, requested: str | None = None) -> str:
        claimed = self._claim(holder, [requested] if requested else list(self.entries))
        if claimed is not None:
            return claimed
        if requested is None:
            raise PoolExhausted("no mobile number is available in the pool")
        if requested not in self.entries:
            raise ResourceUnavailable(f"number {requested} is not in any number pool")
        raise ResourceUnavailable(f"number {requested} is not available")

    def holding(self, holder: str) -> str | None:
        return self._held(holder)

    def _until(self) -> datetime | None:
        return self._clock.now() + self.quarantine


class FakeSimStock(_FakePool):
    """SimStock: SIMs handed out in the order given; a released assigned SIM is retired."""

    released = RETIRED

    def __init__(self, sims: Iterable[Sim], clock: FakeClock) -> None:
        self.imsis = {sim.iccid: sim.imsi for sim in sims}
        super().__init__(self.imsis, clock)

    def reserve(self, holder: str) -> Sim:
        claimed = self._claim(holder, list(self.entries))
        if claimed is None:
            raise PoolExhausted("no SIM card is available in stock")
        return Sim(claimed, self.imsis[claimed])

    def holding(self, holder: str) -> Sim | None:
        held = self._held(holder)
        return None if held is None else Sim(held, self.imsis[held])


class FakeNetwork:
    """Network that records the requests it receives and answers as the test says: at once
    and done, unless told to `hold` its answers (for one msisdn, or for all: pending until
    `answer`) or to `refuse` an action (of one msisdn, or of any) with a reason. Outcomes are
    decided on submission."""

    def __init__(self) -> None:
        self.requests: dict[str, NetworkRequest] = {}  # by id, in the order first submitted
        self.submissions = 0  # calls of submit, repeated ones included
        self._decided: dict[str, NetworkOutcome] = {}
        self._answered: set[str] = set()
        self._held: set[str | None] = set()  # msisdns whose answers wait; None: all
        self._refusals: list[tuple[str, str | None, str]] = []

    def submit(self, request: NetworkRequest) -> None:
        self.submissions += 1
        if request.id in self.requests:
            return
        self.requests[request.id] = request
        self._decided[request.id] = self._decide(request)
        if not self._held & {None, request.msisdn}:
            self._answered.add(request.id)

    def outcome(self, request_id: str) -> NetworkOutcome:
        if request_id not in self.requests:
            raise KeyError(request_id)
        if request_id not in self._answered:
            return NetworkOutcome(PENDING)
        return self._decided[request_id]

    @property
    def submitted(self) -> list[NetworkRequest]:
        return list(self.requests.values())

    def hold(self, msisdn: str | None = None) -> None:
        """Leave the outcome of what is submitted from now on (for `msisdn`) pending."""
        self._held.add(msisdn)

    def answer(self) -> None:
        """Answer everything submitted, and from now on at once."""
        self._held.clear()
        self._answered.update(self.requests)

    def refuse(self, action: str, reason: str, msisdn: str | None = None) -> None:
        self._refusals.append((action, msisdn, reason))

    def _decide(self, request: NetworkRequest) -> NetworkOutcome:
        for action, msisdn, reason in self._refusals:
            if request.action == action and msisdn in (None, request.msisdn):
                return NetworkOutcome(FAILED, reason)
        return NetworkOutcome(DONE)


# Rating (domain/rating.py) ---------------------------------------------------------------


class FakeRatingDirectory:
    """RatingDirectory over products, account terms and catalog prices given by the test.
    Products are found as the inventory adapter finds them: lines by their MSISDN realizing
    resource, add-ons by their productRelationship to the line."""

    def __init__(
        self,
        prices: Iterable[dict[str, Any]] = (),
        accounts: Iterable[AccountTerms] = (),
    ) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.accounts = {terms.account_id: terms for terms in accounts}
        self.prices = {price["id"]: copy.deepcopy(price) for price in prices}

    def add(self, *products: dict[str, Any]) -> None:
        for product in products:
            self.products[product["id"]] = copy.deepcopy(product)

    def lines(self, msisdn: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(product)
            for product in self.products.values()
            if any(
                ref.get("@referredType") == "MSISDN" and ref.get("id") == msisdn
                for ref in product.get("realizingResource") or []
            )
        ]

    def add_ons(self, line_id: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(product)
            for product in self.products.values()
            if any(
                (relation.get("product") or {}).get("id") == line_id
                for relation in product.get("productRelationship") or []
            )
        ]

    def account(self, account_id: str) -> AccountTerms | None:
        return self.accounts.get(account_id)

    def price(self, pop_id: str) -> dict[str, Any] | None:
        found = self.prices.get(pop_id)
        return copy.deepcopy(found) if found else None


class FakeConsumptionBook:
    """ConsumptionBook in a dict; documents go in and out as copies, as a database's would.
    `lent` keeps the last copy handed out of each document: the rating adapter hands one
    working copy to every record of a chunk, so a record must not change a copy it does not
    put back."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.lent: dict[str, dict[str, Any]] = {}
        self.puts = 0

    def get(self, consumption_id: str) -> dict[str, Any] | None:
        found = self.documents.get(consumption_id)
        if found is None:
            return None
        self.lent[consumption_id] = copy.deepcopy(found)
        return self.lent[consumption_id]

    def put(self, consumption: dict[str, Any]) -> None:
        self.puts += 1
        self.documents[consumption["id"]] = copy.deepcopy(consumption)
