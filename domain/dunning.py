"""Dunning: what is done about a bill left unpaid past its payment due date.

A bill is overdue while it can still be paid (state in domain.bill.PAYABLE: not on hold,
not settled), something remains to pay, and its `paymentDueDate` has passed; it is as many
days overdue as whole days (24 h) have passed since. Two steps follow, each taken once per
bill and recorded on the bill in its `dunning` extension, oldest first:

- REMINDER once the bill is `reminder_days` overdue. Recording it emits the bill's
  CustomerBillAttributeValueChangeEvent (fieldPath `dunning`): the reminder the channels
  subscribed to bill events send the customer.
- SUSPENSION once it is `suspend_days` overdue, unless `suspend_days` is 0 (the default:
  never). The account's active lines are suspended by one product order, which fulfilment
  carries out like any other; the entry names the order. A line suspended is resumed by an
  order too (a person's decision, e.g. once the customer has paid).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.bill import PAYABLE
from domain.instants import format_instant, parse_instant
from domain.inventory import ACTIVE, MSISDN, SUSPENDED, realizing
from domain.money import money_value

DUNNING = "dunning"  # the bill's extension attribute
REMINDER, SUSPENSION = "reminder", "suspension"
CATEGORY = "dunning"  # category of the suspension orders
ORDER_IDS = uuid.UUID("0c5e2d7a-41b3-4f8e-a6d9-3b7f1e9c5a21")  # namespace of their ids


@dataclass(frozen=True)
class DunningPolicy:
    """Days overdue after which each step is taken; suspend_days 0 turns suspension off."""

    reminder_days: int
    suspend_days: int = 0

    @property
    def steps(self) -> tuple[tuple[str, int], ...]:
        """(step, days) of the steps in force, earliest first."""
        steps = [(REMINDER, self.reminder_days)]
        if self.suspend_days:
            steps.append((SUSPENSION, self.suspend_days))
        return tuple(sorted(steps, key=lambda step: step[1]))

    @property
    def first_days(self) -> int:
        """Days overdue before which no step is due: bills due since are not looked at."""
        return self.steps[0][1]

    @property
    def last_step(self) -> str:
        """The step after which a bill needs nothing more."""
        return self.steps[-1][0]


def days_overdue(bill: Mapping[str, Any], now: datetime) -> int | None:
    """Whole days since the bill's payment due date when it is overdue at `now`, else None
    (not payable, nothing left to pay, not yet due)."""
    if bill.get("state") not in PAYABLE or not bill.get("paymentDueDate"):
        return None
    remaining = money_value(bill.get("remainingAmount"), "remainingAmount")
    if remaining is None or remaining[0] <= 0:
        return None
    late = now - parse_instant(str(bill["paymentDueDate"]))
    return late.days if late > timedelta(0) else None


def steps_due(bill: Mapping[str, Any], now: datetime, policy: DunningPolicy) -> tuple[str, ...]:
    """The steps due on the bill at `now` that it has not had yet, earliest first."""
    days = days_overdue(bill, now)
    if days is None:
        return ()
    taken = {entry.get("step") for entry in bill.get(DUNNING) or []}
    return tuple(step for step, after in policy.steps if days >= after and step not in taken)


def entry(step: str, now: datetime, days: int, order_id: str | None = None) -> dict[str, Any]:
    """What the bill records of a step; a suspension names its order, when it needed one
    (none when the account had no active line)."""
    recorded: dict[str, Any] = {"step": step, "date": format_instant(now), "daysOverdue": days}
    if order_id is not None:
        recorded["productOrder"] = {"id": order_id, "@referredType": "ProductOrder"}
    return recorded


def with_entries(bill: Mapping[str, Any], entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A copy of the bill with the entries appended to its dunning record."""
    return {**bill, DUNNING: [*(bill.get(DUNNING) or []), *entries]}


def lines_to_suspend(products: Iterable[Mapping[str, Any]]) -> list[str]:
    """Ids of the active lines (products with a mobile number) among `products`. Add-ons
    and promotions go with their line: the network suspends the line's number."""
    return [
        str(product["id"])
        for product in products
        if product.get("status") == ACTIVE and realizing(product, MSISDN) is not None
    ]


def suspension_order_id(bill_id: str) -> str:
    """The id of the suspension order a bill starts: placing it again finds it, so a pass
    that stopped before recording it places none twice."""
    return str(uuid.uuid5(ORDER_IDS, f"{SUSPENSION}/{bill_id}"))


def suspension_order(
    account_id: str,
    customer_id: str,
    lines: Sequence[str],
    bills: Sequence[Mapping[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """The product order suspending the account's `lines` for its overdue `bills`."""
    overdue = "; ".join(
        f"bill {bill.get('billNo')} ({bill['id']}) due {bill['paymentDueDate']}, "
        f"{days_overdue(bill, now)} days overdue"
        for bill in bills
    )
    return {
        "category": CATEGORY,
        "description": f"Dunning: lines of billing account {account_id} suspended, {overdue}",
        "relatedParty": [{"id": customer_id, "role": "Customer", "@referredType": "Customer"}],
        "billingAccount": {"id": account_id, "@referredType": "BillingAccount"},
        "productOrderItem": [
            {"id": str(number), "action": "modify", "product": {"id": line, "status": SUSPENDED}}
            for number, line in enumerate(lines, start=1)
        ],
    }
