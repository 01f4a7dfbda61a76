"""Helpers of the ordering e2e tests: an app with the starter catalog, demo pools and a
customer with its billing account, orders over HTTP, and fulfilment run to the end."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters import seeding
from adapters.demo_catalog import starter_catalog
from adapters.network import REQUESTS
from adapters.resource_pools import MongoNumberPool, MongoSimStock, seed_demo_pools
from domain.ordering import all_items
from tests.e2e.conftest import database_of, fresh_database_name, running_app

ORDERING = "/tmf-api/productOrderingManagement/v4"
INVENTORY = "/tmf-api/productInventory/v4"
CUSTOMERS = "/tmf-api/customerManagement/v4/customer"
ACCOUNTS = "/tmf-api/accountManagement/v4/billingAccount"
ORDERS = f"{ORDERING}/productOrder"
CANCELLATIONS = f"{ORDERING}/cancelProductOrder"
PRODUCTS = f"{INVENTORY}/product"
PLAN = "pos-sim-only-5gb"  # a line offering


@contextlib.contextmanager
def ordering_app(
    mongo_uri: str, numbers: int = 50, sims: int = 50, **overrides: Any
) -> Iterator[Any]:
    """An app on a fresh database with the starter catalog and number/SIM pools."""
    with running_app(mongo_uri, fresh_database_name(), **overrides) as application:
        services = application.app.extensions["bss"]
        seeding.load(services.resources, starter_catalog())
        seed_demo_pools(database_of(application), numbers, sims)
        yield application


def runner(application: Any) -> Any:
    return application.app.extensions["bss"].extra["fulfilment_runner"]


def fulfil(application: Any, rounds: int = 50) -> None:
    """Run fulfilment passes until nothing is due (network latency is 0 in tests)."""
    for _ in range(rounds):
        if not runner(application).run_once():
            return
    raise AssertionError("fulfilment still had work after all rounds")


def run_until(application: Any, done: Callable[[], bool], seconds: float = 15) -> None:
    """Run fulfilment passes until `done()` holds (for work due later: a held order, a
    network answer); fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"fulfilment did not get there in {seconds} s")
        if not runner(application).run_once():
            time.sleep(0.05)  # nothing due yet


def network_answers_now(application: Any) -> None:
    """Time passes on the simulated network: every request submitted so far is answered."""
    database_of(application)[REQUESTS].update_many({}, {"$set": {"answerAt": datetime.now(UTC)}})


def new_customer(
    client: Any, status: str = "Approved", account: str | None = "Main account"
) -> str:
    """A customer; unless `account` is None, with a billing account of that name, created
    through TMF666 and named first in the customer's `account` (the one its orders bill)."""
    body: dict[str, Any] = {
        "name": "Journey Customer",
        "status": status,
        "engagedParty": {
            "id": "indiv-1",
            "name": "Journey Customer",
            "@referredType": "Individual",
        },
    }
    response = client.post(CUSTOMERS, json=body)
    assert response.status_code == 201, response.text
    customer_id = str(response.json()["id"])
    if account:
        ref = new_billing_account(client, customer_id, account)
        patched = client.patch(f"{CUSTOMERS}/{customer_id}", json={"account": [ref]})
        assert patched.status_code == 200, patched.text
    return customer_id


def new_billing_account(client: Any, customer_id: str, name: str) -> dict[str, Any]:
    """A billing account of the customer, created through TMF666; its reference."""
    owner = {"id": customer_id, "role": "owner", "@referredType": "Customer"}
    response = client.post(ACCOUNTS, json={"name": name, "relatedParty": [owner]})
    assert response.status_code == 201, response.text
    return {"id": response.json()["id"], "name": name, "@referredType": "BillingAccount"}


def order_body(customer_id: str, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "relatedParty": [{"id": customer_id, "role": "Customer", "@referredType": "Customer"}],
        "productOrderItem": list(items),
        **extra,
    }


def add(item_id: str, offering: str, **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "action": "add", "productOffering": {"id": offering}, **extra}


def place(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(ORDERS, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "acknowledged"
    return response.json()


def order(client: Any, order_id: str) -> dict[str, Any]:
    response = client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    return response.json()


def product(client: Any, product_id: str) -> dict[str, Any]:
    response = client.get(f"{PRODUCTS}/{product_id}")
    assert response.status_code == 200, response.text
    return response.json()


def characteristic(resource: dict[str, Any], name: str) -> Any:
    for char in resource.get("productCharacteristic") or []:
        if char["name"] == name:
            return char["value"]
    return None


def settle(application: Any, client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Place the order, run fulfilment to the end, and read the order back."""
    placed = place(client, body)
    fulfil(application)
    return order(client, placed["id"])


def notes(resource: dict[str, Any]) -> list[str]:
    return [n["text"] for n in resource.get("note") or []]


def item_states(resource: dict[str, Any]) -> list[str]:
    """The state of every item, bundles' nested items included, depth first."""
    return [item["state"] for item in all_items(resource)]


def products_of(client: Any, customer_id: str) -> list[dict[str, Any]]:
    response = client.get(PRODUCTS, params={"relatedParty.id": customer_id})
    assert response.status_code == 200, response.text
    return response.json()


def cancel(client: Any, order_id: str, reason: str | None = None) -> Any:
    body: dict[str, Any] = {"productOrder": {"id": order_id, "@referredType": "ProductOrder"}}
    if reason:
        body["cancellationReason"] = reason
    return client.post(CANCELLATIONS, json=body)


def number_pool(application: Any) -> MongoNumberPool:
    """The app's number pool, as an observer (the quarantine only matters to releases)."""
    return MongoNumberPool(database_of(application), quarantine=timedelta(days=30))


def sim_stock(application: Any) -> MongoSimStock:
    return MongoSimStock(database_of(application))


def outbox_events(application: Any, resource: str, event_type: str) -> list[dict[str, Any]]:
    """The envelopes of the events of that type about `resource` ("productOrder/<id>"),
    as written to the outbox, in order."""
    found = database_of(application)["outbox"].find({"resource": resource, "eventType": event_type})
    return [document["envelope"] for document in found.sort("seq")]
