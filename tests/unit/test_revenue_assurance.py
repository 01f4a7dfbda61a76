"""The revenue assurance checks of domain/revenue_assurance.py, with exact amounts.

Bills are made by the billing engine itself (domain/billing.py draft_bill), then changed the
way leakage would: a line lost, a line twice, usage rated but not billed. The account bills
on the 1st in Europe/Dublin, VAT 23 %, EUR; the plan is 8.13 a month (tax excluded).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.account import AccountTerms, Cycle
from domain.billing import (
    UsageCharge,
    bill_lines,
    charged_by,
    draft_bill,
    periods_from,
    product_life,
    regular_bill_id,
)
from domain.errors import InvalidRequest
from domain.instants import format_instant
from domain.revenue_assurance import (
    IDS_LISTED,
    AccountFacts,
    Month,
    Report,
    check_account,
)

DUBLIN = ZoneInfo("Europe/Dublin")
D = Decimal
TERMS = AccountTerms(
    account_id="ba-1",
    name="Ann's account",
    state="Active",
    currency="EUR",
    cycle=Cycle(1, DUBLIN),
    vat_rate=D(23),
    tax_exempt=False,
    spend_cap=None,
    bar_at_spend_cap=False,
    payment_due_days=14,
)
PLAN = {
    "name": "plan-5gb",
    "priceType": "recurring",
    "recurringChargePeriod": "month",
    "productOfferingPrice": {"id": "plan-5gb"},
    "price": {"dutyFreeAmount": {"unit": "EUR", "value": D("8.13")}},
}
NOVEMBER = Month(2026, 11)
ACTIVATED = "2026-10-01T08:00"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=DUBLIN).astimezone(UTC)


def product(*history: tuple[str, str], pid: str = "p-1") -> dict[str, Any]:
    """A product with its history: (local time, status) pairs, the plan price throughout."""
    found: dict[str, Any] = {
        "id": pid,
        "name": "SIM Only 5 GB",
        "billingAccount": {"id": TERMS.account_id},
        "productHistory": [
            {
                "validFor": {"startDateTime": format_instant(local(at))},
                "status": status,
                "productPrice": [PLAN],
            }
            for at, status in history
        ],
    }
    if history[-1][1] == "terminated":
        found["terminationDate"] = format_instant(local(history[-1][0]))
    return found


def bill(
    at: str, products: list[dict[str, Any]], earlier=(), usage=()
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The regular bill the engine makes at `at` (local), settling back to October, as
    the bill run would: the bill and its rates."""
    moment = local(at)
    period = TERMS.cycle.period(moment)
    periods = periods_from(TERMS.cycle, local("2026-10-01T00:00"), period)
    lives = [product_life(p) for p in products]
    lines = bill_lines(TERMS, periods, lives, list(usage), charged_by(earlier))
    draft = draft_bill(
        bill_id=regular_bill_id(TERMS.account_id, period),
        terms=TERMS,
        customer=None,
        period=period,
        lines=lines,
        at=moment,
    )
    return draft.bill, draft.rates


def facts(products=(), rates=(), bills=(), **others: Any) -> AccountFacts:
    return AccountFacts(
        terms=others.pop("terms", TERMS),
        products=list(products),
        rates=list(rates),
        balances=others.pop("balances", []),
        usage=others.pop("usage", []),
        bills=list(bills),
        payments=others.pop("payments", []),
    )


def in_november(rates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rates if r["periodCoverage"]["startDateTime"] == "2026-11-01T00:00:00.000Z"]


def summary(discrepancies) -> list[tuple[str, str, str, Decimal, Decimal, Decimal]]:
    return [
        (d.kind, d.product_id, d.charge_key, d.owed, d.billed, d.difference) for d in discrepancies
    ]


# the month and the period of an account --------------------------------------------------


def test_a_month_is_yyyy_mm():
    assert str(Month.parse("2026-11")) == "2026-11"
    for text in ("2026-13", "2026-00", "26-11", "2026-1", "November", "1999-12", "3000-01"):
        with pytest.raises(InvalidRequest):
            Month.parse(text)


