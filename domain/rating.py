"""Rating: a usage record becomes allowance consumed and out-of-bundle charges, exactly once.

The rules (also in the usage API's description):
- The subscriber is the line product whose MSISDN realizing resource is the record's number at
  the record's instant (startDate <= usageDate < terminationDate): numbers move between
  subscribers, so the holder at the time counts, not today's.
- A record belongs wholly to the period its usageDate falls in (mediation splits long
  sessions into partial records, as 3GPP charging does).
- Zones by visited country: home (IE), EU/EEA (roam like at home: home allowances and home
  prices), rest of world (its own prices, no home allowance).
- Allowances are consumed before anything is charged: zone-specific packs first (the EU
  roaming pack in the EU), then the other add-ons, the one whose period ends first first,
  then the plan's. A voice call from home to a non-Irish number uses international minutes
  (an international pack), and beyond them the rest-of-world voice price.
- Units: data in bytes, 1 MB = 1,048,576 bytes (the catalog's GB is 1024 MB); the chargeable
  part of a record is charged per started MB. Voice: the first minute is charged whole, then
  per second (60/1); allowances are consumed in those charged seconds. SMS per message.
- Amounts: each rated entry is rounded half up to the currency's minor unit; its tax is the
  account's VAT rate on that rounded amount, rounded the same way. Prices are the ones
  frozen on the product at sale (productPrice), not today's catalog.
- Allowance periods: a product with a monthly recurring price counts per bill period of its
  billing account (cycle day, account time zone); one recurring every N days counts per N
  days from its start; a one-off product with a term (a top-up) for its term from its start.
- Bill shock: passing 80 % and 100 % of a bucket, or of the account's out-of-bundle spend cap
  (tax included, per line and bill period), raises an alert once. With barAtSpendCap, a
  record with a chargeable part is rejected once the cap is reached; what fits in an
  allowance still passes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from domain.account import AccountTerms
from domain.instants import format_instant, parse_instant
from domain.inventory import ACTIVE, MSISDN, SUSPENDED, TERMINATED, characteristic, realizing
from domain.money import round_money
from domain.usage import DATA, QUANTITY, RATED, REJECTED, SMS, VOICE, UsageRecord, consumption_id

MB = 1024 * 1024
HOME, EU, ROW = "zone-home", "zone-eu", "zone-row"
HOME_PREFIX = "+353"
EU_EEA = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO",
})  # fmt: skip
THRESHOLDS = (80, 100)
PRICE_UNITS = {DATA: "MB", VOICE: "MIN", SMS: "SMS"}
# the out-of-bundle totals of a line and the rated entry amounts they add up
TOTALS = (
    ("dutyFreeAmount", "taxExcludedRatingAmount"),
    ("taxIncludedAmount", "taxIncludedRatingAmount"),
)


@dataclass(frozen=True)
class AllowanceKind:
    label: str
    usage_type: str
    unit: int  # native units per characteristic unit (bytes per MB, seconds per minute)
    zones: frozenset[str] | None  # None: the product's roamingZone
    international: bool = False


ALLOWANCES = {
    "includedDataMB": AllowanceKind("data", DATA, MB, frozenset({HOME, EU})),
    "includedRoamingDataMB": AllowanceKind("roaming data", DATA, MB, None),
    "includedVoiceMinutes": AllowanceKind("minutes", VOICE, 60, frozenset({HOME, EU})),
    "includedSms": AllowanceKind("texts", SMS, 1, frozenset({HOME, EU})),
    "includedInternationalMinutes": AllowanceKind(
        "international minutes", VOICE, 60, frozenset({HOME}), international=True
    ),
}


class RatingDirectory(Protocol):
    """What rating reads: products, accounts and catalog prices."""

    def lines(self, msisdn: str) -> Sequence[Mapping[str, Any]]:
        """Every product ever realized by the number (any status)."""

    def add_ons(self, line_id: str) -> Sequence[Mapping[str, Any]]:
        """Every product related to the line (productRelationship), any status."""

    def account(self, account_id: str) -> AccountTerms | None: ...

    def price(self, pop_id: str) -> Mapping[str, Any] | None:
        """The catalog's productOfferingPrice (for its zone and unit)."""


class ConsumptionBook(Protocol):
    """The usageConsumption documents (balances) rating reads and changes."""

    def get(self, consumption_id: str) -> dict[str, Any] | None: ...

    def put(self, consumption: dict[str, Any]) -> None:
        """Records a new or changed document (written with the rated records)."""


