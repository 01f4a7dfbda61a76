"""Revenue assurance on the real embedded database (adapters/revenue_assurance.py): a small
population billed by the bill run for consecutive periods is clean, a change not billed yet
is pending, and leakage introduced on purpose (a bill line lost, usage rated but not
billed, a product never billed) is listed with its ids and amounts.

Accounts, products, balances and usage are written directly, as fulfilment and rating
leave them (the helpers of tests/integration/test_bill_run.py: plan 8.13 a month, VAT 23 %).
Two accounts bill from the 1st in Europe/Dublin, one from the 15th in America/New_York.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.mongo import VERSION
from adapters.revenue_assurance import report_text
from domain.errors import InvalidRequest
from handlers.tmf import Services
from tests.integration.test_bill_run import (
    add_account,
    add_product,
    add_usage_balance,
    billing,
    local,
)
from tests.integration.test_bill_run import services as services_fixture

D = Decimal
services = services_fixture  # built from the test's settings, closed after it
NEW_YORK = ZoneInfo("America/New_York")
NOVEMBER = "2026-11-01T00:00:00.000Z"  # the Dublin accounts' period starting in November
NOVEMBER_END = "2026-12-01T00:00:00.000Z"


def new_york(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def add_usage(
    services: Services, usage_id: str, product_id: str, amount: str, status: str = "rated"
) -> None:
    """A usage record rated out of bundle into the product's November balance."""
    services.extra["db"]["usage"].insert_one(
        {
            "id": usage_id,
            "usageDate": "2026-11-10T12:00:00.000Z",
            "usageType": "data",
            "status": status,
            "ratedProductUsage": [
                {
                    "offerTariffType": "outOfBundle",
                    "productRef": {"id": product_id},
                    "billingPeriod": {"startDateTime": NOVEMBER, "endDateTime": NOVEMBER_END},
                    "taxExcludedRatingAmount": {"unit": "EUR", "value": D(amount)},
                    "taxIncludedRatingAmount": {"unit": "EUR", "value": D(amount) * D("1.23")},
                }
            ],
            VERSION: 1,
        }
    )


def add_to_follow_up(services: Services) -> None:
    """What the report lists without it being a discrepancy: usage not rated, a payment
    with money left."""
    db = services.extra["db"]
    db["usage"].insert_many(
        [
            {"id": "u-waiting", "usageDate": "2026-11-12T08:00:00.000Z", "status": "received"},
            {
                "id": "u-unknown",
                "usageDate": "2026-11-13T08:00:00.000Z",
                "status": "rejected",
                "statusReason": "no product for +353830000000",
            },
            {"id": "u-december", "usageDate": "2026-12-02T08:00:00.000Z", "status": "received"},
        ]
    )
    db["payment"].insert_one(
        {
            "id": "pay-1",
            "account": {"id": "ba-1"},
            "status": "done",
            "paymentDate": "2026-11-20T10:00:00.000Z",
            "correlatorId": "bank-ref-1",
            "totalAmount": {"unit": "EUR", "value": D("30.00")},
            "unallocatedAmount": {"unit": "EUR", "value": D("5.00")},
            VERSION: 1,
        }
    )


@pytest.fixture
def billed(services: Services) -> Services:
    """Three accounts billed on 1 November and 1 December; p-2 ends on 15 November, after
    its bill (credited on the next); usage of November rated and in the balance."""
    add_account(services, "ba-1")
    add_product(services, "p-1", "ba-1", (local("2026-10-01T08:00"), "active"))
    add_account(services, "ba-2")
    add_product(services, "p-2", "ba-2", (local("2026-10-01T08:00"), "active"))
    add_account(services, "ba-ny")
    services.extra["db"]["billingAccount"].update_one(
        {"id": "ba-ny"},
        {
            "$set": {
                "timeZone": "America/New_York",
                "billStructure": {"cycleSpecification": {"billingDateShift": 14}},
            }
        },
    )
    add_product(services, "p-ny", "ba-ny", (new_york("2026-10-20T09:00"), "active"))
    billing(services).run(local("2026-11-01T06:00"))
    add_product(
        services,
        "p-2",
        "ba-2",
        (local("2026-10-01T08:00"), "active"),
        (local("2026-11-15T10:00"), "terminated"),
    )
    add_usage_balance(services, "p-1", local("2026-11-01T00:00"), "3.00", "3.69")
    add_usage(services, "u-1", "p-1", "1.00")
    add_usage(services, "u-2", "p-1", "2.00")
    billing(services).run(local("2026-12-01T06:00"))
    add_to_follow_up(services)
    return services


def report(services: Services, period: str = "2026-11") -> dict[str, Any]:
    return services.extra["revenue_assurance"].report(period)


