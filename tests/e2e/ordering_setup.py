"""Helpers of the ordering e2e tests: an app with the starter catalog, demo pools and a
customer, orders over HTTP, and fulfilment run to the end."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from adapters import seeding
from adapters.demo_catalog import starter_catalog
from adapters.resource_pools import seed_demo_pools
from tests.e2e.conftest import database_of, fresh_database_name, running_app

ORDERING = "/tmf-api/productOrderingManagement/v4"
INVENTORY = "/tmf-api/productInventory/v4"
CUSTOMERS = "/tmf-api/customerManagement/v4/customer"


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


def new_customer(client: Any, status: str = "Approved", account: str | None = "ba-1") -> str:
    body: dict[str, Any] = {
        "name": "Journey Customer",
        "status": status,
        "engagedParty": {
            "id": "indiv-1",
            "name": "Journey Customer",
            "@referredType": "Individual",
        },
    }
    if account:
        body["account"] = [
            {"id": account, "name": "Main account", "@referredType": "BillingAccount"}
        ]
    response = client.post(CUSTOMERS, json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def order_body(customer_id: str, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "relatedParty": [{"id": customer_id, "role": "Customer", "@referredType": "Customer"}],
        "productOrderItem": list(items),
        **extra,
    }


def add(item_id: str, offering: str, **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "action": "add", "productOffering": {"id": offering}, **extra}


def place(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{ORDERING}/productOrder", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "acknowledged"
    return response.json()


def order(client: Any, order_id: str) -> dict[str, Any]:
    response = client.get(f"{ORDERING}/productOrder/{order_id}")
    assert response.status_code == 200, response.text
    return response.json()


def product(client: Any, product_id: str) -> dict[str, Any]:
    response = client.get(f"{INVENTORY}/product/{product_id}")
    assert response.status_code == 200, response.text
    return response.json()


def characteristic(resource: dict[str, Any], name: str) -> Any:
    for char in resource.get("productCharacteristic") or []:
        if char["name"] == name:
            return char["value"]
    return None
