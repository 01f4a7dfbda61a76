"""Delivers outbox events to hub subscribers: at least once, in order per resource.

Two steps, each claimed atomically with a lease so any number of processes can run them:
fan-out turns an outbox event into one delivery per matching subscription (idempotent by
subscription and eventId); delivery POSTs it, retrying with exponential backoff until it
succeeds or is dead-lettered after `max_attempts`. A delivery waits while an earlier event
of the same resource is still pending for the same subscriber.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
import pymongo
import pymongo.errors
import simplejson
from pymongo.database import Database

from adapters.mongo import NO_LEASE, OUTBOX
from adapters.partners import PARTNER
from adapters.polling import PollingWorker
from adapters.subscriptions import MongoSubscriptions
from domain.hub import subscription_matches
from domain.instants import format_instant

DELIVERIES = "delivery"
JSON_CONTENT = {"Content-Type": "application/json"}
log = logging.getLogger("bss.events")


class Sender(Protocol):
    def __call__(self, callback: str, envelope: dict[str, Any]) -> None:
        """Raises on any failure to deliver."""


class HttpSender:
    def __init__(self, timeout: float = 5.0) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def __call__(self, callback: str, envelope: dict[str, Any]) -> None:
        # exact numbers (Decimal prices) go out as JSON numbers, as in API responses
        body = simplejson.dumps(envelope, use_decimal=True)
        response = self._client.post(callback, content=body, headers=JSON_CONTENT)
        response.raise_for_status()


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 12
    first_backoff: float = 1.0
    max_backoff: float = 30.0
    lease: float = 30.0

    def backoff(self, attempts: int) -> timedelta:
        seconds = min(self.first_backoff * 2 ** (attempts - 1), self.max_backoff)
        return timedelta(seconds=seconds)


BATCH = 50  # documents claimed per query for due work
RETENTION_SECONDS = 7 * 24 * 3600  # fanned-out events and delivered deliveries, then pruned


def ensure_indexes(db: Database) -> None:
    db[OUTBOX].create_index([("fanned", 1), ("leaseUntil", 1)])
    db[OUTBOX].create_index([("resource", 1), ("seq", 1)])
    db[OUTBOX].create_index("fannedAt", expireAfterSeconds=RETENTION_SECONDS)
    db[DELIVERIES].create_index([("state", 1), ("nextAttemptAt", 1)])
    db[DELIVERIES].create_index([("orderKey", 1), ("seq", 1)])
    # dead-lettered deliveries have no deliveredAt: they stay until someone looks at them
    db[DELIVERIES].create_index("deliveredAt", expireAfterSeconds=RETENTION_SECONDS)


class Dispatcher(PollingWorker):
    thread_name = "event-dispatcher"
    log = log

    def __init__(
        self,
        db: Database,
        subscriptions: MongoSubscriptions,
        sender: Sender,
        policy: DeliveryPolicy = DeliveryPolicy(),
    ) -> None:
        self._db = db
        self._subscriptions = subscriptions
        self._send = sender
        self.policy = policy
        super().__init__()

    # one pass -----------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> int:
        """Fan out and deliver what is due; returns how many events and deliveries were
        handled. Events passed over because nobody listens do not count: a worker that only
        passed over events sleeps before its next round, so they are marked in bulk."""
        handled = 0
        while True:
            at = now or _now()
            heard = sorted(self._subscriptions.apis())
            self._pass_over_unheard(at, heard)
            batch = self._claim_batch(OUTBOX, _unfanned(heard), at) if heard else []
            for event in batch:
                self._fan_out_one(event, now or _now())
            handled += len(batch)
            if not batch:
                break
        while batch := self._claim_batch(DELIVERIES, _due_delivery, now or _now()):
            for delivery in batch:
                self._deliver_one(delivery, now or _now())
            handled += len(batch)
        return handled

    def _pass_over_unheard(self, now: datetime, heard: list[str]) -> int:
        """Marks fanned out, in one update, the events of APIs nobody subscribes to.

        Otherwise every event would cost a claim, a read and an update for no one, and a
        backlog would build up that the embedded server reads in full on every claim. Only
        events up to `now`, taken before the subscriptions (`heard`) were read, are passed
        over: a subscription registered later is owed nothing that happened earlier.
        """
        before = format_instant(now)
        skipped = self._db[OUTBOX].update_many(
            {"fanned": False, "api": {"$nin": heard}, "eventTime": {"$lte": before}},
            {"$set": {"fanned": True, "fannedAt": now}},
        )
        return skipped.modified_count

    def _claim_batch(
        self, collection: str, due: Callable[[datetime], dict[str, Any]], now: datetime
    ) -> list[dict[str, Any]]:
        """Up to BATCH due documents, each claimed with a lease, oldest first.

        Finding the candidates is the costly query (the embedded server reads every match to
        sort them), so it runs once per batch. Each claim is then an atomic update on `_id`
        and the lease alone: with any other indexed field in its filter the embedded server
        scans that index too, so whether the document is still due is checked after the read.
        """
        where = {**due(now), "leaseUntil": {"$lte": now}}
        candidates = list(self._db[collection].find(where, {"_id": 1}).sort("seq", 1).limit(BATCH))
        lease = {"$set": {"leaseUntil": now + timedelta(seconds=self.policy.lease)}}
        claimed = []
        for candidate in candidates:
            key = {"_id": candidate["_id"]}
            won = self._db[collection].update_one({**key, "leaseUntil": {"$lte": now}}, lease)
            document = self._db[collection].find_one(key) if won.modified_count else None
            if document is None:
                continue  # another worker holds it, or it is gone
            if matches_due(document, due(now)):
                claimed.append(document)
            else:  # done by another worker since the candidates were read
                self._db[collection].update_one(key, {"$set": {"leaseUntil": NO_LEASE}})
        return claimed

    def _fan_out_one(self, event: dict[str, Any], now: datetime) -> None:
        for subscription in self._subscriptions.for_api(event["api"]):
            if not _same_partner(subscription, event):
                continue
            if not subscription_matches(subscription, event["envelope"]):
                continue
            delivery = {
                "_id": f"{subscription['id']}:{event['_id']}",
                "subscriptionId": subscription["id"],
                "callback": subscription["callback"],
                "eventId": event["_id"],
                "orderKey": f"{subscription['id']}:{event['resource']}",
                "resource": event["resource"],
                "seq": event["seq"],
                "envelope": event["envelope"],
                "state": "pending",
                "attempts": 0,
                "createdAt": now,
                "nextAttemptAt": now,
                "leaseUntil": NO_LEASE,
            }
            # a previous claim of this event may have got this far
            with contextlib.suppress(pymongo.errors.DuplicateKeyError):
                self._db[DELIVERIES].insert_one(delivery)
        self._db[OUTBOX].update_one(
            {"_id": event["_id"]}, {"$set": {"fanned": True, "fannedAt": now}}
        )

    def _deliver_one(self, delivery: dict[str, Any], now: datetime) -> None:
        blocker = self._earlier_pending(delivery)
        if blocker is not None:
            wait_until = max(blocker.get("nextAttemptAt") or now, now + timedelta(seconds=0.2))
            self._release(delivery, {"nextAttemptAt": wait_until})
            return
        if not self._subscriptions.exists(delivery["subscriptionId"]):
            # the listener unsubscribed after the event: nothing more is owed to it
            self._release(delivery, {"state": "cancelled"})
            return
        try:
            self._send(delivery["callback"], delivery["envelope"])
        except Exception as error:  # noqa: BLE001 - any failure is a failed attempt
            self._failed(delivery, now, error)
        else:
            self._release(delivery, {"state": "delivered", "deliveredAt": now})

    def _earlier_pending(self, delivery: dict[str, Any]) -> dict[str, Any] | None:
        earlier = {"seq": {"$lt": delivery["seq"]}}
        # An earlier event not fanned out yet would also be overtaken. The outbox is read
        # first: fan-out inserts the deliveries before it marks the event fanned, so an event
        # seen fanned here has its deliveries visible below (the other order has a gap).
        unfanned = self._db[OUTBOX].find_one(
            {"resource": delivery["resource"], "fanned": False, **earlier}
        )
        if unfanned is not None:
            return unfanned
        return self._db[DELIVERIES].find_one(
            {"orderKey": delivery["orderKey"], "state": "pending", **earlier}
        )

    def _failed(self, delivery: dict[str, Any], now: datetime, error: Exception) -> None:
        attempts = delivery["attempts"] + 1
        reason = f"{type(error).__name__}: {error}"[:500]
        update: dict[str, Any] = {"attempts": attempts, "lastError": reason}
        if attempts >= self.policy.max_attempts:
            update["state"] = "dead"
            log.warning(
                "event %s to %s dead-lettered: %s",
                delivery["eventId"],
                delivery["callback"],
                reason,
            )
        else:
            update["nextAttemptAt"] = now + self.policy.backoff(attempts)
        self._release(delivery, update)

    def _release(self, delivery: dict[str, Any], update: dict[str, Any]) -> None:
        self._db[DELIVERIES].update_one(
            {"_id": delivery["_id"]}, {"$set": {**update, "leaseUntil": NO_LEASE}}
        )


def _same_partner(subscription: dict[str, Any], event: dict[str, Any]) -> bool:
    """A partner's subscription hears its own partner's events; an operator's, every one."""
    partner = subscription.get("partner")
    return partner is None or partner == event.get(PARTNER)


def _unfanned(heard: list[str]) -> Callable[[datetime], dict[str, Any]]:
    def due(now: datetime) -> dict[str, Any]:
        return {"fanned": False, "api": {"$in": heard}}

    return due


def _due_delivery(now: datetime) -> dict[str, Any]:
    return {"state": "pending", "nextAttemptAt": {"$lte": now}}


def matches_due(document: dict[str, Any], due: dict[str, Any]) -> bool:
    """The `due` filters above, evaluated on a document (equality, `$in` and `$lte` only)."""
    for field, condition in due.items():
        value = document.get(field)
        if not isinstance(condition, dict):
            if value != condition:
                return False
        elif "$in" in condition:
            if value not in condition["$in"]:
                return False
        elif value is None or value > condition["$lte"]:
            return False
    return True


def _now() -> datetime:
    return datetime.now(UTC)
