import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.customer import CUSTOMER
from domain.errors import (
    ConcurrentUpdate,
    Conflict,
    IllegalTransition,
    InUse,
    InvalidRequest,
    NotFound,
    NotPatchable,
)
from domain.patch import JSON_PATCH, MERGE, Patch
from domain.query import AttrType, Criterion, ListQuery, SortKey
from domain.resource import Referrer, ResourceType, Rules
from domain.service import ResourceService
from tests.unit.fakes import FakeClock, FakeRepository, FakeSchemaCheck, SequentialIds

NOW = datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)
NOW_TEXT = "2026-11-25T10:00:00.250Z"

# A made-up resource: server-kept dates, no lifecycle, and gadgets that point at widgets.
WIDGET = ResourceType(
    name="Widget",
    api="widgetInventory",
    path="widget",
    attributes=frozenset({"name", "size", "validFor"}),
    filters={"name": AttrType.STRING, "size": AttrType.NUMBER},
    server_dates=("lastUpdate",),
    create_dates=("creationDate",),
    referrers=(Referrer(collection="gadget", path="widget.id"),),
)
GADGET = ResourceType(
    name="Gadget",
    api="widgetInventory",
    path="gadget",
    attributes=frozenset({"name", "widget"}),
    filters={"widget.id": AttrType.STRING},
)


def href_for(rtype: ResourceType, resource_id: str) -> str:
    return f"http://bss.test/tmf-api/{rtype.api}/v4/{rtype.path}/{resource_id}"


def merge(document: dict[str, Any]) -> Patch:
    return Patch(MERGE, document)


def json_patch(*operations: dict[str, Any]) -> Patch:
    return Patch(JSON_PATCH, list(operations))


@pytest.fixture
def repository():
    return FakeRepository()


@pytest.fixture
def clock():
    return FakeClock(NOW)


@pytest.fixture
def ids():
    return SequentialIds()


@pytest.fixture
def schema_check():
    return FakeSchemaCheck()


@pytest.fixture
def make_service(repository, clock, ids, schema_check):
    def make(rtype: ResourceType) -> ResourceService:
        return ResourceService(rtype, repository, clock, ids, href_for, schema_check)

    return make


@pytest.fixture
def customers(make_service):
    return make_service(CUSTOMER)


@pytest.fixture
def widgets(make_service):
    return make_service(WIDGET)


@pytest.fixture
def alice(customers, repository):
    """An Approved customer whose creation event has been set aside."""
    created = customers.create({"name": "Alice", "status": "Approved"})
    repository.events.clear()
    return created


