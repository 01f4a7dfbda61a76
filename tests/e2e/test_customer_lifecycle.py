"""TMF629 Customer over HTTP: its status lifecycle and its extension by subtype."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.checks import assert_tmf_error
from tests.e2e.resources import CUSTOMER


def new_customer(client: Any, **changes: Any) -> dict[str, Any]:
    body = {k: v for k, v in CUSTOMER.new_body(0).items() if k != "status"}
    response = client.post(CUSTOMER.collection_url, json={**body, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def change(client: Any, customer: dict[str, Any], **attributes: Any) -> Any:
    return client.patch(CUSTOMER.url(customer["id"]), json=attributes)


def count(client: Any) -> int:
    return int(client.get(CUSTOMER.collection_url).headers["x-total-count"])


class TestStatusLifecycle:
    def test_a_customer_goes_from_initialized_to_closed(self, client):
        customer = new_customer(client)
        assert customer["status"] == "Initialized"
        steps = [
            {"status": "Validated"},
            {"status": "Approved"},
            {"status": "Suspended", "statusReason": "Unpaid bills"},
            {"status": "Approved", "statusReason": "Bills paid"},
            {"status": "Closed", "statusReason": "Moved abroad"},
        ]
        for step in steps:
            response = change(client, customer, **step)
            assert response.status_code == 200, response.text
            customer = response.json()
            assert {k: customer[k] for k in step} == step
        assert client.get(CUSTOMER.url(customer["id"])).json() == customer

    def test_the_suspension_reason_is_kept_and_filterable_by_status(self, client):
        customer = new_customer(client, status="Approved")
        new_customer(client, status="Approved")
        change(client, customer, status="Suspended", statusReason="Fraud check")
        suspended = client.get(CUSTOMER.collection_url, params={"status": "Suspended"}).json()
        assert [(c["id"], c["statusReason"]) for c in suspended] == [
            (customer["id"], "Fraud check")
        ]

    @pytest.mark.parametrize("target", ["Initialized", "Validated", "Approved", "Suspended"])
    def test_closed_is_final(self, client, target):
        customer = new_customer(client)
        closed = change(client, customer, status="Closed").json()
        error = assert_tmf_error(change(client, closed, status=target), 400)
        assert "final" in error["message"]
        assert client.get(CUSTOMER.url(customer["id"])).json() == closed

    @pytest.mark.parametrize(
        "current, target",
        [
            ("Initialized", "Approved"),
            ("Initialized", "Suspended"),
            ("Validated", "Suspended"),
            ("Validated", "Initialized"),
            ("Approved", "Validated"),
        ],
    )
    def test_skipping_or_reversing_steps_is_refused(self, client, current, target):
        customer = new_customer(client, status=current)
        error = assert_tmf_error(change(client, customer, status=target), 400)
        assert f"{current} -> {target}" in error["message"]
        assert client.get(CUSTOMER.url(customer["id"])).json() == customer

    @pytest.mark.parametrize("status", ["Validated", "Approved"])
    def test_a_migrated_customer_may_be_created_already_checked(self, client, status):
        assert new_customer(client, status=status)["status"] == status

    @pytest.mark.parametrize("status", ["Suspended", "Closed"])
    def test_a_customer_cannot_be_created_suspended_or_closed(self, client, status):
        body = {**CUSTOMER.new_body(0), "status": status}
        error = assert_tmf_error(client.post(CUSTOMER.collection_url, json=body), 400)
        assert "Initialized" in error["message"]
        assert count(client) == 0


class TestExtensionBySubtype:
    def test_undeclared_attributes_are_refused_on_a_plain_customer(self, client):
        body = {**CUSTOMER.new_body(0), "loyaltyTier": "gold"}
        error = assert_tmf_error(client.post(CUSTOMER.collection_url, json=body), 400)
        assert "loyaltyTier" in error["message"]
        assert count(client) == 0

    def test_a_subtype_keeps_and_returns_its_own_attributes(self, client):
        extra = {"loyaltyTier": "gold", "householdSize": 3}
        customer = new_customer(client, **{"@type": "ResidentialCustomer"}, **extra)
        assert customer["@type"] == "ResidentialCustomer"
        assert {k: customer[k] for k in extra} == extra
        assert client.get(CUSTOMER.url(customer["id"])).json() == customer
        listed = client.get(CUSTOMER.collection_url, params={"fields": "loyaltyTier"}).json()
        assert listed == [
            {
                "id": customer["id"],
                "href": customer["href"],
                "@type": "ResidentialCustomer",
                "loyaltyTier": "gold",
            }
        ]

    def test_a_schema_location_also_allows_extensions(self, client):
        customer = new_customer(
            client, **{"@schemaLocation": "https://schemas.example.com/Vip.json"}, vip=True
        )
        assert customer["vip"] is True
        assert customer["@type"] == "Customer"

    def test_a_subtype_attribute_can_be_patched(self, client):
        customer = new_customer(client, **{"@type": "ResidentialCustomer"}, loyaltyTier="gold")
        response = change(client, customer, loyaltyTier="platinum")
        assert response.status_code == 200
        assert response.json()["loyaltyTier"] == "platinum"

    def test_a_plain_customer_cannot_gain_undeclared_attributes_by_patch(self, client):
        customer = new_customer(client)
        error = assert_tmf_error(change(client, customer, loyaltyTier="gold"), 400)
        assert "loyaltyTier" in error["message"]
        assert client.get(CUSTOMER.url(customer["id"])).json() == customer
