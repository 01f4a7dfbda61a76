"""What a billing account owes: the lines of its bills, computed from its products' history,
its rated usage and what earlier bills already charged.

The rules (also in openapi/bill.yaml):

- **Periods.** An account's bill periods are its cycle's (domain/account.py), in its time
  zone. The bill for period P is made once P has begun. It charges recurring prices in
  advance for P, and settles every earlier period back to the one the previous bill was for:
  what the products' history now says was owed for them, minus what bills already charged.
  A plan change, suspension or termination after a bill thus comes back as an adjustment
  (a charge or a credit) on the next bill, and a rerun finds nothing left to charge.
- **Days.** Recurring monthly prices are prorated by day: amount x charged days / days in
  the period. Days are the account's local days. A day is charged at the state the product
  is in at the end of it: the day of activation is charged, a day the product spends
  suspended at its end is not, and a plan change counts from the day it happens. The day of
  termination is charged at the state before it.
- **Other recurring periods** ("28 days" and other periods of days or weeks): charged whole
  for each of their periods, counted from activation, that starts in the bill period while
  the product is billable.
- **One-time prices**: once, in the period the product became billable with them
  (activation fee).
- **Discounts** (the alterations recorded on a recurring price at sale, amount per period):
  prorated over the days their price is charged, for `applicationDuration` months from
  activation, or while the price lasts when they have no duration. Each is a line of its
  own after its price, in the order they were applied at sale.
- **Usage**: the out-of-bundle charges rated into each closed period (the product's usage
  consumption balance), minus what bills already charged for it; usage rated late into a
  period already billed is charged on the next bill. An on-demand (interim) bill also
  charges the usage of the open period so far.
- **Money.** Every line is rounded half up to the currency's minor unit; so is its tax
  (line amount x the account's VAT rate). Usage lines carry the VAT rated per record. The
  bill's totals are the sums of its lines, its tax items the sums per rate.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from domain.account import AccountTerms, Cycle
from domain.instants import format_instant, parse_instant
from domain.money import money_value, round_money

RECURRING, ONE_TIME, USAGE, DISCOUNT = "recurring", "oneTime", "usage", "discount"
BILLABLE = frozenset({"active", "pendingTerminate"})
NAMESPACE = uuid.UUID("6f0b8e1e-7c1a-4c55-9d43-2f4b1b7d9a10")
MONTH = "month"


@dataclass(frozen=True)
class Alteration:
    """A discount recorded on a price at sale: `amount` per period (negative)."""

    pop_id: str
    name: str
    amount: Decimal
    months: int | None  # how long from activation; None: while the price lasts


@dataclass(frozen=True)
class Price:
    pop_id: str
    name: str
    price_type: str  # recurring | oneTime
    period: str | None  # "month", "28 days", ...
    amount: Decimal  # tax excluded, per period for a recurring price
    alterations: tuple[Alteration, ...] = ()


@dataclass(frozen=True)
class Span:
    """A state of a product, from `start` until the next one."""

    start: datetime
    billable: bool
    prices: tuple[Price, ...]


@dataclass(frozen=True)
class ProductLife:
    product_id: str
    name: str
    spans: tuple[Span, ...]  # oldest first
    end: datetime | None = None  # termination

    @property
    def activation(self) -> datetime | None:
        return next((span.start for span in self.spans if span.billable), None)

    def state_before(self, moment: datetime) -> Span | None:
        """The state in effect just before `moment`: the last one started before it."""
        found = None
        for span in self.spans:
            if span.start >= moment:
                break
            found = span
        return found


@dataclass(frozen=True)
class Amounts:
    tax_excluded: Decimal
    tax: Decimal

    @property
    def tax_included(self) -> Decimal:
        return self.tax_excluded + self.tax


# What a line charges: product id, type, price key, start of the period it covers.
ChargeKey = tuple[str, str, str, datetime]


@dataclass(frozen=True)
class Line:
    product_id: str
    product_name: str
    kind: str
    key: str  # the price it charges (pop id; "price>discount" for a discount; "usage")
    name: str
    coverage: tuple[datetime, datetime]
    amounts: Amounts
    tax_rate: Decimal
    adjustment: bool  # settles an amount an earlier bill charged
    days: int | None = None  # charged days (prorated recurring prices and discounts)
    days_in_period: int | None = None

    @property
    def charge_key(self) -> ChargeKey:
        return (self.product_id, self.kind, self.key, self.coverage[0])


@dataclass(frozen=True)
class Owed:
    """What a product owes for one key of one period, before earlier bills are deducted."""

    name: str
    tax_excluded: Decimal
    tax_included: Decimal | None = None  # usage: as rated; others: from the account's rate
    days: int | None = None
    days_in_period: int | None = None


# products -------------------------------------------------------------------------------


def product_life(product: Mapping[str, Any]) -> ProductLife:
    """A stored product's billable history: its productHistory, or for a product stored
    before there was one, its current state since its start date."""
    history = product.get("productHistory") or [
        {
            "validFor": {"startDateTime": product.get("startDate") or product.get("orderDate")},
            "status": "active" if product.get("status") == "terminated" else product.get("status"),
            "productPrice": product.get("productPrice") or [],
        }
    ]
    spans = tuple(
        Span(
            start=parse_instant(entry["validFor"]["startDateTime"]),
            billable=entry.get("status") in BILLABLE,
            prices=tuple(_prices(entry.get("productPrice") or [])),
        )
        for entry in history
        if (entry.get("validFor") or {}).get("startDateTime")
    )
    end = product.get("terminationDate")
    return ProductLife(
        product_id=str(product["id"]),
        name=str(product.get("name") or product["id"]),
        spans=spans,
        end=parse_instant(end) if end else None,
    )


def _prices(prices: Iterable[Mapping[str, Any]]) -> Iterator[Price]:
    for price in prices:
        kind = price.get("priceType")
        if kind not in (RECURRING, ONE_TIME):
            continue
        amount = money_value((price.get("price") or {}).get("dutyFreeAmount"), "price")
        if amount is None:
            continue
        pop = price.get("productOfferingPrice") or {}
        yield Price(
            pop_id=str(pop.get("id") or price.get("name")),
            name=str(price.get("name") or pop.get("name") or pop.get("id")),
            price_type=str(kind),
            period=price.get("recurringChargePeriod"),
            amount=amount[0],
            alterations=tuple(_alterations(price.get("productPriceAlteration") or [])),
        )


def _alterations(alterations: Iterable[Mapping[str, Any]]) -> Iterator[Alteration]:
    for alteration in alterations:
        amount = money_value((alteration.get("price") or {}).get("dutyFreeAmount"), "alteration")
        if amount is None:
            continue
        pop = alteration.get("productOfferingPrice") or {}
        duration = alteration.get("applicationDuration")
        yield Alteration(
            pop_id=str(pop.get("id") or alteration.get("name")),
            name=str(alteration.get("name") or pop.get("name") or "discount"),
            amount=amount[0],
            months=int(duration) if duration else None,
        )


# periods and days -----------------------------------------------------------------------

Period = tuple[datetime, datetime]


def periods_from(cycle: Cycle, first: datetime, last: Period) -> list[Period]:
    """The bill periods from the one holding `first` to `last`, oldest first."""
    if first >= last[0]:
        return [last]
    periods = [cycle.period(first)]
    while periods[-1][1] < last[1]:
        periods.append(cycle.period(periods[-1][1]))
    return periods


def _days(period: Period, cycle: Cycle) -> list[tuple[date, datetime, datetime]]:
    """The local days of a period: (date, its start, its end) with instants in UTC."""
    first = period[0].astimezone(cycle.zone).date()
    last = period[1].astimezone(cycle.zone).date()
    days = []
    for offset in range((last - first).days):
        day = first + timedelta(days=offset)
        days.append((day, _midnight(day, cycle), _midnight(day + timedelta(days=1), cycle)))
    return days


def _midnight(day: date, cycle: Cycle) -> datetime:
    return datetime.combine(day, time(0), tzinfo=cycle.zone).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    next_first = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_first - timedelta(days=1)).day))


def _window(period: str) -> timedelta | None:
    """The length of a recurring period of days or weeks ("28 days", "week"); None for a
    month, which is prorated over the bill period."""
    words = period.split()
    count = int(words[0]) if len(words) == 2 and words[0].isdigit() else 1
    unit = words[-1].rstrip("s")
    if unit == "day":
        return timedelta(days=count)
    if unit == "week":
        return timedelta(weeks=count)
    return None


# what is owed ---------------------------------------------------------------------------


def owed_for(life: ProductLife, period: Period, cycle: Cycle) -> dict[tuple[str, str], Owed]:
    """The recurring, one-time and discount amounts a product owes for one period, by
    (type, price key), unrounded."""
    owed: dict[tuple[str, str], Owed] = {}
    activation = life.activation
    if activation is None:
        return owed
    days = _days(period, cycle)
    discount_end = {
        alteration.pop_id: _midnight(add_months(_local_date(activation, cycle), m), cycle)
        for span in life.spans
        for price in span.prices
        for alteration in price.alterations
        if (m := alteration.months) is not None
    }
    sums: dict[tuple[str, str], list[Any]] = defaultdict(lambda: ["", Decimal(0), 0])
    for _, day_start, day_end in days:
        moment = day_end
        if life.end is not None:
            if life.end <= day_start:
                break
            moment = min(day_end, life.end)
        span = life.state_before(moment)
        if span is None or not span.billable:
            continue
        for price in span.prices:
            if price.price_type != RECURRING or _window(price.period or MONTH) is not None:
                continue
            _add(sums, (RECURRING, price.pop_id), price.name, price.amount)
            for alteration in price.alterations:
                ends = discount_end.get(alteration.pop_id)
                if ends is None or day_start < ends:
                    key = (DISCOUNT, f"{price.pop_id}>{alteration.pop_id}")
                    _add(sums, key, alteration.name, alteration.amount)
    for key, (name, total, count) in sums.items():
        owed[key] = Owed(name, total / len(days), days=count, days_in_period=len(days))
    for name, key, amount in _windowed(life, period):
        previous = owed.get(key)
        owed[key] = Owed(name, amount + (previous.tax_excluded if previous else Decimal(0)))
    for price in _one_time(life, period):
        owed[(ONE_TIME, price.pop_id)] = Owed(price.name, price.amount)
    return owed


def _add(
    sums: dict[tuple[str, str], list[Any]], key: tuple[str, str], name: str, amount: Decimal
) -> None:
    entry = sums[key]
    entry[0] = entry[0] or name
    entry[1] += amount
    entry[2] += 1


def _local_date(moment: datetime, cycle: Cycle) -> date:
    return moment.astimezone(cycle.zone).date()


def _windowed(life: ProductLife, period: Period) -> Iterator[tuple[str, tuple[str, str], Decimal]]:
    """Prices of periods of days: each of their periods starting in `period` while the
    product is billable with the price is charged whole."""
    activation = life.activation
    assert activation is not None
    for pop_id, length in {
        (price.pop_id, window)
        for span in life.spans
        for price in span.prices
        if price.price_type == RECURRING and (window := _window(price.period or MONTH))
    }:
        start = activation
        if start < period[0]:
            start += length * ((period[0] - start) // length)
            if start < period[0]:
                start += length
        while start < period[1] and (life.end is None or start < life.end):
            span = life.state_before(start + timedelta(microseconds=1))
            price = next((p for p in span.prices if p.pop_id == pop_id), None) if span else None
            if span is not None and span.billable and price is not None:
                yield price.name, (RECURRING, pop_id), price.amount
            start += length


def _one_time(life: ProductLife, period: Period) -> Iterator[Price]:
    """One-time prices of the product that became billable inside `period`: each price
    when it first appears in a billable state."""
    seen: set[str] = set()
    for span in life.spans:
        if not span.billable:
            continue
        for price in span.prices:
            if price.price_type != ONE_TIME or price.pop_id in seen:
                continue
            seen.add(price.pop_id)
            if period[0] <= span.start < period[1]:
                yield price


# the lines of a bill --------------------------------------------------------------------


@dataclass(frozen=True)
class UsageCharge:
    """The out-of-bundle charge rated into a product's period (its balance)."""

    product_id: str
    product_name: str
    period_start: datetime
    tax_excluded: Decimal
    tax_included: Decimal


