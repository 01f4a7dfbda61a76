"""Partner isolation at its choke point, on the real database: MongoResources scopes every
read and stamps every write by the partner acted for (adapters/acting.py), the shared
catalog is read by every partner and written by operators only, what an operator creates
belongs to the partner of what it refers to, and the direct writers (pools, hub, outbox,
counters, export files) keep to the same partner. Data stored before partners existed is
adopted once by the demo partner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.acting import acting_as, acting_for
from adapters.dispatcher import Dispatcher
from adapters.jobs import EXPORT_FILES, MongoExportFiles
from adapters.mongo import DUE, HIDDEN, HUB, OUTBOX, VERSION, MongoResources
from adapters.partners import DEMO_PARTNER, MIGRATIONS, PARTNER, adopt_unowned
from adapters.resource_pools import NUMBERS, MongoNumberPool, seed_numbers
from adapters.subscriptions import MongoSubscriptions
from domain.account import BILLING_ACCOUNT
from domain.catalog import PRODUCT_OFFERING
from domain.customer import CUSTOMER
from domain.errors import ConcurrentUpdate, Forbidden, Unprocessable
from domain.ordering import PRODUCT_ORDER
from domain.ports import PoolExhausted, ResourceUnavailable
from domain.query import Criterion, ListQuery
from domain.resource import Referrer
from domain.security import OPERATOR, PLATFORM, Principal
from tests.integration.conftest import customer, customer_event

A, B = "acme", "bravo"
EVERYTHING = ListQuery()
T0 = datetime(2030, 1, 1, tzinfo=UTC)
OPERATOR_OF_A = Principal("crm", "ops", A, frozenset({OPERATOR}))


def ids(items: list[dict[str, Any]]) -> list[str]:
    return sorted(item["id"] for item in items)


def offering(offering_id: str) -> dict[str, Any]:
    return {"id": offering_id, "@type": "ProductOffering", "name": offering_id}


def account(account_id: str, customer_id: str) -> dict[str, Any]:
    party = {"id": customer_id, "role": "owner", "@referredType": "Customer"}
    return {"id": account_id, "@type": "BillingAccount", "relatedParty": [party]}


@pytest.fixture
def repo(db: Any) -> MongoResources:
    repository = MongoResources(db)
    for rtype in (CUSTOMER, PRODUCT_OFFERING, BILLING_ACCOUNT, PRODUCT_ORDER):
        repository.ensure_indexes(rtype)
    return repository


@pytest.fixture
def two_partners(repo: MongoResources) -> None:
    """Customer a1 of A, b1 of B, written acting for each."""
    for partner, customer_id in ((A, "a1"), (B, "b1")):
        with acting_for(partner):
            repo.add(CUSTOMER, customer(customer_id), [customer_event(customer(customer_id), 1)])


@pytest.mark.usefixtures("two_partners")
class TestReadsAreScoped:
    def test_a_partner_gets_its_own_resource_and_not_another_partners(self, repo):
        with acting_for(A):
            assert repo.get(CUSTOMER, "a1") is not None
            assert repo.get(CUSTOMER, "b1") is None
            assert repo.get_document("customer", "b1") is None

    def test_a_partner_lists_only_its_own_even_when_it_filters_on_another_partners_id(self, repo):
        with acting_for(A):
            assert ids(repo.find(CUSTOMER, EVERYTHING)[0]) == ["a1"]
            by_id = ListQuery(criteria=(Criterion("id", "eq", ("b1",)),))
            assert repo.find(CUSTOMER, by_id) == ([], 0)

    def test_across_partners_everything_is_read(self, repo):
        assert ids(repo.find(CUSTOMER, EVERYTHING)[0]) == ["a1", "b1"]
        assert repo.get(CUSTOMER, "b1") is not None

    def test_the_partner_is_stamped_hidden_and_never_returned(self, repo, db):
        assert db.customer.find_one({"id": "b1"})[PARTNER] == B
        with acting_for(B):
            stored = repo.get(CUSTOMER, "b1")
            listed = repo.find(CUSTOMER, EVERYTHING)[0]
        assert stored is not None and PARTNER not in stored.resource
        assert PARTNER not in listed[0]
        assert PARTNER in HIDDEN

    def test_referrers_of_another_partner_are_not_counted(self, repo):
        by_party = Referrer("billingAccount", "relatedParty.id")
        with acting_for(B):
            repo.add(BILLING_ACCOUNT, account("ba-b", "b1"), [])
        with acting_for(A):
            assert repo.find_referrers(by_party, "b1", 10) == []
        assert repo.find_referrers(by_party, "b1", 10) == ["ba-b"]


@pytest.mark.usefixtures("two_partners")
class TestWritesAreScoped:
    def test_a_partner_cannot_change_or_remove_another_partners_resource(self, repo, db):
        stored = repo.get(CUSTOMER, "b1")  # read across partners, written as A
        assert stored is not None
        with acting_for(A), pytest.raises(ConcurrentUpdate):
            repo.replace(CUSTOMER, stored, {**stored.resource, "name": "Mallory"}, [])
        with acting_for(A), pytest.raises(ConcurrentUpdate):
            repo.remove(CUSTOMER, stored, [])
        kept = db.customer.find_one({"id": "b1"})
        assert kept["name"] == "Ada Lovelace" and kept[PARTNER] == B and kept[VERSION] == 1

    def test_a_partner_changing_its_own_stale_copy_is_told_to_retry(self, repo):
        with acting_for(A):
            stale = repo.get(CUSTOMER, "a1")
            assert stale is not None
            repo.replace(CUSTOMER, stale, {**stale.resource, "name": "First"}, [])
            with pytest.raises(ConcurrentUpdate):
                repo.replace(CUSTOMER, stale, {**stale.resource, "name": "Second"}, [])

    def test_a_change_across_partners_keeps_the_resources_partner(self, repo, db):
        stored = repo.get(CUSTOMER, "b1")
        assert stored is not None
        repo.replace(CUSTOMER, stored, {**stored.resource, "name": "Grace"}, [])
        assert db.customer.find_one({"id": "b1"})[PARTNER] == B

    def test_the_outbox_entry_carries_the_resources_partner(self, repo, db):
        db[HUB].insert_one({"_id": "s1", "api": "customerManagement", "callback": "http://x"})
        stored = repo.get(CUSTOMER, "b1")
        assert stored is not None
        event = customer_event({**stored.resource, "name": "Grace"}, 2, "AttributeValueChange")
        repo.replace(CUSTOMER, stored, {**stored.resource, "name": "Grace"}, [event])
        assert db[OUTBOX].find_one({"_id": event.event_id})[PARTNER] == B

    def test_due_work_names_the_partner_to_act_for(self, repo, db):
        db.customer.update_many({}, {"$set": {DUE: T0}})
        assert dict(repo.due(CUSTOMER, T0, 10)) == {"a1": A, "b1": B}
        with acting_for(A):
            assert dict(repo.due(CUSTOMER, T0, 10)) == {"a1": A}


class TestSharedCatalog:
    @pytest.fixture(autouse=True)
    def entries(self, repo):
        repo.add(PRODUCT_OFFERING, offering("po-shared"), [])  # an operator's: the platform's
        for partner in (A, B):
            with acting_for(partner):
                repo.add(PRODUCT_OFFERING, offering(f"po-{partner}"), [])

    def test_an_operator_creates_platform_entries_a_partner_its_own(self, db):
        owners = {doc["id"]: doc[PARTNER] for doc in db.productOffering.find()}
        assert owners == {"po-shared": PLATFORM, f"po-{A}": A, f"po-{B}": B}

    def test_a_partner_reads_the_platforms_entries_and_its_own(self, repo):
        with acting_for(A):
            assert ids(repo.find(PRODUCT_OFFERING, EVERYTHING)[0]) == ["po-acme", "po-shared"]
            assert repo.get_document("productOffering", "po-shared") is not None
            assert repo.get_document("productOffering", f"po-{B}") is None

    def test_a_partner_may_not_change_nor_remove_a_platform_entry(self, repo, db):
        with acting_for(A):
            stored = repo.get(PRODUCT_OFFERING, "po-shared")
            assert stored is not None
            with pytest.raises(Forbidden):
                repo.replace(PRODUCT_OFFERING, stored, {**stored.resource, "name": "mine"}, [])
            with pytest.raises(Forbidden):
                repo.remove(PRODUCT_OFFERING, stored, [])
        assert db.productOffering.find_one({"id": "po-shared"})["name"] == "po-shared"

    def test_an_operator_acting_for_a_partner_creates_that_partners_entry(self, repo, db):
        with acting_as(OPERATOR_OF_A):
            repo.add(PRODUCT_OFFERING, offering("po-for-a"), [])
        assert db.productOffering.find_one({"id": "po-for-a"})[PARTNER] == A


class TestOwnerOfWhatAnOperatorCreates:
    def test_it_is_the_partner_of_what_it_refers_to(self, repo, db):
        with acting_for(B):
            repo.add(CUSTOMER, customer("b1"), [])
        repo.add(BILLING_ACCOUNT, account("ba-b", "b1"), [])  # across partners
        order = {"id": "o1", "relatedParty": [{"id": "b1"}], "billingAccount": {"id": "ba-b"}}
        repo.add(PRODUCT_ORDER, order, [])
        assert db.billingAccount.find_one({"id": "ba-b"})[PARTNER] == B
        assert db.productOrder.find_one({"id": "o1"})[PARTNER] == B

    def test_referring_to_two_partners_resources_is_refused(self, repo, db):
        for partner, customer_id in ((A, "a1"), (B, "b1")):
            with acting_for(partner):
                repo.add(CUSTOMER, customer(customer_id), [])
        with acting_for(A):
            repo.add(BILLING_ACCOUNT, account("ba-a", "a1"), [])
        order = {"id": "o1", "relatedParty": [{"id": "b1"}], "billingAccount": {"id": "ba-a"}}
        with pytest.raises(Unprocessable, match="different partners"):
            repo.add(PRODUCT_ORDER, order, [])
        assert db.productOrder.count_documents({}) == 0

    def test_with_nothing_to_refer_to_it_is_the_platforms(self, repo, db):
        repo.add(CUSTOMER, customer("c1"), [])
        assert db.customer.find_one({"id": "c1"})[PARTNER] == PLATFORM


class TestNumberPools:
    @pytest.fixture
    def pool(self, db):
        numbers = MongoNumberPool(db, quarantine=timedelta(days=30))
        numbers.ensure_indexes()
        with acting_for(A):
            seed_numbers(db, "+353831000000", 2)
        with acting_for(B):
            seed_numbers(db, "+353832000000", 1)
        return numbers

    def test_a_partner_reserves_only_its_own_numbers(self, pool, db):
        with acting_for(B):
            assert pool.reserve("order-1/1") == "+353832000000"
            with pytest.raises(PoolExhausted):
                pool.reserve("order-2/1")
        assert db[NUMBERS].count_documents({PARTNER: A, "status": "available"}) == 2

    def test_another_partners_golden_number_is_in_no_pool_of_its(self, pool):
        with acting_for(A), pytest.raises(ResourceUnavailable, match="not in any number pool"):
            pool.reserve("order-1/1", requested="+353832000000")

    def test_counts_are_per_partner(self, pool):
        with acting_for(B):
            assert pool.counts()["available"] == 1
        assert pool.counts()["available"] == 3


class TestHub:
    @pytest.fixture
    def hub(self, db):
        subscriptions = MongoSubscriptions(db)
        subscriptions.ensure_indexes()
        for partner, subscription_id in ((A, "sub-a"), (B, "sub-b"), (None, "sub-operator")):
            with acting_for(partner):
                subscriptions.add(
                    {"id": subscription_id, "api": "customerManagement", "callback": "http://x"}
                )
        return subscriptions

    def test_a_partner_neither_reads_nor_removes_another_partners_subscription(self, hub):
        with acting_for(A):
            assert hub.get("customerManagement", "sub-b") is None
            assert hub.get("customerManagement", "sub-operator") is None
            assert hub.remove("customerManagement", "sub-b") is False
        assert hub.get("customerManagement", "sub-b") is not None

    def test_events_reach_their_partners_subscribers_and_the_operators(self, hub, repo, db):
        sent: list[tuple[str, str]] = []
        for partner, customer_id in ((A, "a1"), (B, "b1")):
            with acting_for(partner):
                repo.add(
                    CUSTOMER, customer(customer_id), [customer_event(customer(customer_id), 1)]
                )
        dispatcher = Dispatcher(db, hub, lambda url, envelope: None)
        dispatcher.run_once()
        for delivery in db.delivery.find():
            resource = delivery["envelope"]["event"]["customer"]["id"]
            sent.append((delivery["subscriptionId"], resource))
        assert sorted(sent) == [
            ("sub-a", "a1"),
            ("sub-b", "b1"),
            ("sub-operator", "a1"),
            ("sub-operator", "b1"),
        ]


class TestExportFiles:
    def test_a_partner_never_reads_another_partners_export_file(self, db):
        files = MongoExportFiles(db)
        with acting_for(B):
            files.put("job-b", {"productOffering": []})
        with acting_for(A):
            assert files.get("job-b") is None
            files.remove("job-b")
        assert db[EXPORT_FILES].find_one({"_id": "job-b"})[PARTNER] == B


class TestAdoptingWhatWasStoredBeforePartners:
    def test_it_becomes_the_demo_partners_shared_entries_the_platforms_once(self, db):
        db.customer.insert_one({"id": "old"})
        db.productOffering.insert_one({"id": "old-offer"})
        db.counters.insert_one({"_id": "billNo", "value": 41})
        adopt_unowned(db, ["customer", "productOffering"], "counters")
        assert db.customer.find_one({"id": "old"})[PARTNER] == DEMO_PARTNER
        assert db.productOffering.find_one({"id": "old-offer"})[PARTNER] == PLATFORM
        assert db.counters.find_one({"_id": f"billNo:{DEMO_PARTNER}"})["value"] == 41
        assert db.counters.find_one({"_id": "billNo"}) is None
        assert db[MIGRATIONS].count_documents({}) == 1

        db.customer.insert_one({"id": "platforms"})  # written after: not adopted again
        adopt_unowned(db, ["customer"], "counters")
        assert PARTNER not in db.customer.find_one({"id": "platforms"})
