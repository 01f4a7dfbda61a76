"""TMF622 Product Ordering: the order and cancellation resources, their states, and what a
client may change.

An order is stored as soon as it is syntactically valid (`acknowledged`); fulfilment
(domain/fulfilment.py) then validates it against customers, catalog and inventory
(domain/order_validation.py), prices it and carries it out. The client-facing resource types
here refuse what only fulfilment may write; SYSTEM_ORDER and SYSTEM_CANCEL are the same
resources as fulfilment writes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from domain.errors import Conflict, InvalidRequest, NotPatchable, Unprocessable
from domain.lifecycle import Lifecycle
from domain.query import AttrType
from domain.resource import Lookup, Referrer, ResourceType, Rules

ACKNOWLEDGED, REJECTED, PENDING, HELD = "acknowledged", "rejected", "pending", "held"
IN_PROGRESS, CANCELLED, COMPLETED, FAILED = "inProgress", "cancelled", "completed", "failed"
PARTIAL = "partial"
ASSESSING_CANCELLATION, PENDING_CANCELLATION = "assessingCancellation", "pendingCancellation"
# actions of an order item
ADD, MODIFY, DELETE, NO_CHANGE = "add", "modify", "delete", "noChange"
# states of a cancellation request (TMF TaskStateType)
TASK_ACKNOWLEDGED, TASK_IN_PROGRESS = "acknowledged", "inProgress"
TASK_DONE, TASK_ERROR = "done", "terminatedWithError"

FINAL = frozenset({REJECTED, CANCELLED, COMPLETED, FAILED, PARTIAL})
ITEM_FINAL = frozenset({REJECTED, CANCELLED, COMPLETED, FAILED})
CANCELLABLE = frozenset({ACKNOWLEDGED, PENDING, HELD, IN_PROGRESS})
# States in which fulfilment has work to do on an order (pending waits for the client).
WORKING = frozenset({ACKNOWLEDGED, HELD, IN_PROGRESS, ASSESSING_CANCELLATION, PENDING_CANCELLATION})
DELETABLE = frozenset({REJECTED, CANCELLED, FAILED})  # nothing of it reached the customer
SYSTEM = "system"  # author of the notes fulfilment writes on an order

ORDER_LIFECYCLE = Lifecycle(
    attribute="state",
    transitions={
        ACKNOWLEDGED: frozenset({REJECTED, PENDING, HELD, IN_PROGRESS, ASSESSING_CANCELLATION}),
        PENDING: frozenset({ACKNOWLEDGED, ASSESSING_CANCELLATION}),
        HELD: frozenset({IN_PROGRESS, ASSESSING_CANCELLATION}),
        IN_PROGRESS: frozenset({COMPLETED, PARTIAL, FAILED, ASSESSING_CANCELLATION}),
        # a refused cancellation goes back to where the order was
        ASSESSING_CANCELLATION: frozenset(
            {PENDING_CANCELLATION, ACKNOWLEDGED, PENDING, HELD, IN_PROGRESS}
        ),
        PENDING_CANCELLATION: frozenset({CANCELLED}),
        REJECTED: frozenset(),
        CANCELLED: frozenset(),
        COMPLETED: frozenset(),
        PARTIAL: frozenset(),
        FAILED: frozenset(),
    },
    initial=ACKNOWLEDGED,
    creatable=frozenset({ACKNOWLEDGED}),
)

TASK_LIFECYCLE = Lifecycle(
    attribute="state",
    transitions={
        TASK_ACKNOWLEDGED: frozenset({TASK_IN_PROGRESS, TASK_DONE, TASK_ERROR}),
        TASK_IN_PROGRESS: frozenset({TASK_DONE, TASK_ERROR}),
        TASK_DONE: frozenset(),
        TASK_ERROR: frozenset(),
    },
    initial=TASK_ACKNOWLEDGED,
    creatable=frozenset({TASK_ACKNOWLEDGED}),
)

INFORMATION_REQUIRED = "InformationRequired"  # ProductOrderInformationRequiredEvent
ORDER_EVENTS = frozenset(
    {"Create", "AttributeValueChange", "StateChange", "Delete", INFORMATION_REQUIRED}
)

ALWAYS_PATCHABLE = frozenset(
    {
        "description",
        "note",
        "priority",
        "externalId",
        "notificationContact",
        "category",
        "requestedCompletionDate",
    }
)
# What the client may still correct before validation has passed.
PATCHABLE_BEFORE_VALIDATION = frozenset(
    {"billingAccount", "relatedParty", "productOrderItem", "requestedStartDate", "channel"}
)
# Written by the server only; a value sent on create is ignored.
SERVER_WRITTEN = frozenset(
    {
        "state",
        "orderDate",
        "completionDate",
        "expectedCompletionDate",
        "cancellationDate",
        "orderTotalPrice",
    }
)
ITEM_SERVER_WRITTEN = ("state", "itemPrice", "itemTotalPrice")

ORDER_ATTRIBUTES = frozenset(
    {
        "cancellationDate", "cancellationReason", "category", "completionDate",
        "description", "expectedCompletionDate", "externalId", "notificationContact",
        "orderDate", "priority", "requestedCompletionDate", "requestedStartDate", "agreement",
        "billingAccount", "channel", "note", "orderTotalPrice", "payment",
        "productOfferingQualification", "productOrderItem", "quote", "relatedParty", "state",
    }
)  # fmt: skip


def walk_items(
    items: list[dict[str, Any]] | None, parent: dict[str, Any] | None = None
) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Every item of an order with its parent item (bundles nest items), depth first."""
    for item in items or []:
        yield item, parent
        yield from walk_items(item.get("productOrderItem"), item)


