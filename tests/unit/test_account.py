"""Billing account terms (domain/account.py): bill periods in the account's time zone, tax,
spend cap, and the rules a billing account and a cycle specification are checked by."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.account import (
    BILLING_CYCLE_SPECIFICATION,
    BillingAccountRules,
    Cycle,
    CycleSpecificationRules,
    account_terms,
    vat_rate,
)
from domain.errors import InvalidRequest, Unprocessable
from domain.resource import Lookup
from tests.unit.fakes import FakeRepository

DUBLIN = ZoneInfo("Europe/Dublin")
OWNER = {"id": "c1", "@referredType": "Customer"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def period(cycle: Cycle, at: str) -> tuple[str, str]:
    start, end = cycle.period(utc(at))
    assert start.tzinfo == end.tzinfo == UTC
    return start.isoformat(timespec="minutes"), end.isoformat(timespec="minutes")


class TestCyclePeriods:
    @pytest.mark.parametrize(
        ("at", "start", "end"),
        [
            # Irish summer time from 29 March: 1 April 00:00 local is 31 March 23:00 UTC
            ("2026-03-31T23:30", "2026-03-31T23:00+00:00", "2026-04-30T23:00+00:00"),
            ("2026-03-31T23:00", "2026-03-31T23:00+00:00", "2026-04-30T23:00+00:00"),
            ("2026-03-31T22:59", "2026-03-01T00:00+00:00", "2026-03-31T23:00+00:00"),
            # back to winter time on 25 October: November starts at midnight UTC
            ("2026-10-31T23:30", "2026-09-30T23:00+00:00", "2026-11-01T00:00+00:00"),
            ("2026-01-15T12:00", "2026-01-01T00:00+00:00", "2026-02-01T00:00+00:00"),
        ],
    )
    def test_periods_start_at_local_midnight_of_the_cycle_day(
        self, at: str, start: str, end: str
    ) -> None:
        assert period(Cycle(1, DUBLIN), at) == (start, end)

    def test_a_zone_ahead_of_utc_starts_the_period_the_day_before_in_utc(self) -> None:
        # 30 June 14:30 UTC is 1 July 00:30 in Sydney (UTC+10 in winter)
        assert period(Cycle(1, ZoneInfo("Australia/Sydney")), "2026-06-30T14:30") == (
            "2026-06-30T14:00+00:00",
            "2026-07-31T14:00+00:00",
        )

    @pytest.mark.parametrize(
        ("day", "at", "start", "end"),
        [
            (1, "2028-02-29T23:59", "2028-02-01T00:00+00:00", "2028-03-01T00:00+00:00"),
            (1, "2027-02-28T23:59", "2027-02-01T00:00+00:00", "2027-03-01T00:00+00:00"),
            (28, "2028-02-29T12:00", "2028-02-28T00:00+00:00", "2028-03-28T00:00+00:00"),
            (28, "2028-02-27T23:59", "2028-01-28T00:00+00:00", "2028-02-28T00:00+00:00"),
            (28, "2027-03-27T12:00", "2027-02-28T00:00+00:00", "2027-03-28T00:00+00:00"),
            (28, "2027-01-31T12:00", "2027-01-28T00:00+00:00", "2027-02-28T00:00+00:00"),
        ],
    )
    def test_february_and_leap_years(self, day: int, at: str, start: str, end: str) -> None:
        assert period(Cycle(day, ZoneInfo("UTC")), at) == (start, end)

    @pytest.mark.parametrize(
        ("at", "start", "end"),
        [
            ("2026-12-20T12:00", "2026-12-15T00:00+00:00", "2027-01-15T00:00+00:00"),
            ("2027-01-10T12:00", "2026-12-15T00:00+00:00", "2027-01-15T00:00+00:00"),
            ("2027-01-15T00:00", "2027-01-15T00:00+00:00", "2027-02-15T00:00+00:00"),
        ],
    )
    def test_periods_run_across_the_new_year(self, at: str, start: str, end: str) -> None:
        assert period(Cycle(15, DUBLIN), at) == (start, end)


def lookup(repository: FakeRepository | None = None) -> Lookup:
    return Lookup(repository or FakeRepository())


class TestAccountTerms:
    def test_defaults(self) -> None:
        terms = account_terms({"id": "ba-1", "name": "Main"}, lookup())
        assert terms.currency == "EUR"
        assert terms.cycle == Cycle(1, DUBLIN)
        assert terms.vat_rate == Decimal(23)
        assert terms.tax_exempt is False
        assert terms.spend_cap is None
        assert terms.bar_at_spend_cap is False
        assert terms.payment_due_days == 14
        assert terms.state == "Active"
        assert terms.ref == {"id": "ba-1", "name": "Main", "@referredType": "BillingAccount"}

    def test_reads_the_account_extensions(self) -> None:
        account = {
            "id": "ba-1",
            "currency": "GBP",
            "timeZone": "Europe/London",
            "taxProfile": {"country": "GB"},
            "spendCap": {"unit": "GBP", "value": Decimal("25.00")},
            "barAtSpendCap": True,
            "billStructure": {
                "cycleSpecification": {"billingDateShift": 27, "paymentDueDateOffset": 30}
            },
        }
        terms = account_terms(account, lookup())
        assert terms.currency == "GBP"
        assert terms.cycle == Cycle(28, ZoneInfo("Europe/London"))
        assert terms.vat_rate == Decimal(20)
        assert terms.spend_cap == Decimal("25.00")
        assert terms.bar_at_spend_cap is True
        assert terms.payment_due_days == 30

    def test_an_exempt_account_has_no_vat(self) -> None:
        account = {"id": "ba-1", "taxProfile": {"vatRate": 23, "exempt": True}}
        terms = account_terms(account, lookup())
        assert (terms.vat_rate, terms.tax_exempt) == (Decimal(0), True)

    def test_reads_a_referenced_cycle_specification(self) -> None:
        repository = FakeRepository()
        spec = {"id": "bcs-10", "billingDateShift": 9, "paymentDueDateOffset": 21}
        repository.put(BILLING_CYCLE_SPECIFICATION.collection, spec)
        account = {"id": "ba-1", "billStructure": {"cycleSpecification": {"id": "bcs-10"}}}
        terms = account_terms(account, lookup(repository))
        assert terms.cycle.day == 10
        assert terms.payment_due_days == 21

    def test_a_missing_cycle_specification_is_unprocessable(self) -> None:
        account = {"id": "ba-1", "billStructure": {"cycleSpecification": {"id": "bcs-x"}}}
        with pytest.raises(Unprocessable, match="billingCycleSpecification 'bcs-x' does not"):
            account_terms(account, lookup())

    def test_an_unknown_time_zone_is_refused(self) -> None:
        with pytest.raises(InvalidRequest, match="timeZone: 'Mars/Olympus' is not an IANA"):
            account_terms({"id": "ba-1", "timeZone": "Mars/Olympus"}, lookup())


class TestVatRate:
    @pytest.mark.parametrize(
        ("profile", "rate"),
        [
            ({}, Decimal(23)),
            ({"country": "FI"}, Decimal("25.5")),
            ({"country": "XX", "vatRate": "7.5"}, Decimal("7.5")),
            ({"country": "DE", "vatRate": 0}, Decimal(0)),
        ],
    )
    def test_the_given_rate_else_the_country_standard_rate(
        self, profile: dict[str, Any], rate: Decimal
    ) -> None:
        assert vat_rate(profile) == rate

    def test_an_unknown_country_without_a_rate_is_unprocessable(self) -> None:
        with pytest.raises(Unprocessable, match="no VAT rate known for 'US'"):
            vat_rate({"country": "US"})

    def test_a_rate_must_be_an_exact_number(self) -> None:
        with pytest.raises(InvalidRequest, match=r"taxProfile\.vatRate"):
            vat_rate({"vatRate": 23.5})


class TestBillingAccountRules:
    def repository(self) -> FakeRepository:
        repository = FakeRepository()
        repository.put("customer", {"id": "c1", "name": "Aoife Byrne"})
        return repository

    def create(self, **account: Any) -> dict[str, Any]:
        resource = {"id": "ba-1", "name": "Main", "relatedParty": [OWNER], **account}
        BillingAccountRules().on_create(resource, lookup(self.repository()))
        return resource

    def test_a_new_account_gets_the_default_currency_and_time_zone(self) -> None:
        created = self.create()
        assert (created["currency"], created["timeZone"]) == ("EUR", "Europe/Dublin")

    @pytest.mark.parametrize(
        ("account", "error", "message"),
        [
            ({"relatedParty": []}, Unprocessable, "name the owning customer"),
            ({"relatedParty": [{"id": "c9", "role": "owner"}]}, Unprocessable, "'c9' does not"),
            (
                {"spendCap": {"unit": "GBP", "value": Decimal(10)}},
                Unprocessable,
                "spendCap: GBP is not the account currency",
            ),
            (
                {"creditLimit": {"unit": "EUR", "value": Decimal(-1)}},
                InvalidRequest,
                "creditLimit: must not be negative",
            ),
            (
                {"billStructure": {"cycleSpecification": {"billingDateShift": 28}}},
                Unprocessable,
                "billingDateShift: 28 is outside 0..27",
            ),
            (
                {"billStructure": {"cycleSpecification": {"frequency": "weekly"}}},
                Unprocessable,
                "only 'monthly' cycles are supported",
            ),
            ({"timeZone": "Nowhere"}, InvalidRequest, "is not an IANA time zone"),
            ({"taxProfile": {"country": "US"}}, Unprocessable, "no VAT rate known for 'US'"),
        ],
    )
    def test_refuses(self, account: dict[str, Any], error: type[Exception], message: str) -> None:
        with pytest.raises(error, match=message):
            self.create(**account)

    def test_the_currency_cannot_change(self) -> None:
        before = self.create()
        after = {**before, "currency": "GBP"}
        with pytest.raises(Unprocessable, match="currency cannot change"):
            BillingAccountRules().on_update(before, after, lookup(self.repository()))

    def test_other_changes_are_checked_like_a_new_account(self) -> None:
        before = self.create()
        after = {**before, "spendCap": {"unit": "EUR", "value": Decimal(-5)}}
        with pytest.raises(InvalidRequest, match="spendCap: must not be negative"):
            BillingAccountRules().on_update(before, after, lookup(self.repository()))


class TestCycleSpecificationRules:
    def test_a_new_specification_is_monthly_from_day_1(self) -> None:
        spec = {"id": "bcs-1", "name": "Default"}
        CycleSpecificationRules().on_create(spec, lookup())
        assert (spec["frequency"], spec["billingDateShift"]) == ("monthly", 0)

    @pytest.mark.parametrize("shift", [-1, 28])
    def test_a_shift_outside_0_to_27_is_unprocessable(self, shift: int) -> None:
        with pytest.raises(Unprocessable, match=f"billingDateShift: {shift} is outside"):
            CycleSpecificationRules().on_create({"billingDateShift": shift}, lookup())
