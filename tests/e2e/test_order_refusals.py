"""What an order is refused for, and what a client may not do to orders and products.

An order that is readable but unacceptable is stored (201, acknowledged) and then rejected
by fulfilment with every reason as a note; an order that lacks something is pending until
the client supplies it; an unreadable order is refused at once with 400 and never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.checks import INSTANT, JSON_PATCH, assert_tmf_error, send_json
from tests.e2e.conftest import database_of
from tests.e2e.ordering_setup import (
    ACCOUNTS,
    ORDERS,
    PLAN,
    PRODUCTS,
    add,
    fulfil,
    item_states,
    new_billing_account,
    new_customer,
    notes,
    number_pool,
    order,
    order_body,
    ordering_app,
    outbox_events,
    place,
    product,
    products_of,
    settle,
    sim_stock,
)

GOLDEN_REGEX = r"^\+3538[35-9]\d{7}$"  # the msisdn regex of the starter catalog


@dataclass
class Shop:
    app: Any
    client: Any
    customer: str  # Approved, with a billing account
    initialized: str  # a customer who may not order yet
    others_line: str  # an active line product of another customer
    others_account: dict[str, Any]  # a billing account of that other customer


@pytest.fixture(scope="module")
def shop(mongo_uri: str) -> Iterator[Shop]:
    with ordering_app(mongo_uri) as application, application.test_client() as client:
        other = new_customer(client, account="Other account")
        bought = settle(application, client, order_body(other, add("1", PLAN)))
        assert bought["state"] == "completed", bought
        yield Shop(
            application,
            client,
            new_customer(client),
            new_customer(client, status="Initialized"),
            bought["productOrderItem"][0]["product"]["id"],
            new_billing_account(client, other, "Other's second account"),
        )


def line_with(item_id: str, offering: str = PLAN, **characteristics: Any) -> dict[str, Any]:
    chars = [{"name": name, "value": value} for name, value in characteristics.items()]
    return add(item_id, offering, product={"productCharacteristic": chars})


def relies_on(item_id: str) -> list[dict[str, str]]:
    return [{"id": item_id, "relationshipType": "reliesOn"}]


ADD_ON_NEEDS_A_LINE = (
    "an add-on needs the line it applies to: a productOrderItemRelationship to the plan's "
    "item, or a productRelationship to the customer's plan product"
)
NOT_YET_VALIDATED = "is Initialized: only a Validated or Approved customer may order"


@dataclass(frozen=True)
class Refusal:
    label: str
    body: Callable[[Shop], dict[str, Any]]
    reason: Callable[[Shop], str]  # the note fulfilment writes, after "rejected: "


def modify(product_id: str, offering: str) -> dict[str, Any]:
    return {
        "id": "1",
        "action": "modify",
        "product": {"id": product_id},
        "productOffering": {"id": offering},
    }


REFUSALS = [
    Refusal(
        "unknown customer",
        lambda s: order_body("no-such-customer", add("1", PLAN)),
        lambda s: "customer no-such-customer does not exist",
    ),
    Refusal(
        "customer not yet validated",
        lambda s: order_body(s.initialized, add("1", PLAN)),
        lambda s: f"customer {s.initialized} {NOT_YET_VALIDATED}",
    ),
    Refusal(
        "unsellable offering",
        lambda s: order_body(s.customer, add("1", "pos-row-roaming-rates")),
        lambda s: "item 1: offering pos-row-roaming-rates is not sellable on its own",
    ),
    Refusal(
        "characteristic fixed by the offering",
        lambda s: order_body(s.customer, line_with("1", includedDataMB=999)),
        lambda s: f"item 1: includedDataMB is 5120 in offering {PLAN}, not 999",
    ),
    Refusal(
        "golden number outside the numbering plan",
        lambda s: order_body(s.customer, line_with("1", msisdn="+441632960000")),
        lambda s: f"item 1: msisdn: '+441632960000' does not match {GOLDEN_REGEX}",
    ),
    Refusal(
        "family bundle with one line",
        lambda s: order_body(
            s.customer,
            add("1", "pos-family-bundle", productOrderItem=[add("2", "pos-sim-only-20gb")]),
        ),
        lambda s: "item 1: bundle pos-family-bundle takes 2 to 5 items of pos-sim-only-20gb, not 1",
    ),
    Refusal(
        "add-on without a line",
        lambda s: order_body(s.customer, add("1", "pos-data-addon-5gb")),
        lambda s: f"item 1: {ADD_ON_NEEDS_A_LINE}",
    ),
    Refusal(
        "modify of another customer's product",
        lambda s: order_body(s.customer, modify(s.others_line, "pos-sim-only-unlimited")),
        lambda s: f"item 1: product {s.others_line} is not the customer's",
    ),
    Refusal(
        "unknown billing account",
        lambda s: order_body(s.customer, add("1", PLAN), billingAccount={"id": "no-such-account"}),
        lambda s: "billing account no-such-account does not exist",
    ),
    Refusal(
        "another customer's billing account",
        lambda s: order_body(s.customer, add("1", PLAN), billingAccount=s.others_account),
        lambda s: f"billing account {s.others_account['id']} is not the customer's",
    ),
    Refusal(
        "delete of an unknown product",
        lambda s: order_body(
            s.customer, {"id": "1", "action": "delete", "product": {"id": "no-such-product"}}
        ),
        lambda s: "item 1: product no-such-product does not exist",
    ),
]


def rejected(shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
    """The order once fulfilment has rejected it; nothing was reserved or created for it."""
    numbers, sims = number_pool(shop.app).counts(), sim_stock(shop.app).counts()
    done = settle(shop.app, shop.client, body)
    assert done["state"] == "rejected", done
    assert set(item_states(done)) == {"rejected"}
    assert "orderTotalPrice" not in done
    assert (number_pool(shop.app).counts(), sim_stock(shop.app).counts()) == (numbers, sims)
    return done


class TestRejection:
    @pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: r.label)
    def test_the_reason_is_a_note_on_the_rejected_order(self, shop, refusal):
        done = rejected(shop, refusal.body(shop))
        assert notes(done) == [f"rejected: {refusal.reason(shop)}"]
        [note] = done["note"]
        assert note["author"] == "system" and INSTANT.match(note["date"])

    def test_an_order_with_several_problems_lists_them_all(self, shop):
        body = order_body(
            shop.initialized,
            add("1", "pos-row-roaming-rates"),
            line_with("2", includedDataMB=999, msisdn="+441632960000"),
            add("3", "pos-eu-roaming-pack"),
        )
        done = rejected(shop, body)
        assert sorted(notes(done)) == sorted(
            f"rejected: {reason}"
            for reason in (
                f"customer {shop.initialized} {NOT_YET_VALIDATED}",
                "item 1: offering pos-row-roaming-rates is not sellable on its own",
                f"item 2: includedDataMB is 5120 in offering {PLAN}, not 999",
                f"item 2: msisdn: '+441632960000' does not match {GOLDEN_REGEX}",
                f"item 3: {ADD_ON_NEEDS_A_LINE}",
            )
        )

    def test_an_order_billed_to_a_closed_account_is_rejected(self, shop):
        customer = new_customer(shop.client, account=None)
        account = new_billing_account(shop.client, customer, "Closed account")
        closed = shop.client.patch(f"{ACCOUNTS}/{account['id']}", json={"state": "Closed"})
        assert closed.status_code == 200, closed.text
        done = rejected(shop, order_body(customer, add("1", PLAN), billingAccount=account))
        assert notes(done) == [f"rejected: billing account {account['id']} is Closed"]

    def test_a_rejected_order_creates_no_product(self, shop):
        customer = new_customer(shop.client)
        rejected(shop, order_body(customer, line_with("1", msisdn="+441632960000")))
        assert products_of(shop.client, customer) == []


class TestPending:
    def test_an_order_without_a_billing_account_waits_for_one(self, shop):
        customer = new_customer(shop.client, account=None)
        placed = place(shop.client, order_body(customer, add("1", PLAN)))
        fulfil(shop.app)
        waiting = order(shop.client, placed["id"])
        assert waiting["state"] == "pending"
        assert set(item_states(waiting)) == {"pending"}
        assert notes(waiting) == ["information required: billingAccount"]
        [event] = outbox_events(
            shop.app, f"productOrder/{placed['id']}", "ProductOrderInformationRequiredEvent"
        )
        assert event["fieldPath"] == "billingAccount"
        assert event["event"]["productOrder"]["state"] == "pending"
        fulfil(shop.app)  # a pending order is not worked on
        assert order(shop.client, placed["id"])["state"] == "pending"

        account = new_billing_account(shop.client, customer, "Given later")
        patched = shop.client.patch(f"{ORDERS}/{placed['id']}", json={"billingAccount": account})
        assert patched.status_code == 200, patched.text
        assert patched.json()["state"] == "acknowledged"
        fulfil(shop.app)
        done = order(shop.client, placed["id"])
        assert done["state"] == "completed", done
        assert done["billingAccount"] == account
        line = product(shop.client, done["productOrderItem"][0]["product"]["id"])
        assert line["billingAccount"] == account


def valid_items() -> list[dict[str, Any]]:
    return [
        add("1", PLAN),
        add("2", "pos-eu-roaming-pack", productOrderItemRelationship=relies_on("1")),
    ]


UNREADABLE = {
    "no items": ([], "productOrderItem"),
    "item without action": ([{"id": "1", "productOffering": {"id": PLAN}}], "action"),
    "item ids used twice": ([add("1", PLAN), add("1", "pos-sim-only-20gb")], "'1' is used twice"),
    "relationship to an unknown item": (
        [
            add("1", PLAN),
            add("2", "pos-eu-roaming-pack", productOrderItemRelationship=relies_on("9")),
        ],
        "names item '9', which is not in the order",
    ),
    "item nested in a bundle with a used id": (
        [add("1", "pos-family-bundle", productOrderItem=[add("1", "pos-sim-only-20gb")])],
        "'1' is used twice",
    ),
}


class TestUnreadable:
    @pytest.mark.parametrize("items, mentions", UNREADABLE.values(), ids=list(UNREADABLE))
    def test_is_400_and_nothing_is_stored(self, shop, items, mentions):
        db = database_of(shop.app)
        orders, events = db["productOrder"].count_documents({}), db["outbox"].count_documents({})
        response = shop.client.post(ORDERS, json=order_body(shop.customer, *items))
        assert mentions in assert_tmf_error(response, 400)["message"]
        assert db["productOrder"].count_documents({}) == orders
        assert db["outbox"].count_documents({}) == events

    def test_a_patch_making_an_order_unreadable_is_400(self, shop):
        placed = place(shop.client, order_body(shop.customer, *valid_items()))
        items = [add("1", PLAN), add("1", "pos-sim-only-20gb")]
        response = shop.client.patch(f"{ORDERS}/{placed['id']}", json={"productOrderItem": items})
        assert "'1' is used twice" in assert_tmf_error(response, 400)["message"]
        assert order(shop.client, placed["id"]) == placed
        fulfil(shop.app)


class TestClientChanges:
    def test_state_is_not_patchable(self, shop):
        placed = place(shop.client, order_body(shop.customer, add("1", PLAN)))
        url = f"{ORDERS}/{placed['id']}"
        # a state fulfilment may move to: the client is pointed at cancellation
        message = assert_tmf_error(shop.client.patch(url, json={"state": "inProgress"}), 400)[
            "message"
        ]
        assert "state" in message and "cancelProductOrder" in message
        # a state no order goes to from here
        message = assert_tmf_error(shop.client.patch(url, json={"state": "cancelled"}), 400)[
            "message"
        ]
        assert "state" in message
        assert order(shop.client, placed["id"]) == placed
        fulfil(shop.app)

    def test_a_description_may_change_in_any_state(self, shop):
        done = settle(shop.app, shop.client, order_body(shop.customer, add("1", PLAN)))
        url = f"{ORDERS}/{done['id']}"
        changed = send_json(
            shop.client,
            "PATCH",
            url,
            [{"op": "add", "path": "/description", "value": "Mine"}],
            JSON_PATCH,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json() == {**done, "description": "Mine"}

    def test_the_billing_account_is_fixed_once_fulfilment_started(self, shop):
        done = settle(shop.app, shop.client, order_body(shop.customer, add("1", PLAN)))
        assert done["state"] == "completed"
        account = {"id": "ba-changed", "@referredType": "BillingAccount"}
        response = shop.client.patch(f"{ORDERS}/{done['id']}", json={"billingAccount": account})
        message = assert_tmf_error(response, 400)["message"]
        assert "billingAccount" in message and "completed" in message
        assert order(shop.client, done["id"]) == done

    def test_a_completed_order_cannot_be_deleted(self, shop):
        done = settle(shop.app, shop.client, order_body(shop.customer, add("1", PLAN)))
        assert_tmf_error(shop.client.delete(f"{ORDERS}/{done['id']}"), 409)
        assert order(shop.client, done["id"]) == done

    def test_a_rejected_order_can_be_deleted(self, shop):
        done = rejected(shop, order_body("no-such-customer", add("1", PLAN)))
        response = shop.client.delete(f"{ORDERS}/{done['id']}")
        assert response.status_code == 204, response.text
        assert_tmf_error(shop.client.get(f"{ORDERS}/{done['id']}"), 404)

    def test_an_order_being_worked_on_cannot_be_deleted(self, shop):
        placed = place(shop.client, order_body(shop.customer, add("1", PLAN)))
        assert_tmf_error(shop.client.delete(f"{ORDERS}/{placed['id']}"), 409)
        fulfil(shop.app)

    def test_a_product_may_be_renamed_but_not_changed(self, shop):
        line = product(shop.client, shop.others_line)
        url = f"{PRODUCTS}/{line['id']}"
        renamed = shop.client.patch(url, json={"name": "My phone"})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json() == {**line, "name": "My phone"}
        for change in ({"status": "suspended"}, {"status": "terminated"}):
            message = assert_tmf_error(shop.client.patch(url, json=change), 400)["message"]
            assert "status" in message and "product order" in message
        assert product(shop.client, line["id"]) == {**line, "name": "My phone"}