def bill_lines(
    terms: AccountTerms,
    periods: Sequence[Period],
    products: Sequence[ProductLife],
    usage: Sequence[UsageCharge],
    charged: Mapping[ChargeKey, Amounts],
    *,
    interim: bool = False,
) -> list[Line]:
    """The lines still to charge for `periods` (oldest first, the bill's own last): what is
    owed minus what `charged` (the lines of earlier bills for those periods) already
    charged. The usage of the bill's own period is still open and left for the next bill,
    unless the bill is `interim` (on demand), which charges usage only, the open period's
    so far included."""
    currency, rate = terms.currency, terms.vat_rate
    by_start = {period[0]: period for period in periods}
    settled = set(by_start) if interim else {period[0] for period in periods[:-1]}
    owed: dict[ChargeKey, Owed] = {}
    names = {life.product_id: life.name for life in products}
    if not interim:
        for life in products:
            for period in periods:
                for (kind, price_key), amount in owed_for(life, period, terms.cycle).items():
                    owed[(life.product_id, kind, price_key, period[0])] = amount
    for charge in usage:
        if charge.period_start in settled:
            names.setdefault(charge.product_id, charge.product_name)
            usage_key = (charge.product_id, USAGE, USAGE, charge.period_start)
            owed[usage_key] = Owed("Usage", charge.tax_excluded, charge.tax_included)
    # what earlier bills charged for what this bill settles
    counted = {
        key
        for key in charged
        if (key[3] in settled if key[1] == USAGE else key[3] in by_start and not interim)
    }
    lines = []
    for key in sorted(owed.keys() | counted, key=_line_order):
        product_id, kind, price_key, start = key
        due = owed.get(key)
        before = charged.get(key)
        excluded = round_money(due.tax_excluded, currency) if due else Decimal(0)
        if due is not None and due.tax_included is not None:
            tax = round_money(due.tax_included, currency) - excluded
        else:
            tax = round_money(excluded * rate / 100, currency)
        if before is not None:
            excluded, tax = excluded - before.tax_excluded, tax - before.tax
        if excluded == 0 and tax == 0:
            continue
        lines.append(
            Line(
                product_id=product_id,
                product_name=names.get(product_id, product_id),
                kind=kind,
                key=price_key,
                name=due.name if due else _name_of_key(price_key),
                coverage=by_start[start],
                amounts=Amounts(excluded, tax),
                tax_rate=rate,  # usage too: it was rated at the account's rate, per record
                adjustment=before is not None,
                days=due.days if due else None,
                days_in_period=due.days_in_period if due else None,
            )
        )
    return lines


