"""Helpers of the payment tests: bills as the bill run issues them, written straight to the
database (the tests are about what payments do to bills, not how bills come about), and
payment requests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from adapters.mongo import VERSION
from handlers.wire import dumps

PAYMENT_API = "/tmf-api/paymentManagement/v4"
PAYMENTS = f"{PAYMENT_API}/payment"
REFUNDS = f"{PAYMENT_API}/refund"
BILLS = "/tmf-api/customerBillManagement/v4/customerBill"
TRANSFER = {"@type": "BankTransfer", "name": "SEPA credit transfer"}


def money(value: str, currency: str = "EUR") -> dict[str, Any]:
    return {"unit": currency, "value": Decimal(value)}


def customer_bill(
    account_id: str, number: int, amount: str, billed: date, currency: str = "EUR", **changes: Any
) -> dict[str, Any]:
    """A complete bill of the account, issued `billed` and sent, nothing paid yet."""
    issued = f"{billed.isoformat()}T00:00:00.000Z"
    due = f"{(billed + timedelta(days=14)).isoformat()}T00:00:00.000Z"
    start = f"{(billed - timedelta(days=30)).isoformat()}T00:00:00.000Z"
    bill = {
        "id": f"bill-{account_id}-{number}",
        "billNo": f"{number:06d}",
        "billDate": issued,
        "lastUpdate": issued,
        "billingPeriod": {"startDateTime": start, "endDateTime": issued},
        "paymentDueDate": due,
        "nextBillDate": issued,
        "runType": "onCycle",
        "category": "normal",
        "state": "sent",
        "amountDue": money(amount, currency),
        "remainingAmount": money(amount, currency),
        "taxExcludedAmount": money(amount, currency),
        "taxIncludedAmount": money(amount, currency),
        "taxItem": [],
        "billingAccount": {"id": account_id, "@referredType": "BillingAccount"},
        "appliedPayment": [],
        "@type": "CustomerBill",
    }
    return {**bill, **changes}


def seed_bills(db: Any, *bills: dict[str, Any]) -> None:
    db["customerBill"].insert_many([{**bill, VERSION: 1} for bill in bills])


def stored_bill(db: Any, bill_id: str) -> dict[str, Any]:
    found = db["customerBill"].find_one({"id": bill_id}, {"_id": 0})
    assert found is not None, bill_id
    return dict(found)


def payment_body(
    account_id: str,
    value: str,
    currency: str = "EUR",
    correlator: str | None = None,
    method: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account": {"id": account_id, "@referredType": "BillingAccount"},
        "paymentMethod": method or TRANSFER,
        "totalAmount": money(value, currency),
    }
    if correlator:
        body["correlatorId"] = correlator
    return body


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    """POST with the body's Decimal amounts as exact JSON numbers (`10.25`, never a float)."""
    return client.post(url, content=dumps(body), headers={"Content-Type": "application/json"})