def test_each_account_is_checked_for_its_period_starting_in_the_month():
    new_york = Cycle(15, ZoneInfo("America/New_York"))
    assert NOVEMBER.period_for(new_york) == (
        datetime(2026, 11, 15, 5, tzinfo=UTC),  # EST, UTC-5
        datetime(2026, 12, 15, 5, tzinfo=UTC),
    )
    # Dublin in October: summer time (UTC+1) until the 25th
    assert Month(2026, 10).period_for(TERMS.cycle) == (
        datetime(2026, 9, 30, 23, tzinfo=UTC),
        datetime(2026, 11, 1, 0, tzinfo=UTC),
    )
    assert NOVEMBER.bounds == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


# recurring, one-time and discount charges ------------------------------------------------


def test_a_product_billed_as_owed_is_clean():
    products = [product((ACTIVATED, "active"))]
    november, november_rates = bill("2026-11-01T06:00", products)
    december, december_rates = bill("2026-12-01T06:00", products, november_rates)
    check = check_account(
        facts(products, november_rates + december_rates, [november, december]), NOVEMBER
    )
    assert (check.discrepancies, check.pending) == ([], [])
    assert (check.owed, check.billed) == (D("8.13"), D("8.13"))


def test_a_change_after_the_bill_is_pending_until_a_later_bill_settles_it():
    active = [product((ACTIVATED, "active"))]
    november, november_rates = bill("2026-11-01T06:00", active)
    terminated = [product((ACTIVATED, "active"), ("2026-11-15T10:00", "terminated"))]
    # 15 of 30 days: 4.065 -> 4.07 owed, 8.13 charged in advance
    check = check_account(facts(terminated, november_rates, [november]), NOVEMBER)
    assert check.discrepancies == []
    assert summary(check.pending) == [
        ("overbilled", "p-1", "plan-5gb", D("4.07"), D("8.13"), D("-4.06"))
    ]
    december, december_rates = bill("2026-12-01T06:00", terminated, november_rates)
    settled = facts(terminated, november_rates + december_rates, [november, december])
    check = check_account(settled, NOVEMBER)
    assert (check.discrepancies, check.pending) == ([], [])
    assert (check.owed, check.billed) == (D("4.07"), D("4.07"))


def test_a_credit_the_later_bill_lacks_is_overbilled_with_the_ids_of_the_lines():
    active = [product((ACTIVATED, "active"))]
    november, november_rates = bill("2026-11-01T06:00", active)
    terminated = [product((ACTIVATED, "active"), ("2026-11-15T10:00", "terminated"))]
    december, _ = bill("2026-12-01T06:00", terminated, november_rates)
    check = check_account(facts(terminated, november_rates, [november, december]), NOVEMBER)
    assert summary(check.discrepancies) == [
        ("overbilled", "p-1", "plan-5gb", D("4.07"), D("8.13"), D("-4.06"))
    ]
    [found] = check.discrepancies
    assert found.rate_ids == tuple(rate["id"] for rate in in_november(november_rates))
    shown = found.as_dict()
    assert shown["difference"] == {"unit": "EUR", "value": D("-4.06")}
    assert shown["billingPeriod"] == {
        "startDateTime": "2026-11-01T00:00:00.000Z",
        "endDateTime": "2026-12-01T00:00:00.000Z",
    }
    assert "usageId" not in shown


