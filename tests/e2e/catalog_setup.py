"""Building TMF620 catalog entities over HTTP for the catalog e2e tests.

`Catalog` wraps a test client: it creates entities in a given lifecycle state (walking the
allowed transitions), and builds the pieces of a launchable offering.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from adapters.mongo import OUTBOX
from domain.catalog import CATALOG_LIFECYCLE
from tests.e2e.conftest import database_of, fresh_database_name, running_app
from tests.e2e.resources import CATALOG_API

STATES = tuple(CATALOG_LIFECYCLE.transitions)
CREATABLE = CATALOG_LIFECYCLE.creatable
START = "2026-01-01T00:00:00.000Z"


@contextlib.contextmanager
def catalog_app(mongo_uri: str, **overrides: Any) -> Iterator[Any]:
    with running_app(mongo_uri, fresh_database_name(), **overrides) as application:
        yield application


def priced(amount: str, rate: str = "23", tax: str | None = None) -> dict[str, Any]:
    """price and its VAT item; `tax` defaults to the exact amount at `rate`."""
    value = Decimal(amount)
    vat = tax or str((value * Decimal(rate) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP))
    item = {"taxCategory": "VAT", "taxRate": float(rate), "taxAmount": money(vat)}
    return {"price": money(amount), "tax": [item]}


def now() -> str:
    """The current instant as the server writes instants."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money(amount: str) -> dict[str, Any]:
    return {"unit": "EUR", "value": float(amount)}


def ref(entity: dict[str, Any]) -> dict[str, Any]:
    return {"id": entity["id"], "name": entity["name"]}


class Catalog:
    def __init__(self, application: Any) -> None:
        self.app = application
        self.client = application.test_client()

    @staticmethod
    def url(path: str, resource_id: str | None = None) -> str:
        return f"{CATALOG_API}/{path}" + (f"/{resource_id}" if resource_id else "")

    def create(self, path: str, **body: Any) -> dict[str, Any]:
        """A new entity; attributes given as None are left out."""
        sent = {k: v for k, v in {"name": f"A {path}", **body}.items() if v is not None}
        response = self.client.post(self.url(path), json=sent)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, path: str, resource_id: str) -> dict[str, Any]:
        response = self.client.get(self.url(path, resource_id))
        assert response.status_code == 200, response.text
        return response.json()

    def patch(self, path: str, resource_id: str, **change: Any) -> Any:
        return self.client.patch(self.url(path, resource_id), json=change)

    def delete(self, path: str, resource_id: str) -> Any:
        return self.client.delete(self.url(path, resource_id))

    def move(self, path: str, entity: dict[str, Any], target: str) -> dict[str, Any]:
        """The entity walked through the allowed transitions to `target`."""
        for state in CATALOG_LIFECYCLE.path(entity["lifecycleStatus"], target):
            response = self.patch(path, entity["id"], lifecycleStatus=state)
            assert response.status_code == 200, response.text
            entity = response.json()
        return entity

    def in_state(self, path: str, state: str, **body: Any) -> dict[str, Any]:
        """A new entity in `state`: created in the nearest creatable state, then moved."""
        start = state if state in CREATABLE else "Active"
        if state == "Rejected":
            start = "In Study"
        body = {"validFor": {"startDateTime": START}, **body, "lifecycleStatus": start}
        return self.move(path, self.create(path, **body), state)

    # --- the pieces of an offering -------------------------------------------------------

    def specification(self, state: str = "Active", **body: Any) -> dict[str, Any]:
        return self.in_state("productSpecification", state, name="SIM plan", **body)

    def price(self, state: str = "Active", **body: Any) -> dict[str, Any]:
        fee = {"priceType": "recurring", "recurringChargePeriodType": "month", **priced("16.26")}
        return self.in_state(
            "productOfferingPrice", state, **{"name": "Monthly fee", **fee, **body}
        )

    def category(self, state: str = "Active", **body: Any) -> dict[str, Any]:
        return self.in_state("category", state, name="Plans", **body)

    def offering_body(self, state: str = "Active", **body: Any) -> dict[str, Any]:
        """A complete offering's body: its specification, price and category exist in `state`."""
        return {
            "name": "SIM Only 20 GB",
            "lifecycleStatus": "Active",
            "validFor": {"startDateTime": START},
            "productSpecification": ref(self.specification(state)),
            "productOfferingPrice": [ref(self.price(state))],
            "category": [ref(self.category(state))],
            **body,
        }

    def offering(self, state: str = "Active", **body: Any) -> dict[str, Any]:
        return self.in_state("productOffering", state, **self.offering_body(**body))

    def launch(self, path: str, entity: dict[str, Any]) -> Any:
        return self.patch(path, entity["id"], lifecycleStatus="Launched")

    def outbox_count(self) -> int:
        return database_of(self.app)[OUTBOX].count_documents({})
