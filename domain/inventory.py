"""TMF637 Product Inventory: the products a customer has (mobile lines and their add-ons).

Products are written by order fulfilment (domain/fulfilment.py) through SYSTEM_PRODUCT; a
client may only rename or describe one (PRODUCT's rules): what a customer has changes through
a product order, so that the network, the number pools and billing follow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from domain.errors import NotPatchable
from domain.lifecycle import Lifecycle
from domain.query import AttrType, Criterion
from domain.resource import Lookup, ResourceType, Rules

CREATED, ACTIVE, SUSPENDED, TERMINATED = "created", "active", "suspended", "terminated"
CANCELLED, PENDING_ACTIVE, PENDING_TERMINATE, ABORTED = (
    "cancelled",
    "pendingActive",
    "pendingTerminate",
    "aborted",
)
IN_SERVICE = frozenset({ACTIVE, SUSPENDED})  # a product an order may modify or delete

PRODUCT_LIFECYCLE = Lifecycle(
    attribute="status",
    transitions={
        CREATED: frozenset({PENDING_ACTIVE, ACTIVE, CANCELLED, ABORTED}),
        PENDING_ACTIVE: frozenset({ACTIVE, CANCELLED, ABORTED}),
        ACTIVE: frozenset({SUSPENDED, PENDING_TERMINATE, TERMINATED}),
        SUSPENDED: frozenset({ACTIVE, PENDING_TERMINATE, TERMINATED}),
        PENDING_TERMINATE: frozenset({ACTIVE, TERMINATED}),
        TERMINATED: frozenset(),
        CANCELLED: frozenset(),
        ABORTED: frozenset(),
    },
    initial=CREATED,
    creatable=frozenset({CREATED}),
)

# How a product's mobile number and SIM are referenced (realizingResource.@referredType).
MSISDN, SIM = "MSISDN", "SIM"
CLIENT_PATCHABLE = frozenset({"description", "name", "isCustomerVisible"})


class ClientProductRules(Rules):
    def on_update(self, before: Mapping[str, Any], after: dict[str, Any], lookup: Lookup) -> None:
        changed = sorted(
            key
            for key in before.keys() | after.keys()
            if before.get(key) != after.get(key) and key not in CLIENT_PATCHABLE
        )
        if changed:
            raise NotPatchable(
                f"{', '.join(changed)}: a product changes through a product order "
                f"(TMF622); only {', '.join(sorted(CLIENT_PATCHABLE))} can be patched"
            )


PRODUCT_ATTRIBUTES = frozenset(
    [
        "description",
        "isBundle",
        "isCustomerVisible",
        "name",
        "orderDate",
        "productSerialNumber",
        "startDate",
        "terminationDate",
        "agreement",
        "billingAccount",
        "place",
        "product",
        "productCharacteristic",
        "productOffering",
        "productOrderItem",
        "productHistory",
        "productPrice",
        "productRelationship",
        "productSpecification",
        "productTerm",
        "realizingResource",
        "realizingService",
        "relatedParty",
        "status",
    ]
)


def _realized_by(raw: str) -> tuple[Criterion, ...]:
    return (Criterion("realizingResource.id", "eq", tuple(raw.split(","))),)


PRODUCT = ResourceType(
    name="Product",
    api="productInventory",
    path="product",
    attributes=PRODUCT_ATTRIBUTES,
    filters={
        "id": AttrType.STRING,
        "name": AttrType.STRING,
        "status": AttrType.STRING,
        "relatedParty.id": AttrType.STRING,
        "billingAccount.id": AttrType.STRING,
        "productOffering.id": AttrType.STRING,
        "productSpecification.id": AttrType.STRING,
        "productRelationship.product.id": AttrType.STRING,
        "realizingResource.id": AttrType.STRING,
        "startDate": AttrType.INSTANT,
        "terminationDate": AttrType.INSTANT,
    },
    instant_keys=frozenset(
        {"startDate", "terminationDate", "orderDate", "startDateTime", "endDateTime"}
    ),
    lifecycle=PRODUCT_LIFECYCLE,
    rules=ClientProductRules(),
    change_records=frozenset({"productHistory"}),
    derived_filters={"msisdn": _realized_by, "iccid": _realized_by},
)

# The same resource as fulfilment writes it: every attribute, transitions still checked.
SYSTEM_PRODUCT = dataclasses.replace(PRODUCT, rules=Rules())


def characteristic(product: Mapping[str, Any], name: str) -> Any:
    """The value of a productCharacteristic, or None."""
    for item in product.get("productCharacteristic") or []:
        if item.get("name") == name:
            return item.get("value")
    return None


BILLED_PRICE_TYPES = frozenset({"recurring", "oneTime"})


def record_history(product: dict[str, Any], at: str) -> dict[str, Any]:
    """Append the product's billable state (status, offering, recurring and one-time
    prices) as of `at` to its productHistory, unless it is the state already recorded last:
    billing prorates by day from these entries, so every change fulfilment makes to them
    is kept with its instant."""
    state = {
        "status": product.get("status"),
        "productOffering": product.get("productOffering"),
        "productPrice": [
            price
            for price in product.get("productPrice") or []
            if price.get("priceType") in BILLED_PRICE_TYPES
        ],
    }
    history = list(product.get("productHistory") or [])
    if history and {key: history[-1].get(key) for key in state} == state:
        return product
    history.append({"validFor": {"startDateTime": at}, **state})
    product["productHistory"] = history
    return product


def realizing(product: Mapping[str, Any], referred_type: str) -> str | None:
    """The id of the realizingResource of that type (the MSISDN, the SIM's ICCID)."""
    for ref in product.get("realizingResource") or []:
        if ref.get("@referredType") == referred_type:
            return str(ref["id"])
    return None