class TestCreatingACustomer:
    def test_fills_id_type_and_initial_status(self, customers, ids):
        created = customers.create({"name": "Alice"})
        assert created == {
            "id": "id-1",
            "@type": "Customer",
            "name": "Alice",
            "status": "Initialized",
        }

    def test_stores_what_it_returns(self, customers, repository):
        created = customers.create({"name": "Alice"})
        assert repository.stored("customer", created["id"]) == created
        assert customers.get(created["id"]) == created

    def test_ignores_an_id_and_href_sent_by_the_client(self, customers):
        created = customers.create({"name": "Alice", "id": "mine", "href": "http://evil.test/"})
        assert created["id"] == "id-1"
        assert "href" not in created

    def test_uses_a_given_resource_id(self, customers):
        assert customers.create({"name": "Alice"}, resource_id="c-7")["id"] == "c-7"

    def test_an_existing_id_is_a_conflict(self, customers):
        customers.create({"name": "Alice"}, resource_id="c-7")
        with pytest.raises(Conflict):
            customers.create({"name": "Bob"}, resource_id="c-7")

    def test_a_migrated_customer_may_start_approved(self, customers):
        assert customers.create({"name": "Alice", "status": "Approved"})["status"] == "Approved"

    def test_may_not_start_closed(self, customers, repository):
        with pytest.raises(InvalidRequest, match="can start in"):
            customers.create({"name": "Alice", "status": "Closed"})
        assert repository.events == []

    def test_does_not_change_the_body_it_was_given(self, customers):
        body = {"name": "Alice", "validFor": {"startDateTime": "2026-01-01"}}
        customers.create(body)
        assert body == {"name": "Alice", "validFor": {"startDateTime": "2026-01-01"}}

    def test_normalizes_instants_to_utc_milliseconds_and_z(self, customers):
        created = customers.create(
            {
                "name": "Alice",
                "validFor": {"startDateTime": "2026-01-01T01:00:00+01:00"},
                "creditProfile": [{"creditProfileDate": "2026-02-03"}],
            }
        )
        assert created["validFor"] == {"startDateTime": "2026-01-01T00:00:00.000Z"}
        assert created["creditProfile"] == [{"creditProfileDate": "2026-02-03T00:00:00.000Z"}]

    def test_refuses_an_instant_without_time_zone(self, customers, repository):
        with pytest.raises(InvalidRequest, match="no time zone"):
            customers.create({"name": "A", "validFor": {"startDateTime": "2026-01-01T10:00"}})
        assert repository.writes == 0

    def test_keeps_a_subtype_sent_by_the_client(self, customers):
        created = customers.create(
            {"name": "Alice", "@type": "ResidentialCustomer", "@baseType": "Customer"}
        )
        assert (created["@type"], created["@baseType"]) == ("ResidentialCustomer", "Customer")

    def test_refuses_undeclared_attributes_on_the_base_type(self, customers, repository):
        with pytest.raises(InvalidRequest, match=r"unknown attribute.*loyaltyTier, nickname"):
            customers.create({"name": "Alice", "nickname": "Al", "loyaltyTier": "gold"})
        assert repository.writes == 0

    def test_refuses_undeclared_attributes_when_the_type_is_the_base_type(self, customers):
        with pytest.raises(InvalidRequest):
            customers.create({"name": "Alice", "@type": "Customer", "nickname": "Al"})

    def test_accepts_undeclared_attributes_on_a_subtype(self, customers):
        created = customers.create({"name": "A", "@type": "VipCustomer", "loyaltyTier": "gold"})
        assert created["loyaltyTier"] == "gold"

    def test_accepts_undeclared_attributes_with_a_schema_location(self, customers):
        body = {"name": "A", "@schemaLocation": "http://x.test/s.json", "loyaltyTier": "gold"}
        assert customers.create(body)["loyaltyTier"] == "gold"

    def test_emits_a_create_event_with_the_resource_and_its_href(self, customers, repository):
        created = customers.create({"name": "Alice"})
        [event] = repository.events
        assert event.envelope == {
            "eventId": "id-2",
            "eventTime": NOW_TEXT,
            "eventType": "CustomerCreateEvent",
            "event": {
                "customer": dict(
                    created,
                    href="http://bss.test/tmf-api/customerManagement/v4/customer/id-1",
                )
            },
        }
        assert (event.api, event.resource_path, event.resource_id, event.sequence) == (
            "customerManagement",
            "customer",
            "id-1",
            1,
        )
        assert (event.event_id, event.event_type) == ("id-2", "CustomerCreateEvent")


class TestCreatingAResourceWithServerDates:
    def test_sets_the_dates_from_the_clock(self, widgets):
        created = widgets.create({"name": "w"})
        assert created["lastUpdate"] == NOW_TEXT
        assert created["creationDate"] == NOW_TEXT

    def test_overrides_dates_sent_by_the_client(self, widgets):
        created = widgets.create({"name": "w", "lastUpdate": "1999-01-01T00:00:00.000Z"})
        assert created["lastUpdate"] == NOW_TEXT

    def test_adds_no_status_when_the_type_has_no_lifecycle(self, widgets):
        assert "status" not in widgets.create({"name": "w"})

    def test_names_the_event_after_the_type(self, widgets, repository):
        widgets.create({"name": "w"})
        [event] = repository.events
        assert event.event_type == "WidgetCreateEvent"
        assert event.envelope["event"]["widget"]["href"].endswith("/widgetInventory/v4/widget/id-1")


