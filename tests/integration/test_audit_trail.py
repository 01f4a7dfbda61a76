"""The audit trail on the real database: an entry per write, in the write's transaction,
attributed to the principal the write was done for."""

from __future__ import annotations

from typing import Any

import pymongo.errors
import pytest

from adapters.acting import acting_as
from adapters.mongo import OUTBOX, MongoResources
from adapters.subscriptions import MongoSubscriptions
from domain.audit import AUDIT_ENTRY
from domain.customer import CUSTOMER
from domain.errors import ConcurrentUpdate, Conflict
from domain.ports import Stored
from domain.query import Criterion, ListQuery
from domain.security import OPERATOR, Principal
from tests.integration.conftest import customer, customer_event

CRM = Principal("crm-app", "agent-7", "brand-a", frozenset({"customer:write"}))
OTHER = Principal("crm-b", "agent-9", "brand-b", frozenset({"customer:write"}))
OPERATOR_FOR_A = Principal("ops", "operator-1", "brand-a", frozenset({OPERATOR}))


@pytest.fixture
def trail(db: Any, resources: MongoResources) -> MongoResources:
    resources.ensure_indexes(AUDIT_ENTRY)
    return resources


def entries(resources: MongoResources, *criteria: Criterion) -> list[dict[str, Any]]:
    found, _ = resources.find(AUDIT_ENTRY, ListQuery(criteria=criteria, limit=1000))
    return found


def summary(found: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    return [(e["operation"], e["resourceId"], e["changedFields"]) for e in found]


def add(resources: MongoResources, resource: dict[str, Any]) -> Stored:
    resources.add(CUSTOMER, resource, [customer_event(resource, 1)])
    stored = resources.get(CUSTOMER, resource["id"])
    assert stored is not None
    return stored


class TestRepositoryWrites:
    def test_create_update_delete_each_leave_an_entry_in_the_order_written(self, trail):
        with acting_as(CRM):
            stored = add(trail, customer("c1"))
            changed = {**stored.resource, "status": "Validated", "description": "checked"}
            trail.replace(CUSTOMER, stored, changed, [customer_event(changed, 2, "StateChange")])
            trail.remove(CUSTOMER, trail.get(CUSTOMER, "c1"), [])

        assert summary(entries(trail)) == [
            ("create", "c1", ["@type", "id", "name", "status"]),
            ("update", "c1", ["description", "status"]),
            ("delete", "c1", []),
        ]

    def test_an_entry_names_the_client_subject_partner_and_resource(self, trail):
        with acting_as(CRM):
            add(trail, customer("c1"))

        (entry,) = entries(trail)

        assert {k: entry[k] for k in ("clientId", "subject", "partner", "api", "resourceType")} == {
            "clientId": "crm-app",
            "subject": "agent-7",
            "partner": "brand-a",
            "api": "customerManagement",
            "resourceType": "Customer",
        }
        assert entry["resourceIds"] == ["c1"]
        assert entry["at"] <= trail.get(AUDIT_ENTRY, entry["id"]).resource["at"]
        assert not [key for key in entry if key.startswith("_")]

    def test_background_work_is_attributed_to_the_system(self, trail):
        add(trail, customer("c1"))

        (entry,) = entries(trail)

        assert (entry["clientId"], entry["subject"]) == ("system", "system")

    def test_a_refused_create_leaves_no_entry(self, trail):
        with acting_as(CRM):
            add(trail, customer("c1"))
            with pytest.raises(Conflict):
                add(trail, customer("c1"))

        assert [e["operation"] for e in entries(trail)] == ["create"]

    def test_a_change_of_a_stale_version_leaves_no_entry(self, trail):
        with acting_as(CRM):
            stale = add(trail, customer("c1"))
            trail.replace(CUSTOMER, stale, {**stale.resource, "name": "Ada"}, [])
            with pytest.raises(ConcurrentUpdate):
                trail.replace(CUSTOMER, stale, {**stale.resource, "name": "Bob"}, [])

        assert summary(entries(trail))[1:] == [("update", "c1", ["name"])]

    def test_a_write_that_fails_late_in_its_transaction_leaves_no_entry(self, trail, db):
        """The outbox refuses the event (its id is taken) after the resource and its entry
        were written: the transaction takes all three back."""
        first = customer("c1")
        event = customer_event(first, 1)
        trail.add(CUSTOMER, first, [event])
        second = customer("c2")

        with pytest.raises(pymongo.errors.BulkWriteError):
            trail.add(CUSTOMER, second, [event])

        assert trail.get(CUSTOMER, "c2") is None
        assert [e["resourceId"] for e in entries(trail)] == ["c1"]
        assert db[OUTBOX].count_documents({}) == 1

    def test_entries_are_found_by_resource_and_by_who_wrote(self, trail):
        with acting_as(CRM):
            add(trail, customer("c1"))
        with acting_as(OTHER):
            add(trail, customer("c2"))

        by_resource = entries(trail, Criterion("resourceIds", "eq", ("c2",)))
        by_subject = entries(trail, Criterion("subject", "eq", ("agent-7",)))

        assert [e["resourceId"] for e in by_resource] == ["c2"]
        assert [e["resourceId"] for e in by_subject] == ["c1"]

    def test_a_write_across_partners_is_the_entry_of_the_resources_partner(self, trail):
        with acting_as(CRM):
            stored = add(trail, customer("c1"))
        operator = Principal("ops", "operator-1", None, frozenset({OPERATOR}))
        with acting_as(operator):
            trail.replace(CUSTOMER, stored, {**stored.resource, "name": "Ada"}, [])

        update = entries(trail)[1]

        assert (update["subject"], update["partner"]) == ("operator-1", "brand-a")

    def test_an_operator_acting_for_a_partner_reads_only_that_partners_entries(self, trail):
        with acting_as(CRM):
            add(trail, customer("c1"))
        with acting_as(OTHER):
            add(trail, customer("c2"))

        with acting_as(OPERATOR_FOR_A):
            found = entries(trail)

        assert [e["resourceId"] for e in found] == ["c1"]
        assert len(entries(trail)) == 2  # the system, across partners, reads them all


class TestHubSubscriptions:
    @pytest.fixture
    def hub(self, db: Any, trail: MongoResources) -> MongoSubscriptions:
        subscriptions = MongoSubscriptions(db)
        subscriptions.ensure_indexes()
        return subscriptions

    def test_registering_and_removing_a_listener_leave_entries(self, hub, trail):
        listener = {"id": "s1", "api": "customerManagement", "callback": "https://crm.example/e"}
        with acting_as(CRM):
            hub.add(listener)
            assert hub.remove("customerManagement", "s1")
            assert not hub.remove("customerManagement", "s1")

        found = entries(trail)

        assert [(e["operation"], e["resourceType"], e["resourceId"]) for e in found] == [
            ("create", "EventSubscription", "s1"),
            ("delete", "EventSubscription", "s1"),
        ]
        assert found[0]["changedFields"] == ["api", "callback", "id"]
