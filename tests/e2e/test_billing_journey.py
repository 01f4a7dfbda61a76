"""From order to payment over HTTP (issue 6): a subscriber made by an order roams and is
charged for it, asks for a bill on demand, gets the bill of the period from the bill run,
reads its PDF, and pays; the bills settle oldest first and a rerun bills nothing again."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import simplejson
from pypdf import PdfReader

import app as bss
from conftest import make_settings
from tests.e2e.conftest import database_of
from tests.e2e.ordering_setup import ordering_app, outbox_events
from tests.e2e.usage_setup import (
    MB,
    USAGE,
    USAGE_API,
    account_of,
    balance,
    exact,
    rate,
    record,
    subscriber,
)

BILLS = "/tmf-api/customerBillManagement/v4"
PAYMENTS = "/tmf-api/paymentManagement/v4/payment"


@pytest.fixture
def application(mongo_uri: str) -> Iterator[Any]:
    with ordering_app(mongo_uri) as app:
        yield app


def billing(application: Any) -> Any:
    return application.app.extensions["bss"].extra["billing"]


def value(money: dict[str, Any]) -> Decimal:
    return Decimal(str(money["value"]))


def bill_lines(client: Any, bill_id: str) -> list[dict[str, Any]]:
    response = client.get(f"{BILLS}/appliedCustomerBillingRate", params={"bill.id": bill_id})
    assert response.status_code == 200
    return exact(response)


def test_order_usage_bill_document_and_payment(application):
    client = application.test_client()
    line = subscriber(application, client, "pos-sim-only-5gb")
    account = account_of(client, line["customer"])
    # 3 MB in the USA: rest-of-world data is charged from the first MB
    sent = client.post(USAGE, json=record(line["msisdn"], bytes=3 * MB, visitedCountry="US"))
    assert sent.status_code == 201
    assert rate(application) == 1
    charged = balance(client, line["line"])["outOfBundleCharge"]
    assert value(charged["dutyFreeAmount"]) > 0

    asked = client.post(f"{BILLS}/customerBillOnDemand", json={"billingAccount": {"id": account}})
    assert asked.status_code == 201, asked.text
    assert asked.json()["state"] == "done"
    interim = client.get(f"{BILLS}/customerBill/{asked.json()['customerBill']['id']}").json()
    assert interim["category"] == "interim" and interim["runType"] == "offCycle"
    [usage] = bill_lines(client, interim["id"])
    assert usage["type"] == "usage"
    assert value(usage["taxExcludedAmount"]) == value(charged["dutyFreeAmount"])
    assert value(usage["taxIncludedAmount"]) == value(charged["taxIncludedAmount"])

    # a subscriber to the bill API: the bill run writes its events only when there is one
    hub = client.post(f"{BILLS}/hub", json={"callback": "http://127.0.0.1:9/listener"})
    assert hub.status_code == 201, hub.text
    report = billing(application).run(accounts=[account])
    assert len(report.billed) == 1 and not report.failed
    regular = client.get(f"{BILLS}/customerBill/{report.billed[0]}").json()
    kinds = sorted(rate["type"] for rate in bill_lines(client, regular["id"]))
    # the plan from today to the end of the period and the activation fee; the usage of
    # the open period was on the interim bill
    assert kinds == ["oneTime", "recurring"]
    assert int(regular["billNo"]) == int(interim["billNo"]) + 1
    lines_total = sum(
        value(rate["taxIncludedAmount"]) for rate in bill_lines(client, regular["id"])
    )
    assert value(regular["taxIncludedAmount"]) == lines_total
    assert value(regular["taxIncludedAmount"]) == value(regular["taxExcludedAmount"]) + sum(
        value(item["taxAmount"]) for item in regular["taxItem"]
    )

    document = client.get(f"{BILLS}/customerBill/{regular['id']}/document")
    assert document.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(document.content)).pages)
    assert regular["billNo"] in text
    assert f"{value(regular['amountDue']):.2f}" in text

    owed = value(interim["amountDue"]) + value(regular["amountDue"])
    payment = {
        "account": {"id": account},
        "correlatorId": "psp-0001",
        "paymentMethod": {"@type": "BankCard", "id": "tok_visa"},
        "totalAmount": {"unit": "EUR", "value": owed},
    }
    paid = client.post(
        PAYMENTS,
        content=simplejson.dumps(payment, use_decimal=True),  # the amount as an exact number
        headers={"Content-Type": "application/json"},
    )
    assert paid.status_code == 201, paid.text
    assert [item["item"]["id"] for item in paid.json()["paymentItem"]] == [
        interim["id"],
        regular["id"],
    ]
    for bill_id in (interim["id"], regular["id"]):
        settled = client.get(f"{BILLS}/customerBill/{bill_id}").json()
        assert settled["state"] == "settled"
        assert value(settled["remainingAmount"]) == 0
    events = outbox_events(
        application, f"customerBill/{regular['id']}", "CustomerBillStateChangeEvent"
    )
    assert [e["event"]["customerBill"]["state"] for e in events] == ["settled"]
    assert outbox_events(application, f"customerBill/{regular['id']}", "CustomerBillCreateEvent")

    again = billing(application).run(accounts=[account])
    assert (again.billed, again.already) == ([], 1)


def test_many_small_usage_charges_are_billed_as_rated_each_rounded(application):
    """150 text messages from the USA at 0.41 each: VAT 0.0943 is rounded per message to
    0.09, so the bill's usage line carries 13.50 of VAT (not 14.15, 23 % of the sum)."""
    client = application.test_client()
    line = subscriber(application, client, "pos-sim-only-5gb")
    account = account_of(client, line["customer"])
    texts = [
        record(line["msisdn"], "sms", f"sms-{n}", messages=1, visitedCountry="US",
               calledNumber="+12025550100")
        for n in range(150)
    ]  # fmt: skip
    batch = client.post(f"{USAGE_API}/usageBatch", json={"usage": texts})
    assert batch.status_code == 201 and batch.json()["rated"] == 150, batch.text
    asked = client.post(f"{BILLS}/customerBillOnDemand", json={"billingAccount": {"id": account}})
    bill = client.get(f"{BILLS}/customerBill/{asked.json()['customerBill']['id']}").json()
    [usage] = bill_lines(client, bill["id"])
    assert value(usage["taxExcludedAmount"]) == Decimal("61.50")
    assert value(usage["taxIncludedAmount"]) == Decimal("75.00")
    assert [(item["taxRate"], value(item["taxAmount"])) for item in bill["taxItem"]] == [
        (23, Decimal("13.50"))
    ]
    assert value(bill["amountDue"]) == Decimal("75.00")


def test_the_bill_run_and_revenue_assurance_commands(application, mongo_uri, capsys):
    client = application.test_client()
    line = subscriber(application, client, "pos-sim-only-5gb")
    account = account_of(client, line["customer"])
    settings = make_settings(mongo_uri, database_of(application).name)
    at = "2026-11-25T12:00:00.000Z"

    bss.bill_run(settings, at, [account])
    assert capsys.readouterr().out.splitlines() == [
        f"bill run at {at}: 1 billed, 0 already billed, 0 with nothing to bill, 0 failed"
    ]
    bss.bill_run(settings, at, [account])
    assert "0 billed, 1 already billed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bss.bill_run(settings, at, ["no-such-account"])
    assert "bill run stopped" in capsys.readouterr().err
    bss.revenue_assurance(settings, "2026-11")
    assert capsys.readouterr().out.startswith("revenue assurance 2026-11: clean, 1 accounts")