class TestReading:
    def test_an_unknown_id_is_not_found(self, customers):
        with pytest.raises(NotFound, match="Customer with id 'nope' does not exist"):
            customers.get("nope")

    def test_lists_a_page_of_the_matches_with_their_total(self, widgets):
        for name, size in [("a", 3), ("b", 1), ("c", 2), ("d", 5)]:
            widgets.create({"name": name, "size": size})
        query = ListQuery(
            criteria=(Criterion("size", "lte", (3,)),), sort=(SortKey("size"),), limit=2
        )
        items, total = widgets.list(query)
        assert [item["name"] for item in items] == ["b", "c"]
        assert total == 3


class TestPatchingACustomer:
    def test_returns_and_stores_the_patched_customer(self, customers, alice, repository):
        patched = customers.patch(alice["id"], merge({"name": "Alice Liddell"}))
        assert patched == dict(alice, name="Alice Liddell")
        assert repository.stored("customer", alice["id"]) == patched

    def test_an_attribute_change_emits_an_attribute_value_change_event(
        self, customers, alice, repository
    ):
        patched = customers.patch(alice["id"], merge({"name": "Alice Liddell"}))
        [event] = repository.events
        assert event.event_type == "CustomerAttributeValueChangeEvent"
        assert event.envelope["fieldPath"] == "name"
        assert event.envelope["event"]["customer"] == dict(patched, href=href_for(CUSTOMER, "id-1"))
        assert event.sequence == 2

    def test_the_field_path_lists_every_changed_attribute(self, customers, alice, repository):
        customers.patch(alice["id"], merge({"name": "Al", "statusReason": "vip"}))
        assert repository.events[0].envelope["fieldPath"] == "name,statusReason"

    def test_removing_an_attribute_is_a_change(self, customers, repository):
        created = customers.create({"name": "Alice", "statusReason": "new"})
        repository.events.clear()
        patched = customers.patch(created["id"], merge({"statusReason": None}))
        assert "statusReason" not in patched
        assert repository.events[0].envelope["fieldPath"] == "statusReason"

    def test_a_status_change_emits_a_state_change_event_only(self, customers, alice, repository):
        customers.patch(alice["id"], merge({"status": "Suspended"}))
        [event] = repository.events
        assert event.event_type == "CustomerStateChangeEvent"
        assert "fieldPath" not in event.envelope
        assert event.envelope["event"]["customer"]["status"] == "Suspended"

    def test_a_status_and_attribute_change_emit_both_events_state_first(
        self, customers, alice, repository
    ):
        customers.patch(alice["id"], merge({"status": "Suspended", "statusReason": "unpaid"}))
        assert [e.event_type for e in repository.events] == [
            "CustomerStateChangeEvent",
            "CustomerAttributeValueChangeEvent",
        ]
        assert repository.events[1].envelope["fieldPath"] == "statusReason"
        assert {e.sequence for e in repository.events} == {2}

    def test_each_change_gets_the_next_sequence(self, customers, alice, repository):
        customers.patch(alice["id"], merge({"name": "B"}))
        customers.patch(alice["id"], merge({"name": "C"}))
        assert [e.sequence for e in repository.events] == [2, 3]

    def test_a_json_patch_applies_too(self, customers, alice, repository):
        patched = customers.patch(
            alice["id"],
            json_patch(
                {"op": "test", "path": "/status", "value": "Approved"},
                {"op": "replace", "path": "/status", "value": "Suspended"},
            ),
        )
        assert patched["status"] == "Suspended"

    @pytest.mark.parametrize(
        "patch",
        [
            merge({}),
            merge({"name": "Alice"}),
            merge({"nickname": None}),
            json_patch({"op": "test", "path": "/name", "value": "Alice"}),
        ],
        ids=["empty", "same value", "remove absent", "test only"],
    )
    def test_nothing_changed_means_no_event_and_no_write(self, customers, alice, repository, patch):
        writes = repository.writes
        assert customers.patch(alice["id"], patch) == alice
        assert repository.events == []
        assert repository.writes == writes
        assert repository.version("customer", alice["id"]) == 1

    def test_the_same_instant_in_another_notation_is_no_change(self, customers, repository):
        created = customers.create(
            {"name": "Alice", "validFor": {"startDateTime": "2026-01-01T00:00:00.000Z"}}
        )
        repository.events.clear()
        same = merge({"validFor": {"startDateTime": "2026-01-01T01:00:00+01:00"}})
        assert customers.patch(created["id"], same) == created
        assert repository.events == []

    def test_patched_instants_are_normalized(self, customers, alice):
        patched = customers.patch(alice["id"], merge({"validFor": {"endDateTime": "2027-01-01"}}))
        assert patched["validFor"] == {"endDateTime": "2027-01-01T00:00:00.000Z"}

    @pytest.mark.parametrize(
        ("patch", "attribute"),
        [
            (merge({"id": "other"}), "id"),
            (merge({"id": "id-1"}), "id"),
            (merge({"href": "http://x.test/"}), "href"),
            (merge({"@baseType": "Party"}), "@baseType"),
            (json_patch({"op": "replace", "path": "/id", "value": "x"}), "id"),
            (json_patch({"op": "move", "from": "/id", "path": "/name"}), "id"),
            (json_patch({"op": "add", "path": "/href", "value": "x"}), "href"),
        ],
    )
    def test_server_owned_and_immutable_attributes_are_not_patchable(
        self, customers, alice, repository, patch, attribute
    ):
        with pytest.raises(NotPatchable, match=f"not patchable: {attribute}"):
            customers.patch(alice["id"], patch)
        assert repository.stored("customer", alice["id"]) == alice
        assert repository.events == []

    def test_a_test_operation_on_the_id_is_allowed(self, customers, alice):
        patch = json_patch(
            {"op": "test", "path": "/id", "value": alice["id"]},
            {"op": "replace", "path": "/name", "value": "B"},
        )
        assert customers.patch(alice["id"], patch)["name"] == "B"

    def test_a_failing_test_operation_is_refused(self, customers, alice, repository):
        patch = json_patch(
            {"op": "replace", "path": "/name", "value": "B"},
            {"op": "test", "path": "/status", "value": "Closed"},
        )
        with pytest.raises(InvalidRequest):
            customers.patch(alice["id"], patch)
        assert repository.stored("customer", alice["id"]) == alice

    def test_replacing_the_whole_resource_is_refused(self, customers, alice):
        patch = json_patch({"op": "replace", "path": "", "value": {"name": "B"}})
        with pytest.raises(InvalidRequest, match="whole resource"):
            customers.patch(alice["id"], patch)

    @pytest.mark.parametrize(
        "patch",
        [merge({"status": None}), json_patch({"op": "remove", "path": "/status"})],
        ids=["merge null", "json remove"],
    )
    def test_the_status_cannot_be_removed(self, customers, alice, patch):
        with pytest.raises(InvalidRequest, match="status cannot be removed"):
            customers.patch(alice["id"], patch)

    def test_an_illegal_transition_is_refused_and_nothing_is_stored(self, customers, repository):
        created = customers.create({"name": "Alice"})
        repository.events.clear()
        with pytest.raises(IllegalTransition, match="Initialized -> Suspended"):
            customers.patch(created["id"], merge({"status": "Suspended", "name": "B"}))
        assert repository.stored("customer", created["id"]) == created
        assert repository.events == []

    def test_a_closed_customer_stays_closed(self, customers, alice):
        customers.patch(alice["id"], merge({"status": "Closed"}))
        with pytest.raises(IllegalTransition):
            customers.patch(alice["id"], merge({"status": "Approved"}))

    def test_an_unknown_status_is_invalid(self, customers, alice):
        with pytest.raises(InvalidRequest, match="not a known state"):
            customers.patch(alice["id"], merge({"status": "Happy"}))

    def test_a_status_that_is_not_text_is_invalid(self, customers, alice):
        with pytest.raises(InvalidRequest):
            customers.patch(alice["id"], merge({"status": 3}))

    def test_undeclared_attributes_are_refused_on_the_base_type(self, customers, alice):
        with pytest.raises(InvalidRequest, match="unknown attribute"):
            customers.patch(alice["id"], merge({"nickname": "Al"}))

    def test_undeclared_attributes_are_accepted_when_patched_into_a_subtype(self, customers, alice):
        patched = customers.patch(alice["id"], merge({"@type": "VipCustomer", "tier": "gold"}))
        assert patched["tier"] == "gold"

    def test_an_unknown_id_is_not_found(self, customers):
        with pytest.raises(NotFound):
            customers.patch("nope", merge({"name": "B"}))

    def test_a_concurrent_update_surfaces_and_the_other_write_stays(
        self, customers, alice, repository
    ):
        def other_request():
            customers.patch(alice["id"], merge({"name": "Written by another request"}))

        repository.after_next_get(other_request)
        with pytest.raises(ConcurrentUpdate):
            customers.patch(alice["id"], merge({"name": "Lost update"}))
        assert repository.stored("customer", alice["id"])["name"] == "Written by another request"
        assert [e.envelope["event"]["customer"]["name"] for e in repository.events] == [
            "Written by another request"
        ]


