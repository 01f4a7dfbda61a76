"""Dunning on MongoDB: reminders for overdue bills and, when configured, suspension of the
lines of their accounts (the rules: domain/dunning.py).

A pass reads the bills that may have a step due (payable, due at least the first step's
days ago, their last step not yet taken), records the steps due on each bill through the
system bill service (one change per bill, with its CustomerBillAttributeValueChangeEvent)
and places one suspension order per account through the ordering API's service, so that
the order is validated and fulfilled like a client's.

- **Each step once.** A step is recorded on its bill in a versioned change: a second pass or
  a second runner finds it taken. A suspension order's id is derived from the bill that
  started it, so a pass that placed it and stopped before recording it places none twice.
- **One bill's failure is its own.** It is reported with its reason and retried next pass.
- **Per partner.** The bills of each partner are dunned acting for it: its lines are
  suspended by its own orders.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pymongo.errors
from pymongo.database import Database

from adapters.acting import acting_for
from adapters.mongo import HIDDEN
from adapters.partners import PARTNER, partner_of, scoped
from domain.account import owner_of
from domain.bill import PAYABLE
from domain.dunning import (
    DUNNING,
    REMINDER,
    SUSPENSION,
    DunningPolicy,
    days_overdue,
    entry,
    lines_to_suspend,
    steps_due,
    suspension_order,
    suspension_order_id,
    with_entries,
)
from domain.errors import Conflict, DomainError, Unprocessable
from domain.instants import format_instant
from domain.inventory import ACTIVE
from domain.ports import Clock
from domain.service import ResourceService

log = logging.getLogger("bss.dunning")
FAILURES = (DomainError, pymongo.errors.PyMongoError, ValueError, KeyError)
BILL_FIELDS = dict.fromkeys(
    ("id", "billNo", "state", "paymentDueDate", "remainingAmount", "billingAccount", DUNNING,
     PARTNER),
    1,
) | {"_id": 0}  # fmt: skip
LINE_FIELDS = {"_id": 0, "id": 1, "status": 1, "realizingResource": 1}


@dataclass
class DunningReport:
    """What a dunning pass did."""

    at: str
    reminded: int = 0  # bills that got their reminder
    suspended: int = 0  # bills that got their suspension step
    orders: list[str] = field(default_factory=list)  # suspension orders placed
    failed: list[dict[str, str]] = field(default_factory=list)  # {bill, reason}

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "reminded": self.reminded,
            "suspended": self.suspended,
            "suspensionOrders": self.orders,
            "failed": self.failed,
        }


@dataclass
class _Due:
    """A bill with the steps due on it."""

    bill: dict[str, Any]
    days: int
    steps: tuple[str, ...]


class Dunning:
    """Dunning passes over the bills of one database."""

    def __init__(
        self,
        db: Database,
        bills: ResourceService,
        orders: ResourceService,
        clock: Clock,
        policy: DunningPolicy,
    ) -> None:
        self._db = db
        self._bills = bills  # the system view: every attribute
        self._orders = orders  # the ordering API's: orders validated as a client's
        self._clock = clock
        self._policy = policy

    def run(self, now: datetime | None = None) -> DunningReport:
        """Take every step due at `now` (default now) on the overdue bills."""
        now = now or self._clock.now()
        report = DunningReport(format_instant(now))
        by_partner: dict[str, list[_Due]] = defaultdict(list)
        for item in self._due(now):
            by_partner[partner_of(item.bill)].append(item)
        for partner, due in by_partner.items():
            with acting_for(partner):
                self._dun(due, now, report)
        return report

    def _dun(self, due: list[_Due], now: datetime, report: DunningReport) -> None:
        """Takes the steps due on one partner's bills."""
        suspending: dict[str, list[_Due]] = defaultdict(list)
        for item in due:
            if SUSPENSION in item.steps:
                suspending[item.bill["billingAccount"]["id"]].append(item)
        orders: dict[str, str | None] = {}  # account -> its suspension order, if it needs one
        for account_id, items in suspending.items():
            bills = [item.bill for item in items]
            try:
                orders[account_id] = self._suspend(account_id, bills, now)
            except FAILURES as error:
                _failed(report, bills, error)
                continue
            if orders[account_id]:
                report.orders.append(str(orders[account_id]))
        for item in due:
            self._record(item, orders, now, report)

    def _due(self, now: datetime) -> list[_Due]:
        """The bills with a step due, oldest due date first (bill number as tie-break)."""
        policy = self._policy
        found = self._db["customerBill"].find(
            scoped(
                "customerBill",
                {
                    "paymentDueDate": {
                        "$lte": format_instant(now - timedelta(days=policy.first_days))
                    },
                    "state": {"$in": sorted(PAYABLE)},
                    f"{DUNNING}.step": {"$ne": policy.last_step},
                },
            ),
            BILL_FIELDS,
        )
        due = []
        for bill in found:
            steps = steps_due(bill, now, policy)
            days = days_overdue(bill, now)
            if steps and days is not None:
                due.append(_Due(bill, days, steps))
        return sorted(due, key=lambda d: (d.bill["paymentDueDate"], str(d.bill.get("billNo"))))

    def _suspend(
        self, account_id: str, bills: Sequence[dict[str, Any]], now: datetime
    ) -> str | None:
        """Places the order suspending the account's active lines; its id, or None when no
        line is active."""
        found = self._db["product"].find(
            scoped("product", {"billingAccount.id": account_id, "status": ACTIVE}), LINE_FIELDS
        )
        lines = lines_to_suspend(found)
        if not lines:
            return None
        where = scoped("billingAccount", {"id": account_id})
        account = self._db["billingAccount"].find_one(where, HIDDEN) or {}
        customer_id = owner_of(account)
        if customer_id is None:
            raise Unprocessable(f"billing account {account_id} has no owner to order for")
        body = suspension_order(account_id, customer_id, lines, bills, now)
        order_id = suspension_order_id(bills[0]["id"])
        with contextlib.suppress(Conflict):  # placed by a pass that stopped before recording
            self._orders.create(body, resource_id=order_id)
        return order_id

    def _record(
        self, item: _Due, orders: dict[str, str | None], now: datetime, report: DunningReport
    ) -> None:
        """Records the steps taken on the bill: its reminder, and its suspension once the
        account's order is placed (or was not needed). Steps are checked again on the bill
        as stored: paid or recorded meanwhile, it gets nothing."""
        account_id = item.bill["billingAccount"]["id"]
        try:
            stored = self._bills.load(item.bill["id"])
            steps = steps_due(stored.resource, now, self._policy)
            entries = [
                entry(step, now, item.days, orders[account_id] if step == SUSPENSION else None)
                for step in item.steps
                if step in steps and (step == REMINDER or account_id in orders)
            ]
            if entries:
                self._bills.change(stored, with_entries(stored.resource, entries))
        except FAILURES as error:
            _failed(report, [item.bill], error)
            return
        taken = {recorded["step"] for recorded in entries}
        report.reminded += REMINDER in taken
        report.suspended += SUSPENSION in taken


def _failed(report: DunningReport, bills: Sequence[dict[str, Any]], error: Exception) -> None:
    for bill in bills:
        log.warning("dunning: bill %s failed: %s", bill["id"], error)
        report.failed.append({"bill": str(bill["id"]), "reason": str(error)})
