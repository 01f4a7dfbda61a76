"""Dunning over a real order, bill run and fulfilment (adapters/dunning.py): an overdue bill
gets a reminder with its event, and, when configured, the account's lines are suspended by
an order that fulfilment carries out; each step once, suspension off by default."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain.instants import parse_instant
from tests.e2e.conftest import database_of
from tests.e2e.ordering_setup import (
    ORDERS,
    add,
    fulfil,
    new_customer,
    order,
    order_body,
    ordering_app,
    outbox_events,
    place,
    product,
)
from tests.e2e.payment_setup import BILLS, customer_bill, seed_bills
from tests.e2e.usage_setup import account_of

CHANGED = "CustomerBillAttributeValueChangeEvent"


def extra(application: Any, name: str) -> Any:
    return application.app.extensions["bss"].extra[name]


def subscriber(application: Any, client: Any) -> dict[str, str]:
    """A customer with an active line and an add-on on it, billed by a bill run now: the ids
    of its account, line, add-on and bill."""
    customer = new_customer(client)
    placed = place(
        client,
        order_body(
            customer,
            add("1", "pos-sim-only-5gb"),
            add(
                "2",
                "pos-eu-roaming-pack",
                productOrderItemRelationship=[{"id": "1", "relationshipType": "reliesOn"}],
            ),
        ),
    )
    fulfil(application)
    done = order(client, placed["id"])
    assert done["state"] == "completed", done
    report = extra(application, "billing").run()
    assert len(report.billed) == 1, report.as_dict()
    line, addon = (item["product"]["id"] for item in done["productOrderItem"])
    return {
        "account": account_of(client, customer),
        "line": line,
        "addon": addon,
        "bill": report.billed[0],
    }


def bill_of(client: Any, bill_id: str) -> dict[str, Any]:
    response = client.get(f"{BILLS}/{bill_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def days_after_due(client: Any, bill_id: str, days: int) -> Any:
    return parse_instant(bill_of(client, bill_id)["paymentDueDate"]) + timedelta(days=days)


def dunning_orders(client: Any) -> list[dict[str, Any]]:
    response = client.get(ORDERS, params={"category": "dunning"})
    assert response.status_code == 200, response.text
    return list(response.json())


def test_an_overdue_bill_gets_one_reminder_and_no_suspension_by_default(mongo_uri):
    with ordering_app(mongo_uri) as application, application.test_client() as client:
        ids = subscriber(application, client)
        dunning = extra(application, "dunning")

        early = dunning.run(days_after_due(client, ids["bill"], 6))
        assert (early.reminded, early.suspended) == (0, 0)

        report = dunning.run(days_after_due(client, ids["bill"], 400))

        assert (report.reminded, report.suspended, report.orders) == (1, 0, [])
        assert report.failed == []
        bill = bill_of(client, ids["bill"])
        assert [(e["step"], e["daysOverdue"]) for e in bill["dunning"]] == [("reminder", 400)]
        events = outbox_events(application, f"customerBill/{ids['bill']}", CHANGED)
        assert [e["fieldPath"] for e in events] == ["dunning"]
        assert events[0]["event"]["customerBill"]["dunning"] == bill["dunning"]
        again = dunning.run(days_after_due(client, ids["bill"], 401))
        assert (again.reminded, again.suspended) == (0, 0)
        assert len(outbox_events(application, f"customerBill/{ids['bill']}", CHANGED)) == 1
        assert dunning_orders(client) == []
        assert product(client, ids["line"])["status"] == "active"


def test_with_suspension_configured_the_accounts_lines_are_suspended_once(mongo_uri):
    with (
        ordering_app(mongo_uri, dunning_suspend_days=30) as application,
        application.test_client() as client,
    ):
        ids = subscriber(application, client)
        dunning = extra(application, "dunning")
        reminded = dunning.run(days_after_due(client, ids["bill"], 29))
        assert (reminded.reminded, reminded.suspended) == (1, 0)

        report = dunning.run(days_after_due(client, ids["bill"], 30))

        assert (report.reminded, report.suspended, report.failed) == (0, 1, [])
        [placed] = dunning_orders(client)
        assert report.orders == [placed["id"]]
        assert [(i["action"], i["product"]) for i in placed["productOrderItem"]] == [
            ("modify", {"id": ids["line"], "status": "suspended"})
        ]  # the add-on goes with its line
        assert placed["billingAccount"]["id"] == ids["account"]
        bill = bill_of(client, ids["bill"])
        assert bill["billNo"] in placed["description"]
        assert [e["step"] for e in bill["dunning"]] == ["reminder", "suspension"]
        assert bill["dunning"][1]["productOrder"] == {
            "id": placed["id"],
            "@referredType": "ProductOrder",
        }
        fulfil(application)
        assert order(client, placed["id"])["state"] == "completed"
        assert product(client, ids["line"])["status"] == "suspended"
        again = dunning.run(days_after_due(client, ids["bill"], 60))
        assert (again.reminded, again.suspended, again.orders) == (0, 0, [])
        assert len(dunning_orders(client)) == 1


def test_an_account_with_no_active_line_gets_the_step_without_an_order(mongo_uri):
    with (
        ordering_app(mongo_uri, dunning_suspend_days=30) as application,
        application.test_client() as client,
    ):
        account = account_of(client, new_customer(client))
        seed_bills(database_of(application), customer_bill(account, 1, "20.00", date(2026, 1, 1)))

        report = extra(application, "dunning").run(days_after_due(client, f"bill-{account}-1", 45))

        assert (report.reminded, report.suspended, report.orders) == (1, 1, [])
        steps = bill_of(client, f"bill-{account}-1")["dunning"]
        assert [e["step"] for e in steps] == ["reminder", "suspension"]
        assert "productOrder" not in steps[1]
        assert dunning_orders(client) == []


def test_the_bill_runner_reminds_after_its_run(mongo_uri):
    with ordering_app(mongo_uri) as application, application.test_client() as client:
        account = account_of(client, new_customer(client))
        seed_bills(database_of(application), customer_bill(account, 1, "20.00", date(2026, 1, 1)))

        extra(application, "bill_runner").run_once()

        [step] = bill_of(client, f"bill-{account}-1")["dunning"]
        assert step["step"] == "reminder" and step["daysOverdue"] >= 7