@dataclass
class Rating:
    status: str  # rated or rejected
    reason: str | None = None
    rated: list[dict[str, Any]] = field(default_factory=list)  # ratedProductUsage
    party: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


Alert = tuple[dict[str, Any], dict[str, Any]]  # (the usageConsumption, the alert added to it)


class Rejected(Exception):
    """The record cannot be rated; the reason is kept on it."""


def zone_of(country: str) -> str:
    if country == "IE":
        return HOME
    return EU if country in EU_EEA else ROW


def is_international(record: UsageRecord) -> bool:
    return (
        record.usage_type == VOICE
        and zone_of(record.country) == HOME
        and record.called is not None
        and not record.called.startswith(HOME_PREFIX)
    )


@dataclass
class _Bucket:
    consumption: dict[str, Any]
    bucket: dict[str, Any]
    provider: Mapping[str, Any]

    @property
    def remaining(self) -> int:
        return int(self.bucket["remainingValue"]["amount"])


class Rater:
    def __init__(
        self,
        directory: RatingDirectory,
        book: ConsumptionBook,
        now: Callable[[], datetime],
    ) -> None:
        self._directory = directory
        self._book = book
        self._now = now

    def rate(self, record: UsageRecord, usage_id: str) -> Rating:
        try:
            return self._rate(record, usage_id)
        except Rejected as rejection:
            return Rating(REJECTED, str(rejection))

    def _rate(self, record: UsageRecord, usage_id: str) -> Rating:
        line = self._holder(record)
        terms = self._terms(line)
        zone, international = zone_of(record.country), is_international(record)
        quantity = charged_quantity(record)
        line_doc = self._consumption(line, line, terms, record)
        _apply_cap(line_doc, terms)
        buckets = self._buckets(line, terms, record, zone, international, line_doc)
        takes, rest = [], quantity
        for bucket in buckets:
            take = min(rest, bucket.remaining)
            if take > 0:
                takes.append((bucket, take))
                rest -= take
        price = self._price(line, record.usage_type, ROW if international else zone)
        if rest and price is None:
            kind = "international voice" if international else f"{record.usage_type} in {zone}"
            raise Rejected(f"product {line['id']} has no usage price for {kind}")
        if rest and price is not None:
            currency = str(price["price"]["dutyFreeAmount"]["unit"])
            if currency != terms.currency:  # checked before anything is consumed
                raise Rejected(
                    f"product {line['id']} is priced in {currency}, its account in {terms.currency}"
                )
        if rest and line_doc.get("barred"):
            cap = line_doc["spendCap"]
            raise Rejected(
                f"out-of-bundle spend cap of {cap['value']} {cap['unit']} reached for the period "
                f"from {line_doc['validFor']['startDateTime']}: chargeable usage is barred"
            )
        now = format_instant(self._now())
        rating = Rating(RATED, party=_customer(line))
        context = _Context(record, usage_id, terms, zone, now, price)
        for bucket, take in takes:
            rating.rated.append(context.allowance_entry(bucket, take))
            rating.alerts += _consume(bucket, take, context)
        if rest:
            spent = Decimal(line_doc["outOfBundleCharge"]["taxIncludedAmount"]["value"])
            rating.rated.append(context.charge_entry(line, line_doc, rest))
            rating.alerts += _spend(line_doc, spent, context)
        touched = {id(bucket.consumption): bucket.consumption for bucket, _ in takes}
        touched[id(line_doc)] = line_doc
        for doc in touched.values():
            doc["lastUsageDate"] = max(doc.get("lastUsageDate") or "", format_instant(record.at))
            self._book.put(doc)
        return rating

    # who ------------------------------------------------------------------------------

    def _holder(self, record: UsageRecord) -> Mapping[str, Any]:
        lines = self._directory.lines(record.msisdn)
        if not lines:
            raise Rejected(f"unknown MSISDN {record.msisdn}: no product has ever used it")
        held = [line for line in lines if _in_service_at(line, record.at)]
        if not held:
            raise Rejected(f"no product held {record.msisdn} at {format_instant(record.at)}")
        line = max(held, key=lambda product: str(product.get("startDate")))
        status = line.get("status")
        if status == SUSPENDED:
            raise Rejected(f"product {line['id']} of {record.msisdn} is suspended")
        if status not in (ACTIVE, TERMINATED):
            raise Rejected(f"product {line['id']} of {record.msisdn} is {status}, not active")
        return line

    def _terms(self, line: Mapping[str, Any]) -> AccountTerms:
        account_id = (line.get("billingAccount") or {}).get("id")
        if not account_id:
            raise Rejected(f"product {line['id']} has no billing account")
        terms = self._directory.account(str(account_id))
        if terms is None:
            raise Rejected(f"billing account {account_id} of product {line['id']} does not exist")
        return terms

    # allowances ---------------------------------------------------------------------------

    def _buckets(
        self,
        line: Mapping[str, Any],
        terms: AccountTerms,
        record: UsageRecord,
        zone: str,
        international: bool,
        line_doc: dict[str, Any],
    ) -> list[_Bucket]:
        add_ons = [
            product
            for product in self._directory.add_ons(str(line["id"]))
            if _in_service_at(product, record.at) and product.get("status") in (ACTIVE, TERMINATED)
        ]
        found: list[tuple[tuple[int, str, str], _Bucket]] = []
        for provider in [*add_ons, line]:
            doc = line_doc if provider is line else self._consumption(provider, line, terms, record)
            if record.at >= _instant(doc["validFor"]["endDateTime"]):
                continue  # a top-up past its term: its product stays, its allowance expired
            for bucket in doc["bucket"]:
                zones = set(bucket.get("zone") or ())
                if (
                    bucket["usageType"] != record.usage_type
                    or zone not in zones
                    or bool(bucket.get("isInternational")) != international
                ):
                    continue
                rank = 2 if provider is line else (0 if HOME not in zones else 1)
                key = (rank, doc["validFor"]["endDateTime"], str(provider["id"]))
                found.append((key, _Bucket(doc, bucket, provider)))
        return [bucket for _, bucket in sorted(found, key=lambda pair: pair[0])]

    def _consumption(
        self,
        provider: Mapping[str, Any],
        line: Mapping[str, Any],
        terms: AccountTerms,
        record: UsageRecord,
    ) -> dict[str, Any]:
        start, end = allowance_period(provider, terms, record.at)
        doc_id = consumption_id(str(provider["id"]), start)
        doc = self._book.get(doc_id)
        if doc is None:
            doc = new_consumption(doc_id, provider, line, terms, (start, end))
        return doc

    def _price(
        self, line: Mapping[str, Any], usage_type: str, zone: str
    ) -> Mapping[str, Any] | None:
        """The usage price frozen on the line for the type in the zone."""
        units = PRICE_UNITS[usage_type]
        for price in line.get("productPrice") or []:
            if price.get("priceType") != "usage":
                continue
            if str(price.get("unitOfMeasure", "")).split(" ")[-1] != units:
                continue
            pop = self._directory.price(str((price.get("productOfferingPrice") or {}).get("id")))
            zones = {place.get("id") for place in (pop or {}).get("place") or []}
            if zone in zones:
                found: Mapping[str, Any] = price
                return found
        return None


