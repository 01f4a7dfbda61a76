"""Bill runs on the real embedded database (adapters/billing.py): one bill per account and
period however often the run goes, gapless bill numbers, a failing account that leaves
nothing behind and is billed by the next run, adjustments and usage on the next bill.

Accounts, products (with their history) and usage balances are written directly, as
fulfilment and rating leave them; the amounts follow tests/unit/test_billing.py (plan 8.13
a month, VAT 23 %, periods from the 1st in Europe/Dublin).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pymongo.errors
import pytest

from adapters.billing import Billing
from adapters.mongo import VERSION
from adapters.settings import Settings
from app import build_services
from domain.instants import format_instant
from handlers.tmf import Services

DUBLIN = ZoneInfo("Europe/Dublin")
D = Decimal
PLAN = {
    "name": "SIM Only 5 GB monthly fee",
    "priceType": "recurring",
    "recurringChargePeriod": "month",
    "productOfferingPrice": {"id": "pop-plan"},
    "price": {"dutyFreeAmount": {"unit": "EUR", "value": D("8.13")}},
}


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=DUBLIN)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.extra["db"].client.close()


def billing(services: Services) -> Billing:
    return services.extra["billing"]


def add_account(services: Services, account_id: str) -> None:
    services.extra["db"]["billingAccount"].insert_one(
        {
            "id": account_id,
            "name": f"account {account_id}",
            "state": "Active",
            "currency": "EUR",
            "timeZone": "Europe/Dublin",
            "taxProfile": {"country": "IE"},
            "billStructure": {"cycleSpecification": {"billingDateShift": 0}},
            "relatedParty": [{"id": f"c-{account_id}", "name": "Ann", "@referredType": "Customer"}],
            "@type": "BillingAccount",
            VERSION: 1,
        }
    )


def add_product(
    services: Services, product_id: str, account_id: str, *history: tuple[datetime, str]
) -> None:
    entries = [
        {
            "validFor": {"startDateTime": format_instant(at)},
            "status": status,
            "productPrice": [PLAN],
        }
        for at, status in history
    ]
    product: dict[str, Any] = {
        "id": product_id,
        "name": "SIM Only 5 GB",
        "status": history[-1][1],
        "billingAccount": {"id": account_id},
        "productPrice": [PLAN],
        "productHistory": entries,
        VERSION: 1,
    }
    if history[-1][1] == "terminated":
        product["terminationDate"] = format_instant(history[-1][0])
    products = services.extra["db"]["product"]
    products.replace_one({"id": product_id}, product, upsert=True)


def add_usage_balance(
    services: Services, product_id: str, start: datetime, excluded: str, included: str
) -> None:
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=DUBLIN)
    services.extra["db"]["usageConsumption"].replace_one(
        {"_id": f"{product_id}@{start:%Y%m}"},
        {
            "_id": f"{product_id}@{start:%Y%m}",
            "id": f"{product_id}@{start:%Y%m}",
            "product": {"id": product_id},
            "validFor": {
                "startDateTime": format_instant(start),
                "endDateTime": format_instant(end),
            },
            "outOfBundleCharge": {
                "dutyFreeAmount": {"unit": "EUR", "value": D(excluded)},
                "taxIncludedAmount": {"unit": "EUR", "value": D(included)},
            },
            VERSION: 1,
        },
        upsert=True,
    )


def bills(services: Services, account_id: str) -> list[dict[str, Any]]:
    found = services.extra["db"]["customerBill"].find({"billingAccount.id": account_id}, {"_id": 0})
    return sorted(found, key=lambda bill: bill["billNo"])


def lines(services: Services, bill: dict[str, Any]) -> list[tuple[str, str, Decimal]]:
    found = services.extra["db"]["appliedCustomerBillingRate"].find({"bill.id": bill["id"]})
    return sorted(
        (
            rate["type"],
            local_month(rate["periodCoverage"]["startDateTime"]),
            rate["taxExcludedAmount"]["value"],
        )
        for rate in found
    )


def local_month(instant: str) -> str:
    return (
        datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(DUBLIN).strftime("%Y-%m")
    )


def test_each_account_is_billed_once_per_period_with_gapless_numbers(services):
    for account in ("ba-1", "ba-2", "ba-3"):
        add_account(services, account)
        add_product(services, f"p-{account}", account, (local("2026-10-01T08:00"), "active"))
    add_account(services, "ba-empty")
    first = billing(services).run(local("2026-11-01T06:00"))
    assert first.as_dict() | {"at": None} == {
        "at": None,
        "billed": 3,
        "alreadyBilled": 0,
        "nothingToBill": 1,
        "failed": [],
    }
    again = billing(services).run(local("2026-11-20T06:00"))
    assert (len(again.billed), again.already, again.empty) == (0, 3, 1)
    numbers = sorted(
        bill["billNo"] for a in ("ba-1", "ba-2", "ba-3") for bill in bills(services, a)
    )
    assert numbers == ["000001", "000002", "000003"]
    bill = bills(services, "ba-1")[0]
    # first bill: October from the activation (31 days) and November in advance
    assert lines(services, bill) == [
        ("recurring", "2026-10", D("8.13")),
        ("recurring", "2026-11", D("8.13")),
    ]
    assert bill["taxIncludedAmount"] == {"unit": "EUR", "value": D("20.00")}  # 16.26 + 3.74
    assert bill["state"] == "new" and bill["category"] == "normal"
    assert bill["billDocument"][0]["url"].endswith(f"/customerBill/{bill['id']}/document")


def test_a_failing_account_leaves_nothing_and_takes_no_number(services, monkeypatch):
    for account in ("ba-1", "ba-2", "ba-3"):
        add_account(services, account)
        add_product(services, f"p-{account}", account, (local("2026-10-01T08:00"), "active"))
    # a subscriber, so that the bill run writes events: their write fails for ba-2
    services.hubs["customerBillManagement"].register("http://127.0.0.1:9/listener", None)
    repository = billing(services)._repository
    append_events = repository.append_events

    def failing(events, session):
        """The last write of a bill's transaction: its number, bill and lines are written."""
        accounts = {e.envelope["event"]["customerBill"]["billingAccount"]["id"] for e in events}
        if "ba-2" in accounts:
            raise pymongo.errors.OperationFailure("disk full")
        append_events(events, session)

    monkeypatch.setattr(repository, "append_events", failing)
    report = billing(services).run(local("2026-11-01T06:00"))
    assert report.failed == [{"account": "ba-2", "reason": "disk full"}]
    assert len(report.billed) == 2
    assert bills(services, "ba-2") == []
    assert (
        services.extra["db"]["appliedCustomerBillingRate"].count_documents(
            {"billingAccount.id": "ba-2"}
        )
        == 0
    )
    monkeypatch.setattr(repository, "append_events", append_events)
    resumed = billing(services).run(local("2026-11-01T07:00"))
    assert (len(resumed.billed), resumed.already) == (1, 2)
    assert [bill["billNo"] for bill in bills(services, "ba-2")] == ["000003"]