def amounts(item: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    return item["owed"]["value"], item["billed"]["value"], item["difference"]["value"]


def test_accounts_billed_by_the_bill_run_are_clean_and_a_later_change_is_pending(billed):
    # the New York period from 15 November was billed in advance on 1 December; the line
    # ends that day (17 of 30 days: 4.607 -> 4.61), and no later bill has settled it yet
    add_product(
        billed,
        "p-ny",
        "ba-ny",
        (new_york("2026-10-20T09:00"), "active"),
        (new_york("2026-12-01T10:00"), "terminated"),
    )
    found = report(billed)
    assert found["clean"] and found["discrepancy"] == []
    [pending] = found["pending"]
    assert (pending["kind"], pending["product"]["id"], pending["chargeKey"]) == (
        "overbilled",
        "p-ny",
        "pop-plan",
    )
    assert amounts(pending) == (D("4.61"), D("8.13"), D("-3.52"))
    assert pending["billingPeriod"] == {
        "startDateTime": "2026-11-15T05:00:00.000Z",
        "endDateTime": "2026-12-15T05:00:00.000Z",
    }
    [total] = found["total"]
    # p-1 8.13 + usage 3.00; p-2 15 of 30 days 4.07 (8.13 less a 4.06 credit); p-ny
    assert (total["owed"]["value"], total["billed"]["value"]) == (D("19.81"), D("23.33"))
    assert (total["leakage"]["value"], total["pending"]["value"]) == (D("0.00"), D("-3.52"))
    assert found["accountCount"] == 3

    billing(billed).run(new_york("2026-12-16T06:00"))  # settles the New York period
    settled = report(billed)
    assert settled["clean"] and (settled["discrepancy"], settled["pending"]) == ([], [])
    [total] = settled["total"]
    assert total["owed"] == total["billed"] == {"unit": "EUR", "value": D("19.81")}
    assert total["leakage"] == {"unit": "EUR", "value": D("0.00")}


def test_what_to_follow_up_is_listed_without_making_the_report_unclean(billed):
    found = report(billed)
    assert found["clean"]
    assert found["notRatedUsage"] == {"count": 1, "usageId": ["u-waiting"]}
    assert found["rejectedUsage"] == {
        "count": 1,
        "usageId": ["u-unknown"],
        "reason": [{"reason": "no product for +353830000000", "count": 1}],
    }
    unsent = {(bill["billingAccount"]["id"], bill["state"]) for bill in found["unsentBill"]}
    assert unsent == {("ba-1", "new"), ("ba-2", "new"), ("ba-ny", "new")}
    assert found["unsentBillCount"] == 3
    [payment] = found["unallocatedPayment"]
    assert (payment["id"], payment["unallocatedAmount"]) == (
        "pay-1",
        {"unit": "EUR", "value": D("5.00")},
    )
    # October: the Dublin periods were billed on the November bills, New York's on its own
    october = report(billed, "2026-10")
    assert october["clean"] and (october["discrepancy"], october["pending"]) == ([], [])
    assert [bill["billingAccount"]["id"] for bill in october["unsentBill"]] == ["ba-ny"]
    assert october["notRatedUsage"]["count"] == october["rejectedUsage"]["count"] == 0


def test_leakage_introduced_on_purpose_is_listed_with_ids_and_amounts(billed):
    db = billed.extra["db"]
    # a bill line lost: p-1's plan for November, charged in advance on the November bill
    lost = db["appliedCustomerBillingRate"].find_one_and_delete(
        {"product.id": "p-1", "type": "recurring", "periodCoverage.startDateTime": NOVEMBER}
    )
    assert lost is not None
    # usage rated into November after the bill made from the balance
    add_usage(billed, "u-late", "p-1", "0.50")
    # a product billed to ba-2 since October that no bill ever charged
    add_product(billed, "p-3", "ba-2", (local("2026-10-01T08:00"), "active"))

    found = report(billed)
    assert not found["clean"]
    listed = {(d["kind"], d["product"]["id"]): d for d in found["discrepancy"]}
    assert set(listed) == {
        ("unbilled", "p-1"),
        ("usageUnbilled", "p-1"),
        ("usageBalanceMismatch", "p-1"),
        ("unbilled", "p-3"),
    }
    plan = listed[("unbilled", "p-1")]
    assert amounts(plan) == (D("8.13"), D("0"), D("8.13"))
    assert (plan["chargeType"], plan["chargeKey"]) == ("recurring", "pop-plan")
    assert plan["billingAccount"]["id"] == "ba-1"
    assert plan["billingPeriod"] == {"startDateTime": NOVEMBER, "endDateTime": NOVEMBER_END}
    assert plan["appliedCustomerBillingRateId"] == []

    usage = listed[("usageUnbilled", "p-1")]
    assert amounts(usage) == (D("3.50"), D("3.00"), D("0.50"))
    usage_lines = list(
        db["appliedCustomerBillingRate"].find(
            {"product.id": "p-1", "type": "usage"}, {"_id": 0, "id": 1}
        )
    )
    assert usage["appliedCustomerBillingRateId"] == [line["id"] for line in usage_lines]
    assert sorted(usage["usageId"]) == ["u-1", "u-2", "u-late"] and usage["usageCount"] == 3
    assert usage["balance"] == {"unit": "EUR", "value": D("3.00")}
    assert usage["usageConsumptionId"] == ["p-1@202611"]
    assert listed[("usageBalanceMismatch", "p-1")]["difference"]["value"] == D("0.50")

    never = listed[("unbilled", "p-3")]
    assert amounts(never) == (D("8.13"), D("0"), D("8.13"))
    assert never["billingAccount"]["id"] == "ba-2"

    [total] = found["total"]
    assert total["leakage"] == {"unit": "EUR", "value": D("16.76")}  # 8.13 + 0.50 + 8.13
    assert found["discrepancyCount"] == 4

    text = report_text(found)
    assert text.startswith("revenue assurance 2026-11: NOT CLEAN, 3 accounts, 4 discrepancies")
    assert "leakage 16.76 EUR" in text
    assert (
        "unbilled: account ba-2, product p-3 (SIM Only 5 GB), recurring pop-plan, period from "
        "2026-11-01T00:00:00.000Z: owed 8.13 EUR, billed 0.00 EUR, difference 8.13 EUR"
    ) in text
    assert "u-late" in text and "payment pay-1, account ba-1, unallocated 5.00 EUR" in text


def test_a_period_is_a_month(services):
    with pytest.raises(InvalidRequest, match="YYYY-MM"):
        report(services, "November")
