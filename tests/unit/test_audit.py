"""Audit entries: what one says about a write, and how entries are found."""

from __future__ import annotations

from domain.audit import (
    AUDIT_ENTRY,
    CREATE,
    SUBSCRIPTION,
    UPDATE,
    Kind,
    audit_entry,
    changed_fields,
)
from domain.customer import CUSTOMER
from domain.query import Criterion, PageLimits, parse_list_query
from domain.security import Principal

CRM = Principal("crm-app", "agent-7", "brand-a", frozenset({"customer:write"}))


class TestEntry:
    def test_an_entry_says_who_wrote_which_resource_how_and_when(self):
        entry = audit_entry(
            "e1", "2026-03-01T10:00:00.000Z", CRM, "brand-a", CUSTOMER, ["c1"], UPDATE, ["status"]
        )

        assert entry == {
            "id": "e1",
            "@type": "AuditEntry",
            "at": "2026-03-01T10:00:00.000Z",
            "clientId": "crm-app",
            "subject": "agent-7",
            "partner": "brand-a",
            "api": "customerManagement",
            "resourceType": "Customer",
            "resourceId": "c1",
            "resourceIds": ["c1"],
            "operation": "update",
            "changedFields": ["status"],
        }

    def test_a_bulk_write_lists_its_resources_without_naming_one(self):
        entry = audit_entry(
            "e2", "2026-03-01T10:00:00.000Z", CRM, "p", CUSTOMER, ["a", "b"], CREATE
        )

        assert "resourceId" not in entry
        assert entry["resourceIds"] == ["a", "b"]
        assert entry["changedFields"] == []

    def test_a_kind_without_a_resource_type_is_named_by_its_api_and_name(self):
        kind = Kind("productOrderingManagement", SUBSCRIPTION)

        entry = audit_entry("e3", "2026-03-01T10:00:00.000Z", CRM, "p", kind, ["s1"], CREATE)

        assert (entry["api"], entry["resourceType"]) == (kind.api, "EventSubscription")

    def test_the_fields_written_are_sorted(self):
        entry = audit_entry(
            "e4", "2026-03-01T10:00:00.000Z", CRM, "p", CUSTOMER, ["c1"], CREATE, {"b", "a"}
        )

        assert entry["changedFields"] == ["a", "b"]


class TestChangedFields:
    def test_the_attributes_changed_in_any_resource_of_a_bulk_write(self):
        changes = [
            ({"id": "1", "status": "received"}, {"id": "1", "status": "rated"}),
            ({"id": "2", "note": "x"}, {"id": "2"}),
            ({"id": "3"}, {"id": "3"}),
        ]

        assert changed_fields(changes) == {"status", "note"}

    def test_a_created_resource_changes_every_attribute_it_has(self):
        assert changed_fields([({}, {"id": "1", "name": "n"})]) == {"id", "name"}


class TestFinding:
    def query(self, *params: tuple[str, str]):
        filters, derived = AUDIT_ENTRY.filters, AUDIT_ENTRY.derived_filters
        return parse_list_query(params, filters, PageLimits(), derived)

    def test_resource_id_finds_the_entries_listing_the_resource(self):
        query = self.query(("resourceId", "c1,c2"))

        assert query.criteria == (Criterion("resourceIds", "eq", ("c1", "c2")),)

    def test_entries_are_found_by_who_wrote_and_in_a_period(self):
        query = self.query(
            ("subject", "agent-7"), ("at.gte", "2026-03-01T00:00:00Z"), ("sort", "-at")
        )

        assert query.criteria == (
            Criterion("subject", "eq", ("agent-7",)),
            Criterion("at", "gte", ("2026-03-01T00:00:00.000Z",)),
        )
        assert query.sort[0].descending