def test_a_termination_after_the_bill_is_credited_on_the_next_one(services):
    add_account(services, "ba-1")
    add_product(services, "p-1", "ba-1", (local("2026-10-01T08:00"), "active"))
    billing(services).run(local("2026-11-01T06:00"))
    add_product(
        services,
        "p-1",
        "ba-1",
        (local("2026-10-01T08:00"), "active"),
        (local("2026-11-15T10:00"), "terminated"),
    )
    billing(services).run(local("2026-12-01T06:00"))
    december = bills(services, "ba-1")[-1]
    # 15 of 30 November days: 4.07 owed, 8.13 charged in advance
    assert lines(services, december) == [("recurring", "2026-11", D("-4.06"))]
    assert december["taxIncludedAmount"]["value"] == D("-4.99")  # -4.06 - 0.93


def test_usage_of_the_closed_period_is_billed_and_an_interim_bill_is_deducted(services):
    add_account(services, "ba-1")
    add_product(services, "p-1", "ba-1", (local("2026-10-01T08:00"), "active"))
    billing(services).run(local("2026-11-01T06:00"))
    add_usage_balance(services, "p-1", local("2026-11-01T00:00"), "3.00", "3.69")
    account = services.extra["db"]["billingAccount"].find_one({"id": "ba-1"}, {"_id": 0})
    interim = billing(services).interim_bill(account, local("2026-11-20T12:00"))
    assert interim is not None and interim["category"] == "interim"
    assert lines(services, interim) == [("usage", "2026-11", D("3.00"))]
    add_usage_balance(services, "p-1", local("2026-11-01T00:00"), "5.00", "6.15")
    add_usage_balance(services, "p-1", local("2026-12-01T00:00"), "1.00", "1.23")  # open
    billing(services).run(local("2026-12-01T06:00"))
    december = bills(services, "ba-1")[-1]
    assert december["category"] == "normal"
    assert lines(services, december) == [
        ("recurring", "2026-12", D("8.13")),
        ("usage", "2026-11", D("2.00")),
    ]


