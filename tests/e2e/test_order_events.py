"""Ordering and inventory events delivered to a real HTTP listener by the app's dispatcher
while an order is fulfilled (the listener of test_events.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.checks import INSTANT
from tests.e2e.ordering_setup import (
    INVENTORY,
    ORDERING,
    PLAN,
    add,
    fulfil,
    new_customer,
    order,
    order_body,
    ordering_app,
    place,
)
from tests.e2e.resources import PUBLIC_BASE
from tests.e2e.test_events import Listener, path, subscribed, wait_until


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    listening = Listener()
    listening.start()
    yield listening
    listening.stop()


@pytest.fixture(scope="module")
def shop(mongo_uri: str) -> Iterator[tuple[Any, Any]]:
    settings = {"dispatcher": True, "event_max_backoff_seconds": 1}
    with ordering_app(mongo_uri, **settings) as application, application.test_client() as client:
        yield application, client


def about(listener: Listener, at: str, key: str, resource_id: str) -> list[dict[str, Any]]:
    """The events received at `at` about one resource (`key` as in the event payload)."""
    return [e for e in listener.events(at) if e["event"][key]["id"] == resource_id]


def types_and_states(events: list[dict[str, Any]], attribute: str) -> list[tuple[str, str]]:
    return [(e["eventType"], e["event"][e_key(e)][attribute]) for e in events]


def e_key(event: dict[str, Any]) -> str:
    [key] = event["event"]
    return key


def test_an_order_and_the_products_it_makes_are_announced(shop, listener):
    application, client = shop
    orders_at, products_at = path(), path()
    with (
        subscribed(client, listener.url(orders_at), hub=f"{ORDERING}/hub"),
        subscribed(client, listener.url(products_at), hub=f"{INVENTORY}/hub"),
    ):
        customer = new_customer(client)
        relation = [{"id": "1", "relationshipType": "reliesOn"}]
        placed = place(
            client,
            order_body(
                customer,
                add("1", "pos-sim-only-20gb"),
                add("2", "pos-eu-roaming-pack", productOrderItemRelationship=relation),
            ),
        )
        fulfil(application)
        done = order(client, placed["id"])
        assert done["state"] == "completed", done
        line_id, add_on_id = (item["product"]["id"] for item in done["productOrderItem"])

        def order_finished() -> list[dict[str, Any]]:
            events = about(listener, orders_at, "productOrder", placed["id"])
            return events if events and events[-1]["event"]["productOrder"] == done else []

        order_events = wait_until(order_finished, "the events of the order up to its end")
        product_events = {
            product_id: wait_until(
                lambda product_id=product_id: (
                    len(events := about(listener, products_at, "product", product_id)) >= 2
                    and events
                ),
                f"the events of product {product_id}",
            )
            for product_id in (line_id, add_on_id)
        }

    assert order_events[0]["eventType"] == "ProductOrderCreateEvent"
    assert order_events[0]["event"]["productOrder"] == placed
    state_changes = [e for e in order_events if e["eventType"] == "ProductOrderStateChangeEvent"]
    assert [e["event"]["productOrder"]["state"] for e in state_changes] == [
        "inProgress",
        "completed",
    ]
    assert {e["eventType"] for e in order_events} <= {
        "ProductOrderCreateEvent",
        "ProductOrderStateChangeEvent",
        "ProductOrderAttributeValueChangeEvent",
    }
    assert len({e["eventId"] for e in order_events}) == len(order_events)
    for event in order_events:
        assert INSTANT.match(event["eventTime"])
        assert event["event"]["productOrder"]["href"] == (
            f"{PUBLIC_BASE}{ORDERING}/productOrder/{placed['id']}"
        )
    for product_id, events in product_events.items():
        assert types_and_states(events, "status") == [
            ("ProductCreateEvent", "created"),
            ("ProductStateChangeEvent", "active"),
        ], product_id
        assert events[-1]["event"]["product"]["href"] == (
            f"{PUBLIC_BASE}{INVENTORY}/product/{product_id}"
        )


def test_an_order_missing_information_asks_for_it(shop, listener):
    application, client = shop
    at = path()
    query = "eventType=ProductOrderInformationRequiredEvent"
    with subscribed(client, listener.url(at), query, hub=f"{ORDERING}/hub"):
        placed = place(client, order_body(new_customer(client, account=None), add("1", PLAN)))
        fulfil(application)
        [event] = wait_until(
            lambda: about(listener, at, "productOrder", placed["id"]),
            "the information required event",
        )
    assert event["eventType"] == "ProductOrderInformationRequiredEvent"
    assert event["fieldPath"] == "billingAccount"
    assert event["event"]["productOrder"] == order(client, placed["id"])
    assert event["event"]["productOrder"]["state"] == "pending"