def _line_order(key: ChargeKey) -> tuple[Any, ...]:
    product_id, kind, price_key, start = key
    order = {RECURRING: 0, DISCOUNT: 1, ONE_TIME: 2, USAGE: 3}[kind]
    # a discount right after its price: "price>discount" sorts after "price"
    return (product_id, start, order if kind != DISCOUNT else 0, price_key, order)


def _name_of_key(key: str) -> str:
    return key.split(">")[-1]


@dataclass(frozen=True)
class Totals:
    tax_excluded: Decimal
    tax: Decimal
    by_rate: tuple[tuple[Decimal, Decimal], ...]  # (rate, tax) per rate

    @property
    def tax_included(self) -> Decimal:
        return self.tax_excluded + self.tax


def totals(lines: Sequence[Line], currency: str) -> Totals:
    zero = round_money(Decimal(0), currency)
    by_rate: dict[Decimal, Decimal] = defaultdict(lambda: zero)
    for line in lines:
        by_rate[line.tax_rate] += line.amounts.tax
    return Totals(
        tax_excluded=sum((line.amounts.tax_excluded for line in lines), zero),
        tax=sum((line.amounts.tax for line in lines), zero),
        by_rate=tuple(sorted(by_rate.items())),
    )


# the TMF678 resources -------------------------------------------------------------------


