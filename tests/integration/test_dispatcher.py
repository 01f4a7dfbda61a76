"""The outbox dispatcher against the real database, with a fake subscriber instead of HTTP.

Time moves by passing `now` to run_once, never by sleeping (except where real threads race).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.dispatcher import DELIVERIES, DeliveryPolicy, Dispatcher
from adapters.dispatcher import ensure_indexes as ensure_dispatch_indexes
from adapters.mongo import NO_LEASE, OUTBOX, MongoResources, connect
from adapters.subscriptions import MongoSubscriptions
from domain.customer import CUSTOMER
from domain.patch import MERGE, Patch
from domain.resource import ResourceType
from domain.service import ResourceService

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
API = CUSTOMER.api
POLICY = DeliveryPolicy(max_attempts=4, first_backoff=1.0, max_backoff=4.0, lease=30.0)


def seconds(count: float) -> timedelta:
    return timedelta(seconds=count)


class FakeSubscriber:
    """Stands in for every callback URL: records attempts, fails when told to."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, str]] = []  # (callback, eventId), in call order
        self.received: list[tuple[str, str]] = []  # the attempts that succeeded
        self.down: set[str] = set()  # callbacks that refuse connections
        self.refused: set[str] = set()  # event ids answered with an error
        self._lock = threading.Lock()

    def __call__(self, callback: str, envelope: dict[str, Any]) -> None:
        attempt = (callback, envelope["eventId"])
        with self._lock:
            self.attempts.append(attempt)
        if callback in self.down:
            raise ConnectionError(f"{callback} refused the connection")
        if envelope["eventId"] in self.refused:
            raise RuntimeError("HTTP 503 from subscriber")
        with self._lock:
            self.received.append(attempt)


class FixedClock:
    def now(self) -> datetime:
        return T0


class UuidIds:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def href_for(rtype: ResourceType, resource_id: str) -> str:
    return f"http://bss.test/tmf-api/{rtype.api}/v4/{rtype.path}/{resource_id}"


@pytest.fixture
def customers(db: Any) -> ResourceService:
    repository = MongoResources(db)
    repository.ensure_indexes(CUSTOMER)
    ensure_dispatch_indexes(db)
    return ResourceService(CUSTOMER, repository, FixedClock(), UuidIds(), href_for)


@pytest.fixture
def subscriptions(db: Any) -> MongoSubscriptions:
    hub = MongoSubscriptions(db)
    hub.ensure_indexes()
    return hub


@pytest.fixture
def subscriber() -> FakeSubscriber:
    return FakeSubscriber()


@pytest.fixture
def dispatcher(db, subscriptions, subscriber) -> Dispatcher:
    return Dispatcher(db, subscriptions, subscriber, POLICY)


def subscribe(subscriptions: MongoSubscriptions, name: str, query: str | None = None) -> str:
    """Registers a listener; its callback is http://<name>.example/listener."""
    callback = f"http://{name}.example/listener"
    subscriptions.add({"id": name, "api": API, "callback": callback, "query": query})
    return callback


def approve(customers: ResourceService, customer_id: str) -> None:
    for status in ("Validated", "Approved"):
        customers.patch(customer_id, Patch(MERGE, {"status": status}))


def event_ids(db: Any, customer_id: str) -> list[str]:
    """The customer's events, oldest first."""
    entries = db[OUTBOX].find({"resource": f"customer/{customer_id}"}).sort("seq", 1)
    return [entry["_id"] for entry in entries]


def delivery(db: Any, subscription_id: str, event_id: str) -> dict[str, Any]:
    return db[DELIVERIES].find_one({"_id": f"{subscription_id}:{event_id}"})


