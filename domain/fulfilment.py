"""Order fulfilment: the state machine that takes a product order from acknowledged to
completed, partial, failed, rejected or cancelled.

`Fulfilment.advance(order_id)` does whatever can be done now and says when to look again.
Every step is idempotent, keyed by the order item (the "holder" `<order id>/<item id>`): the
number and SIM reservations, the network request and the product id all derive from it. So a
worker that crashes anywhere is replaced by one that calls `advance` again and continues from
the stored state, never allocating twice. Which worker advances which order, and when, is the
adapter's business (adapters/fulfilment_runner.py).

Per item (action add of a line): reserve an MSISDN (a requested golden number, or any) and a
SIM -> submit the activation to the network -> on success create the Product (created), assign
the number and SIM to it, make it active -> item completed. A failure at any step releases
what the item holds and fails the item with the reason. Items roll up to the order.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.errors import ConcurrentUpdate, Conflict, DomainError
from domain.instants import format_instant, parse_instant
from domain.inventory import (
    ACTIVE,
    CREATED,
    IN_SERVICE,
    MSISDN,
    SIM,
    SUSPENDED,
    TERMINATED,
    characteristic,
    realizing,
    record_history,
)
from domain.order_validation import (
    BUNDLE,
    CHARGED,
    LINE,
    PROMOTION,
    Offer,
    billing_account,
    fixed_values,
    line_relation,
    offer_of,
    order_price,
    price_order,
    requested_value,
    validate,
)
from domain.ordering import (
    ACKNOWLEDGED,
    ASSESSING_CANCELLATION,
    CANCELLABLE,
    CANCELLED,
    COMPLETED,
    DELETE,
    FAILED,
    FINAL,
    HELD,
    IN_PROGRESS,
    INFORMATION_REQUIRED,
    ITEM_FINAL,
    MODIFY,
    NO_CHANGE,
    OPEN_CANCELLATIONS,
    PENDING,
    PENDING_CANCELLATION,
    REJECTED,
    TASK_ACKNOWLEDGED,
    TASK_DONE,
    TASK_ERROR,
    TASK_IN_PROGRESS,
    all_items,
    customer_ref,
    note,
    roll_up,
    walk_items,
    with_state,
)
from domain.ports import (
    DONE,
    Clock,
    Network,
    NetworkRequest,
    NumberPool,
    PoolExhausted,
    ResourceUnavailable,
    SimStock,
    Stored,
)
from domain.ports import (
    PENDING as NETWORK_PENDING,
)
from domain.pricing import prices_in_effect
from domain.resource import Lookup, Referrer
from domain.service import ResourceService

PRODUCT_IDS = uuid.UUID("6f1c7a52-5d0e-4d8e-9a51-5b0f6c3e2a10")  # namespace of product ids
ADD_ONS = Referrer("product", "productRelationship.product.id", where={"status": tuple(IN_SERVICE)})
RELIES_ON = "reliesOn"


@dataclass(frozen=True)
class Step:
    """Where an order stands after `advance`: its state, and when to look at it again
    (None: nothing to do until something else happens)."""

    state: str
    next_at: datetime | None = None


class Wait(Exception):
    """An item cannot go further now (the network has not answered)."""


class ItemFailed(Exception):
    """An item cannot be fulfilled; the message says why."""


def holder_of(order_id: str, item_id: str) -> str:
    return f"{order_id}/{item_id}"


def product_id_for(holder: str) -> str:
    """The id of the product an item creates: the same on every attempt."""
    return str(uuid.uuid5(PRODUCT_IDS, holder))


class Fulfilment:
    def __init__(
        self,
        orders: ResourceService,
        cancellations: ResourceService,
        products: ResourceService,
        numbers: NumberPool,
        sims: SimStock,
        network: Network,
        clock: Clock,
        poll: timedelta = timedelta(milliseconds=200),
        lookup: Lookup | None = None,
    ) -> None:
        self._orders = orders
        self._cancellations = cancellations
        self._products = products
        self._numbers = numbers
        self._sims = sims
        self._network = network
        self._clock = clock
        self._poll = poll
        self.lookup = lookup or orders.lookup  # reads of customers, catalog and inventory

    # the order --------------------------------------------------------------------------

    def advance(self, order_id: str, cancellation_id: str | None = None) -> Step:
        stored = self._orders.load(order_id)
        cancelling = (ASSESSING_CANCELLATION, PENDING_CANCELLATION)
        if cancellation_id is None and stored.resource["state"] in cancelling:
            open_ = self.lookup.referrers(OPEN_CANCELLATIONS, order_id)
            cancellation_id = open_[0] if open_ else None
        if cancellation_id is not None:
            stored = self._cancel(stored, cancellation_id)
        state = stored.resource["state"]
        if state == ACKNOWLEDGED:
            stored = self._validate(stored)
            state = stored.resource["state"]
        if state == HELD:
            start = parse_instant(stored.resource["requestedStartDate"])
            if start > self._clock.now():
                return Step(HELD, start)
            stored = self._save(stored, with_state(stored.resource, IN_PROGRESS))
            state = IN_PROGRESS
        if state == IN_PROGRESS:
            return self._fulfil(stored)
        return Step(state)

    def _save(
        self, stored: Stored, after: dict[str, Any], notice: tuple[str, str] | None = None
    ) -> Stored:
        saved = self._orders.change(stored, after, notice)
        if saved is stored.resource:  # nothing changed, nothing written
            return stored
        return Stored(saved, stored.version + 1)

    def _now(self) -> str:
        return format_instant(self._clock.now())

    def _validate(self, stored: Stored) -> Stored:
        order = stored.resource
        at = parse_instant(order["orderDate"])
        lookup = self.lookup.memoized()
        verdict = validate(order, lookup, at)
        notes = list(order.get("note") or [])
        if verdict.reasons:
            after = with_state(order, REJECTED)
            after["note"] = notes + [note(f"rejected: {r}", self._now()) for r in verdict.reasons]
            after["completionDate"] = self._now()
            return self._save(stored, after)
        if verdict.missing:
            missing = ", ".join(verdict.missing)
            after = with_state(order, PENDING)
            after["note"] = [*notes, note(f"information required: {missing}", self._now())]
            return self._save(stored, after, (INFORMATION_REQUIRED, ",".join(verdict.missing)))
        start = order.get("requestedStartDate")
        later = start is not None and parse_instant(start) > self._clock.now()
        after = with_state(order, HELD if later else IN_PROGRESS)
        after.setdefault("billingAccount", billing_account(order, lookup))
        price_order(after, lookup, at)
        return self._save(stored, after)

    def _fulfil(self, stored: Stored) -> Step:
        after = copy.deepcopy(stored.resource)
        waits: list[datetime] = []
        progress = True
        while progress:  # items that wait for others go once those are done
            progress = False
            for item, parent in walk_items(after["productOrderItem"]):
                if item["state"] != IN_PROGRESS:
                    continue
                try:
                    if self._item(after, item, parent):
                        progress = True
                except (Wait, ConcurrentUpdate):  # try again shortly
                    waits.append(self._clock.now() + self._poll)
                except (ItemFailed, DomainError) as failure:
                    self._fail(after, item, getattr(failure, "message", str(failure)))
                    progress = True
        if not waits:  # what still runs waits for an item that will never finish
            for item in all_items(after):
                if item["state"] == IN_PROGRESS:
                    self._fail(after, item, "it waits for an item that cannot finish")
        final = roll_up(all_items(after))
        if final is not None:
            after["state"] = final
            after["completionDate"] = self._now()
        self._save(stored, after)
        if final is not None:
            return Step(final)
        return Step(IN_PROGRESS, min(waits))

    def _fail(self, order: dict[str, Any], item: dict[str, Any], reason: str) -> None:
        item["state"] = FAILED
        order["note"] = [
            *(order.get("note") or []),
            note(f"item {item['id']} failed: {reason}", self._now()),
        ]

    # one item ---------------------------------------------------------------------------

    def _item(
        self, order: dict[str, Any], item: dict[str, Any], parent: dict[str, Any] | None
    ) -> bool:
        """Take the item as far as it goes; True when it reached a final state."""
        action = item["action"]
        holder = holder_of(order["id"], str(item["id"]))
        if action == NO_CHANGE:
            item["state"] = COMPLETED
            return True
        if action in (MODIFY, DELETE):
            self._change_product(order, item, holder)
            item["state"] = COMPLETED
            return True
        offer = self._offer(item)
        product: dict[str, Any] | None
        if offer.kind == LINE:
            product = self._add_line(order, item, offer, holder)
        elif offer.kind == BUNDLE:
            product = self._add_bundle(order, item, offer, holder)
        elif offer.kind == PROMOTION:
            product = self._line_product(order, item, parent)
        else:
            product = self._add_on(order, item, offer, holder, parent)
        if product is None:
            return False
        item["product"] = {**(item.get("product") or {}), **_ref(product)}
        item["state"] = COMPLETED
        return True

    def _offer(self, item: Mapping[str, Any]) -> Offer:
        offer = offer_of(self.lookup, str(item["productOffering"]["id"]))
        if offer is None:
            raise ItemFailed(f"offering {item['productOffering']['id']} no longer exists")
        return offer

    def _add_line(
        self,
        order: dict[str, Any],
        item: dict[str, Any],
        offer: Offer,
        holder: str,
    ) -> dict[str, Any]:
        product_id = product_id_for(holder)
        existing = self.lookup.get("product", product_id)
        if existing is not None:  # the network activated it before a restart
            msisdn, iccid = realizing(existing, MSISDN), realizing(existing, SIM)
            return self._activate(existing, str(msisdn), str(iccid), holder)
        try:
            msisdn = self._numbers.reserve(holder, requested_value(item, "msisdn"))
        except (PoolExhausted, ResourceUnavailable) as error:
            raise ItemFailed(str(error)) from None
        try:
            sim = self._sims.reserve(holder)
        except PoolExhausted as error:
            self._numbers.release(msisdn, holder)
            raise ItemFailed(str(error)) from None
        request = NetworkRequest(holder, "activate", msisdn, sim.iccid, sim.imsi, (offer.id,))
        try:
            self._on_network(request)
        except ItemFailed:
            self._numbers.release(msisdn, holder)
            self._sims.release(sim.iccid, holder)
            raise
        chars = {"msisdn": msisdn, "iccid": sim.iccid}
        resources = [
            {"id": msisdn, "name": msisdn, "value": msisdn, "@referredType": MSISDN},
            {"id": sim.iccid, "name": f"SIM {sim.iccid}", "value": sim.imsi, "@referredType": SIM},
        ]
        product = self._new_product(order, item, offer, product_id, chars, resources)
        return self._activate(product, msisdn, sim.iccid, holder)

    def _activate(
        self, product: dict[str, Any], msisdn: str, iccid: str, holder: str
    ) -> dict[str, Any]:
        self._numbers.assign(msisdn, holder, product["id"])
        self._sims.assign(iccid, holder, product["id"])
        return self._product_status(product, ACTIVE)

    def _on_network(self, request: NetworkRequest) -> None:
        """Submit (again: idempotent) and read the answer; Wait while there is none."""
        self._network.submit(request)
        outcome = self._network.outcome(request.id)
        if outcome.status == NETWORK_PENDING:
            raise Wait
        if outcome.status != DONE:
            raise ItemFailed(f"the network refused the {request.action}: {outcome.reason}")

    def _add_on(
        self,
        order: dict[str, Any],
        item: dict[str, Any],
        offer: Offer,
        holder: str,
        parent: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        product_id = product_id_for(holder)
        existing = self.lookup.get("product", product_id)
        if existing is not None:
            return self._product_status(existing, ACTIVE)
        line = self._line_product(order, item, parent)
        if line is None:
            return None
        services = (*self._services(line), offer.id)
        msisdn = str(realizing(line, MSISDN) or characteristic(line, "msisdn"))
        self._on_network(NetworkRequest(holder, "modify", msisdn, services=services))
        relation = {"relationshipType": RELIES_ON, "product": _ref(line)}
        product = self._new_product(order, item, offer, product_id, {}, [], [relation])
        return self._product_status(product, ACTIVE)

    def _add_bundle(
        self, order: dict[str, Any], item: dict[str, Any], offer: Offer, holder: str
    ) -> dict[str, Any] | None:
        children = item.get("productOrderItem") or []
        if any(child["state"] not in ITEM_FINAL for child in children):
            return None
        made = [child["product"] for child in children if child["state"] == COMPLETED]
        if not made:
            raise ItemFailed("none of the bundle's lines could be activated")
        product_id = product_id_for(holder)
        existing = self.lookup.get("product", product_id)
        if existing is None:
            parts = [_ref(child) for child in made]
            existing = self._new_product(order, item, offer, product_id, {}, [], [], parts)
        return self._product_status(existing, ACTIVE)

    def _line_product(
        self, order: Mapping[str, Any], item: Mapping[str, Any], parent: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """The line product an add-on or promotion applies to; None while its item runs."""
        relation = line_relation(item) or (("item", str(parent["id"])) if parent else None)
        if relation is None:
            raise ItemFailed("it names no line to apply to")
        kind, target = relation
        if kind == "product":
            product = self.lookup.get("product", target)
            if product is None or product.get("status") not in IN_SERVICE:
                raise ItemFailed(f"product {target} is not an active line")
            return product
        other = next(i for i in all_items(order) if str(i["id"]) == target)
        if other["state"] in (FAILED, CANCELLED, REJECTED):
            raise ItemFailed(f"item {target}, which it relies on, is {other['state']}")
        if other["state"] != COMPLETED:
            return None
        return self.lookup.get("product", str(other["product"]["id"]))

    def _services(self, line: Mapping[str, Any]) -> tuple[str, ...]:
        """Offering ids making up a line on the network: the plan and its add-ons."""
        add_ons = self.lookup.referrers(ADD_ONS, str(line["id"]))
        offerings = [str(line["productOffering"]["id"])]
        for add_on_id in add_ons:
            add_on = self.lookup.get("product", add_on_id) or {}
            offerings.append(str((add_on.get("productOffering") or {}).get("id")))
        return tuple(offerings)

    def _change_product(self, order: dict[str, Any], item: dict[str, Any], holder: str) -> None:
        product_id = str(item["product"]["id"])
        stored = self._products.load(product_id)
        product = stored.resource
        done = {(r.get("productOrderId"), r.get("orderItemId")) for r in _order_refs(product)}
        if (order["id"], str(item["id"])) in done:  # done before a restart
            if product["status"] == TERMINATED:
                self._release_resources(product)  # in case the restart came before this
            return
        line = product
        relation = next(iter(product.get("productRelationship") or []), None)
        if relation is not None:  # an add-on: the network change is on its line
            line = self.lookup.get("product", str(relation["product"]["id"])) or product
        msisdn = str(realizing(line, MSISDN) or characteristic(line, "msisdn"))
        after = copy.deepcopy(product)
        after["productOrderItem"] = [*_order_refs(product), _order_ref(order, item)]
        if item["action"] == DELETE:
            if line is product:
                request = NetworkRequest(holder, "deactivate", msisdn)
            else:
                services = tuple(s for s in self._services(line) if s != _offering_id(product))
                request = NetworkRequest(holder, "modify", msisdn, services=services)
            self._on_network(request)
            self._terminate(stored, after)
            return
        wanted = (item.get("product") or {}).get("status")
        if wanted in (SUSPENDED, ACTIVE) and wanted != product["status"]:
            action = "suspend" if wanted == SUSPENDED else "resume"
            self._on_network(NetworkRequest(holder, action, msisdn))
            after["status"] = wanted
        else:  # a plan change
            offer = self._offer(item)
            services = (offer.id, *self._services(line)[1:])
            self._on_network(NetworkRequest(holder, "modify", msisdn, services=services))
            self._describe(after, order, item, offer)
            kept = {
                name: characteristic(product, name)
                for name in ("msisdn", "iccid")
                if characteristic(product, name) is not None
            }
            after["productCharacteristic"] = _characteristics(item, offer, kept)
        self._store(stored, after)

    def _terminate(self, stored: Stored, after: dict[str, Any]) -> None:
        """End a product and a line's add-ons; the line's number goes to quarantine and its
        SIM is retired."""
        after["status"] = TERMINATED
        after["terminationDate"] = self._now()
        self._store(stored, after, after["terminationDate"])
        self._release_resources(after)  # with the order item that ends it

    def _release_resources(self, product: Mapping[str, Any]) -> None:
        msisdn, iccid = realizing(product, MSISDN), realizing(product, SIM)
        if msisdn:
            self._numbers.release(msisdn, product["id"])
        if iccid:
            self._sims.release(iccid, product["id"])
        for add_on_id in self.lookup.referrers(ADD_ONS, product["id"]):
            add_on = self._products.load(add_on_id)
            ended = copy.deepcopy(add_on.resource)
            ended["productOrderItem"] = [*_order_refs(ended), *_order_refs(product)[-1:]]
            self._terminate(add_on, ended)

    # products -------------------------------------------------------------------------------

    def _new_product(
        self,
        order: Mapping[str, Any],
        item: Mapping[str, Any],
        offer: Offer,
        product_id: str,
        assigned: Mapping[str, Any],
        resources: list[dict[str, Any]],
        relationships: list[dict[str, Any]] | None = None,
        parts: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        product: dict[str, Any] = {
            "id": product_id,
            "isBundle": offer.kind == BUNDLE,
            "isCustomerVisible": True,
            "orderDate": order["orderDate"],
            "startDate": self._now(),
            "relatedParty": [dict(party) for party in customer_ref(order)],
            "productOrderItem": [_order_ref(order, item)],
            "status": CREATED,
            "@type": "Product",
        }
        self._describe(product, order, item, offer)
        product["productCharacteristic"] = _characteristics(item, offer, assigned)
        if order.get("billingAccount"):
            product["billingAccount"] = dict(order["billingAccount"])
        if resources:
            product["realizingResource"] = resources
        if relationships:
            product["productRelationship"] = relationships
        if parts:
            product["product"] = parts
        try:
            return self._products.create(
                record_history(product, product["startDate"]), resource_id=product_id
            )
        except Conflict:  # created by an attempt that stopped before recording it
            return self._products.get(product_id)

    def _describe(
        self,
        product: dict[str, Any],
        order: Mapping[str, Any],
        item: Mapping[str, Any],
        offer: Offer,
    ) -> None:
        """What the product is: its offering, specification, terms and frozen prices."""
        offering = offer.offering
        product["name"] = offering.get("name", offer.id)
        if offering.get("description"):
            product["description"] = offering["description"]
        product["productOffering"] = _catalog_ref(offering, "ProductOffering")
        if offer.specification:
            product["productSpecification"] = _catalog_ref(
                offer.specification, "ProductSpecification"
            )
        product["productPrice"] = self._frozen_prices(order, item, offer)
        terms = [
            {
                "name": term.get("name", ""),
                "duration": term["duration"],
                "validFor": {"startDateTime": self._now()},
            }
            for term in offering.get("productOfferingTerm") or []
            if term.get("duration")
        ]
        if terms:
            product["productTerm"] = terms

    def _frozen_prices(
        self, order: Mapping[str, Any], item: Mapping[str, Any], offer: Offer
    ) -> list[dict[str, Any]]:
        """The prices the customer bought at: as priced on the order (discounts included),
        and the usage prices in effect at the order date, which rating applies."""
        listed = item.get("itemPrice") or []
        totals = item.get("itemTotalPrice") or []
        prices = [_product_price(p, t) for p, t in zip(listed, totals, strict=True)]
        at = parse_instant(order["orderDate"])
        for price in prices_in_effect(self.lookup, offer.id, at, sellable_only=False):
            if price.price_type in CHARGED or price.price_type == "discount":
                continue
            prices.append({**order_price(price, exact=True), "@type": "ProductPrice"})
        return prices

    def _product_status(self, product: dict[str, Any], status: str) -> dict[str, Any]:
        if product["status"] == status:
            return product
        stored = self._products.load(product["id"])
        return self._store(stored, {**stored.resource, "status": status})

    def _store(
        self, stored: Stored, after: dict[str, Any], at: str | None = None
    ) -> dict[str, Any]:
        """Store a change of a product, its billable state recorded in its history."""
        return self._products.change(stored, record_history(after, at or self._now()))

    # cancellation -------------------------------------------------------------------------

    def _cancel(self, stored: Stored, cancellation_id: str) -> Stored:
        request = self._cancellations.load(cancellation_id)
        if request.resource["state"] not in (TASK_ACKNOWLEDGED, TASK_IN_PROGRESS):
            return stored
        if request.resource["state"] == TASK_ACKNOWLEDGED:
            request = self._task(request, TASK_IN_PROGRESS)
        order = stored.resource
        if order["state"] in FINAL:
            return self._refuse(stored, request, f"the order is already {order['state']}")
        if order["state"] in CANCELLABLE:
            stored = self._save(stored, {**order, "state": ASSESSING_CANCELLATION})
        if stored.resource["state"] == ASSESSING_CANCELLATION:
            blocker = self._point_of_no_return(stored.resource)
            if blocker:
                return self._refuse(stored, request, blocker)
            stored = self._save(stored, {**stored.resource, "state": PENDING_CANCELLATION})
        for item in all_items(stored.resource):
            self._release(holder_of(stored.resource["id"], str(item["id"])))
        after = with_state(stored.resource, CANCELLED)
        after["cancellationDate"] = self._now()
        if request.resource.get("cancellationReason"):
            after["cancellationReason"] = request.resource["cancellationReason"]
        stored = self._save(stored, after)
        self._task(request, TASK_DONE, effectiveCancellationDate=self._now())
        return stored

    def _point_of_no_return(self, order: Mapping[str, Any]) -> str | None:
        """Why the order can no longer be cancelled: an item is done or on the network."""
        for item in all_items(order):
            if item["state"] == COMPLETED:
                return f"item {item['id']} is already completed"
            try:
                self._network.outcome(holder_of(order["id"], str(item["id"])))
            except KeyError:
                continue
            return f"item {item['id']} is already being provisioned on the network"
        return None

    def _release(self, holder: str) -> None:
        msisdn = self._numbers.holding(holder)
        if msisdn is not None:
            self._numbers.release(msisdn, holder)
        sim = self._sims.holding(holder)
        if sim is not None:
            self._sims.release(sim.iccid, holder)

    def _refuse(self, stored: Stored, request: Stored, reason: str) -> Stored:
        order = stored.resource
        if order["state"] == ASSESSING_CANCELLATION:
            after = {**order, "state": _state_before_cancellation(order)}
            after["note"] = [
                *(order.get("note") or []),
                note(f"cancellation {request.resource['id']} refused: {reason}", self._now()),
            ]
            stored = self._save(stored, after)
        self._task(request, TASK_ERROR)
        return stored

    def _task(self, request: Stored, state: str, **extra: Any) -> Stored:
        after = {**request.resource, "state": state, **extra}
        saved = self._cancellations.change(request, after)
        return Stored(saved, request.version + 1)


def _state_before_cancellation(order: Mapping[str, Any]) -> str:
    """Items keep their own states while a cancellation is assessed: they tell where the
    order was."""
    states = {item["state"] for item in all_items(order)}
    for state in (IN_PROGRESS, HELD, PENDING):
        if state in states:
            return state
    if states & {COMPLETED, FAILED}:
        return IN_PROGRESS
    return ACKNOWLEDGED


def _ref(resource: Mapping[str, Any]) -> dict[str, Any]:
    ref = {"id": resource["id"], "@referredType": "Product"}
    if resource.get("name"):
        ref["name"] = resource["name"]
    return ref


def _catalog_ref(entity: Mapping[str, Any], referred_type: str) -> dict[str, Any]:
    ref = {"id": entity["id"], "@referredType": referred_type}
    if entity.get("name"):
        ref["name"] = entity["name"]
    return ref


def _offering_id(product: Mapping[str, Any]) -> str:
    return str((product.get("productOffering") or {}).get("id"))


def _order_refs(product: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(product.get("productOrderItem") or [])


def _order_ref(order: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "productOrderId": order["id"],
        "orderItemId": str(item["id"]),
        "orderItemAction": item["action"],
        "role": "ordered by",
        "@referredType": "ProductOrderItem",
    }


def _characteristics(
    item: Mapping[str, Any], offer: Offer, assigned: Mapping[str, Any]
) -> list[dict[str, Any]]:
    values = {**fixed_values(offer.offering)}
    for char in (item.get("product") or {}).get("productCharacteristic") or []:
        values.setdefault(str(char.get("name")), char.get("value"))
    values.update(assigned)
    declared = {
        c["name"]: c.get("valueType")
        for c in offer.specification.get("productSpecCharacteristic") or []
    }
    chars = []
    for name, value in values.items():
        char = {"name": name, "value": value}
        if declared.get(name):
            char["valueType"] = declared[name]
        chars.append(char)
    return chars


def _product_price(listed: Mapping[str, Any], total: Mapping[str, Any]) -> dict[str, Any]:
    """An order price as the product keeps it: the list price, with the alterations
    (limited-time discounts) recorded beside it for billing to apply while they last."""
    price = {k: v for k, v in listed.items() if k != "@type"}
    if total.get("priceAlteration"):
        price["productPriceAlteration"] = total["priceAlteration"]
    price["@type"] = "ProductPrice"
    return price