def regular_bill_id(account_id: str, period: Period) -> str:
    """One bill per account and period: its id says which, so a rerun finds it."""
    return str(uuid.uuid5(NAMESPACE, f"{account_id}/{format_instant(period[0])}"))


def rate_id(bill_id: str, position: int) -> str:
    """A bill's lines are numbered after it: they list in the bill's order."""
    return f"{bill_id}-{position + 1:03d}"


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"unit": currency, "value": amount}


@dataclass(frozen=True)
class BillDraft:
    """A bill and its lines as they will be stored, all but its billNo."""

    bill: dict[str, Any]
    rates: list[dict[str, Any]]


def draft_bill(
    *,
    bill_id: str,
    terms: AccountTerms,
    customer: Mapping[str, Any] | None,
    period: Period,
    lines: Sequence[Line],
    at: datetime,
    interim: bool = False,
    payment_method: Mapping[str, Any] | None = None,
) -> BillDraft:
    """The CustomerBill (state new, nothing paid) and AppliedCustomerBillingRates of
    `lines`. Dates: billDate `at`; payment due `payment_due_days` later; next bill at the
    period's end (the next period's start)."""
    currency = terms.currency
    total = totals(lines, currency)
    bill_date = format_instant(at)
    account_ref = {**terms.ref}
    bill: dict[str, Any] = {
        "id": bill_id,
        "billDate": bill_date,
        "lastUpdate": bill_date,
        "billingPeriod": {
            "startDateTime": format_instant(period[0]),
            "endDateTime": format_instant(at if interim else period[1]),
        },
        "paymentDueDate": format_instant(at + timedelta(days=terms.payment_due_days)),
        "nextBillDate": format_instant(period[1]),
        "runType": "offCycle" if interim else "onCycle",
        "category": "interim" if interim else "normal",
        "state": "new",
        "amountDue": _money(total.tax_included, currency),
        "remainingAmount": _money(total.tax_included, currency),
        "taxExcludedAmount": _money(total.tax_excluded, currency),
        "taxIncludedAmount": _money(total.tax_included, currency),
        "taxItem": [
            {"taxCategory": "VAT", "taxRate": rate, "taxAmount": _money(tax, currency)}
            for rate, tax in total.by_rate
        ],
        "billingAccount": account_ref,
        "appliedPayment": [],
        "@type": "CustomerBill",
    }
    if customer is not None:
        bill["relatedParty"] = [
            {
                "id": customer["id"],
                "name": customer.get("name", ""),
                "role": "customer",
                "@referredType": "Customer",
            }
        ]
    if payment_method:
        bill["paymentMethod"] = dict(payment_method)
    bill_ref = {"id": bill_id, "@referredType": "CustomerBill"}
    rates = [
        {"id": rate_id(bill_id, n), **_rate(bill_ref, account_ref, line, bill_date, currency)}
        for n, line in enumerate(lines)
    ]
    return BillDraft(bill, rates)


