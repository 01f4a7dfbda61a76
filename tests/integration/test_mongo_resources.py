"""MongoResources against the real database: storage, queries, concurrency and the outbox."""

from __future__ import annotations

import dataclasses
import re
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

import pymongo
import pymongo.errors
import pytest
from bson.decimal128 import Decimal128
from pymongo import monitoring

from adapters.acting import acting_for
from adapters.mongo import CODEC_OPTIONS, HUB, NO_LEASE, OUTBOX, MongoResources, check_storable
from domain.customer import CUSTOMER
from domain.errors import ConcurrentUpdate, Conflict, InvalidRequest
from domain.ports import Stored
from domain.query import Criterion, ListQuery, SortKey
from domain.resource import Referrer
from tests.integration.conftest import customer, customer_event


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def outbox(db: Any) -> list[dict[str, Any]]:
    return list(db[OUTBOX].find().sort("seq", pymongo.ASCENDING))


def add_customer(resources: MongoResources, resource: dict[str, Any]) -> dict[str, Any]:
    resources.add(CUSTOMER, resource, [customer_event(resource, 1)])
    return resource


class TestAddAndGet:
    def test_a_customer_reads_back_as_it_was_stored_at_version_one(self, resources):
        ada = add_customer(resources, customer("c1", engagedParty={"id": "p1"}))

        assert resources.get(CUSTOMER, "c1") == Stored(ada, 1)

    def test_storage_fields_never_leak_into_the_resource(self, resources):
        add_customer(resources, customer("c1"))

        stored = resources.get(CUSTOMER, "c1")
        found, _ = resources.find(CUSTOMER, ListQuery())

        assert not {"_id", "_v"} & stored.resource.keys()
        assert not {"_id", "_v"} & found[0].keys()

    def test_an_unknown_id_reads_as_nothing(self, resources):
        assert resources.get(CUSTOMER, "nobody") is None

    def test_a_second_customer_with_the_same_id_is_a_conflict(self, resources):
        add_customer(resources, customer("c1", name="First"))

        with pytest.raises(Conflict, match="c1"):
            add_customer(resources, customer("c1", name="Second"))

        assert resources.get(CUSTOMER, "c1").resource["name"] == "First"


@pytest.fixture
def directory(resources: MongoResources) -> MongoResources:
    """Five customers, stored in this order (the order ties are broken by)."""
    email = {"mediumType": "email", "characteristic": {"emailAddress": "ada@example.com"}}
    phone = {"mediumType": "mobile", "characteristic": {"phoneNumber": "+447700900001"}}
    bob_email = {"mediumType": "email", "characteristic": {"emailAddress": "bob@example.com"}}
    people = [
        customer(
            "c1",
            name="Ada",
            status="Approved",
            engagedParty={"id": "p1"},
            contactMedium=[email, phone],
            validFor={"startDateTime": "2024-01-01T00:00:00.000Z"},
        ),
        customer(
            "c2",
            name="Bob",
            status="Validated",
            engagedParty={"id": "p2"},
            contactMedium=[bob_email],
            validFor={"startDateTime": "2024-06-01T00:00:00.000Z"},
        ),
        customer(
            "c3",
            name="Cleo",
            status="Initialized",
            engagedParty={"id": "p3"},
            validFor={"startDateTime": "2025-01-01T00:00:00.000Z"},
        ),
        customer(
            "c4",
            name="Ada",
            status="Approved",
            engagedParty={"id": "p4"},
            validFor={"startDateTime": "2025-06-01T00:00:00.000Z"},
        ),
        customer(
            "c5",
            name="Dan",
            status="Closed",
            engagedParty={"id": "p5"},
            validFor={"startDateTime": "2025-06-01T00:00:00.000Z"},
        ),
    ]
    for person in people:
        add_customer(resources, person)
    return resources


def where(*criteria: Criterion, **options: Any) -> ListQuery:
    return ListQuery(criteria=criteria, **options)


