"""The run command's demo data includes billed periods (issue 6): bills of the previous and
the current period with their lines, documents and payments, visible through the APIs, and
loading the demo again creates nothing."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from adapters import seeding
from adapters.demo_billing import LINES, seed_billing
from adapters.demo_catalog import starter_catalog
from adapters.demo_data import demo_records
from tests.e2e.conftest import fresh_database_name, running_app

BILLS = "/tmf-api/customerBillManagement/v4"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(mongo_uri: str) -> Any:
    with running_app(mongo_uri, fresh_database_name()) as application:
        services = application.app.extensions["bss"]
        seeding.load(services.resources, {**starter_catalog(), **demo_records()})
        first = seed_billing(services, services.extra["system"], NOW)
        again = seed_billing(services, services.extra["system"], NOW)
        yield application, first, again


def bills_of(client: Any, account: str) -> list[dict[str, Any]]:
    response = client.get(f"{BILLS}/customerBill", params={"billingAccount.id": account})
    assert response.status_code == 200
    return sorted(response.json(), key=lambda bill: bill["billNo"])


def lines_of(client: Any, bill: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get(f"{BILLS}/appliedCustomerBillingRate", params={"bill.id": bill["id"]})
    assert response.status_code == 200
    return response.json()


def test_demo_accounts_have_two_billed_periods_and_loading_again_creates_nothing(demo):
    application, first, again = demo
    assert first > 0 and again == 0
    client = application.test_client()
    for line in LINES:
        bills = bills_of(client, f"ba-demo-{line.slot:04d}")
        assert len(bills) == 2
        older, newer = bills
        assert older["billingPeriod"]["endDateTime"] == newer["billingPeriod"]["startDateTime"]
        for bill in bills:
            lines = lines_of(client, bill)
            total = sum(Decimal(str(rate["taxIncludedAmount"]["value"])) for rate in lines)
            assert Decimal(str(bill["taxIncludedAmount"]["value"])) == total


def test_the_upgrade_comes_back_as_an_adjustment_and_usage_is_billed(demo):
    application, _, _ = demo
    client = application.test_client()
    upgraded = bills_of(client, "ba-demo-0004")[1]
    kinds = {(rate["type"], rate["name"]) for rate in lines_of(client, upgraded)}
    assert ("recurring", "SIM Only 20 GB monthly fee") in kinds
    assert any("adjustment" in rate["description"] for rate in lines_of(client, upgraded))
    roaming = bills_of(client, "ba-demo-0003")[1]
    usage = [rate for rate in lines_of(client, roaming) if rate["type"] == "usage"]
    assert usage and Decimal(str(usage[0]["taxExcludedAmount"]["value"])) > 0


def test_a_demo_bill_document_is_a_pdf_with_its_total(demo):
    application, _, _ = demo
    client = application.test_client()
    bill = bills_of(client, "ba-demo-0001")[0]
    response = client.get(f"{BILLS}/customerBill/{bill['id']}/document")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert bill["billNo"] in text
    assert f"{Decimal(str(bill['taxIncludedAmount']['value'])):.2f}" in text


def test_demo_payments_settle_bills_and_credit_reaches_the_next_bill(demo):
    application, _, _ = demo
    client = application.test_client()
    paid = bills_of(client, "ba-demo-0001")[0]
    assert paid["state"] == "settled"
    half = bills_of(client, "ba-demo-0003")[0]
    assert half["state"] == "partiallyPaid"
    assert Decimal(str(half["remainingAmount"]["value"])) > 0
    unpaid = bills_of(client, "ba-demo-0005")[0]
    assert unpaid["state"] == "new"
    older, newer = bills_of(client, "ba-demo-0006")
    assert older["state"] == "settled"
    assert [Decimal(str(p["appliedAmount"]["value"])) for p in newer["appliedPayment"]] == [
        Decimal("10.00")
    ]
    payments = client.get(
        "/tmf-api/paymentManagement/v4/payment", params={"account.id": "ba-demo-0006"}
    ).json()
    assert len(payments) == 1
    assert Decimal(str(payments[0]["unallocatedAmount"]["value"])) == 0


def test_revenue_assurance_of_the_demo_periods_is_clean(demo):
    application, _, _ = demo
    client = application.test_client()
    for month in ("2026-10", "2026-11"):
        response = client.get(f"{BILLS}/revenueAssuranceReport", params={"period": month})
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["clean"] is True, report
        assert report["discrepancyCount"] == 0
