"""The billing rules of domain/billing.py, scenario by scenario, with exact amounts.

The account bills on the 1st in Europe/Dublin (daylight saving from the last Sunday of
March), VAT 23 %, EUR. The plan's monthly fee is 8.13 (tax excluded), the bigger plan's 16.26.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.account import AccountTerms, Cycle
from domain.billing import (
    Amounts,
    Line,
    UsageCharge,
    bill_lines,
    charged_by,
    draft_bill,
    periods_from,
    product_life,
    regular_bill_id,
    totals,
)

DUBLIN = ZoneInfo("Europe/Dublin")
TERMS = AccountTerms(
    account_id="ba-1",
    name="Ann's account",
    state="Active",
    currency="EUR",
    cycle=Cycle(1, DUBLIN),
    vat_rate=Decimal(23),
    tax_exempt=False,
    spend_cap=None,
    bar_at_spend_cap=False,
    payment_due_days=14,
)
D = Decimal


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=DUBLIN).astimezone(UTC)


def price(pop: str, amount: str, kind: str = "recurring", period: str | None = "month", **extra):
    shown = {
        "name": pop,
        "priceType": kind,
        "productOfferingPrice": {"id": pop},
        "price": {"dutyFreeAmount": {"unit": "EUR", "value": D(amount)}},
        **extra,
    }
    if period and kind == "recurring":
        shown["recurringChargePeriod"] = period
    return shown


PLAN = price("plan-5gb", "8.13")
BIG = price("plan-20gb", "16.26")
FEE = price("activation-fee", "8.13", "oneTime")


def state(at: datetime, status: str, *prices: dict) -> dict:
    return {
        "validFor": {"startDateTime": at.isoformat().replace("+00:00", "Z")},
        "status": status,
        "productPrice": list(prices),
    }


def product(*history: dict, end: datetime | None = None, pid: str = "p-1") -> dict:
    shown = {"id": pid, "name": "SIM Only", "productHistory": list(history)}
    if end:
        shown["terminationDate"] = end.isoformat().replace("+00:00", "Z")
    return shown


def period(text: str) -> tuple[datetime, datetime]:
    return TERMS.cycle.period(local(text))


def lines_for(bill_period, products, first=None, charged=None, usage=(), interim=False):
    lives = [product_life(p) for p in products]
    first = first or bill_period[0]
    periods = periods_from(TERMS.cycle, first, bill_period)
    return bill_lines(TERMS, periods, lives, list(usage), charged or {}, interim=interim)


def summary(lines: list[Line]) -> list[tuple[str, str, str, Decimal, Decimal]]:
    return [
        (
            line.kind,
            line.key,
            line.coverage[0].astimezone(DUBLIN).strftime("%Y-%m"),
            line.amounts.tax_excluded,
            line.amounts.tax,
        )
        for line in lines
    ]


def charged_from(lines: list[Line]) -> dict:
    return {line.charge_key: line.amounts for line in lines}


def test_activation_on_the_31st_charges_one_day_then_the_next_month_in_advance():
    activated = local("2026-01-31T10:00")
    items = [product(state(activated, "active", PLAN, FEE))]
    lines = lines_for(period("2026-02-01T09:00"), items, first=activated)
    assert summary(lines) == [
        # 8.13 x 1/31 = 0.2622... ; tax 0.26 x 23 % = 0.0598
        ("recurring", "plan-5gb", "2026-01", D("0.26"), D("0.06")),
        ("oneTime", "activation-fee", "2026-01", D("8.13"), D("1.87")),
        ("recurring", "plan-5gb", "2026-02", D("8.13"), D("1.87")),
    ]
    assert lines[0].days == 1 and lines[0].days_in_period == 31


def test_a_rerun_with_what_was_billed_charges_nothing():
    activated = local("2026-01-31T10:00")
    items = [product(state(activated, "active", PLAN, FEE))]
    bill = period("2026-02-01T09:00")
    first = lines_for(bill, items, first=activated)
    assert lines_for(bill, items, first=activated, charged=charged_from(first)) == []


def test_termination_mid_period_credits_the_days_after_it():
    start = local("2026-10-01T08:00")
    ended = local("2026-11-15T10:00")
    items = [product(state(start, "active", PLAN), state(ended, "terminated", PLAN), end=ended)]
    november = lines_for(period("2026-11-01T09:00"), [product(state(start, "active", PLAN))])
    assert summary(november) == [("recurring", "plan-5gb", "2026-11", D("8.13"), D("1.87"))]
    december = lines_for(
        period("2026-12-01T09:00"),
        items,
        first=period("2026-11-01T09:00")[0],
        charged=charged_from(november),
    )
    # Nov 1..15 charged (the 15th at the state before termination): 8.13 x 15/30 = 4.065
    # -> 4.07, tax 0.94; 8.13 / 1.87 were charged in advance.
    assert summary(december) == [("recurring", "plan-5gb", "2026-11", D("-4.06"), D("-0.93"))]
    assert december[0].adjustment


def test_plan_upgrade_mid_period_prorates_both_plans_by_day():
    start = local("2026-10-01T08:00")
    changed = local("2026-11-11T16:30")
    november_bill = lines_for(period("2026-11-01T09:00"), [product(state(start, "active", PLAN))])
    items = [product(state(start, "active", PLAN), state(changed, "active", BIG))]
    december = lines_for(
        period("2026-12-01T09:00"),
        items,
        first=period("2026-11-01T09:00")[0],
        charged=charged_from(november_bill),
    )
    assert summary(december) == [
        # 10 days of the small plan: 2.71 (tax 0.62) against 8.13 (1.87) charged
        ("recurring", "plan-20gb", "2026-11", D("10.84"), D("2.49")),  # 16.26 x 20/30
        ("recurring", "plan-5gb", "2026-11", D("-5.42"), D("-1.25")),
        ("recurring", "plan-20gb", "2026-12", D("16.26"), D("3.74")),
    ]


def test_plan_downgrade_mid_period_credits_the_bigger_plan():
    start = local("2026-10-01T08:00")
    changed = local("2026-11-21T09:00")
    november_bill = lines_for(period("2026-11-01T09:00"), [product(state(start, "active", BIG))])
    items = [product(state(start, "active", BIG), state(changed, "active", PLAN))]
    december = lines_for(
        period("2026-12-01T09:00"),
        items,
        first=period("2026-11-01T09:00")[0],
        charged=charged_from(november_bill),
    )
    assert summary(december) == [
        # 20 days of 16.26 = 10.84 (2.49) against 16.26 (3.74); 10 days of 8.13 = 2.71 (0.62)
        ("recurring", "plan-20gb", "2026-11", D("-5.42"), D("-1.25")),
        ("recurring", "plan-5gb", "2026-11", D("2.71"), D("0.62")),
        ("recurring", "plan-5gb", "2026-12", D("8.13"), D("1.87")),
    ]


def test_suspended_days_are_not_charged():
    start = local("2026-10-01T08:00")
    items = [
        product(
            state(start, "active", PLAN),
            state(local("2026-11-10T12:00"), "suspended", PLAN),
            state(local("2026-11-20T09:00"), "active", PLAN),
        )
    ]
    november_bill = lines_for(period("2026-11-01T09:00"), [product(state(start, "active", PLAN))])
    december = lines_for(
        period("2026-12-01T09:00"),
        items,
        first=period("2026-11-01T09:00")[0],
        charged=charged_from(november_bill),
    )
    # suspended at the end of Nov 10..19: 10 days; 20 charged = 5.42 (1.25)
    assert summary(december) == [
        ("recurring", "plan-5gb", "2026-11", D("-2.71"), D("-0.62")),
        ("recurring", "plan-5gb", "2026-12", D("8.13"), D("1.87")),
    ]


WELCOME = {
    "name": "Welcome 50 % off",
    "productOfferingPrice": {"id": "welcome-50"},
    "price": {"percentage": D(50), "dutyFreeAmount": {"unit": "EUR", "value": D("-4.06")}},
    "applicationDuration": 3,
}


def test_a_promotion_ending_mid_period_is_prorated_to_its_last_day():
    activated = local("2026-01-15T12:00")
    items = [
        product(
            state(activated, "active", price("plan-5gb", "8.13", productPriceAlteration=[WELCOME]))
        )
    ]
    april = lines_for(period("2026-04-01T09:00"), items)
    # three months from Jan 15: the discount lasts until Apr 14 inclusive: 14 of 30 days
    assert summary(april) == [
        ("recurring", "plan-5gb", "2026-04", D("8.13"), D("1.87")),
        ("discount", "plan-5gb>welcome-50", "2026-04", D("-1.89"), D("-0.43")),
    ]
    may = lines_for(period("2026-05-01T09:00"), items)
    assert [line.kind for line in may] == ["recurring"]
    march = lines_for(period("2026-03-01T09:00"), items)
    assert summary(march)[1] == (
        "discount",
        "plan-5gb>welcome-50",
        "2026-03",
        D("-4.06"),
        D("-0.93"),
    )


def test_february_of_a_leap_year_has_29_days():
    leap = lines_for(
        period("2028-02-10T09:00"),
        [product(state(local("2028-02-15T09:00"), "active", PLAN))],
    )
    common = lines_for(
        period("2027-02-10T09:00"),
        [product(state(local("2027-02-15T09:00"), "active", PLAN))],
    )
    assert summary(leap) == [("recurring", "plan-5gb", "2028-02", D("4.21"), D("0.97"))]  # 15/29
    assert summary(common) == [("recurring", "plan-5gb", "2027-02", D("4.07"), D("0.94"))]  # 14/28
    assert (leap[0].days, leap[0].days_in_period) == (15, 29)


def test_a_period_with_a_daylight_saving_change_counts_local_days():
    march = period("2026-03-15T12:00")
    # Irish summer time starts on 29 March: the period ends at 23:00 UTC on 31 March
    assert march == (utc("2026-03-01T00:00"), utc("2026-03-31T23:00"))
    before_change = product(state(utc("2026-03-29T00:30"), "active", PLAN))  # 00:30 GMT
    lines = lines_for(march, [before_change])
    assert summary(lines) == [("recurring", "plan-5gb", "2026-03", D("0.79"), D("0.18"))]  # 3/31
    april_locally = product(state(utc("2026-03-31T23:30"), "active", PLAN))  # 00:30 IST, Apr 1
    assert lines_for(march, [april_locally]) == []


def test_a_price_of_28_days_is_charged_for_each_of_its_periods_starting_in_the_bill_period():
    bundle = price("prepaid-15", "12.19", period="28 days")
    items = [product(state(local("2026-10-04T10:00"), "active", bundle))]
    october = lines_for(period("2026-10-05T09:00"), items)
    assert summary(october) == [("recurring", "prepaid-15", "2026-10", D("12.19"), D("2.80"))]
    # its periods start on Nov 1 and Nov 29
    november = lines_for(period("2026-11-05T09:00"), items)
    assert summary(november) == [("recurring", "prepaid-15", "2026-11", D("24.38"), D("5.61"))]


def test_usage_of_closed_periods_is_billed_as_rated_and_late_usage_on_the_next_bill():
    november = period("2026-11-10T09:00")
    december = period("2026-12-10T09:00")
    # 150 records of 0.0123 rated one by one: 0.01 each, VAT 0.0023 -> 0.00 each
    rated = UsageCharge("p-1", "SIM Only", november[0], D("1.50"), D("1.50"))
    lines = lines_for(december, [], first=november[0], usage=[rated])
    assert summary(lines) == [("usage", "usage", "2026-11", D("1.50"), D("0.00"))]
    late = UsageCharge("p-1", "SIM Only", november[0], D("2.50"), D("3.08"))
    again = lines_for(december, [], first=november[0], usage=[late], charged=charged_from(lines))
    assert summary(again) == [("usage", "usage", "2026-11", D("1.00"), D("0.58"))]
    assert again[0].adjustment


def test_an_interim_bill_charges_only_usage_and_the_next_bill_deducts_it():
    november = period("2026-11-10T09:00")
    items = [product(state(local("2026-10-01T08:00"), "active", PLAN))]
    so_far = UsageCharge("p-1", "SIM Only", november[0], D("3.00"), D("3.69"))
    interim = lines_for(november, items, usage=[so_far], interim=True)
    assert summary(interim) == [("usage", "usage", "2026-11", D("3.00"), D("0.69"))]
    final = UsageCharge("p-1", "SIM Only", november[0], D("5.00"), D("6.15"))
    charged = charged_from(interim)
    december = lines_for(
        period("2026-12-10T09:00"), items, first=november[0], usage=[final], charged=charged
    )
    assert ("usage", "usage", "2026-11", D("2.00"), D("0.46")) in summary(december)


def test_bill_totals_are_the_sums_of_the_lines():
    activated = local("2026-01-31T10:00")
    lines = lines_for(
        period("2026-02-01T09:00"),
        [product(state(activated, "active", PLAN, FEE))],
        first=activated,
        usage=[UsageCharge("p-1", "SIM Only", period("2026-01-31T12:00")[0], D("0.99"), D("1.22"))],
    )
    total = totals(lines, "EUR")
    assert total.tax_excluded == sum(line.amounts.tax_excluded for line in lines) == D("17.51")
    assert total.tax == sum(line.amounts.tax for line in lines) == D("4.03")
    assert total.tax_included == total.tax_excluded + total.tax
    draft = draft_bill(
        bill_id=regular_bill_id("ba-1", period("2026-02-01T09:00")),
        terms=TERMS,
        customer={"id": "c-1", "name": "Ann"},
        period=period("2026-02-01T09:00"),
        lines=lines,
        at=utc("2026-02-01T06:00"),
    )
    assert draft.bill["taxIncludedAmount"] == {"unit": "EUR", "value": D("21.54")}
    assert (
        draft.bill["amountDue"] == draft.bill["remainingAmount"] == draft.bill["taxIncludedAmount"]
    )
    assert sum(item["taxAmount"]["value"] for item in draft.bill["taxItem"]) == D("4.03")
    assert draft.bill["paymentDueDate"] == "2026-02-15T06:00:00.000Z"
    assert len({rate["id"] for rate in draft.rates}) == len(lines)
    # what the stored lines charged reads back as the same amounts by the same keys
    assert charged_by(draft.rates) == {
        line.charge_key: Amounts(line.amounts.tax_excluded, line.amounts.tax) for line in lines
    }


def test_bill_ids_are_one_per_account_and_period():
    november = period("2026-11-10T09:00")
    assert regular_bill_id("ba-1", november) == regular_bill_id("ba-1", november)
    assert regular_bill_id("ba-1", november) != regular_bill_id("ba-2", november)
    assert regular_bill_id("ba-1", november) != regular_bill_id("ba-1", period("2026-12-10T09:00"))


def test_the_bill_of_a_period_leaves_its_open_usage_to_the_next_even_after_an_interim_bill():
    november = period("2026-11-10T09:00")
    items = [product(state(local("2026-10-01T08:00"), "active", PLAN))]
    so_far = UsageCharge("p-1", "SIM Only", november[0], D("3.00"), D("3.69"))
    interim = lines_for(november, items, usage=[so_far], interim=True)
    regular = lines_for(november, items, usage=[so_far], charged=charged_from(interim))
    assert summary(regular) == [("recurring", "plan-5gb", "2026-11", D("8.13"), D("1.87"))]