class TestFind:
    def test_an_equality_on_one_value_selects_the_matching_customers(self, directory):
        items, total = directory.find(CUSTOMER, where(Criterion("name", "eq", ("Ada",))))

        assert ids(items) == ["c1", "c4"]
        assert total == 2

    def test_an_equality_on_several_values_selects_any_of_them(self, directory):
        either = Criterion("status", "eq", ("Validated", "Initialized"))

        items, _ = directory.find(CUSTOMER, where(either))

        assert ids(items) == ["c2", "c3"]

    def test_several_criteria_must_all_hold(self, directory):
        query = where(
            Criterion("status", "eq", ("Approved",)), Criterion("engagedParty.id", "eq", ("p4",))
        )

        items, _ = directory.find(CUSTOMER, query)

        assert ids(items) == ["c4"]

    @pytest.mark.parametrize(
        ("op", "expected"),
        [
            ("gt", ["c3", "c4", "c5"]),
            ("gte", ["c2", "c3", "c4", "c5"]),
            ("lt", ["c1"]),
            ("lte", ["c1", "c2"]),
        ],
    )
    def test_a_range_on_an_instant_compares_in_time_order(self, directory, op, expected):
        bound = Criterion("validFor.startDateTime", op, ("2024-06-01T00:00:00.000Z",))

        items, total = directory.find(CUSTOMER, where(bound))

        assert ids(items) == expected
        assert total == len(expected)

    def test_a_range_and_an_upper_bound_select_a_period(self, directory):
        query = where(
            Criterion("validFor.startDateTime", "gte", ("2024-06-01T00:00:00.000Z",)),
            Criterion("validFor.startDateTime", "lt", ("2025-06-01T00:00:00.000Z",)),
        )

        items, _ = directory.find(CUSTOMER, query)

        assert ids(items) == ["c2", "c3"]

    def test_a_nested_path_reaches_into_objects(self, directory):
        items, _ = directory.find(CUSTOMER, where(Criterion("engagedParty.id", "eq", ("p2",))))

        assert ids(items) == ["c2"]

    def test_a_nested_path_reaches_through_arrays(self, directory):
        by_email = Criterion(
            "contactMedium.characteristic.emailAddress", "eq", ("bob@example.com",)
        )
        by_phone = Criterion("contactMedium.characteristic.phoneNumber", "eq", ("+447700900001",))

        assert ids(directory.find(CUSTOMER, where(by_email))[0]) == ["c2"]
        assert ids(directory.find(CUSTOMER, where(by_phone))[0]) == ["c1"]

    def test_an_open_ended_range_also_selects_customers_without_the_attribute(
        self, directory, resources
    ):
        for customer_id, end in (("c6", "2030-01-01"), ("c7", "2020-01-01")):
            ending = {"endDateTime": f"{end}T00:00:00.000Z"}
            add_customer(resources, customer(customer_id, validFor=ending))
        still_valid = Criterion(
            "validFor.endDateTime", "gt", ("2026-01-01T00:00:00.000Z",), missing_ok=True
        )

        items, total = directory.find(CUSTOMER, where(still_valid))

        assert ids(items) == ["c1", "c2", "c3", "c4", "c5", "c6"]
        assert total == 6

    def test_nothing_matching_is_an_empty_page(self, directory):
        items, total = directory.find(CUSTOMER, where(Criterion("name", "eq", ("Zoe",))))

        assert (items, total) == ([], 0)


class TestSort:
    def test_ascending_keeps_ties_in_creation_order(self, directory):
        items, _ = directory.find(CUSTOMER, ListQuery(sort=(SortKey("name"),)))

        assert ids(items) == ["c1", "c4", "c2", "c3", "c5"]

    def test_descending_keeps_ties_in_creation_order(self, directory):
        items, _ = directory.find(CUSTOMER, ListQuery(sort=(SortKey("name", descending=True),)))

        assert ids(items) == ["c5", "c3", "c2", "c1", "c4"]

    def test_a_second_key_orders_within_the_first(self, directory):
        order = (SortKey("validFor.startDateTime", descending=True), SortKey("name"))

        items, _ = directory.find(CUSTOMER, ListQuery(sort=order))

        assert ids(items) == ["c4", "c5", "c3", "c2", "c1"]

    def test_without_a_sort_customers_come_in_creation_order(self, directory):
        items, _ = directory.find(CUSTOMER, ListQuery())

        assert ids(items) == ["c1", "c2", "c3", "c4", "c5"]