@dataclass(frozen=True)
class _Context:
    record: UsageRecord
    usage_id: str
    terms: AccountTerms
    zone: str
    now: str
    price: Mapping[str, Any] | None

    def _entry(self, provider: Mapping[str, Any], tariff: str, amount: Decimal) -> dict[str, Any]:
        currency = self.terms.currency
        amount = round_money(amount, currency)
        tax = round_money(amount * self.terms.vat_rate / 100, currency)
        return {
            "isBilled": False,
            "isTaxExempt": self.terms.tax_exempt,
            "offerTariffType": tariff,
            "ratingDate": self.now,
            "taxRate": self.terms.vat_rate,
            "usageRatingTag": self.zone,
            "productRef": _ref(provider, "Product"),
            "taxExcludedRatingAmount": {"unit": currency, "value": amount},
            "taxIncludedRatingAmount": {"unit": currency, "value": amount + tax},
            "billingAccount": self.terms.ref,
            "@type": "RatedProductUsage",
        }

    def allowance_entry(self, bucket: _Bucket, take: int) -> dict[str, Any]:
        entry = self._entry(bucket.provider, "allowance", Decimal(0))
        entry["bucket"] = bucket.bucket["name"]
        entry["ratedQuantity"] = _quantity(self.record.usage_type, take)
        entry["billingPeriod"] = dict(bucket.consumption["validFor"])
        if self.price is not None:
            currency = self.terms.currency
            value = round_money(charge(self.record.usage_type, take, self.price), currency)
            entry["bucketValueConvertedInAmount"] = {"unit": currency, "value": value}
        return entry

    def charge_entry(
        self, line: Mapping[str, Any], line_doc: dict[str, Any], rest: int
    ) -> dict[str, Any]:
        price, currency = self.price or {}, self.terms.currency
        entry = self._entry(line, "outOfBundle", charge(self.record.usage_type, rest, price))
        entry["ratedQuantity"] = _quantity(self.record.usage_type, rest)
        entry["chargedQuantity"] = charged_steps(self.record.usage_type, rest, price)
        entry["productOfferingPrice"] = dict(price["productOfferingPrice"])
        entry["billingPeriod"] = dict(line_doc["validFor"])
        total = line_doc["outOfBundleCharge"]
        for key, wire in TOTALS:
            total[key] = {"unit": currency, "value": total[key]["value"] + entry[wire]["value"]}
        return entry