def _rate(
    bill_ref: dict[str, Any],
    account_ref: dict[str, Any],
    line: Line,
    bill_date: str,
    currency: str,
) -> dict[str, Any]:
    characteristic: list[dict[str, Any]] = [
        {"name": "chargeKey", "value": line.key, "valueType": "string"}
    ]
    if line.days is not None:
        characteristic += [
            {"name": "chargedDays", "value": line.days, "valueType": "integer"},
            {"name": "daysInPeriod", "value": line.days_in_period, "valueType": "integer"},
        ]
    description = line.name
    if line.days is not None and line.days != line.days_in_period:
        description += f", {line.days} of {line.days_in_period} days"
    if line.adjustment:
        description += " (adjustment of an earlier bill)"
    return {
        "name": line.name,
        "description": description,
        "date": bill_date,
        "type": line.kind,
        "isBilled": True,
        "bill": bill_ref,
        "billingAccount": account_ref,
        "product": {"id": line.product_id, "name": line.product_name, "@referredType": "Product"},
        "periodCoverage": {
            "startDateTime": format_instant(line.coverage[0]),
            "endDateTime": format_instant(line.coverage[1]),
        },
        "taxExcludedAmount": _money(line.amounts.tax_excluded, currency),
        "taxIncludedAmount": _money(line.amounts.tax_included, currency),
        "appliedTax": [
            {
                "taxCategory": "VAT",
                "taxRate": line.tax_rate,
                "taxAmount": _money(line.amounts.tax, currency),
            }
        ],
        "characteristic": characteristic,
        "@type": "AppliedCustomerBillingRate",
    }


def charged_by(rates: Iterable[Mapping[str, Any]]) -> dict[ChargeKey, Amounts]:
    """What stored AppliedCustomerBillingRates charged, summed by what they charge."""
    charged: dict[ChargeKey, Amounts] = {}
    for rate in rates:
        key_value = next(
            (c["value"] for c in rate.get("characteristic") or [] if c.get("name") == "chargeKey"),
            None,
        )
        if key_value is None:
            continue
        key = (
            str(rate["product"]["id"]),
            str(rate["type"]),
            str(key_value),
            parse_instant(rate["periodCoverage"]["startDateTime"]),
        )
        excluded = money_value(rate["taxExcludedAmount"], "taxExcludedAmount")
        included = money_value(rate["taxIncludedAmount"], "taxIncludedAmount")
        assert excluded is not None and included is not None
        before = charged.get(key, Amounts(Decimal(0), Decimal(0)))
        charged[key] = Amounts(
            before.tax_excluded + excluded[0], before.tax + included[0] - excluded[0]
        )
    return charged
