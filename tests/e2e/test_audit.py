"""The audit trail over HTTP: every write of every API and of the background work is in it,
and only operators read it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.checks import assert_tmf_error
from tests.e2e.conftest import fresh_database_name, running_app
from tests.e2e.ordering_setup import (
    CUSTOMERS,
    PLAN,
    add,
    fulfil,
    new_customer,
    order,
    order_body,
    ordering_app,
    place,
)
from tests.e2e.test_security import SECRET, as_operator, as_partner, auth_settings
from tests.e2e.usage_setup import USAGE_API, account_of, record, subscriber

AUDIT = "/tmf-api/auditManagement/v4/auditEntry"
BILLS = "/tmf-api/customerBillManagement/v4"


def trail(client: Any, headers: dict[str, str] | None = None, **params: Any) -> list[dict]:
    response = client.get(AUDIT, params=params, headers=headers or {})
    assert response.status_code in (200, 206), response.text
    return response.json()


def operations(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(entry["resourceType"], entry["operation"]) for entry in entries]


def customer_body(name: str = "Ada Lovelace") -> dict[str, Any]:
    return {"name": name, "engagedParty": {"id": "p1", "@referredType": "Individual"}}


class TestReading:
    def test_each_write_of_a_resource_is_listed_with_what_it_changed(self, client):
        created = client.post(CUSTOMERS, json=customer_body()).json()
        url = f"{CUSTOMERS}/{created['id']}"
        changed = client.patch(url, json={"status": "Validated", "statusReason": "checked"})
        assert changed.status_code == 200, changed.text
        assert client.delete(url).status_code == 204

        entries = trail(client, resourceId=created["id"])

        assert operations(entries) == [("Customer", op) for op in ("create", "update", "delete")]
        assert "name" in entries[0]["changedFields"]
        assert entries[1]["changedFields"] == ["status", "statusReason"]
        assert entries[2]["changedFields"] == []
        assert {entry["api"] for entry in entries} == {"customerManagement"}
        assert {(entry["clientId"], entry["subject"]) for entry in entries} == {("dev", "dev")}

    def test_filters_sort_paging_and_attribute_selection(self, client):
        made = [client.post(CUSTOMERS, json=customer_body(f"C{n}")).json() for n in range(3)]

        page = client.get(AUDIT, params={"resourceType": "Customer", "limit": 2})
        newest = trail(client, resourceType="Customer", operation="create", sort="-at")
        first_at = trail(client, resourceId=made[0]["id"])[0]["at"]
        before = trail(client, **{"resourceType": "Customer", "at.lt": first_at})
        since = trail(client, **{"resourceType": "Customer", "at.gte": first_at})
        selected = trail(client, resourceId=made[1]["id"], fields="operation")

        assert page.status_code == 206
        assert page.headers["x-total-count"] == "3"
        assert [entry["resourceId"] for entry in page.json()] == [c["id"] for c in made[:2]]
        assert newest[0]["resourceId"] == made[2]["id"]
        assert (before, len(since)) == ([], 3)
        assert set(selected[0]) == {"id", "href", "@type", "operation"}

    def test_an_entry_is_read_by_its_id(self, client):
        client.post(CUSTOMERS, json=customer_body())
        [entry] = trail(client)

        assert client.get(entry["href"].removeprefix("http://bss.test")).json() == entry
        assert_tmf_error(client.get(f"{AUDIT}/no-such-entry"), 404)

    @pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
    def test_the_trail_cannot_be_written(self, client, method):
        client.post(CUSTOMERS, json=customer_body())
        [entry] = trail(client)
        url = AUDIT if method == "POST" else f"{AUDIT}/{entry['id']}"

        assert_tmf_error(client.request(method, url), 405)
        assert trail(client) == [entry]

    def test_an_unknown_filter_is_refused(self, client):
        assert_tmf_error(client.get(AUDIT, params={"callback": "x"}), 400)


@pytest.fixture
def shop(mongo_uri: str) -> Iterator[Any]:
    """An app with the starter catalog and pools, rating usage by chunks of 2 records."""
    with ordering_app(mongo_uri, rating_chunk=2) as application:
        yield application


class TestBackgroundAndBulkWrites:
    def test_fulfilment_writes_are_the_systems_and_the_order_the_clients(self, shop):
        client = shop.test_client()
        placed = place(client, order_body(new_customer(client), add("1", PLAN)))
        fulfil(shop)
        product_id = order(client, placed["id"])["productOrderItem"][0]["product"]["id"]

        writes = trail(client, resourceId=placed["id"])
        product = trail(client, resourceId=product_id)

        assert (writes[0]["operation"], writes[0]["clientId"]) == ("create", "dev")
        assert {entry["clientId"] for entry in writes[1:]} == {"system"}
        assert "state" in {field for entry in writes[1:] for field in entry["changedFields"]}
        assert operations(product)[0] == ("Product", "create")

    def test_a_usage_batch_is_one_entry_per_chunk_listing_its_records(self, shop):
        client = shop.test_client()
        line = subscriber(shop, client, PLAN)
        records = [record(line["msisdn"], external_id=f"cdr-{n}", bytes=1000) for n in range(5)]

        batch = client.post(f"{USAGE_API}/usageBatch", json={"usage": records}).json()
        usage_ids = [u["id"] for u in client.get(f"{USAGE_API}/usage").json()]
        chunks = trail(client, resourceType="Usage")
        balances = trail(client, resourceType="UsageConsumption")

        assert [len(entry["resourceIds"]) for entry in chunks] == [2, 2, 1]
        assert sorted(i for entry in chunks for i in entry["resourceIds"]) == sorted(usage_ids)
        assert {entry["operation"] for entry in chunks} == {"create"}
        assert "ratedProductUsage" in chunks[0]["changedFields"]
        assert operations(balances)[0] == ("UsageConsumption", "create")
        assert trail(client, resourceId=usage_ids[4])[0]["id"] == chunks[2]["id"]
        assert operations(trail(client, resourceId=batch["id"])) == [("UsageBatch", "create")]

    def test_a_bill_its_lines_and_its_payment_are_in_the_trail(self, shop):
        client = shop.test_client()
        line = subscriber(shop, client, PLAN)
        account = account_of(client, line["customer"])
        report = shop.app.extensions["bss"].extra["billing"].run(accounts=[account])
        [bill_id] = report.billed
        bill = client.get(f"{BILLS}/customerBill/{bill_id}").json()
        lines = client.get(f"{BILLS}/appliedCustomerBillingRate", params={"bill.id": bill_id})
        payment = {
            "account": {"id": account},
            "paymentMethod": {"@type": "Cash"},
            "totalAmount": bill["amountDue"],
        }
        paid = client.post("/tmf-api/paymentManagement/v4/payment", json=payment)
        assert paid.status_code == 201, paid.text

        bill_writes = trail(client, resourceId=bill_id)
        line_writes = trail(client, resourceType="AppliedCustomerBillingRate")

        assert operations(bill_writes) == [("CustomerBill", "create"), ("CustomerBill", "update")]
        assert bill_writes[0]["clientId"] == "system"
        assert {"remainingAmount", "state"} <= set(bill_writes[1]["changedFields"])
        assert sorted(line_writes[0]["resourceIds"]) == sorted(r["id"] for r in lines.json())
        assert operations(trail(client, resourceId=paid.json()["id"])) == [("Payment", "create")]


class TestOperatorsOnly:
    @pytest.fixture
    def secured(self, mongo_uri: str) -> Iterator[Any]:
        settings = auth_settings(jwt_secret=SECRET)
        with running_app(mongo_uri, fresh_database_name(), **settings) as application:
            yield application.test_client()

    def test_only_an_operator_reads_the_trail(self, secured):
        created = secured.post(CUSTOMERS, json=customer_body(), headers=as_partner("brand-a"))
        assert created.status_code == 201, created.text

        refused = assert_tmf_error(secured.get(AUDIT, headers=as_partner("brand-a")), 403)
        [entry] = trail(secured, headers=as_operator())
        assert "operator" in refused["message"]
        assert (entry["clientId"], entry["subject"], entry["partner"]) == (
            "client-of-brand-a",
            "user-of-brand-a",
            "brand-a",
        )

    def test_an_operator_reads_one_partners_entries_by_naming_it(self, secured):
        for partner in ("brand-a", "brand-b"):
            headers = as_partner(partner, {"customer:write"})
            assert secured.post(CUSTOMERS, json=customer_body(), headers=headers).status_code == 201

        everyone = trail(secured, headers=as_operator())
        one = trail(secured, headers=as_operator("brand-b"))
        filtered = trail(secured, headers=as_operator(), partner="brand-a")

        assert sorted(entry["partner"] for entry in everyone) == ["brand-a", "brand-b"]
        assert [entry["partner"] for entry in one] == ["brand-b"]
        assert [entry["partner"] for entry in filtered] == ["brand-a"]
