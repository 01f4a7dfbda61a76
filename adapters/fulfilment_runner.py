"""Runs order fulfilment in the background: any number of processes may run it at once.

Orders and cancellation requests in a working state carry a due instant (adapters/mongo.py
`_due`, set in the same write as the state). A runner takes due ones, leases the order (one
runner per order at a time; a crashed runner's lease expires and another continues), calls
`Fulfilment.advance` and schedules the next look: at once while items progress, after a poll
interval while the network has not answered, at requestedStartDate for a held order, never
once the order is final or waits for its client (pending).

Each order is advanced acting for its partner (adapters/acting.py): what fulfilment reads
(customer, account, catalog, inventory) and takes (numbers, SIMs) is that partner's.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo.errors
from pymongo.database import Database

from adapters.acting import acting_for, partner
from adapters.leases import Leases
from adapters.mongo import MongoResources
from adapters.polling import PollingWorker
from domain.errors import ConcurrentUpdate, NotFound
from domain.fulfilment import Fulfilment
from domain.ordering import SYSTEM_CANCEL, SYSTEM_ORDER
from domain.resource import Referrer

LEASES = "fulfilmentLease"
TURN = "turn"  # the lease of the runner whose turn it is
RETRY_AFTER_ERROR = timedelta(seconds=30)  # an order that broke the runner is retried later
log = logging.getLogger("bss.fulfilment")


class FulfilmentRunner(PollingWorker):
    thread_name = "order-fulfilment"
    log = log
    idle_sleep = 0.05

    def __init__(
        self,
        db: Database,
        resources: MongoResources,
        fulfilment: Fulfilment,
        lease_seconds: float = 30.0,
        batch: int = 1000,
    ) -> None:
        super().__init__()
        self._resources = resources
        self._fulfilment = fulfilment
        self._batch = batch
        self.leases = Leases(db, LEASES, timedelta(seconds=lease_seconds))

    def ensure_indexes(self) -> None:
        self.leases.ensure_indexes()

    def run_once(self) -> int:
        """Advance every order that is due now; returns how many were advanced.

        One runner at a time takes a turn (a lease, released after the pass, taken over
        when its runner died): measured on the embedded server, two processes advancing
        orders at once completed fewer orders per second than one, the database being
        single-threaded (2,000 orders, two API processes: 4.4 orders/s, 9.6 taking turns).
        Each order also has its own lease, so a runner that lost its turn while still
        working never overlaps another.
        The due ones are read in one query of up to `batch` and all worked through before
        the next: the embedded server reads every match of a range query whatever its limit,
        so querying per order would cost a scan of the backlog per order.
        """
        with self.leases.turn(TURN) as mine:
            return self._pass() if mine else 0  # 0: another runner's turn

    def _pass(self) -> int:
        handled = 0
        now = _now()
        renewed = time.monotonic()
        for cancellation_id, owner in self._resources.due(SYSTEM_CANCEL, now, self._batch):
            with acting_for(owner):
                request = self._resources.get_document(SYSTEM_CANCEL.collection, cancellation_id)
                if request is not None:
                    handled += self._advance(request["productOrder"]["id"], cancellation_id)
        for order_id, owner in self._resources.due(SYSTEM_ORDER, now, self._batch):
            if self.stopping:
                break
            if time.monotonic() - renewed > self.leases.duration.total_seconds() / 3:
                self.leases.renew(TURN)  # a long pass keeps its turn
                renewed = time.monotonic()
            with acting_for(owner):
                handled += self._advance(order_id)
        return handled

    def _advance(self, order_id: str, cancellation_id: str | None = None) -> int:
        if not self.leases.claim(order_id):
            return 0  # another runner has it
        try:
            step = self._fulfilment.advance(order_id, cancellation_id)
        except ConcurrentUpdate:
            return 1  # changed by a client meanwhile: still due, taken again next pass
        except NotFound:
            return 1  # deleted meanwhile
        except pymongo.errors.PyMongoError as error:
            log.warning("order %s: database error, retried: %s", order_id, error)
            return 0
        except Exception:
            log.exception(
                "order %s: fulfilment stopped; retried in %s", order_id, RETRY_AFTER_ERROR
            )
            order = self._resources.get_document(SYSTEM_ORDER.collection, order_id) or {}
            if order.get("state"):
                retry = _now() + RETRY_AFTER_ERROR
                self._resources.schedule(SYSTEM_ORDER, order_id, order["state"], retry)
            return 1
        finally:
            self.leases.release(order_id)
        if step.next_at is not None or step.state in SYSTEM_ORDER.work_states:
            # (a final or pending order was unscheduled by the write that put it there)
            self._resources.schedule(SYSTEM_ORDER, order_id, step.state, step.next_at)
        return 1


class CatalogCache:
    """A ReferenceReader that keeps Launched catalog entities for a few seconds.

    Fulfilment reads the same offerings, prices and specifications for every order; a
    Launched entity cannot change except by being retired, so a retirement is seen at most
    `ttl` late. Entities in any other state, and everything else, are read every time.
    Entities are kept per partner acted for: one partner's are never another's answer.
    """

    CACHED = frozenset({"productOffering", "productOfferingPrice", "productSpecification"})

    def __init__(self, reader: MongoResources, ttl: float = 5.0) -> None:
        self._reader = reader
        self._ttl = ttl
        self._kept: dict[tuple[str | None, str, str], tuple[float, dict[str, Any]]] = {}

    def get_document(self, collection: str, resource_id: str) -> dict[str, Any] | None:
        if collection not in self.CACHED:
            return self._reader.get_document(collection, resource_id)
        key = (partner(), collection, resource_id)
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept and kept[0] > now:
            return kept[1]
        document = self._reader.get_document(collection, resource_id)
        if document is not None and document.get("lifecycleStatus") == "Launched":
            if len(self._kept) > 10_000:  # bounded: the catalog, not the orders, is cached
                self._kept.clear()
            self._kept[key] = (now + self._ttl, document)
        return document

    def find_referrers(self, referrer: Referrer, resource_id: str, limit: int) -> list[str]:
        return self._reader.find_referrers(referrer, resource_id, limit)


def _now() -> datetime:
    return datetime.now(UTC)