def test_a_product_without_a_line_and_a_line_billed_twice():
    products = [product((ACTIVATED, "active")), product((ACTIVATED, "active"), pid="p-2")]
    november, november_rates = bill("2026-11-01T06:00", products)
    december, december_rates = bill("2026-12-01T06:00", products, november_rates)
    p1_november = [rate for rate in in_november(november_rates) if rate["product"]["id"] == "p-1"]
    kept = [rate for rate in november_rates + december_rates if rate["product"]["id"] != "p-2"]
    twice = {**p1_november[0], "id": "rate-again"}
    check = check_account(facts(products, [*kept, twice], [november, december]), NOVEMBER)
    assert summary(check.discrepancies) == [
        ("overbilled", "p-1", "plan-5gb", D("8.13"), D("16.26"), D("-8.13")),
        ("unbilled", "p-2", "plan-5gb", D("8.13"), D("0"), D("8.13")),
    ]
    assert check.discrepancies[0].rate_ids == (p1_november[0]["id"], "rate-again")
    assert check.discrepancies[1].rate_ids == ()
    assert (check.owed, check.billed) == (D("16.26"), D("16.26"))


def test_a_line_of_a_product_that_owes_nothing_is_overbilled():
    products = [product((ACTIVATED, "active"))]
    november, november_rates = bill("2026-11-01T06:00", products)
    december, december_rates = bill("2026-12-01T06:00", products, november_rates)
    stray = {**november_rates[-1], "id": "stray", "product": {"id": "p-9", "name": "Gone"}}
    check = check_account(
        facts(products, [*november_rates, *december_rates, stray], [november, december]),
        NOVEMBER,
    )
    assert summary(check.discrepancies) == [
        ("overbilled", "p-9", "plan-5gb", D("0"), D("8.13"), D("-8.13"))
    ]
    assert check.discrepancies[0].product_name == "Gone"


# usage ------------------------------------------------------------------------------------


def usage_record(
    rid: str, amount: str, start: str = "2026-11-01T00:00:00.000Z", status: str = "rated"
) -> dict[str, Any]:
    """A record rated out of bundle into the balance period starting at `start`, with the
    allowance it used first."""
    period = {"startDateTime": start, "endDateTime": "2026-12-01T00:00:00.000Z"}
    return {
        "id": rid,
        "status": status,
        "ratedProductUsage": [
            {
                "offerTariffType": "allowance",
                "productRef": {"id": "p-1"},
                "billingPeriod": period,
                "taxExcludedRatingAmount": {"unit": "EUR", "value": D("0.00")},
            },
            {
                "offerTariffType": "outOfBundle",
                "productRef": {"id": "p-1", "name": "SIM Only 5 GB"},
                "billingPeriod": period,
                "taxExcludedRatingAmount": {"unit": "EUR", "value": D(amount)},
            },
        ],
    }


def balance(excluded: str, included: str) -> dict[str, Any]:
    return {
        "id": "p-1@20261101T0000Z",
        "product": {"id": "p-1"},
        "validFor": {
            "startDateTime": "2026-11-01T00:00:00.000Z",
            "endDateTime": "2026-12-01T00:00:00.000Z",
        },
        "outOfBundleCharge": {
            "dutyFreeAmount": {"unit": "EUR", "value": D(excluded)},
            "taxIncludedAmount": {"unit": "EUR", "value": D(included)},
        },
    }


USAGE = [
    usage_record("u-1", "1.50"),
    usage_record("u-2", "2.25"),
    usage_record("u-october", "9.00", start="2026-10-01T00:00:00.000Z"),  # another period
    usage_record("u-rejected", "5.00", status="rejected"),  # counts nothing
]


def usage_charge(excluded: str, included: str) -> UsageCharge:
    return UsageCharge("p-1", "SIM Only 5 GB", local("2026-11-01T00:00"), D(excluded), D(included))


def test_usage_rated_billed_and_in_the_balance_alike_is_clean():
    products = [product((ACTIVATED, "active"))]
    november, november_rates = bill("2026-11-01T06:00", products)
    december, december_rates = bill(
        "2026-12-01T06:00", products, november_rates, [usage_charge("3.75", "4.61")]
    )
    check = check_account(
        facts(
            products,
            november_rates + december_rates,
            [november, december],
            usage=USAGE,
            balances=[balance("3.75", "4.61")],
        ),
        NOVEMBER,
    )
    assert (check.discrepancies, check.pending) == ([], [])
    assert (check.owed, check.billed) == (D("11.88"), D("11.88"))  # 8.13 + 3.75


