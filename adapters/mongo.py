"""MongoDB storage of TMF resources, with their events written to the outbox atomically."""

from __future__ import annotations

import decimal
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pymongo
import pymongo.errors
from bson.codec_options import CodecOptions, TypeCodec, TypeRegistry
from bson.decimal128 import Decimal128
from pymongo.client_session import ClientSession
from pymongo.database import Database

from adapters import acting, audit
from adapters.partners import PARTNER, own, owner, owner_for, scope, scoped
from domain.audit import CREATE, DELETE, UPDATE
from domain.errors import ConcurrentUpdate, Conflict, Forbidden, InvalidRequest
from domain.events import Event
from domain.ports import Stored
from domain.query import Criterion, ListQuery
from domain.resource import Referrer, ResourceType
from domain.security import PLATFORM
from domain.service import differences

VERSION = "_v"  # optimistic concurrency counter, never shown to clients
# when a background worker should next look at the resource (types with work_states)
DUE = "_due"
HIDDEN = {"_id": 0, VERSION: 0, DUE: 0, PARTNER: 0}
WITH_PARTNER = {"_id": 0, VERSION: 0, DUE: 0}  # for workers that act for the partner read
OUTBOX = "outbox"
# "not leased": a real instant rather than null, so a claim is one indexed range condition
# (`leaseUntil <= now`); an `$or` with null makes the embedded server read the whole outbox.
NO_LEASE = datetime(1970, 1, 1, tzinfo=UTC)
EVENTS_PER_CHANGE = 100  # outbox order of one resource: version * 100 + position
HUB = "hub"  # hub subscriptions (adapters/subscriptions.py), by `api`


class DecimalCodec(TypeCodec):
    """Money and other exact numbers: Decimal in Python, Decimal128 in the database."""

    python_type = Decimal
    bson_type = Decimal128

    def transform_python(self, value: Decimal) -> Decimal128:
        return Decimal128(value)

    def transform_bson(self, value: Decimal128) -> Decimal:
        return value.to_decimal()


CODEC_OPTIONS: CodecOptions = CodecOptions(
    type_registry=TypeRegistry([DecimalCodec()]), tz_aware=True, tzinfo=UTC
)


# Ids per `$in`: the embedded server answers an `$in` of n values in time growing with n²,
# so batched lookups go by groups of this many.
IN_GROUP = 25


def groups(values: Iterable[Any], size: int = IN_GROUP) -> Iterator[list[Any]]:
    """`values` in lists of `size` (the last shorter)."""
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def connect(uri: str, database: str) -> Database:
    client: pymongo.MongoClient = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=5000, appname="mvno-bss", tz_aware=True
    )
    return client.get_database(database, codec_options=CODEC_OPTIONS)


def in_transaction(db: Database, work: Any) -> Any:
    """Run `work(session)` in one transaction, retried on transient errors by the driver."""
    with db.client.start_session() as session:
        return session.with_transaction(work)


# Compared, never `in range(...)`: for an int subclass such as bson's Int64 (what stored
# numbers come back as) range membership is a linear scan of 2**64 values.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_storable(value: Any, where: str = "") -> None:
    """MongoDB reserves `$` prefixes and dots in field names; TMF never needs them.

    Values BSON cannot hold (integers beyond 64 bits, numbers beyond Decimal128, strings
    that are not valid Unicode) are the client's mistake too, not a server error.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$") or "." in key or "\0" in key:
                raise InvalidRequest(f"{where or 'body'}: attribute name '{key}' is not allowed")
            check_storable(key, where)
            check_storable(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{where}[{index}]")
    elif isinstance(value, float):
        raise TypeError(f"{where}: float reached storage; exact numbers must be Decimal")
    elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise InvalidRequest(f"{where or 'body'}: integer {value} is out of range (64 bits)")
    elif isinstance(value, Decimal):
        try:
            Decimal128(value)
        except decimal.DecimalException:
            message = f"{where or 'body'}: number {value} cannot be stored exactly"
            raise InvalidRequest(message) from None
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest(f"{where or 'body'}: text is not valid Unicode") from None


def _due(rtype: ResourceType, resource: dict[str, Any]) -> dict[str, Any]:
    """A resource written in one of its type's work states is due at once."""
    if rtype.lifecycle and resource.get(rtype.lifecycle.attribute) in rtype.work_states:
        return {DUE: datetime.now(UTC)}
    return {}


def _key(rtype: ResourceType, resource_id: str) -> dict[str, str]:
    """How the document of a resource is found: by its `_id` when the type keeps its id
    there (one index fewer to write), by its uniquely indexed `id` otherwise."""
    return {"_id" if rtype.keyed_by_id else "id": resource_id}


