"""Helpers of the usage e2e tests: subscribers made by orders, usage records sent over
HTTP and rated by the app's rating runner, and the balances they leave."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.e2e.ordering_setup import (
    CUSTOMERS,
    add,
    characteristic,
    fulfil,
    new_customer,
    order,
    order_body,
    place,
    product,
)
from tests.e2e.resources import instant

USAGE_API = "/tmf-api/usageManagement/v4"
USAGE = f"{USAGE_API}/usage"
CONSUMPTION = f"{USAGE_API}/usageConsumption"
BATCHES = f"{USAGE_API}/usageBatch"
MB = 1024 * 1024
GB = 1024 * MB
HOME_NUMBER = "+353871234567"


def exact(response: Any) -> Any:
    """The JSON body with its numbers as Decimal, so amounts compare exactly."""
    return json.loads(response.content, parse_float=Decimal)


def now() -> str:
    return instant(datetime.now(UTC))


def record(
    msisdn: str, usage_type: str = "data", external_id: str | None = None, **measures: Any
) -> dict[str, Any]:
    """A Usage_Create body dated now: `measures` are its characteristics besides msisdn
    (bytes, messages, durationSeconds, calledNumber, visitedCountry)."""
    characteristics = [{"name": "msisdn", "value": msisdn}]
    characteristics += [{"name": name, "value": value} for name, value in measures.items()]
    body = {"usageType": usage_type, "usageDate": now(), "usageCharacteristic": characteristics}
    if external_id:
        body["externalId"] = external_id
    return body


def subscriber(application: Any, client: Any, plan: str, *add_ons: str) -> dict[str, Any]:
    """A customer with a line of `plan` and the add-ons on it, ordered and fulfilled:
    {customer, line, msisdn, add_ons (product ids, in the order given)}."""
    customer = new_customer(client)
    relation = [{"id": "1", "relationshipType": "reliesOn"}]
    items = [add("1", plan)]
    items += [
        add(str(n), offering, productOrderItemRelationship=relation)
        for n, offering in enumerate(add_ons, start=2)
    ]
    placed = place(client, order_body(customer, *items))
    fulfil(application)
    done = order(client, placed["id"])
    assert done["state"] == "completed", done
    line, *extras = (item["product"]["id"] for item in done["productOrderItem"])
    return {
        "customer": customer,
        "line": line,
        "msisdn": characteristic(product(client, line), "msisdn"),
        "add_ons": extras,
    }


def rating_runner(application: Any) -> Any:
    return application.app.extensions["bss"].extra["rating_runner"]


def rate(application: Any) -> int:
    """Rating passes until nothing is due; how many records were rated or rejected."""
    done = 0
    for _ in range(20):
        rated = rating_runner(application).run_once()
        if not rated:
            return done
        done += rated
    raise AssertionError("rating still had work after all passes")


def send(application: Any, client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """POSTs one record (stored received), rates it, and reads it back."""
    response = client.post(USAGE, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "received"
    assert response.headers["location"] == response.json()["href"]
    assert rate(application) == 1
    return read_usage(client, response.json()["id"])


def read_usage(client: Any, usage_id: str) -> dict[str, Any]:
    response = client.get(f"{USAGE}/{usage_id}")
    assert response.status_code == 200, response.text
    return exact(response)


def consumptions(client: Any, product_id: str) -> list[dict[str, Any]]:
    response = client.get(CONSUMPTION, params={"product.id": product_id})
    assert response.status_code == 200, response.text
    return exact(response)


def balance(client: Any, product_id: str) -> dict[str, Any]:
    """The product's one usage consumption (everything here happens in one period)."""
    [found] = consumptions(client, product_id)
    return found


def bucket(consumption: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [b for b in consumption["bucket"] if b["name"] == name]
    return found


def used(consumption: dict[str, Any], name: str) -> tuple[int, int]:
    """(used, remaining) amounts of the named bucket."""
    counted = bucket(consumption, name)
    return counted["usedValue"]["amount"], counted["remainingValue"]["amount"]


def account_of(client: Any, customer_id: str) -> str:
    """The id of the billing account the customer's orders are billed to."""
    return client.get(f"{CUSTOMERS}/{customer_id}").json()["account"][0]["id"]