def test_usage_rated_but_not_billed_names_its_records_lines_and_balance():
    products = [product((ACTIVATED, "active"))]
    november, november_rates = bill("2026-11-01T06:00", products)
    # the balance missed u-2; the bill was made from it
    december, december_rates = bill(
        "2026-12-01T06:00", products, november_rates, [usage_charge("1.50", "1.85")]
    )
    check = check_account(
        facts(
            products,
            november_rates + december_rates,
            [november, december],
            usage=USAGE,
            balances=[balance("1.50", "1.85")],
        ),
        NOVEMBER,
    )
    assert summary(check.discrepancies) == [
        ("usageUnbilled", "p-1", "usage", D("3.75"), D("1.50"), D("2.25")),
        ("usageBalanceMismatch", "p-1", "usage", D("3.75"), D("1.50"), D("2.25")),
    ]
    shown = check.discrepancies[0].as_dict()
    usage_rate = next(rate["id"] for rate in december_rates if rate["type"] == "usage")
    assert shown["appliedCustomerBillingRateId"] == [usage_rate]
    assert shown["usageId"] == ["u-1", "u-2"] and shown["usageCount"] == 2
    assert shown["usageConsumptionId"] == ["p-1@20261101T0000Z"]
    assert shown["balance"] == {"unit": "EUR", "value": D("1.50")}
    assert shown["product"] == {"id": "p-1", "name": "SIM Only 5 GB"}


def test_usage_not_billed_yet_is_pending_but_a_balance_mismatch_is_not():
    products = [product((ACTIVATED, "active"))]
    november, november_rates = bill("2026-11-01T06:00", products)
    check = check_account(
        facts(
            products, november_rates, [november], usage=USAGE, balances=[balance("3.00", "3.69")]
        ),
        NOVEMBER,
    )
    assert summary(check.pending) == [
        ("usageUnbilled", "p-1", "usage", D("3.75"), D("0"), D("3.75"))
    ]
    assert summary(check.discrepancies) == [
        ("usageBalanceMismatch", "p-1", "usage", D("3.75"), D("0"), D("0.75"))
    ]


def test_usage_ids_are_listed_up_to_a_bound_and_counted_in_full():
    many = [usage_record(f"u-{n}", "0.01") for n in range(IDS_LISTED + 5)]
    check = check_account(facts(usage=many), NOVEMBER)
    [found] = check.pending  # no bill yet
    assert (found.kind, found.owed, found.usage_count) == ("usageUnbilled", D("1.05"), 105)
    assert found.usage_ids == tuple(f"u-{n}" for n in range(IDS_LISTED))


# to follow up ----------------------------------------------------------------------------


def test_the_periods_bills_not_sent_yet_are_listed():
    products = [product((ACTIVATED, "active"))]
    november, _ = bill("2026-11-01T06:00", products)
    bills = [
        {**november, "billNo": "000001"},
        {**november, "id": "b-sent", "state": "sent"},
        {**november, "id": "b-hold", "state": "onHold", "category": "interim"},
        {**november, "id": "b-settled", "state": "settled"},
        {**bill("2026-12-01T06:00", products)[0], "id": "b-december"},  # another period
    ]
    check = check_account(facts(bills=bills), NOVEMBER)
    assert [(b["id"], b["state"]) for b in check.unsent_bills] == [
        (november["id"], "new"),
        ("b-hold", "onHold"),
    ]
    assert check.unsent_bills[0] == {
        "id": november["id"],
        "billNo": "000001",
        "state": "new",
        "category": "normal",
        "billDate": "2026-11-01T06:00:00.000Z",
        "billingAccount": {"id": "ba-1"},
        "amountDue": {"unit": "EUR", "value": D("20.00")},  # (8.13 + 8.13) x 1.23
        "remainingAmount": {"unit": "EUR", "value": D("20.00")},
    }