def mongo_filter(criteria: Iterable[Criterion]) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = []
    for criterion in criteria:
        if criterion.op == "eq":
            values = list(criterion.values)
            condition: Any = values[0] if len(values) == 1 else {"$in": values}
        else:
            condition = {f"${criterion.op}": criterion.values[0]}
        clause = {criterion.path: condition}
        if criterion.missing_ok:  # `{path: None}` matches an absent (or null) attribute
            clause = {"$or": [clause, {criterion.path: None}]}
        clauses.append(clause)
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class MongoResources:
    """The ResourceRepository port on MongoDB: one collection per resource type."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ensure_indexes(self, rtype: ResourceType) -> None:
        collection = self._db[rtype.collection]
        if not rtype.keyed_by_id:
            collection.create_index("id", unique=True)
        if rtype.work_states:
            # sparse: only what is due is in it. With every finished resource in the index
            # as null, the embedded server read them all on every `_due <= now` query
            # (0.4 s at 10,000 usage records).
            if "_due_1" in collection.index_information():
                collection.drop_index("_due_1")  # the non-sparse one of earlier versions
            collection.create_index(DUE, sparse=True, name="_due_sparse")
        for path in rtype.filters:
            if path != "id" and path not in rtype.unindexed:
                collection.create_index(path)
        for referrer in rtype.referrers:
            self._db[referrer.collection].create_index(referrer.path)

    def get(self, rtype: ResourceType, resource_id: str) -> Stored | None:
        where = scoped(rtype.collection, _key(rtype, resource_id))
        document = self._db[rtype.collection].find_one(where, {"_id": 0, DUE: 0, PARTNER: 0})
        if document is None:
            return None
        version = document.pop(VERSION, 0)
        return Stored(document, version)

    def find(self, rtype: ResourceType, query: ListQuery) -> tuple[list[dict[str, Any]], int]:
        collection = self._db[rtype.collection]
        criteria = query.criteria
        if rtype.keyed_by_id:
            criteria = tuple(replace(c, path="_id") if c.path == "id" else c for c in criteria)
        where = scoped(rtype.collection, mongo_filter(criteria))
        order = [
            (k.path, pymongo.DESCENDING if k.descending else pymongo.ASCENDING) for k in query.sort
        ]
        order.append(("_id", pymongo.ASCENDING))  # creation order: stable paging
        cursor = collection.find(where, HIDDEN).sort(order).skip(query.offset).limit(query.limit)
        items = list(cursor)
        if query.offset == 0 and len(items) < query.limit:
            return items, len(items)  # the page is everything: no count needed
        return items, collection.count_documents(where)

    def add(self, rtype: ResourceType, resource: dict[str, Any], events: Sequence[Event]) -> None:
        check_storable(resource)
        partner = owner_for(self._db, rtype.collection, resource)

        def work(session: ClientSession) -> None:
            document = {**resource, VERSION: 1, **_due(rtype, resource), PARTNER: partner}
            if rtype.keyed_by_id:
                document["_id"] = resource["id"]
            self._db[rtype.collection].insert_one(document, session=session)
            audit.record(self._db, session, rtype, [resource["id"]], CREATE, resource, partner)
            self.append_events(events, session, partner)

        try:
            in_transaction(self._db, work)
        except pymongo.errors.DuplicateKeyError:
            raise Conflict(f"{rtype.name} with id '{resource['id']}' already exists") from None

    def replace(
        self, rtype: ResourceType, stored: Stored, resource: dict[str, Any], events: Sequence[Event]
    ) -> None:
        check_storable(resource)
        partner = self._partner_of(rtype, stored)

        def work(session: ClientSession) -> None:
            result = self._db[rtype.collection].replace_one(
                {**_key(rtype, stored.resource["id"]), VERSION: stored.version, **own()},
                {
                    **resource,
                    VERSION: stored.version + 1,
                    **_due(rtype, resource),
                    PARTNER: partner,
                },
                session=session,
            )
            if result.matched_count == 0:
                self._refused(rtype, stored)
            changed = differences(stored.resource, resource)
            audit.record(self._db, session, rtype, [resource["id"]], UPDATE, changed, partner)
            self.append_events(events, session, partner)

        in_transaction(self._db, work)

    def remove(self, rtype: ResourceType, stored: Stored, events: Sequence[Event]) -> None:
        partner = self._partner_of(rtype, stored)

        def work(session: ClientSession) -> None:
            result = self._db[rtype.collection].delete_one(
                {**_key(rtype, stored.resource["id"]), VERSION: stored.version, **own()},
                session=session,
            )
            if result.deleted_count == 0:
                self._refused(rtype, stored)
            audit.record(self._db, session, rtype, [stored.resource["id"]], DELETE, (), partner)
            self.append_events(events, session, partner)

        in_transaction(self._db, work)

    def _partner_of(self, rtype: ResourceType, stored: Stored) -> str:
        """The partner of a stored resource: the current one (whose resources are the only
        ones it may change), read across partners."""
        partner = acting.partner()
        if partner is not None:
            return partner
        where = _key(rtype, stored.resource["id"])
        found = self._db[rtype.collection].find_one(where, {"_id": 0, PARTNER: 1}) or {}
        return str(found.get(PARTNER) or PLATFORM)

    def _refused(self, rtype: ResourceType, stored: Stored) -> None:
        """Why a change of `stored` matched nothing: a partner's change of what it may read
        but not write, a platform entry (403); else a change by someone else since it was
        read."""
        resource_id = stored.resource["id"]
        partner = acting.partner()
        if partner is not None:
            where = scoped(rtype.collection, _key(rtype, resource_id))
            found = self._db[rtype.collection].find_one(where, {"_id": 0, PARTNER: 1})
            if found is not None and (found.get(PARTNER) or PLATFORM) != partner:
                raise Forbidden(f"{rtype.name} '{resource_id}' is the platform's: operators only")
        raise ConcurrentUpdate(f"{rtype.name} '{resource_id}' changed since it was read; retry")

    def due(self, rtype: ResourceType, now: datetime, limit: int) -> list[tuple[str, str]]:
        """Resources a worker should look at by `now`, with the partner each belongs to
        (the worker acts for it): (id, partner) pairs."""
        where = scoped(rtype.collection, {DUE: {"$lte": now}})
        found = self._db[rtype.collection].find(where, {"_id": 0, "id": 1, PARTNER: 1})
        return [
            (document["id"], str(document.get(PARTNER) or PLATFORM))
            for document in found.limit(limit)
        ]

    def schedule(
        self, rtype: ResourceType, resource_id: str, state: str, at: datetime | None
    ) -> None:
        """Look at the resource again at `at` (never when None), unless it has left `state`
        meanwhile: whoever changed it has scheduled it anew."""
        state_attribute = rtype.lifecycle.attribute if rtype.lifecycle else "state"
        where = {**_key(rtype, resource_id), state_attribute: state, **own()}
        change = {"$set": {DUE: at}} if at is not None else {"$unset": {DUE: ""}}
        self._db[rtype.collection].update_one(where, change)

    def get_document(self, collection: str, resource_id: str) -> dict[str, Any] | None:
        return self._db[collection].find_one(scoped(collection, {"id": resource_id}), HIDDEN)

    def find_referrers(self, referrer: Referrer, resource_id: str, limit: int) -> list[str]:
        where: dict[str, Any] = {referrer.path: resource_id}
        where.update({path: {"$in": list(values)} for path, values in referrer.where.items()})
        where.update(scope(referrer.collection))
        found = self._db[referrer.collection].find(where, {"_id": 0, "id": 1}).limit(limit)
        return [document["id"] for document in found]

    def heard(self, apis: Iterable[str], session: ClientSession | None = None) -> set[str]:
        """The APIs among `apis` that have a hub subscription."""
        return {
            api
            for api in apis
            if self._db[HUB].find_one({"api": api}, {"_id": 1}, session=session) is not None
        }

    def append_events(
        self, events: Sequence[Event], session: ClientSession, partner: str | None = None
    ) -> None:
        """The events go to the outbox with the change, marked with the partner of their
        resources (default: the current one), whose subscribers alone receive them. An event
        of an API nobody subscribes to is stored as fanned out already (into nothing): the
        dispatcher would only mark it so, at the cost of an update per event; a subscription
        registered later is owed nothing that happened before."""
        if not events:
            return
        partner = partner or owner()
        heard = self.heard({event.api for event in events}, session)
        now = datetime.now(UTC)
        documents = [
            {
                "_id": event.event_id,
                "api": event.api,
                "resource": f"{event.resource_path}/{event.resource_id}",
                "seq": event.sequence * EVENTS_PER_CHANGE + position,
                "eventType": event.event_type,
                "eventTime": event.envelope["eventTime"],
                "envelope": event.envelope,
                "fanned": event.api not in heard,
                "leaseUntil": NO_LEASE,
                PARTNER: partner,
                **({} if event.api in heard else {"fannedAt": now}),
            }
            for position, event in enumerate(events)
        ]
        self._db[OUTBOX].insert_many(documents, session=session)