class TestPatchingAResourceWithServerDates:
    @pytest.fixture
    def widget(self, widgets, clock, repository):
        created = widgets.create({"name": "w", "size": 1})
        clock.set(datetime(2026, 12, 1, 8, 30, tzinfo=UTC))
        repository.events.clear()
        return created

    def test_a_change_refreshes_the_last_update_and_keeps_the_creation_date(self, widgets, widget):
        patched = widgets.patch(widget["id"], merge({"size": 2}))
        assert patched["lastUpdate"] == "2026-12-01T08:30:00.000Z"
        assert patched["creationDate"] == NOW_TEXT

    def test_the_field_path_names_only_what_the_client_changed(self, widgets, widget, repository):
        widgets.patch(widget["id"], merge({"size": 2}))
        [event] = repository.events
        assert event.envelope["fieldPath"] == "size"
        assert event.envelope["eventTime"] == "2026-12-01T08:30:00.000Z"

    def test_no_change_leaves_the_last_update_alone(self, widgets, widget):
        assert widgets.patch(widget["id"], merge({"size": 1}))["lastUpdate"] == NOW_TEXT

    @pytest.mark.parametrize("attribute", ["lastUpdate", "creationDate"])
    def test_server_dates_are_not_patchable(self, widgets, widget, attribute):
        with pytest.raises(NotPatchable, match=attribute):
            widgets.patch(widget["id"], merge({attribute: "2030-01-01T00:00:00.000Z"}))