def payment(pid: str, left: str, when: str = "2026-11-20T10:00:00.000Z", status: str = "done"):
    return {
        "id": pid,
        "account": {"id": "ba-1"},
        "status": status,
        "paymentDate": when,
        "correlatorId": f"ref-{pid}",
        "totalAmount": {"unit": "EUR", "value": D("50.00")},
        "unallocatedAmount": {"unit": "EUR", "value": D(left)},
    }


def test_payments_made_by_the_periods_end_with_money_unallocated_are_listed():
    payments = [
        payment("pay-1", "12.50"),
        payment("pay-used", "0.00"),
        payment("pay-failed", "0.00", status="failed"),
        payment("pay-later", "5.00", when="2026-12-01T00:00:00.000Z"),  # after the period
    ]
    check = check_account(facts(payments=payments), NOVEMBER)
    assert check.unallocated_payments == [
        {
            "id": "pay-1",
            "account": {"id": "ba-1"},
            "paymentDate": "2026-11-20T10:00:00.000Z",
            "correlatorId": "ref-pay-1",
            "totalAmount": {"unit": "EUR", "value": D("50.00")},
            "unallocatedAmount": {"unit": "EUR", "value": D("12.50")},
        }
    ]


# the report -------------------------------------------------------------------------------


def test_the_report_sums_leakage_per_currency_and_is_clean_only_without_discrepancies():
    products = [product((ACTIVATED, "active")), product((ACTIVATED, "active"), pid="p-2")]
    november, november_rates = bill("2026-11-01T06:00", products)
    december, december_rates = bill("2026-12-01T06:00", products, november_rates)
    lost = [rate for rate in november_rates + december_rates if rate["product"]["id"] != "p-2"]
    report = Report(NOVEMBER)
    report.add(
        check_account(
            facts(products, november_rates + december_rates, [november, december]), NOVEMBER
        )
    )
    assert report.clean
    report.add(check_account(facts(products, lost, [november, december]), NOVEMBER))
    # November not settled yet, and billed as owed so far: nothing pending
    report.add(check_account(facts(products, november_rates, [november]), NOVEMBER))
    report.add_failure("ba-bad", "timeZone: 'Mars/Base' is not an IANA time zone")
    for record in (
        {"id": "u-new", "status": "received"},
        {"id": "u-again", "status": "recycled"},
        {"id": "u-x", "status": "rejected", "statusReason": "no product for +353831000001"},
        {"id": "u-y", "status": "rejected", "statusReason": "no product for +353831000001"},
        {"id": "u-z", "status": "rejected", "statusReason": "spend cap reached"},
    ):
        report.add_usage(record)
    shown = report.as_dict(datetime(2026, 12, 2, 9, tzinfo=UTC))
    assert not report.clean
    assert shown["total"] == [
        {
            "currency": "EUR",
            "owed": {"unit": "EUR", "value": D("48.78")},  # 3 accounts x 2 x 8.13
            "billed": {"unit": "EUR", "value": D("40.65")},
            "leakage": {"unit": "EUR", "value": D("8.13")},
            "pending": {"unit": "EUR", "value": D("0.00")},
        }
    ]
    assert (shown["accountCount"], shown["discrepancyCount"], shown["pendingCount"]) == (4, 1, 0)
    assert [d["product"]["id"] for d in shown["discrepancy"]] == ["p-2"]
    assert shown["failedAccount"] == [
        {"id": "ba-bad", "reason": "timeZone: 'Mars/Base' is not an IANA time zone"}
    ]
    assert shown["notRatedUsage"] == {"count": 2, "usageId": ["u-new", "u-again"]}
    assert shown["rejectedUsage"] == {
        "count": 3,
        "usageId": ["u-x", "u-y", "u-z"],
        "reason": [
            {"reason": "no product for +353831000001", "count": 2},
            {"reason": "spend cap reached", "count": 1},
        ],
    }
    assert shown["unsentBillCount"] == 3  # the November bill of each account
    assert (shown["period"], shown["generatedAt"]) == ("2026-11", "2026-12-02T09:00:00.000Z")
