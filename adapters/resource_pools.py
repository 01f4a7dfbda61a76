"""The NumberPool and SimStock ports on MongoDB: one document per number (`msisdn`) and per
SIM card (`sim`), claimed atomically.

A claim is one conditional update of a single resource by id (`{_id, status: available}`),
so two callers can never get the same resource. The ids to try come from a shuffled list of
free ones each process keeps, refilled by one query when it runs dry: on the embedded server
any query on `status` reads every match (~25 ms for 2,000 free numbers), while an update by
id costs under a millisecond. Another process may have taken a listed id meanwhile; its
update then matches nothing and the next id is tried.
`reservedBy`, the holder that claimed the resource, is unique where present: a holder has at
most one number and one SIM, even when it reserves from two threads at once; it stays while
the resource is assigned, so reserving again after the assignment (a fulfilment resumed after
a crash) still returns the same resource.
Pools are per partner (adapters/partners.py): every number and SIM belongs to one, and the
pool serves the partner acted for (the order's, in fulfilment) from its own resources only.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pymongo
import pymongo.errors
from pymongo.collection import Collection
from pymongo.database import Database

from adapters import acting
from adapters.clock import SystemClock
from adapters.partners import PARTNER, own, owner, scoped
from domain.ports import Clock, PoolExhausted, ResourceUnavailable, Sim

NUMBERS, SIMS = "msisdn", "sim"
AVAILABLE, RESERVED, ASSIGNED = "available", "reserved", "assigned"
QUARANTINED, RETIRED = "quarantined", "retired"

# Demo pools: Irish mobile numbers (+35383 and 7 digits) and SIMs of MCC 272 (Ireland).
DEMO_FIRST_NUMBER = "+353831000000"
ICCID_PREFIX = "8935301"  # 89 telecom, 353 Ireland, 01 issuer
DEMO_FIRST_ICCID_BODY = ICCID_PREFIX + "00000000001"  # the ICCID without its check digit
IMSI_PREFIX = "27213"  # MCC 272, MNC 13
SERIAL_DIGITS = 10  # the IMSI's subscriber part: the last digits of the ICCID serial
REFILL = 1000  # free ids listed per query


class _Pool:
    """What numbers and SIMs share: per-holder reservation, assignment to a product, and
    release (`released` says what an assigned resource becomes)."""

    statuses: tuple[str, ...]
    fields: tuple[str, ...]  # shown by status_of besides the id

    def __init__(self, collection: Collection, key: str, noun: str, clock: Clock) -> None:
        self._collection = collection
        self._key = key  # what the id is called in status_of
        self._noun = noun
        self._clock = clock
        # ids believed free, in random order, per partner
        self._free: dict[str | None, list[str]] = {}
        self._lock = threading.Lock()

    def ensure_indexes(self) -> None:
        self._collection.create_index("status")
        self._collection.create_index("holder")
        self._collection.create_index("reservedBy", unique=True, sparse=True)

    def assign(self, resource_id: str, holder: str, product_id: str) -> None:
        """From then on the product id is the holder, so the product's release works."""
        assigned = self._collection.update_one(
            {"_id": resource_id, "status": RESERVED, "holder": holder, **own()},
            {
                "$set": {
                    "status": ASSIGNED,
                    "holder": product_id,
                    "product": product_id,
                    **self._at(),
                }
            },
        )
        if assigned.matched_count:
            return
        found = self._collection.find_one(self._scoped({"_id": resource_id})) or {}
        if found.get("status") != ASSIGNED or found.get("product") != product_id:
            raise ResourceUnavailable(f"{self._noun} {resource_id} is not reserved by {holder}")

    def status_of(self, resource_id: str) -> dict[str, Any] | None:
        found = self._collection.find_one(self._scoped({"_id": resource_id}))
        if found is None:
            return None
        return {self._key: resource_id, **{name: found.get(name) for name in self.fields}}

    def counts(self) -> dict[str, int]:
        """How many resources are in each status (every status, zero included)."""
        grouped = self._collection.aggregate(
            [{"$match": self._scoped({})}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        )
        found = {group["_id"]: group["n"] for group in grouped}
        return {status: found.get(status, 0) for status in self.statuses}

    def _held(self, holder: str) -> dict[str, Any] | None:
        """What the holder reserved (perhaps assigned since), or what is assigned to it."""
        return self._collection.find_one(
            self._scoped({"reservedBy": holder})
        ) or self._collection.find_one(self._scoped({"holder": holder, "status": ASSIGNED}))

    def holding(self, holder: str) -> Any:
        held = self._held(holder)
        return None if held is None else self._port_value(held)

    def _port_value(self, document: dict[str, Any]) -> Any:
        return document["_id"]

    def _reserve(
        self, holder: str, free: list[dict[str, Any]], requested: str | None = None
    ) -> dict[str, Any] | None:
        """The holder's resource: the one it holds, else `requested` or any resource matching
        one of the `free` filters, claimed for it; None when there is none."""
        held = self._held(holder)
        if held is not None:
            return held
        try:
            if requested is not None:
                claimed = self._claim(requested, holder, free)
            else:
                claimed = self._claim_any(holder, free)
        except pymongo.errors.DuplicateKeyError:  # the same holder claimed meanwhile
            return self._held(holder)
        if claimed is None:  # none left, unless another thread claimed for the same holder
            return self._held(holder)
        return self._collection.find_one(self._scoped({"_id": claimed}))

    def _claim_any(self, holder: str, free: list[dict[str, Any]]) -> str | None:
        for refilled in (False, True):
            while (candidate := self._next_free()) is not None:
                if self._claim(candidate, holder, free):
                    return candidate
            if refilled or not self._refill(free):
                return None
        return None

    def _next_free(self) -> str | None:
        with self._lock:
            free = self._free.get(acting.partner())
            return free.pop() if free else None

    def _refill(self, free: list[dict[str, Any]]) -> bool:
        ids = [
            document["_id"]
            for condition in free
            for document in self._collection.find(self._scoped(condition), {"_id": 1}).limit(REFILL)
        ]
        random.shuffle(ids)  # processes refilling at once try different ids first
        with self._lock:
            self._free[acting.partner()] = ids
        return bool(ids)

    def _claim(self, resource_id: str, holder: str, free: list[dict[str, Any]]) -> str | None:
        claim = {
            "$set": {"status": RESERVED, "holder": holder, "reservedBy": holder, **self._at()},
            "$unset": {"product": "", "quarantineUntil": ""},
        }
        for condition in free:
            # `_id` first: the embedded server picks the index of the filter's first field
            where = {"_id": resource_id, **condition, **own()}
            if self._collection.update_one(where, claim).matched_count:
                return resource_id
        return None

    def _release(self, resource_id: str, holder: str, released: dict[str, Any]) -> None:
        """A reservation is available again at once; an assigned resource is `released`.
        Anything else (released already, held by another) is left as it is."""
        unheld = {"holder": "", "reservedBy": ""}
        cancelled = self._collection.update_one(
            {"_id": resource_id, "status": RESERVED, "holder": holder, **own()},
            {"$set": {"status": AVAILABLE, **self._at()}, "$unset": unheld},
        )
        if not cancelled.matched_count:
            self._collection.update_one(
                {"_id": resource_id, "status": ASSIGNED, "holder": holder, **own()},
                {"$set": {**released, **self._at()}, "$unset": unheld},
            )

    def _at(self) -> dict[str, Any]:
        return {"updatedAt": self._clock.now()}

    def _scoped(self, where: dict[str, Any]) -> dict[str, Any]:
        return scoped(self._collection.name, where)


class MongoNumberPool(_Pool):
    """MSISDNs; a released number rests in quarantine before anyone else may have it."""

    statuses = (AVAILABLE, RESERVED, ASSIGNED, QUARANTINED)
    fields = ("status", "holder", "product", "quarantineUntil", "updatedAt")

    def __init__(self, db: Database, quarantine: timedelta, clock: Clock | None = None) -> None:
        super().__init__(db[NUMBERS], "msisdn", "number", clock or SystemClock())
        self.quarantine = quarantine

    def reserve(self, holder: str, requested: str | None = None) -> str:
        """The number the holder has (whatever it asks for now), else `requested` (a golden
        number) or any free one: available, or out of quarantine."""
        at_rest = {"status": QUARANTINED, "quarantineUntil": {"$lte": self._clock.now()}}
        reserved = self._reserve(holder, [{"status": AVAILABLE}, at_rest], requested)
        if reserved is not None:
            return str(reserved["_id"])
        if requested is None:
            raise PoolExhausted("no mobile number is available in the pool")
        if self._collection.find_one(self._scoped({"_id": requested}), {"_id": 1}) is None:
            raise ResourceUnavailable(f"number {requested} is not in any number pool")
        raise ResourceUnavailable(f"number {requested} is not available")

    def release(self, msisdn: str, holder: str) -> None:
        until = self._clock.now() + self.quarantine
        self._release(msisdn, holder, {"status": QUARANTINED, "quarantineUntil": until})


class MongoSimStock(_Pool):
    """SIM cards; an assigned SIM, once released, is retired for good."""

    statuses = (AVAILABLE, RESERVED, ASSIGNED, RETIRED)
    fields = ("imsi", "status", "holder", "product", "updatedAt")

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        super().__init__(db[SIMS], "iccid", "SIM", clock or SystemClock())

    def reserve(self, holder: str) -> Sim:
        reserved = self._reserve(holder, [{"status": AVAILABLE}])
        if reserved is None:
            raise PoolExhausted("no SIM card is available in stock")
        return self._port_value(reserved)

    def _port_value(self, document: dict[str, Any]) -> Sim:
        return Sim(iccid=document["_id"], imsi=document["imsi"])

    def release(self, iccid: str, holder: str) -> None:
        self._release(iccid, holder, {"status": RETIRED})


# Seeding ----------------------------------------------------------------------------------


def seed_numbers(db: Database, first: str, count: int) -> int:
    """`count` consecutive numbers from `first` (E.164, e.g. +353831000000) for the partner
    acted for (the platform across partners); numbers already there are left as they are.
    Returns how many were added."""
    start = int(first.removeprefix("+"))
    return _seed(db[NUMBERS], ((f"+{start + n}", {}) for n in range(count)))


def seed_sims(db: Database, first_iccid_body: str, count: int) -> int:
    """`count` SIMs whose ICCIDs count up from `first_iccid_body` (the ICCID without its Luhn
    check digit), for the partner acted for; each IMSI is IMSI_PREFIX and the last digits of
    its ICCID serial. SIMs already there are left as they are. Returns how many were added."""
    start, width = int(first_iccid_body), len(first_iccid_body)
    bodies = (str(start + n).zfill(width) for n in range(count))
    return _seed(
        db[SIMS],
        (
            (body + luhn_digit(body), {"imsi": IMSI_PREFIX + body[-SERIAL_DIGITS:]})
            for body in bodies
        ),
    )


def seed_demo_pools(db: Database, numbers: int, sims: int) -> int:
    """The demo number pool and SIM stock (of the partner acted for); returns how many
    resources were added."""
    return seed_numbers(db, DEMO_FIRST_NUMBER, numbers) + seed_sims(db, DEMO_FIRST_ICCID_BODY, sims)


def luhn_digit(body: str) -> str:
    """The check digit that makes `body` + digit pass the Luhn test (ISO/IEC 7812)."""
    total = 0
    for position, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str(-total % 10)


def _seed(collection: Collection, resources: Iterator[tuple[str, dict[str, Any]]]) -> int:
    """Insert-only upserts: re-seeding never touches a resource in use (nor another
    partner's)."""
    now = SystemClock().now()
    partner = owner()
    writes = [
        pymongo.UpdateOne(
            {"_id": resource_id},
            {
                "$setOnInsert": {
                    **attributes,
                    "status": AVAILABLE,
                    "updatedAt": now,
                    PARTNER: partner,
                }
            },
            upsert=True,
        )
        for resource_id, attributes in resources
    ]
    if not writes:
        return 0
    return collection.bulk_write(writes, ordered=False).upserted_count
