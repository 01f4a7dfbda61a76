"""When a bill is overdue and which dunning steps are due on it (domain/dunning.py): whole
days past the payment due date, bills on hold or paid skipped, each step once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.dunning import (
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

DUE = datetime(2026, 11, 15, 0, 0, tzinfo=UTC)
REMIND_ONLY = DunningPolicy(reminder_days=7)
SUSPENDING = DunningPolicy(reminder_days=7, suspend_days=30)


def bill(state: str = "sent", remaining: str = "20.00", **changes: Any) -> dict[str, Any]:
    return {
        "id": "bill-1",
        "billNo": "000042",
        "state": state,
        "paymentDueDate": "2026-11-15T00:00:00.000Z",
        "remainingAmount": {"unit": "EUR", "value": Decimal(remaining)},
        **changes,
    }


def after(days: float, **delta: float) -> datetime:
    return DUE + timedelta(days=days, **delta)


class TestDaysOverdue:
    @pytest.mark.parametrize(
        ("now", "days"),
        [
            (after(0), None),  # due now: not past due yet
            (after(0, milliseconds=1), 0),
            (after(7, milliseconds=-1), 6),
            (after(7), 7),
            (after(30, hours=23), 30),
        ],
    )
    def test_counts_whole_days_past_the_due_date(self, now, days):
        assert days_overdue(bill(), now) == days

    @pytest.mark.parametrize("state", ["new", "validated", "sent", "partiallyPaid"])
    def test_a_payable_bill_with_something_left_is_overdue(self, state):
        assert days_overdue(bill(state), after(10)) == 10

    @pytest.mark.parametrize("state", ["onHold", "settled"])
    def test_a_bill_on_hold_or_settled_is_not(self, state):
        assert days_overdue(bill(state), after(10)) is None

    @pytest.mark.parametrize("remaining", ["0.00", "-1.00"])
    def test_nor_one_with_nothing_left_to_pay(self, remaining):
        assert days_overdue(bill(remaining=remaining), after(10)) is None


class TestStepsDue:
    def test_the_reminder_is_due_from_the_reminder_day_on(self):
        assert steps_due(bill(), after(7, milliseconds=-1), REMIND_ONLY) == ()
        assert steps_due(bill(), after(7), REMIND_ONLY) == (REMINDER,)
        assert steps_due(bill(), after(400), REMIND_ONLY) == (REMINDER,)

    def test_suspension_is_off_by_default(self):
        assert DunningPolicy(reminder_days=7).suspend_days == 0
        assert steps_due(bill(), after(400), REMIND_ONLY) == (REMINDER,)

    def test_suspension_is_due_from_its_day_on(self):
        reminded = bill(dunning=[entry(REMINDER, after(7), 7)])
        assert steps_due(reminded, after(30, milliseconds=-1), SUSPENDING) == ()
        assert steps_due(reminded, after(30), SUSPENDING) == (SUSPENSION,)

    def test_steps_reached_together_come_earliest_first(self):
        assert steps_due(bill(), after(31), SUSPENDING) == (REMINDER, SUSPENSION)
        early = DunningPolicy(reminder_days=10, suspend_days=3)
        assert steps_due(bill(), after(11), early) == (SUSPENSION, REMINDER)

    def test_each_step_is_taken_once(self):
        now = after(31)
        done = with_entries(bill(), [entry(REMINDER, now, 31), entry(SUSPENSION, now, 31, "o-1")])
        assert steps_due(done, after(90), SUSPENDING) == ()

    @pytest.mark.parametrize("state", ["onHold", "settled"])
    def test_bills_on_hold_or_settled_get_no_step(self, state):
        assert steps_due(bill(state), after(90), SUSPENDING) == ()

    def test_a_paid_bill_gets_no_step(self):
        assert steps_due(bill("partiallyPaid", "0.00"), after(90), SUSPENDING) == ()

    def test_the_policy_names_what_to_look_at(self):
        assert (REMIND_ONLY.first_days, REMIND_ONLY.last_step) == (7, REMINDER)
        assert (SUSPENDING.first_days, SUSPENDING.last_step) == (7, SUSPENSION)


class TestEntries:
    def test_an_entry_says_what_when_and_how_late(self):
        assert entry(REMINDER, after(7), 7) == {
            "step": REMINDER,
            "date": "2026-11-22T00:00:00.000Z",
            "daysOverdue": 7,
        }

    def test_a_suspension_names_its_order(self):
        assert entry(SUSPENSION, after(30), 30, "o-1")["productOrder"] == {
            "id": "o-1",
            "@referredType": "ProductOrder",
        }

    def test_entries_are_appended_to_a_copy(self):
        original = bill(dunning=[entry(REMINDER, after(7), 7)])
        changed = with_entries(original, [entry(SUSPENSION, after(30), 30)])
        assert [e["step"] for e in changed["dunning"]] == [REMINDER, SUSPENSION]
        assert [e["step"] for e in original["dunning"]] == [REMINDER]


def product(product_id: str, status: str = "active", line: bool = True) -> dict[str, Any]:
    resources = [{"id": "+353831000001", "@referredType": "MSISDN"}] if line else []
    return {"id": product_id, "status": status, "realizingResource": resources}


class TestSuspensionOrder:
    def test_suspends_the_active_lines_only(self):
        products = [
            product("line-1"),
            product("addon-1", line=False),
            product("line-2", status="suspended"),
            product("line-3", status="terminated"),
            product("line-4"),
        ]
        assert lines_to_suspend(products) == ["line-1", "line-4"]

    def test_modifies_each_line_to_suspended_and_names_the_overdue_bill(self):
        order = suspension_order("ba-1", "c-1", ["line-1", "line-4"], [bill()], after(30))
        assert order["productOrderItem"] == [
            {"id": "1", "action": "modify", "product": {"id": "line-1", "status": "suspended"}},
            {"id": "2", "action": "modify", "product": {"id": "line-4", "status": "suspended"}},
        ]
        assert order["relatedParty"] == [
            {"id": "c-1", "role": "Customer", "@referredType": "Customer"}
        ]
        assert order["billingAccount"]["id"] == "ba-1"
        assert order["category"] == "dunning"
        assert "bill 000042 (bill-1)" in order["description"]
        assert "30 days overdue" in order["description"]

    def test_its_id_follows_from_the_bill(self):
        assert suspension_order_id("bill-1") == suspension_order_id("bill-1")
        assert suspension_order_id("bill-1") != suspension_order_id("bill-2")
