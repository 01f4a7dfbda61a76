"""Business validation and pricing of a product order, against customers, catalog and
inventory at the order date.

`validate` collects every reason an order cannot be accepted (rejected) and everything it
lacks (pending), rather than stopping at the first; `price` then writes itemPrice,
itemTotalPrice and orderTotalPrice from the catalog prices in effect, never from the client.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.account import BILLING_ACCOUNT, CLOSED, owner_of
from domain.errors import DomainError
from domain.inventory import ACTIVE as PRODUCT_ACTIVE
from domain.inventory import IN_SERVICE, MSISDN, SUSPENDED, realizing
from domain.money import round_money
from domain.ordering import ADD, DELETE, MODIFY, NO_CHANGE, all_items, customer_ref, walk_items
from domain.pricing import PriceInEffect, prices_in_effect
from domain.resource import Lookup

MAY_ORDER = frozenset({"Validated", "Approved"})  # customer states that may place orders
LINE, ADDON, BUNDLE, PROMOTION = "line", "addOn", "bundle", "promotion"
ASSIGNED = frozenset({"msisdn", "iccid"})  # line characteristics fulfilment assigns
CHARGED = ("oneTime", "recurring")  # price types an order shows (usage is charged by rating)
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, Decimal),
    "boolean": (bool,),
}


@dataclass
class Verdict:
    reasons: list[str] = field(default_factory=list)  # why the order is rejected
    missing: list[str] = field(default_factory=list)  # what it lacks (fieldPath)

    @property
    def accepted(self) -> bool:
        return not self.reasons and not self.missing


@dataclass(frozen=True)
class Offer:
    """An item's offering as fulfilment reads it."""

    offering: Mapping[str, Any]
    specification: Mapping[str, Any]
    kind: str

    @property
    def id(self) -> str:
        return str(self.offering["id"])


def offer_of(lookup: Lookup, offering_id: str) -> Offer | None:
    offering = lookup.get("productOffering", offering_id)
    if offering is None:
        return None
    spec_ref = offering.get("productSpecification") or {}
    spec = lookup.get("productSpecification", spec_ref.get("id", "")) or {}
    return Offer(offering, spec, _kind(lookup, offering, spec))