class TestDeleting:
    def test_removes_the_resource(self, customers, alice):
        customers.delete(alice["id"])
        with pytest.raises(NotFound):
            customers.get(alice["id"])

    def test_emits_a_delete_event_with_the_last_state(self, customers, alice, repository):
        customers.delete(alice["id"])
        [event] = repository.events
        assert event.event_type == "CustomerDeleteEvent"
        assert event.envelope["event"]["customer"] == dict(alice, href=href_for(CUSTOMER, "id-1"))
        assert event.sequence == 2

    def test_an_unknown_id_is_not_found(self, customers, repository):
        with pytest.raises(NotFound):
            customers.delete("nope")
        assert repository.writes == 0

    def test_a_resource_still_referenced_is_in_use(self, make_service, widgets, repository):
        widget = widgets.create({"name": "w"})
        make_service(GADGET).create({"name": "g", "widget": {"id": widget["id"]}})
        repository.events.clear()
        with pytest.raises(InUse, match=re.escape("referenced through widget.id by gadget id-3")):
            widgets.delete(widget["id"])
        assert widgets.get(widget["id"]) == widget
        assert repository.events == []

    def test_references_to_other_resources_do_not_block(self, make_service, widgets):
        kept, doomed = widgets.create({"name": "kept"}), widgets.create({"name": "doomed"})
        make_service(GADGET).create({"name": "g", "widget": {"id": kept["id"]}})
        widgets.delete(doomed["id"])
        with pytest.raises(NotFound):
            widgets.get(doomed["id"])

    def test_a_resource_is_deletable_once_its_referrers_are_gone(self, make_service, widgets):
        gadgets = make_service(GADGET)
        widget = widgets.create({"name": "w"})
        gadget = gadgets.create({"name": "g", "widget": {"id": widget["id"]}})
        gadgets.delete(gadget["id"])
        widgets.delete(widget["id"])
        with pytest.raises(NotFound):
            widgets.get(widget["id"])

    def test_a_concurrent_change_surfaces(self, customers, alice, repository):
        repository.after_next_get(lambda: customers.patch(alice["id"], merge({"name": "B"})))
        with pytest.raises(ConcurrentUpdate):
            customers.delete(alice["id"])
        assert customers.get(alice["id"])["name"] == "B"