class CommandLog(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class TestPaging:
    def test_a_page_comes_with_the_total_of_all_matches(self, directory):
        items, total = directory.find(CUSTOMER, ListQuery(offset=1, limit=2))

        assert ids(items) == ["c2", "c3"]
        assert total == 5

    def test_the_total_counts_only_customers_matching_the_criteria(self, directory):
        approved = Criterion("status", "eq", ("Approved",))

        items, total = directory.find(CUSTOMER, where(approved, offset=1, limit=1))

        assert ids(items) == ["c4"]
        assert total == 2

    def test_a_page_beyond_the_end_is_empty_but_still_counts(self, directory):
        items, total = directory.find(CUSTOMER, ListQuery(offset=10, limit=2))

        assert (items, total) == ([], 5)

    def test_a_full_last_page_still_counts_what_lies_beyond(self, directory):
        items, total = directory.find(CUSTOMER, ListQuery(limit=5))

        assert len(items) == 5
        assert total == 5

    def test_a_filtered_page_holding_everything_reports_its_own_size(self, directory):
        approved = Criterion("status", "eq", ("Approved",))

        items, total = directory.find(CUSTOMER, where(approved, limit=10))

        assert ids(items) == ["c1", "c4"]
        assert total == 2

    def test_a_page_holding_everything_is_not_counted_again(self, directory, mongo_uri, db):
        log = CommandLog()
        client: pymongo.MongoClient = pymongo.MongoClient(mongo_uri, event_listeners=[log])
        try:
            watched = MongoResources(client.get_database(db.name, codec_options=CODEC_OPTIONS))
            items, total = watched.find(CUSTOMER, ListQuery(limit=10))
        finally:
            client.close()

        assert total == len(items) == 5
        assert "find" in log.names
        assert not {"count", "aggregate"} & set(log.names)


class TestReplace:
    def test_a_replace_stores_the_new_version_with_its_events(self, resources, db):
        ada = add_customer(resources, customer("c1"))
        stored = resources.get(CUSTOMER, "c1")
        validated = {**ada, "status": "Validated", "name": "Ada King"}
        events = [
            customer_event(validated, 2, "StateChange"),
            customer_event(validated, 2, "AttributeValueChange"),
        ]

        resources.replace(CUSTOMER, stored, validated, events)

        assert resources.get(CUSTOMER, "c1") == Stored(validated, 2)
        assert [entry["seq"] for entry in outbox(db)] == [100, 200, 201]
        assert [entry["eventType"] for entry in outbox(db)[1:]] == [
            "CustomerStateChangeEvent",
            "CustomerAttributeValueChangeEvent",
        ]

    def test_a_replace_from_a_stale_read_changes_nothing(self, resources, db):
        ada = add_customer(resources, customer("c1"))
        stale = resources.get(CUSTOMER, "c1")
        first = {**ada, "status": "Validated"}
        resources.replace(CUSTOMER, stale, first, [customer_event(first, 2, "StateChange")])
        second = {**ada, "name": "Someone else"}

        with pytest.raises(ConcurrentUpdate, match="c1"):
            resources.replace(CUSTOMER, stale, second, [customer_event(second, 2)])

        assert resources.get(CUSTOMER, "c1") == Stored(first, 2)
        assert len(outbox(db)) == 2

    def test_a_replace_can_drop_attributes(self, resources):
        ada = add_customer(resources, customer("c1", statusReason="new"))
        without = {k: v for k, v in ada.items() if k != "statusReason"}

        resources.replace(CUSTOMER, resources.get(CUSTOMER, "c1"), without, [])

        assert "statusReason" not in resources.get(CUSTOMER, "c1").resource

    def test_of_simultaneous_replaces_from_one_read_exactly_one_wins(self, resources, db):
        ada = add_customer(resources, customer("c1"))
        read = resources.get(CUSTOMER, "c1")
        start = threading.Barrier(6)
        outcomes: dict[str, str] = {}

        def rename(name: str) -> None:
            renamed = {**ada, "name": name}
            start.wait()
            try:
                resources.replace(CUSTOMER, read, renamed, [customer_event(renamed, 2)])
                outcomes[name] = "stored"
            except ConcurrentUpdate:
                outcomes[name] = "refused"

        writers = [threading.Thread(target=rename, args=(f"Name {n}",)) for n in range(6)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=30)

        (winner,) = [name for name, outcome in outcomes.items() if outcome == "stored"]
        assert list(outcomes.values()).count("refused") == 5
        assert resources.get(CUSTOMER, "c1") == Stored({**ada, "name": winner}, 2)
        assert len(outbox(db)) == 2


class TestRemove:
    def test_a_removed_customer_is_gone_and_its_delete_event_is_in_the_outbox(self, resources, db):
        ada = add_customer(resources, customer("c1"))

        resources.remove(
            CUSTOMER, resources.get(CUSTOMER, "c1"), [customer_event(ada, 2, "Delete")]
        )

        assert resources.get(CUSTOMER, "c1") is None
        assert [entry["eventType"] for entry in outbox(db)] == [
            "CustomerCreateEvent",
            "CustomerDeleteEvent",
        ]

    def test_a_remove_from_a_stale_read_keeps_the_customer(self, resources, db):
        ada = add_customer(resources, customer("c1"))
        stale = resources.get(CUSTOMER, "c1")
        changed = {**ada, "status": "Validated"}
        resources.replace(CUSTOMER, stale, changed, [customer_event(changed, 2, "StateChange")])

        with pytest.raises(ConcurrentUpdate):
            resources.remove(CUSTOMER, stale, [customer_event(ada, 2, "Delete")])

        assert resources.get(CUSTOMER, "c1") == Stored(changed, 2)
        assert len(outbox(db)) == 2

    def test_removing_twice_from_the_same_read_fails_the_second_time(self, resources, db):
        ada = add_customer(resources, customer("c1"))
        stored = resources.get(CUSTOMER, "c1")
        resources.remove(CUSTOMER, stored, [customer_event(ada, 2, "Delete")])

        with pytest.raises(ConcurrentUpdate):
            resources.remove(CUSTOMER, stored, [customer_event(ada, 2, "Delete")])

        assert len(outbox(db)) == 2


class TestOutbox:
    def test_a_stored_event_is_waiting_to_be_fanned_out(self, resources, db):
        db[HUB].insert_one({"_id": "s1", "api": "customerManagement", "callback": "http://x"})
        ada = customer("c1")
        event = customer_event(ada, 1)

        with acting_for("acme"):
            resources.add(CUSTOMER, ada, [event])

        assert outbox(db) == [
            {
                "_id": event.event_id,
                "api": "customerManagement",
                "resource": "customer/c1",
                "seq": 100,
                "eventType": "CustomerCreateEvent",
                "eventTime": event.envelope["eventTime"],
                "envelope": event.envelope,
                "fanned": False,
                "leaseUntil": NO_LEASE,
                "_partner": "acme",  # the resource's: only its partner's subscribers hear it
            }
        ]

    def test_an_event_of_an_api_nobody_subscribes_to_is_stored_fanned_out(self, resources, db):
        db[HUB].insert_one({"_id": "s1", "api": "productCatalogManagement", "callback": "http://x"})

        resources.add(CUSTOMER, customer("c1"), [customer_event(customer("c1"), 1)])

        (stored,) = outbox(db)
        assert stored["fanned"] is True
        assert isinstance(stored["fannedAt"], datetime)  # pruned after the retention period

    def test_a_refused_duplicate_leaves_no_event(self, resources, db):
        add_customer(resources, customer("c1"))

        with pytest.raises(Conflict):
            add_customer(resources, customer("c1"))

        assert len(outbox(db)) == 1

    def test_a_customer_whose_event_cannot_be_stored_is_not_stored_either(self, resources, db):
        add_customer(resources, customer("c1"))
        bob = customer("c2")
        clash = customer_event(bob, 1)
        clash.envelope["eventId"] = db[OUTBOX].find_one()["_id"]  # taken in the outbox

        with pytest.raises(pymongo.errors.PyMongoError):
            resources.add(CUSTOMER, bob, [clash])

        assert resources.get(CUSTOMER, "c2") is None
        assert len(outbox(db)) == 1

    def test_a_change_whose_event_cannot_be_stored_is_not_stored_either(self, resources, db):
        ada = add_customer(resources, customer("c1"))
        changed = {**ada, "status": "Validated"}
        clash = customer_event(changed, 2, "StateChange")
        clash.envelope["eventId"] = db[OUTBOX].find_one()["_id"]

        with pytest.raises(pymongo.errors.PyMongoError):
            resources.replace(CUSTOMER, resources.get(CUSTOMER, "c1"), changed, [clash])

        assert resources.get(CUSTOMER, "c1") == Stored(ada, 1)
        assert len(outbox(db)) == 1


class TestStoredValues:
    def test_a_decimal_is_stored_as_decimal128_and_reads_back_exactly(self, resources, db):
        limit = [{"name": "spendLimit", "value": Decimal("12.345")}]
        add_customer(resources, customer("c1", characteristic=limit))

        raw = db.client[db.name]["customer"].find_one({"id": "c1"})
        read = resources.get(CUSTOMER, "c1").resource["characteristic"][0]["value"]

        assert raw["characteristic"][0]["value"] == Decimal128("12.345")
        assert type(read) is Decimal
        assert str(read) == "12.345"

    def test_trailing_zeros_of_an_amount_survive_storage(self, resources):
        add_customer(resources, customer("c1", characteristic=[{"value": Decimal("10.50")}]))

        (item,), _ = resources.find(CUSTOMER, ListQuery())

        assert str(item["characteristic"][0]["value"]) == "10.50"

    def test_a_float_is_refused_before_it_reaches_storage(self, resources, db):
        with pytest.raises(TypeError, match=r"characteristic\[0\]\.value"):
            add_customer(resources, customer("c1", characteristic=[{"value": 0.1}]))

        assert resources.get(CUSTOMER, "c1") is None
        assert outbox(db) == []

    def test_check_storable_accepts_exact_numbers_and_plain_names(self):
        check_storable({"a": [1, Decimal("2.5"), {"b": None, "c": True, "d": "x.y"}]})

    @pytest.mark.parametrize(
        ("resource", "culprit"),
        [
            ({"$where": "1"}, "$where"),
            ({"characteristic": [{"na.me": "x"}]}, "na.me"),
            ({"engagedParty": {"$ref": "p1"}}, "$ref"),
        ],
    )
    def test_an_operator_or_dotted_attribute_name_is_refused(self, resources, resource, culprit):
        with pytest.raises(InvalidRequest, match=re.escape(culprit)):
            add_customer(resources, customer("c1", **resource))

        assert resources.get(CUSTOMER, "c1") is None

    def test_a_change_introducing_a_dotted_name_is_refused(self, resources):
        ada = add_customer(resources, customer("c1"))
        stored = resources.get(CUSTOMER, "c1")

        with pytest.raises(InvalidRequest, match=r"a\.b"):
            resources.replace(CUSTOMER, stored, {**ada, "characteristic": [{"a.b": 1}]}, [])

        assert resources.get(CUSTOMER, "c1") == stored


class TestIndexes:
    def test_each_filter_path_gets_an_index_and_the_id_is_unique(self, resources, db):
        indexes = db["customer"].index_information()
        keys = {tuple(index["key"]): index for index in indexes.values()}

        assert keys[(("id", 1),)].get("unique") is True
        for path in CUSTOMER.filters:
            assert ((path, 1),) in keys, path

    def test_ensuring_indexes_again_is_harmless(self, resources, db):
        before = db["customer"].index_information()

        resources.ensure_indexes(CUSTOMER)

        assert db["customer"].index_information() == before

    def test_a_referring_collection_is_indexed_on_its_reference(self, db):
        ordered = dataclasses.replace(
            CUSTOMER, referrers=(Referrer("productOrder", "relatedParty.id"),)
        )

        MongoResources(db).ensure_indexes(ordered)

        keys = [tuple(index["key"]) for index in db["productOrder"].index_information().values()]
        assert (("relatedParty.id", 1),) in keys


class TestReferrers:
    @pytest.fixture
    def orders(self, db: Any) -> None:
        db["productOrder"].insert_many(
            [
                {"id": "o1", "state": "inProgress", "relatedParty": [{"id": "c1"}, {"id": "shop"}]},
                {"id": "o2", "state": "completed", "relatedParty": [{"id": "c1"}]},
                {"id": "o3", "state": "inProgress", "relatedParty": [{"id": "c2"}]},
            ]
        )

    def test_names_the_documents_pointing_at_a_resource(self, resources, orders):
        by_party = Referrer("productOrder", "relatedParty.id")

        assert resources.find_referrers(by_party, "c1", 10) == ["o1", "o2"]
        assert resources.find_referrers(by_party, "c2", 10) == ["o3"]
        assert resources.find_referrers(by_party, "c3", 10) == []

    def test_names_at_most_the_limit(self, resources, orders):
        by_party = Referrer("productOrder", "relatedParty.id")

        assert len(resources.find_referrers(by_party, "c1", 1)) == 1

    def test_only_referrers_in_the_given_states_count(self, resources, orders):
        open_orders = Referrer("productOrder", "relatedParty.id", {"state": ("inProgress", "held")})

        assert resources.find_referrers(open_orders, "c1", 10) == ["o1"]

    def test_a_document_of_another_collection_reads_without_storage_fields(self, resources, db):
        db["productOffering"].insert_one({"id": "po1", "name": "5G Unlimited", "_v": 3})

        assert resources.get_document("productOffering", "po1") == {
            "id": "po1",
            "name": "5G Unlimited",
        }
        assert resources.get_document("productOffering", "nothing") is None