def _kind(lookup: Lookup, offering: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    if offering.get("isBundle"):
        return BUNDLE
    # before the line test: a promotion may share its plan's specification (msisdn and all)
    prices = [lookup.get("productOfferingPrice", ref["id"]) for ref in offering.get(
        "productOfferingPrice"
    ) or []]  # fmt: skip
    if prices and all(p and p.get("priceType") == "discount" for p in prices):
        return PROMOTION
    if any(c.get("name") == "msisdn" for c in spec.get("productSpecCharacteristic") or []):
        return LINE
    return ADDON


def requested_value(item: Mapping[str, Any], name: str) -> Any:
    for char in (item.get("product") or {}).get("productCharacteristic") or []:
        if char.get("name") == name:
            return char.get("value")
    return None


def fixed_values(offering: Mapping[str, Any]) -> dict[str, Any]:
    """Characteristic values the offering sets (prodSpecCharValueUse with one default)."""
    values = {}
    for use in offering.get("prodSpecCharValueUse") or []:
        choices = use.get("productSpecCharacteristicValue") or []
        if len(choices) == 1 and "value" in choices[0]:
            values[use["name"]] = choices[0]["value"]
    return values


def line_relation(item: Mapping[str, Any]) -> tuple[str, str] | None:
    """What an add-on or promotion applies to: ("item", id) of the order, or ("product", id)
    of the inventory."""
    for relation in item.get("productOrderItemRelationship") or []:
        return "item", str(relation["id"])
    for relation in (item.get("product") or {}).get("productRelationship") or []:
        product = relation.get("product") or {}
        if product.get("id"):
            return "product", str(product["id"])
    return None


def validate(order: Mapping[str, Any], lookup: Lookup, at: datetime) -> Verdict:
    verdict = Verdict()
    customer_id = _check_customer(order, lookup, verdict)
    account = _billing_account(order, lookup, customer_id)
    if account is None:
        verdict.missing.append("billingAccount")
    else:
        _check_billing_account(str(account["id"]), lookup, customer_id, verdict)
    items = {str(item["id"]): item for item in all_items(order)}
    targeted: dict[str, str] = {}
    for item, parent in walk_items(order.get("productOrderItem")):
        where = f"item {item['id']}"
        try:
            _check_item(item, parent, items, lookup, at, customer_id, verdict, where)
        except DomainError as error:
            verdict.reasons.append(f"{where}: {error.message}")
        product_id = (item.get("product") or {}).get("id")
        if product_id and item.get("action") in (MODIFY, DELETE):
            if product_id in targeted:
                verdict.reasons.append(
                    f"{where}: product {product_id} is already changed by item "
                    f"{targeted[product_id]}"
                )
            targeted[product_id] = str(item["id"])
    return verdict


def _check_customer(order: Mapping[str, Any], lookup: Lookup, verdict: Verdict) -> str | None:
    parties = customer_ref(order)
    if not parties:
        verdict.missing.append("relatedParty")
        return None
    if len(parties) > 1:
        verdict.reasons.append("relatedParty: an order has one party with role Customer")
    customer_id = str(parties[0].get("id"))
    customer = lookup.get("customer", customer_id)
    if customer is None:
        verdict.reasons.append(f"customer {customer_id} does not exist")
        return None
    if customer.get("status") not in MAY_ORDER:
        verdict.reasons.append(
            f"customer {customer_id} is {customer.get('status')}: only a Validated or "
            "Approved customer may order"
        )
    return customer_id


def _check_billing_account(
    account_id: str, lookup: Lookup, customer_id: str | None, verdict: Verdict
) -> None:
    """The products are billed to the account: it exists, is the ordering customer's and is
    still open (a Suspended account may take orders; a Closed one is final)."""
    account = lookup.get(BILLING_ACCOUNT.collection, account_id)
    if account is None:
        verdict.reasons.append(f"billing account {account_id} does not exist")
        return
    if customer_id is not None and owner_of(account) != customer_id:
        verdict.reasons.append(f"billing account {account_id} is not the customer's")
    if account.get("state") == CLOSED:
        verdict.reasons.append(f"billing account {account_id} is {CLOSED}")


def _billing_account(
    order: Mapping[str, Any], lookup: Lookup, customer_id: str | None
) -> dict[str, Any] | None:
    """The order's billing account: given on the order, or derived from the customer."""
    if order.get("billingAccount"):
        return dict(order["billingAccount"])
    items = all_items(order)
    if items and all(item.get("billingAccount") for item in items):
        return dict(items[0]["billingAccount"])
    return derived_billing_account(lookup, customer_id) if customer_id else None


def derived_billing_account(lookup: Lookup, customer_id: str) -> dict[str, Any] | None:
    """The customer's billing account: the first account ref of the customer record."""
    customer = lookup.get("customer", customer_id) or {}
    for account in customer.get("account") or []:
        if account.get("id"):
            ref = {"id": account["id"], "@referredType": "BillingAccount"}
            if account.get("name"):
                ref["name"] = account["name"]
            return ref
    return None


def billing_account(order: Mapping[str, Any], lookup: Lookup) -> dict[str, Any] | None:
    parties = customer_ref(order)
    return _billing_account(order, lookup, str(parties[0]["id"]) if parties else None)


def _check_item(
    item: Mapping[str, Any],
    parent: Mapping[str, Any] | None,
    items: Mapping[str, Mapping[str, Any]],
    lookup: Lookup,
    at: datetime,
    customer_id: str | None,
    verdict: Verdict,
    where: str,
) -> None:
    action = item.get("action")
    product = item.get("product") or {}
    offering_ref = item.get("productOffering") or {}
    if action == ADD:
        if product.get("id"):
            verdict.reasons.append(f"{where}: a new product cannot name an existing id")
        if not offering_ref.get("id"):
            verdict.missing.append(f"productOrderItem[{item['id']}].productOffering")
            return
    elif action in (MODIFY, DELETE, NO_CHANGE):
        _check_target(item, lookup, customer_id, verdict, where)
        if action != MODIFY or not offering_ref.get("id"):
            return
    offer = offer_of(lookup, str(offering_ref["id"]))
    if offer is None:
        verdict.reasons.append(f"{where}: offering {offering_ref['id']} does not exist")
        return
    prices_in_effect(lookup, offer.id, at)  # raises NotSellable with the reason
    if int(item.get("quantity", 1)) != 1 and offer.kind in (LINE, BUNDLE):
        verdict.reasons.append(f"{where}: order one {offer.kind} per item (quantity 1)")
    _check_characteristics(item, offer, verdict, where)
    if action == ADD and offer.kind in (ADDON, PROMOTION):
        _check_line(item, parent, items, lookup, customer_id, verdict, where)
    if offer.kind == PROMOTION and (line_relation(item) or ("",))[0] == "product":
        verdict.reasons.append(f"{where}: a promotion applies to a line ordered with it")
    if offer.kind == BUNDLE:
        _check_bundle(item, offer, verdict, where)
    if action == MODIFY and offer.kind != LINE:
        verdict.reasons.append(f"{where}: only a plan can be changed to another offering")


def _check_target(
    item: Mapping[str, Any],
    lookup: Lookup,
    customer_id: str | None,
    verdict: Verdict,
    where: str,
) -> None:
    product_ref = item.get("product") or {}
    product_id = product_ref.get("id")
    if not product_id:
        verdict.missing.append(f"productOrderItem[{item['id']}].product.id")
        return
    product = lookup.get("product", str(product_id))
    if product is None:
        verdict.reasons.append(f"{where}: product {product_id} does not exist")
        return
    owners = {str(p.get("id")) for p in customer_ref(product)}
    if customer_id is not None and customer_id not in owners:
        verdict.reasons.append(f"{where}: product {product_id} is not the customer's")
    status = product.get("status")
    if status not in IN_SERVICE:
        verdict.reasons.append(f"{where}: product {product_id} is {status}")
        return
    wanted = product_ref.get("status")
    offering_id = (item.get("productOffering") or {}).get("id")
    current_offering = (product.get("productOffering") or {}).get("id")
    if item.get("action") == DELETE and offering_id and offering_id != current_offering:
        verdict.reasons.append(
            f"{where}: product {product_id} is of offering {current_offering}, not {offering_id}"
        )
    if item.get("action") != MODIFY:
        return
    if wanted not in (None, status, SUSPENDED, PRODUCT_ACTIVE):
        verdict.reasons.append(f"{where}: a modify can set status suspended or active only")
    if wanted not in (None, status) and realizing(product, MSISDN) is None:
        verdict.reasons.append(
            f"{where}: product {product_id} is not a line; suspend or resume its line"
        )
    changes_plan = offering_id and offering_id != (product.get("productOffering") or {}).get("id")
    if not changes_plan and wanted in (None, status):
        verdict.reasons.append(
            f"{where}: the modify changes nothing (give another productOffering, or "
            "product.status suspended/active)"
        )
    if changes_plan and wanted not in (None, status):
        verdict.reasons.append(f"{where}: change the plan and the status in separate items")


def _check_characteristics(
    item: Mapping[str, Any], offer: Offer, verdict: Verdict, where: str
) -> None:
    declared = {c["name"]: c for c in offer.specification.get("productSpecCharacteristic") or []}
    fixed = fixed_values(offer.offering)
    for char in (item.get("product") or {}).get("productCharacteristic") or []:
        name, value = char.get("name"), char.get("value")
        spec = declared.get(str(name))
        if spec is None:
            verdict.reasons.append(
                f"{where}: characteristic '{name}' is not in specification "
                f"{offer.specification.get('id')}"
            )
            continue
        if name in fixed:
            if value != fixed[name]:
                verdict.reasons.append(
                    f"{where}: {name} is {fixed[name]} in offering {offer.id}, not {value}"
                )
            continue
        if not spec.get("configurable", False):
            verdict.reasons.append(f"{where}: {name} cannot be chosen")
            continue
        if name == "iccid":
            verdict.reasons.append(f"{where}: the SIM (iccid) is assigned from SIM stock")
            continue
        problem = _value_problem(spec, value)
        if problem:
            verdict.reasons.append(f"{where}: {name}: {problem}")
    given = {c.get("name") for c in (item.get("product") or {}).get("productCharacteristic") or []}
    if item.get("action") == ADD:
        for name, spec in declared.items():
            # only what the client may choose can be asked of it
            needed = int(spec.get("minCardinality", 0)) > 0 and spec.get("configurable", False)
            if needed and name not in fixed and name not in given and name not in ASSIGNED:
                verdict.missing.append(f"productOrderItem[{item['id']}].product.{name}")


def _value_problem(spec: Mapping[str, Any], value: Any) -> str | None:
    value_type = spec.get("valueType")
    types = PYTHON_TYPES.get(str(value_type))
    if types and (not isinstance(value, types) or (bool not in types and isinstance(value, bool))):
        return f"'{value}' is not a {value_type}"
    regex = spec.get("regex")
    if regex and not re.fullmatch(regex, str(value)):
        return f"'{value}' does not match {regex}"
    allowed = [v["value"] for v in spec.get("productSpecCharacteristicValue") or [] if "value" in v]
    if allowed and value not in allowed:
        return f"'{value}' is not one of {', '.join(map(str, allowed))}"
    return None


def _check_line(
    item: Mapping[str, Any],
    parent: Mapping[str, Any] | None,
    items: Mapping[str, Mapping[str, Any]],
    lookup: Lookup,
    customer_id: str | None,
    verdict: Verdict,
    where: str,
) -> None:
    """An add-on or promotion needs the line it applies to."""
    relation = line_relation(item)
    if relation is None and parent is not None:
        relation = ("item", str(parent["id"]))
    if relation is None:
        verdict.reasons.append(
            f"{where}: an add-on needs the line it applies to: a productOrderItemRelationship "
            "to the plan's item, or a productRelationship to the customer's plan product"
        )
        return
    kind, target = relation
    if kind == "item":
        other = items[target]
        if other.get("action") not in (ADD, MODIFY, NO_CHANGE):
            verdict.reasons.append(f"{where}: item {target} is not a line this can apply to")
        return
    product = lookup.get("product", target)
    if product is None or product.get("status") not in IN_SERVICE:
        verdict.reasons.append(f"{where}: product {target} is not an active line")
    elif customer_id is not None and customer_id not in {
        str(p.get("id")) for p in customer_ref(product)
    }:
        verdict.reasons.append(f"{where}: product {target} is not the customer's")


def _check_bundle(item: Mapping[str, Any], offer: Offer, verdict: Verdict, where: str) -> None:
    children = item.get("productOrderItem") or []
    for bundled in offer.offering.get("bundledProductOffering") or []:
        option = bundled.get("bundledProductOfferingOption") or {}
        count = sum(
            1 for c in children if (c.get("productOffering") or {}).get("id") == bundled["id"]
        )
        low = int(option.get("numberRelOfferLowerLimit", 0))
        high = int(option.get("numberRelOfferUpperLimit", count))
        if not low <= count <= high:
            verdict.reasons.append(
                f"{where}: bundle {offer.id} takes {low} to {high} items of {bundled['id']}, "
                f"not {count}"
            )
    allowed = {b["id"] for b in offer.offering.get("bundledProductOffering") or []}
    for child in children:
        child_offering = (child.get("productOffering") or {}).get("id")
        if child_offering not in allowed:
            verdict.reasons.append(
                f"{where}: {child_offering} is not part of bundle {offer.id} (item {child['id']})"
            )


# pricing -----------------------------------------------------------------------------------


def period_label(price: PriceInEffect) -> str | None:
    if price.price_type != "recurring":
        return None
    length = price.period_length or 1
    unit = price.period_type or "month"
    return unit if length == 1 else f"{length} {unit}s"


def _money(value: Decimal, currency: str) -> dict[str, Any]:
    return {"unit": currency, "value": value}


def order_price(price: PriceInEffect, quantity: int = 1, *, exact: bool = False) -> dict[str, Any]:
    """A catalog price as an order shows it, for `quantity`; rounded to the currency's
    minor unit unless `exact` (a usage price per unit keeps all its digits)."""
    currency = str(price.currency)
    duty_free = (price.amount or Decimal(0)) * quantity
    tax = price.tax_amount * quantity
    if not exact:
        duty_free, tax = round_money(duty_free, currency), round_money(tax, currency)
    shown: dict[str, Any] = {
        "name": price.name,
        "priceType": price.price_type,
        "productOfferingPrice": {
            "id": price.pop_id,
            "name": price.name,
            "@referredType": "ProductOfferingPrice",
        },
        "price": {
            "dutyFreeAmount": _money(duty_free, currency),
            "taxIncludedAmount": _money(duty_free + tax, currency),
            "taxRate": price.tax_rate,
        },
        "@type": "OrderPrice",
    }
    if label := period_label(price):
        shown["recurringChargePeriod"] = label
    if price.units:
        shown["unitOfMeasure"] = f"{price.unit_amount or 1} {price.units}"
    return shown


def _discounted(shown: dict[str, Any], discount: PriceInEffect) -> dict[str, Any]:
    """The price with the discount applied, and the alteration recorded on it."""
    price = shown["price"]
    currency = price["dutyFreeAmount"]["unit"]
    before = price["dutyFreeAmount"]["value"]
    percentage = discount.percentage or Decimal(0)
    after = round_money(before * (100 - percentage) / 100, currency)
    tax = round_money(after * price["taxRate"] / 100, currency)
    alteration: dict[str, Any] = {
        "name": discount.name,
        "priceType": shown["priceType"],
        "productOfferingPrice": {
            "id": discount.pop_id,
            "name": discount.name,
            "@referredType": "ProductOfferingPrice",
        },
        "price": {
            "percentage": percentage,
            "dutyFreeAmount": _money(after - before, currency),
            "taxIncludedAmount": _money(
                after + tax - price["taxIncludedAmount"]["value"], currency
            ),
            "taxRate": price["taxRate"],
        },
        "@type": "PriceAlteration",
    }
    if discount.duration:
        alteration["applicationDuration"] = discount.duration[0]
    if "recurringChargePeriod" in shown:
        alteration["recurringChargePeriod"] = shown["recurringChargePeriod"]
    total = {
        **shown,
        "price": {
            **price,
            "dutyFreeAmount": _money(after, currency),
            "taxIncludedAmount": _money(after + tax, currency),
        },
        "priceAlteration": [*shown.get("priceAlteration", []), alteration],
    }
    return total


def price_order(order: dict[str, Any], lookup: Lookup, at: datetime) -> None:
    """Write itemPrice, itemTotalPrice and orderTotalPrice from the catalog at `at`."""
    items = all_items(order)
    by_id = {str(item["id"]): item for item in items}
    in_effect: dict[str, list[PriceInEffect]] = {}
    for item in items:
        offering_id = (item.get("productOffering") or {}).get("id")
        if item.get("action") in (ADD, MODIFY) and offering_id:
            in_effect[str(item["id"])] = prices_in_effect(lookup, str(offering_id), at)
    discounts = _discounts_by_target(order, by_id, in_effect)
    for item in items:
        item_id = str(item["id"])
        charged = [p for p in in_effect.get(item_id, []) if p.price_type in CHARGED]
        if item.get("action") == MODIFY:  # a plan change costs no new one-time fee
            charged = [p for p in charged if p.price_type == "recurring"]
        quantity = int(item.get("quantity", 1))
        item["itemPrice"] = [order_price(p, quantity) for p in charged]
        totals = []
        for listed, price in zip(item["itemPrice"], charged, strict=True):
            total = listed
            for discount in discounts.get(item_id, []):
                if price.pop_id in discount.discounts:
                    total = _discounted(total, discount)
            totals.append(total)
        item["itemTotalPrice"] = totals
    order["orderTotalPrice"] = _order_totals(items)


def _discounts_by_target(
    order: Mapping[str, Any],
    by_id: Mapping[str, Mapping[str, Any]],
    in_effect: Mapping[str, list[PriceInEffect]],
) -> dict[str, list[PriceInEffect]]:
    """The discounts each item receives: from its own offering, its bundle's, or a promotion
    item related to it (either direction)."""
    received: dict[str, list[PriceInEffect]] = {}
    for item, parent in walk_items(order.get("productOrderItem")):
        item_id = str(item["id"])
        sources = [item_id] + ([str(parent["id"])] if parent else [])
        related = line_relation(item)
        if related and related[0] == "item":
            sources.append(related[1])
        for other_id, other in by_id.items():
            relation = line_relation(other)
            if relation == ("item", item_id):
                sources.append(other_id)
        for source in dict.fromkeys(sources):
            received.setdefault(item_id, []).extend(
                p for p in in_effect.get(source, []) if p.price_type == "discount"
            )
    return received


def _order_totals(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    totals: dict[tuple[str, str | None, str], dict[str, Decimal]] = {}
    for item in items:
        for shown in item.get("itemTotalPrice", []):
            price = shown["price"]
            currency = price["dutyFreeAmount"]["unit"]
            key = (shown["priceType"], shown.get("recurringChargePeriod"), currency)
            sums = totals.setdefault(key, {"dutyFree": Decimal(0), "taxIncluded": Decimal(0)})
            sums["dutyFree"] += price["dutyFreeAmount"]["value"]
            sums["taxIncluded"] += price["taxIncludedAmount"]["value"]
    result = []
    for (price_type, period, currency), sums in totals.items():
        total: dict[str, Any] = {
            "name": f"Total {price_type}" + (f" per {period}" if period else ""),
            "priceType": price_type,
            "price": {
                "dutyFreeAmount": _money(sums["dutyFree"], currency),
                "taxIncludedAmount": _money(sums["taxIncluded"], currency),
            },
            "@type": "OrderPrice",
        }
        if period:
            total["recurringChargePeriod"] = period
        result.append(total)
    return result
