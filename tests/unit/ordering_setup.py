"""A shop for ordering tests: the starter catalog, one customer and its billing account, the
ordering and inventory services over a FakeRepository, fake number pool, SIM stock and
network, and Fulfilment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from adapters.demo_catalog import starter_catalog
from domain.fulfilment import Fulfilment, Step
from domain.inventory import PRODUCT, SYSTEM_PRODUCT
from domain.ordering import (
    CANCEL_PRODUCT_ORDER,
    PRODUCT_ORDER,
    SYSTEM_CANCEL,
    SYSTEM_ORDER,
    all_items,
)
from domain.ports import Sim
from domain.query import ListQuery
from domain.resource import ResourceType
from domain.service import ResourceService
from tests.unit.fakes import (
    FakeClock,
    FakeNetwork,
    FakeNumberPool,
    FakeRepository,
    FakeSimStock,
    SequentialIds,
)

CUSTOMER_ID = "c1"
ACCOUNT_REF = {"id": "ba-1", "name": "Main account", "@referredType": "BillingAccount"}
NUMBERS = ("+353831000001", "+353831000002", "+353831000003")
GOLDEN = "+353831234567"  # last in the pool, so that only asking for it gets it
SIMS = tuple(Sim(f"893530100000000000{n}", f"272130000000000{n}") for n in range(1, 4))
POLL = timedelta(milliseconds=200)


def customer(customer_id: str = CUSTOMER_ID, status: str = "Approved") -> dict[str, Any]:
    return {
        "id": customer_id,
        "name": "Aoife Byrne",
        "status": status,
        "account": [{"id": "ba-1", "name": "Main account"}],
    }


def billing_account(
    account_id: str = "ba-1", owner: str = CUSTOMER_ID, state: str = "Active"
) -> dict[str, Any]:
    """A billing account (TMF666) as stored: owned by the customer, open."""
    return {
        "id": account_id,
        "name": "Main account",
        "state": state,
        "relatedParty": [{"id": owner, "role": "owner", "@referredType": "Customer"}],
        "currency": "EUR",
        "timeZone": "Europe/Dublin",
    }


def party(customer_id: str = CUSTOMER_ID) -> dict[str, Any]:
    return {"id": customer_id, "role": "Customer", "@referredType": "Customer"}


def line(
    item_id: str = "1", offering: str = "pos-sim-only-20gb", **characteristics: Any
) -> dict[str, Any]:
    """An item adding a plan (a mobile line), with characteristics asked for."""
    item: dict[str, Any] = {"id": item_id, "action": "add", "productOffering": {"id": offering}}
    if characteristics:
        chars = [{"name": name, "value": value} for name, value in characteristics.items()]
        item["product"] = {"productCharacteristic": chars}
    return item


def add_on(item_id: str, offering: str, on_item: str) -> dict[str, Any]:
    """An item adding an add-on (or a promotion) to the line another item of the order adds."""
    return {
        "id": item_id,
        "action": "add",
        "productOffering": {"id": offering},
        "productOrderItemRelationship": [{"id": on_item, "relationshipType": "reliesOn"}],
    }


def family(*lines: dict[str, Any]) -> dict[str, Any]:
    """An item adding a family bundle made of the lines of `lines`."""
    return {
        "id": "b",
        "action": "add",
        "productOffering": {"id": "pos-family-bundle"},
        "productOrderItem": list(lines),
    }


def change(
    item_id: str,
    action: str,
    product_id: str,
    offering: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """An item changing (modify, delete, noChange) a product the customer has."""
    product: dict[str, Any] = {"id": product_id}
    if status:
        product["status"] = status
    item: dict[str, Any] = {"id": item_id, "action": action, "product": product}
    if offering:
        item["productOffering"] = {"id": offering}
    return item


def order_body(*items: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    """A product order of the customer; `attributes` add to or replace the defaults."""
    return {"relatedParty": [party()], "productOrderItem": list(items), **attributes}


def href_for(rtype: ResourceType, resource_id: str) -> str:
    return f"http://bss.test/tmf-api/{rtype.api}/v4/{rtype.path}/{resource_id}"


class Shop:
    def __init__(self) -> None:
        self.repository = FakeRepository()
        self.clock = FakeClock()
        self.ids = SequentialIds()
        for collection, entities in starter_catalog().items():
            for entity in entities:
                self.repository.put(collection, entity)
        self.repository.put("customer", customer())
        self.repository.put("billingAccount", billing_account())
        self.orders = self._service(PRODUCT_ORDER)
        self.cancellations = self._service(CANCEL_PRODUCT_ORDER)
        self.system_orders = self._service(SYSTEM_ORDER)
        self.products = self._service(PRODUCT)
        self.system_products = self._service(SYSTEM_PRODUCT)
        self.numbers = FakeNumberPool([*NUMBERS, GOLDEN], self.clock)
        self.sims = FakeSimStock(SIMS, self.clock)
        self.network = FakeNetwork()
        self.fulfilment = Fulfilment(
            self.system_orders,
            self._service(SYSTEM_CANCEL),
            self.system_products,
            self.numbers,
            self.sims,
            self.network,
            self.clock,
            poll=POLL,
        )
        self.lookup = self.orders.lookup

    def _service(self, rtype: ResourceType) -> ResourceService:
        return ResourceService(rtype, self.repository, self.clock, self.ids, href_for)

    def place(self, *items: dict[str, Any], **attributes: Any) -> str:
        """Create an order as a client would; its id."""
        return str(self.orders.create(order_body(*items, **attributes))["id"])

    def advance(self, order_id: str, cancellation_id: str | None = None) -> Step:
        return self.fulfilment.advance(order_id, cancellation_id)

    def order(self, order_id: str) -> dict[str, Any]:
        return self.orders.get(order_id)

    def item(self, order_id: str, item_id: str = "1") -> dict[str, Any]:
        items = {str(item["id"]): item for item in all_items(self.order(order_id))}
        return items[item_id]

    def product(self, product_id: str) -> dict[str, Any]:
        return self.products.get(product_id)

    def product_of(self, order_id: str, item_id: str = "1") -> dict[str, Any]:
        return self.product(self.item(order_id, item_id)["product"]["id"])

    def all_products(self) -> list[dict[str, Any]]:
        return self.products.list(ListQuery())[0]

    def put_product(self, product_id: str, status: str = "active", **attributes: Any) -> None:
        """A product of the customer, stored as fulfilment would have left it."""
        product = {
            "id": product_id,
            "name": "SIM Only 20 GB",
            "status": status,
            "relatedParty": [party(attributes.pop("owner", CUSTOMER_ID))],
            "productOffering": {"id": "pos-sim-only-20gb", "name": "SIM Only 20 GB"},
            "realizingResource": [{"id": "+353839990000", "@referredType": "MSISDN"}],
            "@type": "Product",
            **attributes,
        }
        self.repository.put("product", product)

    def fulfilled_line(self, **characteristics: Any) -> dict[str, Any]:
        """A line ordered and fulfilled (its order completed); the product."""
        order_id = self.place(line(**characteristics))
        assert self.advance(order_id) == Step("completed")
        return self.product_of(order_id)