class TestFanOut:
    def test_each_matching_subscription_gets_one_delivery(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        everything = subscribe(subscriptions, "everything")
        creations = subscribe(subscriptions, "creations", "eventType=CustomerCreateEvent")
        subscribe(subscriptions, "approvals", "status=Approved")
        subscriptions.add({"id": "orders", "api": "productOrdering", "callback": everything})
        ada = customers.create({"name": "Ada"})

        dispatcher.run_once(now=T0)

        (created,) = event_ids(db, ada["id"])
        assert sorted(d["subscriptionId"] for d in db[DELIVERIES].find()) == [
            "creations",
            "everything",
        ]
        assert sorted(subscriber.received) == [(creations, created), (everything, created)]

    def test_a_query_on_the_resource_selects_its_later_events(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        approvals = subscribe(subscriptions, "approvals", "status=Approved")
        ada = customers.create({"name": "Ada"})
        approve(customers, ada["id"])

        dispatcher.run_once(now=T0)

        approved_event = event_ids(db, ada["id"])[-1]
        assert subscriber.received == [(approvals, approved_event)]

    def test_an_event_fanned_out_again_makes_no_second_delivery(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "everything")
        ada = customers.create({"name": "Ada"})
        dispatcher.run_once(now=T0)
        # as if the worker had crashed after creating the deliveries, before marking the event
        db[OUTBOX].update_many({}, {"$set": {"fanned": False}})

        dispatcher.run_once(now=T0 + seconds(POLICY.lease + 1))

        assert db[OUTBOX].count_documents({"fanned": False}) == 0
        assert db[DELIVERIES].count_documents({}) == 1
        assert subscriber.received == [(callback, event_ids(db, ada["id"])[0])]

    def test_an_event_nobody_listens_to_is_fanned_out_into_nothing(self, db, customers, dispatcher):
        customers.create({"name": "Ada"})

        dispatcher.run_once(now=T0)

        assert db[OUTBOX].count_documents({"fanned": True}) == 1
        assert db[DELIVERIES].count_documents({}) == 0


class TestDelivery:
    def test_a_delivered_event_is_marked_delivered(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        subscribe(subscriptions, "crm")
        ada = customers.create({"name": "Ada"})

        dispatcher.run_once(now=T0)

        sent = delivery(db, "crm", event_ids(db, ada["id"])[0])
        assert sent["state"] == "delivered"
        assert sent["deliveredAt"] == T0
        assert sent["leaseUntil"] == NO_LEASE

    def test_a_failed_delivery_is_retried_after_a_backoff(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "crm")
        subscriber.down.add(callback)
        event = event_ids(db, customers.create({"name": "Ada"})["id"])[0]

        dispatcher.run_once(now=T0)
        retry = delivery(db, "crm", event)
        dispatcher.run_once(now=T0 + seconds(0.9))

        assert retry["state"] == "pending"
        assert retry["attempts"] == 1
        assert retry["nextAttemptAt"] == T0 + seconds(1)
        assert retry["lastError"] == f"ConnectionError: {callback} refused the connection"
        assert len(subscriber.attempts) == 1

    def test_a_subscriber_back_up_gets_the_event_at_the_next_attempt(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "crm")
        subscriber.down.add(callback)
        event = event_ids(db, customers.create({"name": "Ada"})["id"])[0]
        dispatcher.run_once(now=T0)
        subscriber.down.clear()

        dispatcher.run_once(now=T0 + seconds(1))

        assert subscriber.received == [(callback, event)]
        assert delivery(db, "crm", event)["state"] == "delivered"

    def test_the_backoff_doubles_up_to_its_maximum(
        self, db, customers, subscriptions, subscriber, subscriptions_policy_dispatcher
    ):
        dispatcher = subscriptions_policy_dispatcher(DeliveryPolicy(max_attempts=10))
        callback = subscribe(subscriptions, "crm")
        subscriber.down.add(callback)
        event = event_ids(db, customers.create({"name": "Ada"})["id"])[0]
        now, waits = T0, []

        for _ in range(7):
            dispatcher.run_once(now=now)
            following = delivery(db, "crm", event)["nextAttemptAt"]
            waits.append((following - now).total_seconds())
            now = following

        assert waits == [1, 2, 4, 8, 16, 30, 30]

    def test_an_event_failing_max_attempts_times_is_dead_lettered(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "crm")
        subscriber.down.add(callback)
        event = event_ids(db, customers.create({"name": "Ada"})["id"])[0]

        for offset in (0, 1, 3, 7, 11, 100, 1000):
            dispatcher.run_once(now=T0 + seconds(offset))

        dead = delivery(db, "crm", event)
        assert dead["state"] == "dead"
        assert dead["attempts"] == POLICY.max_attempts
        assert dead["lastError"].startswith("ConnectionError")
        assert len(subscriber.attempts) == POLICY.max_attempts


@pytest.fixture
def subscriptions_policy_dispatcher(db, subscriptions, subscriber):
    def build(policy: DeliveryPolicy) -> Dispatcher:
        return Dispatcher(db, subscriptions, subscriber, policy)

    return build


class TestOrderPerResource:
    def test_a_later_event_waits_while_an_earlier_one_backs_off(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "crm")
        ada = customers.create({"name": "Ada"})
        approve(customers, ada["id"])
        created, validated, approved = event_ids(db, ada["id"])
        subscriber.refused.add(created)

        dispatcher.run_once(now=T0)
        tried_first = list(subscriber.attempts)
        subscriber.refused.clear()
        dispatcher.run_once(now=T0 + seconds(1))

        assert tried_first == [(callback, created)]
        assert subscriber.received == [(callback, e) for e in (created, validated, approved)]

    def test_a_resource_backing_off_does_not_hold_back_other_resources(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "crm")
        ada = customers.create({"name": "Ada"})
        bob = customers.create({"name": "Bob"})
        approve(customers, bob["id"])
        subscriber.refused.add(event_ids(db, ada["id"])[0])

        dispatcher.run_once(now=T0)

        assert subscriber.received == [(callback, e) for e in event_ids(db, bob["id"])]

    def test_a_subscriber_that_is_down_does_not_hold_back_another(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        broken = subscribe(subscriptions, "broken")
        healthy = subscribe(subscriptions, "healthy")
        subscriber.down.add(broken)
        ada = customers.create({"name": "Ada"})
        approve(customers, ada["id"])

        dispatcher.run_once(now=T0)

        assert subscriber.received == [(healthy, e) for e in event_ids(db, ada["id"])]

    def test_a_dead_lettered_event_no_longer_holds_back_later_ones(
        self, db, customers, subscriptions, subscriber, subscriptions_policy_dispatcher
    ):
        dispatcher = subscriptions_policy_dispatcher(DeliveryPolicy(max_attempts=1))
        callback = subscribe(subscriptions, "crm")
        ada = customers.create({"name": "Ada"})
        customers.patch(ada["id"], Patch(MERGE, {"status": "Validated"}))
        created, validated = event_ids(db, ada["id"])
        subscriber.refused.add(created)

        dispatcher.run_once(now=T0)
        dispatcher.run_once(now=T0 + seconds(1))

        assert delivery(db, "crm", created)["state"] == "dead"
        assert subscriber.received == [(callback, validated)]

    def test_a_later_event_waits_for_an_earlier_one_still_being_fanned_out(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "crm")
        ada = customers.create({"name": "Ada"})
        customers.patch(ada["id"], Patch(MERGE, {"status": "Validated"}))
        created, validated = event_ids(db, ada["id"])
        # another worker has claimed the first event and not finished fanning it out
        db[OUTBOX].update_one({"_id": created}, {"$set": {"leaseUntil": T0 + seconds(30)}})

        dispatcher.run_once(now=T0)
        tried_first = list(subscriber.attempts)
        dispatcher.run_once(now=T0 + seconds(30))

        assert tried_first == []
        assert subscriber.received == [(callback, created), (callback, validated)]


class TestLeases:
    def test_an_event_claimed_by_a_crashed_worker_is_fanned_out_once_its_lease_expires(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "crm")
        created = event_ids(db, customers.create({"name": "Ada"})["id"])[0]
        db[OUTBOX].update_one({"_id": created}, {"$set": {"leaseUntil": T0 + seconds(30)}})

        dispatcher.run_once(now=T0 + seconds(29))
        fanned_early = db[OUTBOX].find_one({"_id": created})["fanned"]
        dispatcher.run_once(now=T0 + seconds(30))

        assert fanned_early is False
        assert subscriber.received == [(callback, created)]

    def test_a_delivery_claimed_by_a_crashed_worker_is_sent_once_its_lease_expires(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "crm")
        subscriber.down.add(callback)
        created = event_ids(db, customers.create({"name": "Ada"})["id"])[0]
        dispatcher.run_once(now=T0)
        subscriber.down.clear()
        # a worker claimed the retry at T0+1s and died while sending it
        crashed_lease = T0 + seconds(1 + POLICY.lease)
        db[DELIVERIES].update_one({}, {"$set": {"leaseUntil": crashed_lease}})

        dispatcher.run_once(now=crashed_lease - seconds(1))
        sent_early = list(subscriber.received)
        dispatcher.run_once(now=crashed_lease)

        assert sent_early == []
        assert subscriber.received == [(callback, created)]
        assert delivery(db, "crm", created)["state"] == "delivered"


class TestConcurrentDispatchers:
    def test_two_dispatchers_deliver_every_event_exactly_once_and_in_order(
        self, mongo_uri, database_name, db, customers, subscriptions, subscriber
    ):
        callbacks = [subscribe(subscriptions, "crm"), subscribe(subscriptions, "billing")]
        people = [customers.create({"name": f"Customer {n}"}) for n in range(10)]
        for person in people:
            approve(customers, person["id"])
        expected = len(callbacks) * 3 * len(people)
        connections = [connect(mongo_uri, database_name) for _ in range(2)]
        workers = [
            Dispatcher(own, MongoSubscriptions(own), subscriber, POLICY) for own in connections
        ]

        for worker in workers:
            worker.start(idle_sleep=0.01)
        try:
            deadline = time.monotonic() + 30
            while len(subscriber.received) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # give a duplicate, if any, the time to happen
        finally:
            for worker, own in zip(workers, connections, strict=True):
                worker.stop()
                own.client.close()

        assert len(subscriber.received) == expected
        assert set(Counter(subscriber.received).values()) == {1}
        for person in people:
            in_order = event_ids(db, person["id"])
            for callback in callbacks:
                got = [e for c, e in subscriber.received if c == callback and e in in_order]
                assert got == in_order
        assert db[DELIVERIES].count_documents({"state": {"$ne": "delivered"}}) == 0


class TestUnsubscribedListener:
    def test_gets_nothing_more_once_it_unsubscribed(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        callback = subscribe(subscriptions, "gone")
        subscriber.down.add(callback)
        customer = customers.create({"name": "Ada", "engagedParty": {"id": "p1"}})
        dispatcher.run_once(now=T0)
        assert len(subscriber.attempts) == 1

        subscriptions.remove(API, "gone")
        subscriber.down.clear()
        dispatcher.run_once(now=T0 + seconds(60))

        assert len(subscriber.attempts) == 1
        [event_id] = event_ids(db, customer["id"])
        assert delivery(db, "gone", event_id)["state"] == "cancelled"


class TestEventsNobodyListensTo:
    def test_are_passed_over_in_one_update(self, db, customers, dispatcher):
        for number in range(5):
            customers.create({"name": f"C{number}", "engagedParty": {"id": "p"}})

        handled = dispatcher.run_once(now=T0 + seconds(1))

        assert handled == 0  # nothing to deliver: the worker may sleep
        assert db[OUTBOX].count_documents({"fanned": False}) == 0
        assert db[DELIVERIES].count_documents({}) == 0

    def test_a_later_subscriber_gets_only_what_happens_after_it(
        self, db, customers, subscriptions, subscriber, dispatcher
    ):
        customers.create({"name": "Before", "engagedParty": {"id": "p"}})
        dispatcher.run_once(now=T0 + seconds(1))
        callback = subscribe(subscriptions, "late")
        after = customers.create({"name": "After", "engagedParty": {"id": "p"}})

        dispatcher.run_once(now=T0 + seconds(2))

        assert subscriber.received == [(callback, event_ids(db, after["id"])[0])]