def charged_quantity(record: UsageRecord) -> int:
    """What allowances and prices apply to: voice's first minute counts whole."""
    if record.usage_type == VOICE and record.quantity > 0:
        return max(60, record.quantity)
    return record.quantity


def _unit_step(price: Mapping[str, Any]) -> Decimal:
    amount = str(price.get("unitOfMeasure", "1")).split(" ")[0]
    return Decimal(amount) if amount.replace(".", "", 1).isdigit() else Decimal(1)


def charged_steps(usage_type: str, quantity: int, price: Mapping[str, Any]) -> dict[str, Any]:
    """The billed quantity: started MBs, seconds, messages."""
    if usage_type == DATA:
        return {"amount": math.ceil(quantity / MB), "units": "MB"}
    if usage_type == VOICE:
        return {"amount": quantity, "units": "s"}
    return {"amount": quantity, "units": "SMS"}


def charge(usage_type: str, quantity: int, price: Mapping[str, Any]) -> Decimal:
    """The unrounded tax-excluded charge of `quantity` native units at a usage price."""
    per_step = Decimal(price["price"]["dutyFreeAmount"]["value"]) / _unit_step(price)
    if usage_type == DATA:
        return per_step * math.ceil(quantity / MB)
    if usage_type == VOICE:
        return per_step * quantity / 60
    return per_step * quantity


def _quantity(usage_type: str, amount: int) -> dict[str, Any]:
    return {"amount": amount, "units": QUANTITY[usage_type][1]}


def _consume(bucket: _Bucket, take: int, context: _Context) -> list[Alert]:
    counted = bucket.bucket
    initial = int(counted["initialValue"]["amount"])
    before = int(counted["usedValue"]["amount"])
    after = before + take
    counted["usedValue"] = {**counted["usedValue"], "amount": after}
    counted["remainingValue"] = {**counted["remainingValue"], "amount": initial - after}
    doc = bucket.consumption
    return [
        (doc, _alert(doc, "allowance", threshold, counted["name"], context))
        for threshold in _crossed(Decimal(before), Decimal(after), Decimal(initial))
    ]


def _spend(line_doc: dict[str, Any], before: Decimal, context: _Context) -> list[Alert]:
    """Alerts for the line's out-of-bundle spend passing its cap's thresholds."""
    cap = line_doc.get("spendCap")
    if not cap:
        return []
    spent = Decimal(line_doc["outOfBundleCharge"]["taxIncludedAmount"]["value"])
    alerts = []
    for threshold in _crossed(before, spent, Decimal(cap["value"])):
        alerts.append((line_doc, _alert(line_doc, "spendCap", threshold, None, context)))
        if threshold == 100 and context.terms.bar_at_spend_cap:
            line_doc["barred"] = True
    return alerts


def _apply_cap(line_doc: dict[str, Any], terms: AccountTerms) -> None:
    """The account's spend cap as it is now (it may change within a period): barred while
    the spend has reached it and the account bars at the cap."""
    if terms.spend_cap is None:
        line_doc.pop("spendCap", None)
        line_doc["barred"] = False
        return
    line_doc["spendCap"] = {"unit": terms.currency, "value": terms.spend_cap}
    spent = Decimal(line_doc["outOfBundleCharge"]["taxIncludedAmount"]["value"])
    line_doc["barred"] = terms.bar_at_spend_cap and spent >= terms.spend_cap


def _crossed(before: Decimal, after: Decimal, limit: Decimal) -> list[int]:
    if limit <= 0:
        return []
    return [t for t in THRESHOLDS if before * 100 < limit * t <= after * 100]