def pay(services: Services, account_id: str, amount: str, reference: str) -> dict[str, Any]:
    payment, _ = services.extra["payments"].pay(
        {
            "account": {"id": account_id},
            "paymentMethod": {"@type": "BankTransfer", "name": "transfer"},
            "totalAmount": {"unit": "EUR", "value": D(amount)},
            "correlatorId": reference,
        }
    )
    return payment


def test_an_overpayment_is_credit_carried_over_to_the_next_bill(services):
    add_account(services, "ba-1")
    add_product(services, "p-1", "ba-1", (local("2026-10-01T08:00"), "active"))
    billing(services).run(local("2026-11-01T06:00"))
    [november] = bills(services, "ba-1")
    assert november["amountDue"]["value"] == D("20.00")
    payment = pay(services, "ba-1", "30.00", "bank-ref-1")
    assert payment["unallocatedAmount"]["value"] == D("10.00")
    billing(services).run(local("2026-12-01T06:00"))
    settled, december = bills(services, "ba-1")
    assert settled["state"] == "settled" and settled["remainingAmount"]["value"] == D("0.00")
    # December: 8.13 + 1.87 VAT = 10.00, wholly paid by the credit left
    assert december["amountDue"]["value"] == D("10.00")
    assert december["remainingAmount"]["value"] == D("0.00")
    assert december["state"] == "settled"
    assert [p["appliedAmount"]["value"] for p in december["appliedPayment"]] == [D("10.00")]
    stored = services.extra["db"]["payment"].find_one({"id": payment["id"]})
    assert stored["unallocatedAmount"]["value"] == D("0.00")
    assert {item["item"]["id"] for item in stored["paymentItem"]} == {
        november["id"],
        december["id"],
    }


def test_bill_events_are_written_only_when_someone_subscribes_to_the_bill_api(services):
    add_account(services, "ba-1")
    add_product(services, "p-1", "ba-1", (local("2026-10-01T08:00"), "active"))
    add_account(services, "ba-2")
    add_product(services, "p-2", "ba-2", (local("2026-10-01T08:00"), "active"))
    outbox = services.extra["db"]["outbox"]
    billing(services).run(local("2026-11-01T06:00"), ["ba-1"])
    assert outbox.count_documents({"eventType": "CustomerBillCreateEvent"}) == 0
    services.hubs["customerBillManagement"].register("http://127.0.0.1:9/listener", None)
    billing(services).run(local("2026-11-01T06:00"), ["ba-2"])
    [event] = outbox.find({"eventType": "CustomerBillCreateEvent"})
    assert event["envelope"]["event"]["customerBill"]["billingAccount"]["id"] == "ba-2"