class TestSchemaCheck:
    def test_sees_the_complete_new_resource(self, customers, schema_check):
        created = customers.create({"name": "Alice", "validFor": {"startDateTime": "2026-01-01"}})
        assert schema_check.checked == [created]

    def test_sees_the_patched_resource(self, customers, alice, schema_check):
        patched = customers.patch(alice["id"], merge({"name": "B"}))
        assert schema_check.checked[-1] == patched

    def test_its_refusal_of_a_create_propagates_and_nothing_is_stored(
        self, customers, schema_check, repository
    ):
        schema_check.refusal = "name: 3 is not of type 'string'"
        with pytest.raises(InvalidRequest, match="is not of type"):
            customers.create({"name": 3})
        assert (repository.writes, repository.events) == (0, [])

    def test_its_refusal_of_a_patch_propagates_and_nothing_is_stored(
        self, customers, alice, schema_check, repository
    ):
        schema_check.refusal = "contactMedium: not an array"
        with pytest.raises(InvalidRequest, match="not an array"):
            customers.patch(alice["id"], merge({"contactMedium": {}}))
        assert repository.stored("customer", alice["id"]) == alice
        assert repository.events == []

    def test_is_optional(self, repository, clock, ids):
        service = ResourceService(CUSTOMER, repository, clock, ids, href_for)
        assert service.create({"name": "Alice"})["status"] == "Initialized"


class NoShrinking(Rules):
    def on_create(self, resource: dict[str, Any], lookup: Any) -> None:
        resource.setdefault("size", 1)

    def on_update(self, before: Any, after: dict[str, Any], lookup: Any) -> None:
        if after.get("size", 0) < before.get("size", 0):
            raise InvalidRequest("size: a widget cannot shrink")


class TestResourceRules:
    @pytest.fixture
    def strict_widgets(self, make_service):
        return make_service(dataclasses.replace(WIDGET, rules=NoShrinking()))

    def test_may_complete_a_new_resource(self, strict_widgets, repository):
        created = strict_widgets.create({"name": "w"})
        assert created["size"] == 1
        assert repository.events[0].envelope["event"]["widget"]["size"] == 1

    def test_may_refuse_a_change(self, strict_widgets, repository):
        created = strict_widgets.create({"name": "w", "size": 5})
        with pytest.raises(InvalidRequest, match="cannot shrink"):
            strict_widgets.patch(created["id"], merge({"size": 4}))
        assert repository.stored("widget", created["id"])["size"] == 5

    def test_see_the_change_they_judge(self, strict_widgets):
        created = strict_widgets.create({"name": "w", "size": 5})
        assert strict_widgets.patch(created["id"], merge({"size": 6}))["size"] == 6
