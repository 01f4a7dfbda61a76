"""Scopes: what each API's requests need, and who may be named a partner."""

from __future__ import annotations

import pytest

from domain.security import (
    OPERATOR,
    PLATFORM,
    SCOPES,
    SYSTEM,
    Principal,
    is_partner_id,
    required_scope,
)


class TestRequiredScope:
    @pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get"])
    def test_reading_needs_the_read_scope_of_the_api(self, method):
        assert required_scope("customerManagement", method) == "customer:read"

    @pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE", "delete"])
    def test_anything_else_needs_the_write_scope_of_the_api(self, method):
        assert required_scope("customerManagement", method) == "customer:write"

    def test_the_catalog_is_administered(self):
        assert required_scope("productCatalogManagement", "POST") == "catalog:admin"
        assert required_scope("productCatalogManagement", "GET") == "catalog:read"

    @pytest.mark.parametrize("api", sorted(SCOPES))
    def test_every_api_has_a_scope_to_read_and_one_to_write(self, api):
        read, write = SCOPES[api]

        assert required_scope(api, "GET") == read
        assert required_scope(api, "POST") == write
        assert read and write

    def test_the_audit_trail_is_for_operators_only(self):
        assert required_scope("auditManagement", "GET") == OPERATOR

    def test_an_api_without_scopes_has_no_scope_to_grant(self):
        with pytest.raises(KeyError):
            required_scope("unknownManagement", "GET")


class TestPrincipal:
    def test_the_operator_scope_makes_an_operator(self):
        operator = Principal("ops-console", "alice", None, frozenset({OPERATOR}))
        partner = Principal("crm", "bob", "acme", frozenset({"customer:read"}))

        assert operator.operator
        assert not partner.operator

    def test_background_work_is_an_operator_of_no_partner(self):
        assert SYSTEM.operator
        assert SYSTEM.partner is None


class TestPartnerIds:
    @pytest.mark.parametrize("value", ["demo", "acme-mobile", "Brand_2", "a", "x.y", "9" * 64])
    def test_short_plain_names_are_partner_ids(self, value):
        assert is_partner_id(value)

    @pytest.mark.parametrize(
        "value",
        ["", "-acme", ".hidden", "acme mobile", "a/b", "$where", "é", "9" * 65, None, 7, ["demo"]],
    )
    def test_anything_else_is_not(self, value):
        assert not is_partner_id(value)

    def test_the_platform_owns_shared_entries_and_is_no_partner(self):
        assert not is_partner_id(PLATFORM)
