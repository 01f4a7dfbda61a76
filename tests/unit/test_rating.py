"""Rater: usage records become allowance consumed and out-of-bundle charges (domain/rating.py),
against hand-built products shaped like the ones order fulfilment writes (domain/fulfilment.py
_new_product, _describe, _frozen_prices), over a fake directory and consumption book.

Prices are the starter catalog's (adapters/demo_catalog.py), tax-excluded: at home and in the
EU 0.04 per MB, 0.16 per minute, 0.08 per SMS; rest of world 0.81, 1.63, 0.41; Irish VAT 23 %.
Plans here have small allowances so that the arithmetic stays readable.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.account import AccountTerms, account_terms
from domain.errors import InvalidRequest
from domain.rating import MB, Rater, Rating
from domain.resource import Lookup
from domain.usage import QUANTITY, RATED, REJECTED, UsageRecord, parse_record
from tests.unit.fakes import FakeConsumptionBook, FakeRatingDirectory, FakeRepository

NOW = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)  # rating runs after every record of the tests
RATING_DATE = "2026-05-02T09:00:00.000Z"
MSISDN = "+353831000001"
ACCOUNT = {"id": "ba-1", "name": "Main account", "@referredType": "BillingAccount"}
CUSTOMER = {"id": "c1", "name": "Aoife Byrne", "role": "customer", "@referredType": "Customer"}
PLAN = "Test plan"


def period(start: str, end: str) -> dict[str, str]:
    return {"startDateTime": start, "endDateTime": end}


# Bill periods of a cycle-day-1 account in Europe/Dublin: local midnight of the 1st, which is
# 23:00 UTC the day before in Irish summer time (from 29 March 2026 to 25 October 2026).
MARCH = period("2026-03-01T00:00:00.000Z", "2026-03-31T23:00:00.000Z")
APRIL = period("2026-03-31T23:00:00.000Z", "2026-04-30T23:00:00.000Z")
MAY = period("2026-04-30T23:00:00.000Z", "2026-05-31T23:00:00.000Z")

# Usage price lists of the catalog: POP id prefix -> (zone, tax-excluded price per step).
USAGE_RATES = {
    "pop-home": ("zone-home", {"data": "0.04", "voice": "0.16", "sms": "0.08"}),
    "pop-eu": ("zone-eu", {"data": "0.04", "voice": "0.16", "sms": "0.08"}),
    "pop-row": ("zone-row", {"data": "0.81", "voice": "1.63", "sms": "0.41"}),
    "pop-prepaid-home": ("zone-home", {"data": "0.04", "voice": "0.12", "sms": "0.08"}),
    "pop-prepaid-eu": ("zone-eu", {"data": "0.04", "voice": "0.12", "sms": "0.08"}),
}
STEP_UNITS = {"data": "MB", "voice": "MIN", "sms": "SMS"}
VAT = Decimal(23)


def eur(value: str) -> dict[str, Any]:
    return {"unit": "EUR", "value": Decimal(value)}


def catalog_prices() -> list[dict[str, Any]]:
    """The usage productOfferingPrices of the catalog, with the zone (place) they apply in."""
    return [
        {
            "id": f"{prefix}-{kind}",
            "priceType": "usage",
            "price": eur(rate),
            "unitOfMeasure": {"amount": 1, "units": STEP_UNITS[kind]},
            "place": [{"id": zone, "@referredType": "GeographicLocation"}],
            "@type": "ProductOfferingPrice",
        }
        for prefix, (zone, rates) in USAGE_RATES.items()
        for kind, rate in rates.items()
    ]


def product_price(pop_id: str, price_type: str, amount: str, **extra: Any) -> dict[str, Any]:
    """A price frozen on a product, as an order priced it (tax-included kept exact)."""
    value = Decimal(amount)
    return {
        "name": pop_id,
        "priceType": price_type,
        "productOfferingPrice": {
            "id": pop_id,
            "name": pop_id,
            "@referredType": "ProductOfferingPrice",
        },
        "price": {
            "dutyFreeAmount": eur(amount),
            "taxIncludedAmount": {"unit": "EUR", "value": value + value * VAT / 100},
            "taxRate": VAT,
        },
        **extra,
        "@type": "ProductPrice",
    }


def usage_prices(*prefixes: str) -> list[dict[str, Any]]:
    return [
        product_price(f"{prefix}-{kind}", "usage", rate, unitOfMeasure=f"1 {STEP_UNITS[kind]}")
        for prefix in prefixes
        for kind, rate in USAGE_RATES[prefix][1].items()
    ]


POSTPAID_USAGE = usage_prices("pop-home", "pop-eu", "pop-row")
PREPAID_USAGE = usage_prices("pop-prepaid-home", "pop-prepaid-eu", "pop-row")


def fee(pop_id: str, amount: str, period: str | None) -> dict[str, Any]:
    """A recurring fee every `period` ("month", "28 days"), or a one-off one (None)."""
    if period is None:
        return product_price(pop_id, "oneTime", amount)
    return product_price(pop_id, "recurring", amount, recurringChargePeriod=period)


def characteristics(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in values.items() if value is not None]


def line(
    product_id: str = "line-1",
    msisdn: str = MSISDN,
    *,
    data_mb: int | None = 10,
    minutes: int | None = 5,
    sms: int | None = 3,
    start: str = "2026-01-05T10:00:00.000Z",
    status: str = "active",
    terminated: str | None = None,
    period: str = "month",
    usage: list[dict[str, Any]] = POSTPAID_USAGE,
    customer: dict[str, Any] = CUSTOMER,
    account: dict[str, Any] = ACCOUNT,
) -> dict[str, Any]:
    """A line product: a plan with its number, allowances and frozen prices."""
    product: dict[str, Any] = {
        "id": product_id,
        "name": PLAN,
        "isBundle": False,
        "startDate": start,
        "status": status,
        "productOffering": {"id": "pos-test-plan", "@referredType": "ProductOffering"},
        "productCharacteristic": characteristics(
            {
                "msisdn": msisdn,
                "iccid": "8935301000000000001",
                "includedDataMB": data_mb,
                "includedVoiceMinutes": minutes,
                "includedSms": sms,
            }
        ),
        "productPrice": [fee("pop-test-plan-fee", "16.26", period), *usage],
        "realizingResource": [
            {"id": msisdn, "@referredType": "MSISDN"},
            {"id": "8935301000000000001", "@referredType": "SIM"},
        ],
        "billingAccount": dict(account),
        "relatedParty": [dict(customer)],
        "@type": "Product",
    }
    if terminated:
        product["terminationDate"] = terminated
    return product


def add_on(
    product_id: str,
    name: str,
    *,
    relies_on: str = "line-1",
    period: str | None = "month",
    term_days: int | None = None,
    start: str = "2026-02-10T10:00:00.000Z",
    **allowances: Any,
) -> dict[str, Any]:
    """An add-on of a line: monthly, or bought once for `term_days` days (a top-up)."""
    product: dict[str, Any] = {
        "id": product_id,
        "name": name,
        "isBundle": False,
        "startDate": start,
        "status": "active",
        "productOffering": {"id": f"pos-{product_id}", "@referredType": "ProductOffering"},
        "productCharacteristic": characteristics(allowances),
        "productPrice": [fee(f"pop-{product_id}", "4.06", period)],
        "productRelationship": [
            {"relationshipType": "reliesOn", "product": {"id": relies_on, "name": PLAN}}
        ],
        "billingAccount": dict(ACCOUNT),
        "relatedParty": [dict(CUSTOMER)],
        "@type": "Product",
    }
    if term_days:
        duration = {"amount": term_days, "units": "day"}
        product["productTerm"] = [
            {"name": "Validity", "duration": duration, "validFor": {"startDateTime": start}}
        ]
    return product


def terms(account_id: str = "ba-1", **account: Any) -> AccountTerms:
    """Terms of an account: by default EUR, Europe/Dublin, cycle day 1, Irish VAT."""
    stored = {"id": account_id, "name": "Main account", **account}
    return account_terms(stored, Lookup(FakeRepository()))


def usage(
    usage_type: str,
    when: str,
    amount: int | None = None,
    *,
    msisdn: str = MSISDN,
    country: str | None = None,
    called: str | None = None,
    **more: Any,
) -> UsageRecord:
    """A record as sent on the wire (amount: bytes, seconds or messages), parsed."""
    values = {"msisdn": msisdn, QUANTITY[usage_type][0]: amount}
    values |= {"visitedCountry": country, "calledNumber": called, **more}
    wire = {"usageType": usage_type, "usageDate": when, "usageCharacteristic": []}
    for name, value in values.items():
        if value is not None:
            wire["usageCharacteristic"].append({"name": name, "value": value})
    return parse_record(wire, NOW)


class Desk:
    """A Rater over a directory of products and accounts and a book of balances."""

    def __init__(self) -> None:
        self.directory = FakeRatingDirectory(catalog_prices(), [terms()])
        self.book = FakeConsumptionBook()
        self.rater = Rater(self.directory, self.book, lambda: NOW)
        self.rated = 0

    def rate(self, record: UsageRecord) -> Rating:
        self.rated += 1
        return self.rater.rate(record, f"u-{self.rated}")

    def balance(self, consumption_id: str) -> dict[str, Any]:
        doc = self.book.get(consumption_id)
        assert doc is not None, f"no usageConsumption {consumption_id}"
        return doc

    def used(self, consumption_id: str, bucket: str) -> tuple[int, int]:
        """(used, remaining) of a bucket of a stored balance."""
        for found in self.balance(consumption_id)["bucket"]:
            if found["name"] == bucket:
                return found["usedValue"]["amount"], found["remainingValue"]["amount"]
        raise AssertionError(f"{consumption_id} has no bucket {bucket}")


@pytest.fixture
def desk() -> Desk:
    return Desk()


def rated(rating: Rating) -> list[dict[str, Any]]:
    assert rating.status == RATED, rating.reason
    return rating.rated


def amounts(entry: dict[str, Any]) -> tuple[str, str]:
    """(tax excluded, tax included) as written: rounded to the cent."""
    excluded, included = entry["taxExcludedRatingAmount"], entry["taxIncludedRatingAmount"]
    assert excluded["unit"] == included["unit"] == "EUR"
    return str(excluded["value"]), str(included["value"])


def tariffs(entries: list[dict[str, Any]]) -> list[tuple[str, str | None, int]]:
    """(offerTariffType, bucket, ratedQuantity) of each entry, in order."""
    return [(e["offerTariffType"], e.get("bucket"), e["ratedQuantity"]["amount"]) for e in entries]


LINE_APRIL = "line-1@20260331T2300Z"  # usageConsumption of line-1 for April


class TestAllowanceThenCharge:
    def test_a_record_crossing_the_allowance_is_part_allowance_part_charged_per_started_mb(
        self, desk: Desk
    ) -> None:
        desk.directory.add(line(data_mb=10))
        rating = desk.rate(usage("data", "2026-04-10T12:00:00Z", 10 * MB + MB + MB // 2))
        allowance, charge = rated(rating)
        assert allowance == {
            "isBilled": False,
            "isTaxExempt": False,
            "offerTariffType": "allowance",
            "ratingDate": RATING_DATE,
            "taxRate": VAT,
            "usageRatingTag": "zone-home",
            "productRef": {"id": "line-1", "name": PLAN, "@referredType": "Product"},
            "taxExcludedRatingAmount": eur("0.00"),
            "taxIncludedRatingAmount": eur("0.00"),
            "billingAccount": ACCOUNT,
            "@type": "RatedProductUsage",
            "bucket": "Test plan data",
            "ratedQuantity": {"amount": 10 * MB, "units": "byte"},
            "billingPeriod": APRIL,
            "bucketValueConvertedInAmount": eur("0.40"),  # 10 MB x 0.04
        }
        # the rest, 1.5 MB, is 2 started MB: 2 x 0.04 = 0.08; VAT 0.0184 -> 0.02; 0.10
        assert amounts(charge) == ("0.08", "0.10")
        assert charge["offerTariffType"] == "outOfBundle"
        assert charge["ratedQuantity"] == {"amount": MB + MB // 2, "units": "byte"}
        assert charge["chargedQuantity"] == {"amount": 2, "units": "MB"}
        assert charge["productOfferingPrice"]["id"] == "pop-home-data"
        assert charge["billingPeriod"] == APRIL
        assert "bucket" not in charge
        assert rating.party == [CUSTOMER]

        balance = desk.balance(LINE_APRIL)
        assert balance["validFor"] == APRIL
        assert balance["msisdn"] == MSISDN
        assert desk.used(LINE_APRIL, "Test plan data") == (10 * MB, 0)
        assert balance["outOfBundleCharge"] == {
            "dutyFreeAmount": eur("0.08"),
            "taxIncludedAmount": eur("0.10"),
        }
        assert balance["lastUsageDate"] == "2026-04-10T12:00:00.000Z"

    def test_a_record_within_the_allowance_is_not_charged(self, desk: Desk) -> None:
        desk.directory.add(line(data_mb=10))
        rating = desk.rate(usage("data", "2026-04-10T12:00:00Z", 3 * MB))
        assert tariffs(rated(rating)) == [("allowance", "Test plan data", 3 * MB)]
        assert desk.used(LINE_APRIL, "Test plan data") == (3 * MB, 7 * MB)
        assert desk.balance(LINE_APRIL)["outOfBundleCharge"]["taxIncludedAmount"] == eur("0")

    def test_charges_of_a_period_add_up_on_the_line(self, desk: Desk) -> None:
        desk.directory.add(line(data_mb=None))
        desk.rate(usage("data", "2026-04-10T12:00:00Z", 3 * MB))  # 0.12, VAT 0.0276 -> 0.03
        desk.rate(usage("data", "2026-04-11T12:00:00Z", 1))  # 0.04, VAT 0.0092 -> 0.01
        assert desk.balance(LINE_APRIL)["outOfBundleCharge"] == {
            "dutyFreeAmount": eur("0.16"),
            "taxIncludedAmount": eur("0.20"),
        }


class TestBillPeriods:
    def test_a_record_belongs_wholly_to_the_period_of_its_usage_date(self, desk: Desk) -> None:
        desk.directory.add(line(data_mb=10))
        # a two-hour session from 23:30 Irish time on 30 April, into May
        session = usage("data", "2026-04-30T22:30:00Z", 2 * MB, durationSeconds=7200)
        (entry,) = rated(desk.rate(session))
        assert entry["billingPeriod"] == APRIL
        assert desk.used(LINE_APRIL, "Test plan data") == (2 * MB, 8 * MB)
        assert desk.book.get("line-1@20260430T2300Z") is None  # May's balance untouched

        (may,) = rated(desk.rate(usage("data", "2026-04-30T23:00:00Z", MB)))  # 1 May, 00:00
        assert may["billingPeriod"] == MAY
        assert desk.used("line-1@20260430T2300Z", "Test plan data") == (MB, 9 * MB)
        assert desk.used(LINE_APRIL, "Test plan data") == (2 * MB, 8 * MB)

    def test_periods_follow_the_account_time_zone(self, desk: Desk) -> None:
        desk.directory.add(line())
        # 23:30 UTC on 31 March is 00:30 on 1 April in Dublin (summer time): April's period
        (april,) = rated(desk.rate(usage("data", "2026-03-31T23:30:00Z", MB)))
        assert april["billingPeriod"] == APRIL
        (march,) = rated(desk.rate(usage("data", "2026-03-31T22:59:59Z", MB)))
        assert march["billingPeriod"] == MARCH
        assert desk.balance("line-1@20260301T0000Z")["validFor"] == MARCH
        assert desk.balance(LINE_APRIL)["validFor"] == APRIL

    def test_periods_start_on_the_account_cycle_day(self, desk: Desk) -> None:
        cycle = {"cycleSpecification": {"billingDateShift": 14}}  # cycle day 15
        desk.directory.accounts["ba-1"] = terms(billStructure=cycle, timeZone="UTC")
        desk.directory.add(line())
        (entry,) = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", MB)))
        assert entry["billingPeriod"] == period(
            "2026-03-15T00:00:00.000Z", "2026-04-15T00:00:00.000Z"
        )

    def test_prepaid_allowances_count_per_28_days_from_the_start(self, desk: Desk) -> None:
        prepaid = line(
            "prepaid-1", start="2026-03-03T10:00:00.000Z", period="28 days", usage=PREPAID_USAGE
        )
        desk.directory.add(prepaid)
        first = period("2026-03-03T10:00:00.000Z", "2026-03-31T10:00:00.000Z")
        second = period("2026-03-31T10:00:00.000Z", "2026-04-28T10:00:00.000Z")
        third = period("2026-04-28T10:00:00.000Z", "2026-05-26T10:00:00.000Z")

        (entry,) = rated(desk.rate(usage("data", "2026-03-31T09:59:59Z", 4 * MB)))
        assert entry["billingPeriod"] == first
        (entry,) = rated(desk.rate(usage("data", "2026-03-31T10:00:00Z", MB)))
        assert entry["billingPeriod"] == second
        (entry,) = rated(desk.rate(usage("data", "2026-04-28T10:00:00Z", MB)))
        assert entry["billingPeriod"] == third
        assert desk.used("prepaid-1@20260303T1000Z", "Test plan data") == (4 * MB, 6 * MB)
        assert desk.used("prepaid-1@20260331T1000Z", "Test plan data") == (MB, 9 * MB)
        assert desk.used("prepaid-1@20260428T1000Z", "Test plan data") == (MB, 9 * MB)

    def test_prepaid_usage_beyond_the_bundle_is_charged_at_prepaid_prices(self, desk: Desk) -> None:
        desk.directory.add(line(minutes=None, period="28 days", usage=PREPAID_USAGE))
        (entry,) = rated(desk.rate(usage("voice", "2026-04-10T12:00:00Z", 120)))
        # 2 minutes x 0.12 = 0.24; VAT 0.0552 -> 0.06; 0.30
        assert amounts(entry) == ("0.24", "0.30")
        assert entry["productOfferingPrice"]["id"] == "pop-prepaid-home-voice"


class TestZones:
    def test_eu_roaming_uses_the_eu_pack_then_the_plan_at_home_prices(self, desk: Desk) -> None:
        pack = add_on("eu-pack", "EU Roaming Pack", roamingZone="zone-eu", includedRoamingDataMB=1)
        desk.directory.add(line(data_mb=2), pack)
        entries = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", 4 * MB, country="FR")))
        assert tariffs(entries) == [
            ("allowance", "EU Roaming Pack roaming data", MB),
            ("allowance", "Test plan data", 2 * MB),
            ("outOfBundle", None, MB),
        ]
        assert {entry["usageRatingTag"] for entry in entries} == {"zone-eu"}
        assert entries[0]["productRef"]["id"] == "eu-pack"
        # 1 MB at the EU price, the home one: 0.04; VAT 0.0092 -> 0.01; 0.05
        assert amounts(entries[2]) == ("0.04", "0.05")
        assert entries[2]["productOfferingPrice"]["id"] == "pop-eu-data"
        assert desk.used("eu-pack@20260331T2300Z", "EU Roaming Pack roaming data") == (MB, 0)

    def test_the_eu_pack_goes_before_an_add_on_ending_sooner(self, desk: Desk) -> None:
        pack = add_on("eu-pack", "EU Roaming Pack", roamingZone="zone-eu", includedRoamingDataMB=1)
        # a top-up from 25 March for 30 days ends on 24 April, before the pack's period
        top_up = add_on(
            "topup",
            "Data top-up",
            period=None,
            term_days=30,
            start="2026-03-25T10:00:00.000Z",
            includedDataMB=1,
        )
        desk.directory.add(line(data_mb=1), top_up, pack)
        entries = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", 2 * MB, country="ES")))
        assert tariffs(entries) == [
            ("allowance", "EU Roaming Pack roaming data", MB),
            ("allowance", "Data top-up data", MB),
        ]

    def test_the_eu_pack_is_not_used_at_home(self, desk: Desk) -> None:
        pack = add_on("eu-pack", "EU Roaming Pack", roamingZone="zone-eu", includedRoamingDataMB=1)
        desk.directory.add(line(data_mb=2), pack)
        entries = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", MB)))
        assert tariffs(entries) == [("allowance", "Test plan data", MB)]
        assert desk.book.get("eu-pack@20260331T2300Z") is None

    def test_rest_of_world_is_charged_at_its_prices_without_allowance(self, desk: Desk) -> None:
        desk.directory.add(line(data_mb=10))
        record = usage("data", "2026-04-10T12:00:00Z", 2 * MB + MB // 2, country="US")
        (entry,) = rated(desk.rate(record))
        # 3 started MB x 0.81 = 2.43; VAT 0.5589 -> 0.56; 2.99
        assert amounts(entry) == ("2.43", "2.99")
        assert entry["usageRatingTag"] == "zone-row"
        assert entry["chargedQuantity"] == {"amount": 3, "units": "MB"}
        assert entry["productOfferingPrice"]["id"] == "pop-row-data"
        assert desk.used(LINE_APRIL, "Test plan data") == (0, 10 * MB)

    def test_an_international_call_uses_international_minutes_then_the_world_price(
        self, desk: Desk
    ) -> None:
        pack = add_on("intl", "International Calls 100", includedInternationalMinutes=1)
        desk.directory.add(line(minutes=5), pack)
        call = usage("voice", "2026-04-10T12:00:00Z", 90, called="+447700900123")
        allowance, charge = rated(desk.rate(call))
        assert tariffs([allowance, charge]) == [
            ("allowance", "International Calls 100 international minutes", 60),
            ("outOfBundle", None, 30),
        ]
        assert allowance["bucketValueConvertedInAmount"] == eur("1.63")  # 1 minute x 1.63
        # 30 s at 1.63 a minute = 0.815 -> 0.82 (half up); VAT 0.1886 -> 0.19; 1.01
        assert amounts(charge) == ("0.82", "1.01")
        assert charge["chargedQuantity"] == {"amount": 30, "units": "s"}
        assert charge["productOfferingPrice"]["id"] == "pop-row-voice"
        assert desk.used(LINE_APRIL, "Test plan minutes") == (0, 300)

    def test_a_national_call_uses_the_plan_minutes_not_international_ones(self, desk: Desk) -> None:
        pack = add_on("intl", "International Calls 100", includedInternationalMinutes=1)
        desk.directory.add(line(minutes=5), pack)
        call = usage("voice", "2026-04-10T12:00:00Z", 90, called="+353861234567")
        assert tariffs(rated(desk.rate(call))) == [("allowance", "Test plan minutes", 90)]
        assert desk.used(LINE_APRIL, "Test plan minutes") == (90, 210)


class TestUnits:
    @pytest.mark.parametrize(
        ("seconds", "charged", "excluded", "included"),
        [
            (10, 60, "0.16", "0.20"),  # first minute whole: 0.16; VAT 0.0368 -> 0.04
            (60, 60, "0.16", "0.20"),
            (61, 61, "0.16", "0.20"),  # 0.16 x 61 / 60 = 0.16266.. -> 0.16; VAT -> 0.04
            (119, 119, "0.32", "0.39"),  # 0.16 x 119 / 60 = 0.31733.. -> 0.32; VAT 0.0736
        ],
    )
    def test_voice_is_charged_first_minute_whole_then_per_second(
        self, desk: Desk, seconds: int, charged: int, excluded: str, included: str
    ) -> None:
        desk.directory.add(line(minutes=None))
        (entry,) = rated(desk.rate(usage("voice", "2026-04-10T12:00:00Z", seconds)))
        assert entry["chargedQuantity"] == {"amount": charged, "units": "s"}
        assert entry["ratedQuantity"] == {"amount": charged, "units": "s"}
        assert amounts(entry) == (excluded, included)

    def test_a_short_call_uses_a_whole_minute_of_the_allowance(self, desk: Desk) -> None:
        desk.directory.add(line(minutes=5))
        rated(desk.rate(usage("voice", "2026-04-10T12:00:00Z", 10)))
        assert desk.used(LINE_APRIL, "Test plan minutes") == (60, 240)

    @pytest.mark.parametrize(
        ("volume", "megabytes", "excluded", "included"),
        [
            (1, 1, "0.04", "0.05"),  # 1 byte is a started MB: 0.04; VAT 0.0092 -> 0.01
            (MB, 1, "0.04", "0.05"),
            (MB + 1, 2, "0.08", "0.10"),  # VAT 0.0184 -> 0.02
            (3 * MB, 3, "0.12", "0.15"),  # VAT 0.0276 -> 0.03
        ],
    )
    def test_data_is_charged_per_started_mb(
        self, desk: Desk, volume: int, megabytes: int, excluded: str, included: str
    ) -> None:
        desk.directory.add(line(data_mb=None))
        (entry,) = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", volume)))
        assert entry["ratedQuantity"] == {"amount": volume, "units": "byte"}
        assert entry["chargedQuantity"] == {"amount": megabytes, "units": "MB"}
        assert amounts(entry) == (excluded, included)

    def test_texts_use_the_allowance_then_are_charged_each(self, desk: Desk) -> None:
        desk.directory.add(line(sms=3))
        allowance, charge = rated(desk.rate(usage("sms", "2026-04-10T12:00:00Z", 5)))
        assert tariffs([allowance, charge]) == [
            ("allowance", "Test plan texts", 3),
            ("outOfBundle", None, 2),
        ]
        # 2 x 0.08 = 0.16; VAT 0.0368 -> 0.04; 0.20
        assert amounts(charge) == ("0.16", "0.20")
        assert charge["chargedQuantity"] == {"amount": 2, "units": "SMS"}
        assert charge["productOfferingPrice"]["id"] == "pop-home-sms"

    def test_a_text_without_a_count_is_one_message(self, desk: Desk) -> None:
        desk.directory.add(line(sms=3))
        rated(desk.rate(usage("sms", "2026-04-10T12:00:00Z", called="+353861234567")))
        assert desk.used(LINE_APRIL, "Test plan texts") == (1, 2)


class TestAddOnOrder:
    def monthly(self) -> dict[str, Any]:
        # counts per bill period: April's ends 2026-04-30T23:00Z
        return add_on("extra", "Data add-on", includedDataMB=1)

    def top_up(self, start: str) -> dict[str, Any]:
        # bought once, for 30 days from its start
        return add_on(
            "topup", "Data top-up", period=None, term_days=30, start=start, includedDataMB=1
        )

    def test_the_add_on_whose_period_ends_first_is_consumed_first(self, desk: Desk) -> None:
        # the top-up runs 5 April to 5 May, after the monthly add-on's period ends
        desk.directory.add(line(data_mb=1), self.top_up("2026-04-05T10:00:00.000Z"))
        desk.directory.add(self.monthly())
        entries = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", MB + MB // 2)))
        assert tariffs(entries) == [
            ("allowance", "Data add-on data", MB),
            ("allowance", "Data top-up data", MB // 2),
        ]
        assert entries[1]["billingPeriod"] == period(
            "2026-04-05T10:00:00.000Z", "2026-05-05T10:00:00.000Z"
        )
        assert desk.used(LINE_APRIL, "Test plan data") == (0, MB)

    def test_a_top_up_ending_before_the_bill_period_goes_first(self, desk: Desk) -> None:
        # the top-up runs 25 March to 24 April, before the monthly add-on's period ends
        desk.directory.add(line(data_mb=1), self.top_up("2026-03-25T10:00:00.000Z"))
        desk.directory.add(self.monthly())
        entries = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", MB + MB // 2)))
        assert tariffs(entries) == [
            ("allowance", "Data top-up data", MB),
            ("allowance", "Data add-on data", MB // 2),
        ]
        assert desk.used("topup@20260325T1000Z", "Data top-up data") == (MB, 0)

    def test_a_top_up_past_its_term_is_not_consumed(self, desk: Desk) -> None:
        # bought 1 March for 30 days: expired on 31 March, though its product stays active
        desk.directory.add(line(data_mb=1), self.top_up("2026-03-01T10:00:00.000Z"))
        entries = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", MB)))
        assert tariffs(entries) == [("allowance", "Test plan data", MB)]

    def test_an_add_on_of_another_line_is_not_consumed(self, desk: Desk) -> None:
        other = add_on("extra", "Data add-on", relies_on="line-2", includedDataMB=1)
        desk.directory.add(line(data_mb=1), line("line-2", "+353831000002"), other)
        entries = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", MB)))
        assert tariffs(entries) == [("allowance", "Test plan data", MB)]


class TestWhoHoldsTheNumber:
    def test_a_reassigned_number_rates_each_record_to_its_holder_at_the_time(
        self, desk: Desk
    ) -> None:
        second_customer = {**CUSTOMER, "id": "c2", "name": "Cian Walsh"}
        second_account = {**ACCOUNT, "id": "ba-2"}
        desk.directory.accounts["ba-2"] = terms("ba-2")
        old = line(
            "line-old", status="terminated", terminated="2026-04-10T12:00:00.000Z", data_mb=10
        )
        new = line(
            "line-new",
            start="2026-04-20T08:00:00.000Z",
            data_mb=10,
            customer=second_customer,
            account=second_account,
        )
        desk.directory.add(old, new)

        before = desk.rate(usage("data", "2026-04-10T11:59:59Z", MB))
        (entry,) = rated(before)
        assert entry["productRef"]["id"] == "line-old"
        assert entry["billingAccount"]["id"] == "ba-1"
        assert before.party == [CUSTOMER]

        after = desk.rate(usage("data", "2026-04-20T09:00:00Z", 2 * MB))
        (entry,) = rated(after)
        assert entry["productRef"]["id"] == "line-new"
        assert entry["billingAccount"]["id"] == "ba-2"
        assert after.party == [second_customer]

        assert desk.used("line-old@20260331T2300Z", "Test plan data") == (MB, 9 * MB)
        assert desk.used("line-new@20260331T2300Z", "Test plan data") == (2 * MB, 8 * MB)

    def test_a_record_while_nobody_held_the_number_is_rejected(self, desk: Desk) -> None:
        old = line("line-old", status="terminated", terminated="2026-04-10T12:00:00.000Z")
        desk.directory.add(old, line("line-new", start="2026-04-20T08:00:00.000Z"))
        rating = desk.rate(usage("data", "2026-04-10T12:00:00Z", MB))
        assert rating.status == REJECTED
        assert rating.reason == f"no product held {MSISDN} at 2026-04-10T12:00:00.000Z"

    def test_an_unknown_number_is_rejected(self, desk: Desk) -> None:
        desk.directory.add(line())
        rating = desk.rate(usage("data", "2026-04-10T12:00:00Z", MB, msisdn="+353831999999"))
        assert rating.status == REJECTED
        assert rating.reason == "unknown MSISDN +353831999999: no product has ever used it"
        assert rating.rated == []
        assert desk.book.documents == {}

    def test_a_suspended_line_is_rejected(self, desk: Desk) -> None:
        desk.directory.add(line(status="suspended"))
        rating = desk.rate(usage("data", "2026-04-10T12:00:00Z", MB))
        assert rating.status == REJECTED
        assert rating.reason == f"product line-1 of {MSISDN} is suspended"
        assert desk.book.documents == {}


class TestRejections:
    def test_a_line_priced_in_another_currency_than_its_account_cannot_be_charged(
        self, desk: Desk
    ) -> None:
        desk.directory.accounts["ba-1"] = terms(currency="GBP", taxProfile={"country": "GB"})
        desk.directory.add(line(data_mb=1))  # its prices are in EUR
        rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", MB // 2)))
        rating = desk.rate(usage("data", "2026-04-11T12:00:00Z", MB))
        assert rating.status == REJECTED
        assert rating.reason == "product line-1 is priced in EUR, its account in GBP"
        # the rejected record consumed nothing, not even in the copy it read
        assert desk.book.lent[LINE_APRIL] == desk.book.documents[LINE_APRIL]
        assert desk.used(LINE_APRIL, "Test plan data") == (MB // 2, MB // 2)

    def test_usage_without_a_price_for_its_zone_is_rejected(self, desk: Desk) -> None:
        desk.directory.add(line(data_mb=None, usage=usage_prices("pop-home", "pop-eu")))
        rating = desk.rate(usage("data", "2026-04-10T12:00:00Z", MB, country="US"))
        assert rating.status == REJECTED
        assert rating.reason == "product line-1 has no usage price for data in zone-row"


class TestAlerts:
    def test_allowance_thresholds_raise_an_alert_once_each(self, desk: Desk) -> None:
        desk.directory.add(line(data_mb=10))
        raised = []
        for day, megabytes in enumerate((7, 1, 1, 1, 1), start=1):  # 70 %, 80, 90, 100, over
            rating = desk.rate(usage("data", f"2026-04-0{day}T12:00:00Z", megabytes * MB))
            raised.append([alert["threshold"] for _, alert in rating.alerts])
        assert raised == [[], [80], [], [100], []]
        assert desk.balance(LINE_APRIL)["alert"] == [
            {
                "type": "allowance",
                "threshold": 80,
                "bucket": "Test plan data",
                "reachedDate": "2026-04-02T12:00:00.000Z",
                "usage": {"id": "u-2", "@referredType": "Usage"},
            },
            {
                "type": "allowance",
                "threshold": 100,
                "bucket": "Test plan data",
                "reachedDate": "2026-04-04T12:00:00.000Z",
                "usage": {"id": "u-4", "@referredType": "Usage"},
            },
        ]

    def test_one_record_can_pass_both_thresholds(self, desk: Desk) -> None:
        desk.directory.add(line(data_mb=10))
        rating = desk.rate(usage("data", "2026-04-01T12:00:00Z", 11 * MB))
        assert [alert["threshold"] for _, alert in rating.alerts] == [80, 100]
        assert all(doc["id"] == LINE_APRIL for doc, _ in rating.alerts)

    def test_spend_cap_thresholds_raise_alerts(self, desk: Desk) -> None:
        desk.directory.accounts["ba-1"] = terms(spendCap=eur("1.00"))
        desk.directory.add(line(data_mb=None))
        # 17 MB x 0.04 = 0.68; VAT 0.1564 -> 0.16; 0.84 spent: past 80 % of 1.00
        first = desk.rate(usage("data", "2026-04-01T12:00:00Z", 17 * MB))
        # 4 MB x 0.04 = 0.16; VAT 0.0368 -> 0.04; 0.20, 1.04 spent: past 100 %
        second = desk.rate(usage("data", "2026-04-02T12:00:00Z", 4 * MB))
        third = desk.rate(usage("data", "2026-04-03T12:00:00Z", MB))  # not barred: charged
        assert [[a["threshold"] for _, a in r.alerts] for r in (first, second, third)] == [
            [80],
            [100],
            [],
        ]
        assert first.alerts[0][1] == {
            "type": "spendCap",
            "threshold": 80,
            "reachedDate": "2026-04-01T12:00:00.000Z",
            "usage": {"id": "u-1", "@referredType": "Usage"},
        }
        assert amounts(rated(third)[0]) == ("0.04", "0.05")
        balance = desk.balance(LINE_APRIL)
        assert balance["spendCap"] == eur("1.00")
        assert balance["barred"] is False
        # 0.68 + 0.16 + 0.04 = 0.88; 0.84 + 0.20 + 0.05 = 1.09
        assert balance["outOfBundleCharge"] == {
            "dutyFreeAmount": eur("0.88"),
            "taxIncludedAmount": eur("1.09"),
        }

    def test_bar_at_spend_cap_rejects_chargeable_usage_but_passes_allowance_usage(
        self, desk: Desk
    ) -> None:
        desk.directory.accounts["ba-1"] = terms(spendCap=eur("1.00"), barAtSpendCap=True)
        desk.directory.add(line(data_mb=None, sms=3))
        rated(desk.rate(usage("data", "2026-04-01T12:00:00Z", 17 * MB)))  # 0.84 spent
        reaching = desk.rate(usage("data", "2026-04-02T12:00:00Z", 4 * MB))  # 1.04 spent
        assert amounts(rated(reaching)[0]) == ("0.16", "0.20")  # the record reaching it counts
        assert desk.balance(LINE_APRIL)["barred"] is True

        barred = desk.rate(usage("data", "2026-04-03T12:00:00Z", 1))
        assert barred.status == REJECTED
        assert barred.reason == (
            "out-of-bundle spend cap of 1.00 EUR reached for the period from "
            "2026-03-31T23:00:00.000Z: chargeable usage is barred"
        )
        text = desk.rate(usage("sms", "2026-04-03T13:00:00Z", 1))
        assert tariffs(rated(text)) == [("allowance", "Test plan texts", 1)]
        # 3 texts: 2 would fit, 1 would be charged: rejected whole, nothing consumed
        assert desk.rate(usage("sms", "2026-04-03T14:00:00Z", 3)).status == REJECTED
        assert desk.used(LINE_APRIL, "Test plan texts") == (1, 2)
        assert desk.balance(LINE_APRIL)["outOfBundleCharge"]["taxIncludedAmount"] == eur("1.04")

    def test_a_cap_set_or_raised_within_the_period_applies_from_then_on(self, desk: Desk) -> None:
        desk.directory.add(line(data_mb=None))
        rated(desk.rate(usage("data", "2026-04-01T12:00:00Z", 21 * MB)))  # 0.84 + 0.19 = 1.03
        assert "spendCap" not in desk.balance(LINE_APRIL)
        desk.directory.accounts["ba-1"] = terms(spendCap=eur("1.00"), barAtSpendCap=True)
        refused = desk.rate(usage("data", "2026-04-02T12:00:00Z", 1))
        assert refused.status == REJECTED and "spend cap of 1.00 EUR" in str(refused.reason)
        desk.directory.accounts["ba-1"] = terms(spendCap=eur("5.00"), barAtSpendCap=True)
        (entry,) = rated(desk.rate(usage("data", "2026-04-03T12:00:00Z", 1)))
        assert amounts(entry) == ("0.04", "0.05")  # 1 started MB
        assert desk.balance(LINE_APRIL)["spendCap"] == eur("5.00")
        assert desk.balance(LINE_APRIL)["barred"] is False

    def test_the_bar_lifts_with_the_next_period(self, desk: Desk) -> None:
        desk.directory.accounts["ba-1"] = terms(spendCap=eur("1.00"), barAtSpendCap=True)
        desk.directory.add(line(data_mb=None))
        rated(desk.rate(usage("data", "2026-04-20T12:00:00Z", 21 * MB)))  # 0.84 + VAT 0.19
        assert desk.rate(usage("data", "2026-04-21T12:00:00Z", 1)).status == REJECTED
        (entry,) = rated(desk.rate(usage("data", "2026-05-01T12:00:00Z", 1)))
        assert entry["billingPeriod"] == MAY


class TestTax:
    def test_a_tax_exempt_account_pays_no_tax(self, desk: Desk) -> None:
        desk.directory.accounts["ba-1"] = terms(taxProfile={"country": "IE", "exempt": True})
        desk.directory.add(line(data_mb=None))
        (entry,) = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", MB)))
        assert amounts(entry) == ("0.04", "0.04")
        assert entry["isTaxExempt"] is True
        assert entry["taxRate"] == 0

    def test_the_account_country_sets_the_vat_rate(self, desk: Desk) -> None:
        desk.directory.accounts["ba-1"] = terms(taxProfile={"country": "DE"})
        desk.directory.add(line(data_mb=None))
        (entry,) = rated(desk.rate(usage("data", "2026-04-10T12:00:00Z", 3 * MB)))
        # 3 x 0.04 = 0.12; VAT 19 % = 0.0228 -> 0.02; 0.14
        assert amounts(entry) == ("0.12", "0.14")
        assert entry["taxRate"] == Decimal(19)


class TestParsingRecords:
    def test_reads_the_rating_facts(self) -> None:
        record = usage(
            "voice", "2026-04-10T12:00:00+01:00", "75", country="FR", called="+33612345678"
        )
        assert record == UsageRecord(
            "voice",
            datetime(2026, 4, 10, 11, 0, tzinfo=UTC),
            MSISDN,
            75,
            "FR",
            "+33612345678",
        )

    def test_home_is_the_default_country(self) -> None:
        assert usage("data", "2026-04-10T12:00:00Z", 0).country == "IE"

    def test_a_date_within_the_clock_tolerance_is_accepted(self) -> None:
        assert usage("sms", "2026-05-02T09:04:59Z").at == datetime(2026, 5, 2, 9, 4, 59, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("wire", "message"),
        [
            ({"usageType": "mms"}, "usageType: 'mms' is not one of data, voice, sms"),
            ({"usageDate": None}, "usageDate: the start of the usage is required"),
            ({"usageDate": "2026-05-02T09:05:01Z"}, "is in the future"),
            ({"msisdn": "0831234567"}, "msisdn: '0831234567' is not an E.164 number"),
            ({"msisdn": None}, "msisdn: 'None' is not an E.164 number"),
            ({"bytes": -1}, "bytes: -1 is below 0"),
            ({"bytes": 1.5}, "bytes: '1.5' is not a whole number"),
            ({"bytes": True}, "bytes: 'True' is not a whole number"),
            ({"bytes": None}, "bytes: missing; this type of usage is rated on it"),
            ({"visitedCountry": "Ireland"}, "visitedCountry: 'Ireland' is not an ISO 3166"),
            ({"calledNumber": "12345"}, "calledNumber: '12345' is not an E.164 number"),
        ],
    )
    def test_a_malformed_record_is_refused(self, wire: dict[str, Any], message: str) -> None:
        fields = {"usageType": "data", "usageDate": "2026-04-10T12:00:00Z"}
        values = {"msisdn": MSISDN, "bytes": 1024}
        for key, value in wire.items():
            (fields if key in fields else values)[key] = value
        record = {
            **fields,
            "usageCharacteristic": [
                {"name": name, "value": value}
                for name, value in values.items()
                if value is not None
            ],
        }
        with pytest.raises(InvalidRequest, match=re.escape(message)):
            parse_record(record, NOW)

    def test_a_text_needs_at_least_one_message(self) -> None:
        with pytest.raises(InvalidRequest, match="messages: 0 is below 1"):
            usage("sms", "2026-04-10T12:00:00Z", 0)

    def test_a_characteristic_given_twice_is_refused(self) -> None:
        record = {
            "usageType": "data",
            "usageDate": "2026-04-10T12:00:00Z",
            "usageCharacteristic": [
                {"name": "msisdn", "value": MSISDN},
                {"name": "msisdn", "value": "+353831000002"},
            ],
        }
        with pytest.raises(InvalidRequest, match="'msisdn' is given twice"):
            parse_record(record, NOW)