def all_items(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [item for item, _ in walk_items(order.get("productOrderItem"))]


def check_structure(order: Mapping[str, Any]) -> None:
    """What makes an order unreadable rather than unacceptable: answered 400 at once."""
    seen: set[str] = set()
    for item in all_items(order):
        item_id = str(item["id"])
        if item_id in seen:
            raise InvalidRequest(f"productOrderItem: id '{item_id}' is used twice")
        seen.add(item_id)
    for item in all_items(order):
        for relation in item.get("productOrderItemRelationship") or []:
            if relation.get("id") not in seen:
                raise InvalidRequest(
                    f"productOrderItem {item['id']}: productOrderItemRelationship names "
                    f"item '{relation.get('id')}', which is not in the order"
                )
            if relation.get("id") == item["id"]:
                raise InvalidRequest(f"productOrderItem {item['id']} cannot relate to itself")


def start_items(order: dict[str, Any]) -> None:
    """A new order's items start acknowledged; prices are the server's to compute."""
    for item in all_items(order):
        for name in ITEM_SERVER_WRITTEN:
            item.pop(name, None)
        item["state"] = ACKNOWLEDGED


class ClientOrderRules(Rules):
    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        check_structure(resource)
        start_items(resource)

    def on_update(self, before: Mapping[str, Any], after: dict[str, Any], lookup: Lookup) -> None:
        state = before["state"]
        patchable = ALWAYS_PATCHABLE
        if state in (ACKNOWLEDGED, PENDING):
            patchable |= PATCHABLE_BEFORE_VALIDATION
        refused = sorted(
            key
            for key in before.keys() | after.keys()
            if before.get(key) != after.get(key) and key not in patchable
        )
        if refused:
            raise NotPatchable(
                f"{', '.join(refused)}: not patchable while the order is {state}"
                + ("; cancel it with cancelProductOrder" if "state" in refused else "")
            )
        if "productOrderItem" in after and after.get("productOrderItem") != before.get(
            "productOrderItem"
        ):
            check_structure(after)
            start_items(after)
        if state == PENDING:  # the client supplied what was missing: validate again
            after.update(with_state(after, ACKNOWLEDGED))


def _order_type(rules: Rules) -> ResourceType:
    return ResourceType(
        name="ProductOrder",
        api="productOrderingManagement",
        path="productOrder",
        attributes=ORDER_ATTRIBUTES,
        filters={
            "id": AttrType.STRING,
            "state": AttrType.STRING,
            "externalId": AttrType.STRING,
            "category": AttrType.STRING,
            "priority": AttrType.STRING,
            "orderDate": AttrType.INSTANT,
            "completionDate": AttrType.INSTANT,
            "requestedStartDate": AttrType.INSTANT,
            "relatedParty.id": AttrType.STRING,
            "billingAccount.id": AttrType.STRING,
            "productOrderItem.productOffering.id": AttrType.STRING,
            "productOrderItem.product.id": AttrType.STRING,
            "productOrderItem.state": AttrType.STRING,
        },
        instant_keys=frozenset(
            {
                "orderDate",
                "completionDate",
                "expectedCompletionDate",
                "cancellationDate",
                "requestedCompletionDate",
                "requestedStartDate",
                "date",
                "startDateTime",
                "endDateTime",
            }
        ),
        create_dates=("orderDate",),
        lifecycle=ORDER_LIFECYCLE,
        rules=rules,
        undeletable_states=frozenset(ORDER_LIFECYCLE.transitions) - DELETABLE,
        ignored_on_create=SERVER_WRITTEN,
        event_kinds=ORDER_EVENTS,
        work_states=WORKING,
    )


PRODUCT_ORDER = _order_type(ClientOrderRules())
SYSTEM_ORDER = _order_type(Rules())

OPEN_CANCELLATIONS = Referrer(
    "cancelProductOrder",
    "productOrder.id",
    where={"state": (TASK_ACKNOWLEDGED, TASK_IN_PROGRESS)},
)


class CancelRules(Rules):
    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        order_id = resource["productOrder"]["id"]
        order = lookup.get("productOrder", order_id)
        if order is None:
            raise Unprocessable(f"productOrder: order '{order_id}' does not exist")
        if order["state"] not in CANCELLABLE:
            raise Conflict(f"order {order_id} is {order['state']} and can no longer be cancelled")
        open_ = lookup.referrers(OPEN_CANCELLATIONS, order_id)
        if open_:
            raise Conflict(f"order {order_id} already has an open cancellation: {open_[0]}")


def _cancel_type(rules: Rules) -> ResourceType:
    return ResourceType(
        name="CancelProductOrder",
        api="productOrderingManagement",
        path="cancelProductOrder",
        attributes=frozenset(
            {
                "cancellationReason",
                "effectiveCancellationDate",
                "requestedCancellationDate",
                "productOrder",
                "state",
            }
        ),
        filters={
            "id": AttrType.STRING,
            "state": AttrType.STRING,
            "productOrder.id": AttrType.STRING,
        },
        instant_keys=frozenset({"effectiveCancellationDate", "requestedCancellationDate"}),
        lifecycle=TASK_LIFECYCLE,
        rules=rules,
        ignored_on_create=frozenset({"state", "effectiveCancellationDate"}),
        event_kinds=frozenset({"Create", "StateChange", INFORMATION_REQUIRED}),
        work_states=frozenset({TASK_ACKNOWLEDGED, TASK_IN_PROGRESS}),
    )


CANCEL_PRODUCT_ORDER = _cancel_type(CancelRules())
SYSTEM_CANCEL = _cancel_type(Rules())
ORDERING_TYPES = (PRODUCT_ORDER, CANCEL_PRODUCT_ORDER)


def customer_ref(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The order's relatedParty entries with role Customer."""
    return [
        party
        for party in order.get("relatedParty") or []
        if str(party.get("role", "")).lower() == "customer"
    ]


def note(text: str, at: str) -> dict[str, Any]:
    return {"author": SYSTEM, "date": at, "text": text, "@type": "Note"}


def with_state(order: Mapping[str, Any], state: str) -> dict[str, Any]:
    """A copy of the order in `state`; its items not yet final follow it."""
    after = {**order, "state": state}
    after["productOrderItem"] = _items_in_state(order.get("productOrderItem"), state)
    return after


def _items_in_state(items: list[dict[str, Any]] | None, state: str) -> list[dict[str, Any]]:
    result = []
    for item in items or []:
        copy = dict(item)
        if copy.get("state") not in ITEM_FINAL:
            copy["state"] = state
        if item.get("productOrderItem"):
            copy["productOrderItem"] = _items_in_state(item["productOrderItem"], state)
        result.append(copy)
    return result


def roll_up(items: list[dict[str, Any]]) -> str | None:
    """The final state of an order whose items are all final, else None."""
    states = {item["state"] for item in items}
    if not states <= ITEM_FINAL:
        return None
    done = states - {CANCELLED, REJECTED}
    if done == {COMPLETED}:
        return COMPLETED
    if done == {FAILED} or not done:
        return FAILED
    return PARTIAL
