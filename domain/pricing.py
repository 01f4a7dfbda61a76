"""Prices in effect: what an offering costs at an instant, as ordering and billing read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.catalog import IN_USE, LAUNCHED
from domain.errors import NotFound, Unprocessable
from domain.instants import format_instant, parse_instant
from domain.money import money_value, round_money, to_decimal
from domain.resource import Lookup

MAX_BUNDLE_DEPTH = 5


class NotSellable(Unprocessable):
    code = "ERR_NOT_SELLABLE"
    reason = "Offering cannot be sold"


@dataclass(frozen=True)
class PriceInEffect:
    pop_id: str
    name: str
    price_type: str
    currency: str | None
    amount: Decimal | None  # tax excluded, per period or per unit step
    tax_rate: Decimal  # sum of the VAT items' rates, in percent
    tax_amount: Decimal
    period_type: str | None = None
    period_length: int | None = None
    unit_amount: Decimal | None = None
    units: str | None = None
    percentage: Decimal | None = None
    zones: tuple[str, ...] = ()
    discounts: tuple[str, ...] = ()  # POP ids a discount reduces
    duration: tuple[int, str] | None = None  # how long a discount applies (3, "month")

    @property
    def tax_included(self) -> Decimal | None:
        return None if self.amount is None else self.amount + self.tax_amount


def in_period(valid_for: Mapping[str, Any] | None, at: datetime) -> bool:
    valid_for = valid_for or {}
    start, end = valid_for.get("startDateTime"), valid_for.get("endDateTime")
    return (not start or parse_instant(start) <= at) and (not end or at < parse_instant(end))


def check_sellable(offering: Mapping[str, Any], at: datetime) -> None:
    name = f"offering {offering['id']}"
    if offering.get("lifecycleStatus") != LAUNCHED:
        raise NotSellable(f"{name} is {offering.get('lifecycleStatus')}, not Launched")
    if offering.get("isSellable") is False:
        raise NotSellable(f"{name} is not sellable on its own")
    if not in_period(offering.get("validFor"), at):
        raise NotSellable(f"{name} is not valid at {format_instant(at)}")


def prices_in_effect(
    lookup: Lookup, offering_id: str, at: datetime, *, sellable_only: bool = True
) -> list[PriceInEffect]:
    """The offering's prices valid at `at`, bundled prices expanded; refuses unsellable ones
    unless `sellable_only` is False (the prices of something already sold)."""
    offering = lookup.get("productOffering", offering_id)
    if offering is None:
        raise NotFound(f"ProductOffering with id '{offering_id}' does not exist")
    if sellable_only:
        check_sellable(offering, at)
    prices: list[PriceInEffect] = []
    for ref in offering.get("productOfferingPrice") or []:
        prices.extend(_expand(lookup, ref["id"], at, depth=0))
    return prices


def _expand(lookup: Lookup, pop_id: str, at: datetime, depth: int) -> list[PriceInEffect]:
    pop = lookup.get("productOfferingPrice", pop_id)
    if pop is None or depth > MAX_BUNDLE_DEPTH:
        raise Unprocessable(f"price {pop_id} cannot be resolved")
    if pop.get("lifecycleStatus") not in IN_USE or not in_period(pop.get("validFor"), at):
        return []
    if pop.get("isBundle"):
        parts = pop.get("bundledPopRelationship") or []
        return [price for ref in parts for price in _expand(lookup, ref["id"], at, depth + 1)]
    return [price_of(pop)]


def price_of(pop: Mapping[str, Any]) -> PriceInEffect:
    money = money_value(pop.get("price"), "price")
    amount, currency = money if money else (None, None)
    tax_rate, tax_amount = Decimal(0), Decimal(0)
    for item in pop.get("tax") or []:
        tax_rate += to_decimal(item["taxRate"], "taxRate")
        tax = money_value(item.get("taxAmount"), "taxAmount")
        tax_amount += tax[0] if tax else Decimal(0)
    if amount is not None and currency is not None and not pop.get("tax"):
        tax_amount = round_money(Decimal(0), currency)
    unit = pop.get("unitOfMeasure") or {}
    term = (pop.get("productOfferingTerm") or [{}])[0].get("duration") or {}
    percentage = pop.get("percentage")
    return PriceInEffect(
        pop_id=pop["id"],
        name=pop.get("name", ""),
        price_type=pop.get("priceType", ""),
        currency=currency,
        amount=amount,
        tax_rate=tax_rate,
        tax_amount=tax_amount,
        period_type=pop.get("recurringChargePeriodType"),
        period_length=pop.get("recurringChargePeriodLength"),
        unit_amount=to_decimal(unit["amount"], "unitOfMeasure.amount") if unit else None,
        units=unit.get("units"),
        percentage=to_decimal(percentage, "percentage") if percentage is not None else None,
        zones=tuple(place["id"] for place in pop.get("place") or [] if place.get("id")),
        discounts=tuple(
            rel["id"]
            for rel in pop.get("popRelationship") or []
            if rel.get("relationshipType") == "discounts"
        ),
        duration=(int(term["amount"]), str(term["units"])) if term.get("amount") else None,
    )