def _alert(
    doc: dict[str, Any], kind: str, threshold: int, bucket: str | None, context: _Context
) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "type": kind,
        "threshold": threshold,
        "reachedDate": format_instant(context.record.at),
        "usage": {"id": context.usage_id, "@referredType": "Usage"},
    }
    if bucket:
        alert["bucket"] = bucket
    doc.setdefault("alert", []).append(alert)
    return alert


# periods and documents ----------------------------------------------------------------------


# the same product dates are read for every record of a line
_instant = functools.lru_cache(maxsize=65536)(parse_instant)


def _in_service_at(product: Mapping[str, Any], at: datetime) -> bool:
    start, end = product.get("startDate"), product.get("terminationDate")
    return bool(start) and _instant(str(start)) <= at and (not end or at < _instant(str(end)))


def _add(start: datetime, amount: int, units: str) -> datetime:
    unit = units.rstrip("s")
    if unit == "month":
        index = start.month - 1 + amount
        year, month = start.year + index // 12, index % 12 + 1
        day = min(start.day, _days_in(year, month))
        return start.replace(year=year, month=month, day=day)
    days = {"day": 1, "week": 7, "year": 365}.get(unit, 1)
    return start + timedelta(days=amount * days)


def _days_in(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def allowance_period(
    product: Mapping[str, Any], terms: AccountTerms, at: datetime
) -> tuple[datetime, datetime]:
    """The period the product's allowances count over at `at` (see the module rules)."""
    start = _instant(str(product["startDate"]))
    for price in product.get("productPrice") or []:
        if price.get("priceType") != "recurring":
            continue
        period = str(price.get("recurringChargePeriod") or "month").split(" ")
        amount, units = (1, period[0]) if len(period) == 1 else (int(period[0]), period[1])
        if units.rstrip("s") == "month" and amount == 1:
            return terms.cycle.period(at)
        begin = start
        while _add(begin, amount, units) <= at:
            begin = _add(begin, amount, units)
        return begin, _add(begin, amount, units)
    for term in product.get("productTerm") or []:
        duration = term.get("duration") or {}
        if duration.get("amount"):
            return start, _add(start, int(duration["amount"]), str(duration.get("units")))
    return terms.cycle.period(at)


def new_consumption(
    doc_id: str,
    provider: Mapping[str, Any],
    line: Mapping[str, Any],
    terms: AccountTerms,
    period: tuple[datetime, datetime],
) -> dict[str, Any]:
    """A fresh balance of `provider`'s allowances for the period, nothing used yet."""
    buckets = []
    for name, kind in ALLOWANCES.items():
        included = characteristic(provider, name)
        if included is None or isinstance(included, bool):
            continue
        zones = kind.zones
        if zones is None:
            zones = frozenset({str(characteristic(provider, "roamingZone") or "")})
        initial = int(included) * kind.unit
        units = QUANTITY[kind.usage_type][1]
        bucket: dict[str, Any] = {
            "name": f"{provider.get('name', provider['id'])} {kind.label}",
            "usageType": kind.usage_type,
            "zone": sorted(zones),
            "initialValue": {"amount": initial, "units": units},
            "usedValue": {"amount": 0, "units": units},
            "remainingValue": {"amount": initial, "units": units},
        }
        if kind.international:
            bucket["isInternational"] = True
        buckets.append(bucket)
    doc: dict[str, Any] = {
        "id": doc_id,
        "product": _ref(provider, "Product"),
        "msisdn": realizing(line, MSISDN) or characteristic(line, "msisdn"),
        "billingAccount": terms.ref,
        "relatedParty": _customer(line),
        "validFor": {
            "startDateTime": format_instant(period[0]),
            "endDateTime": format_instant(period[1]),
        },
        "bucket": buckets,
        "barred": False,
        "alert": [],
        "@type": "UsageConsumption",
    }
    if provider is line:
        zero = {"unit": terms.currency, "value": round_money(Decimal(0), terms.currency)}
        doc["outOfBundleCharge"] = {"dutyFreeAmount": dict(zero), "taxIncludedAmount": dict(zero)}
        if terms.spend_cap is not None:
            doc["spendCap"] = {"unit": terms.currency, "value": terms.spend_cap}
    return doc


def _ref(resource: Mapping[str, Any], referred_type: str) -> dict[str, Any]:
    ref = {"id": resource["id"], "@referredType": referred_type}
    if resource.get("name"):
        ref["name"] = resource["name"]
    return ref


def _customer(line: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(party) for party in line.get("relatedParty") or []]
