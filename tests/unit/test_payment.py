"""Payments (domain/payment.py): money matched against bills and bills against credit, oldest
first and to the cent (or yen); what a payment or refund request may say; idempotency by
correlatorId."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.bill import SYSTEM_CUSTOMER_BILL
from domain.errors import Conflict, InvalidRequest, Unprocessable
from domain.payment import (
    DONE,
    FAILED,
    PAYMENT,
    REFUND,
    allocate,
    by_card,
    check_repeat,
    credit_for_bill,
    credited_payment,
    match,
    paid_bill,
    refunded_payment,
    request_id,
    settled_payment,
)
from domain.ports import ChargeOutcome, Stored
from domain.service import ResourceService
from tests.unit.fakes import FakeClock, FakeRepository, SequentialIds

PAYMENT_REF = {"id": "pay-1", "@referredType": "Payment"}


def d(text: str) -> Decimal:
    return Decimal(text)


def eur(value: str, unit: str = "EUR") -> dict[str, Any]:
    return {"unit": unit, "value": Decimal(value)}


def bill(
    bill_id: str,
    remaining: str,
    bill_date: str = "2026-01-01",
    state: str = "sent",
    unit: str = "EUR",
    bill_no: str | None = None,
) -> dict[str, Any]:
    return {
        "id": bill_id,
        "billNo": bill_no or bill_id,
        "billDate": f"{bill_date}T00:00:00.000Z",
        "state": state,
        "amountDue": eur(remaining, unit),
        "remainingAmount": eur(remaining, unit),
        "appliedPayment": [],
    }


def credit(payment_id: str, left: str, paid: str, status: str = DONE) -> dict[str, Any]:
    return {
        "id": payment_id,
        "status": status,
        "paymentDate": f"{paid}T09:00:00.000Z",
        "totalAmount": eur("100"),
        "unallocatedAmount": eur(left),
        "paymentItem": [],
    }


class TestMatch:
    def test_each_takes_what_it_holds_in_turn_until_nothing_is_left(self) -> None:
        matches, left = match(d("50.00"), "EUR", [("a", d("20.10")), ("b", d("40")), ("c", d("5"))])
        assert matches == [("a", d("20.10")), ("b", d("29.90"))]
        assert left == 0

    def test_what_is_left_is_exact(self) -> None:
        # 0.10 + 0.20 is 0.30 exactly, as it is not in binary floating point
        matches, left = match(d("1.00"), "EUR", [("a", d("0.10")), ("b", d("0.20"))])
        assert matches == [("a", d("0.10")), ("b", d("0.20"))]
        assert left == d("0.70")
        assert str(left) == "0.70"

    def test_amounts_are_in_the_currency_form_and_empty_ones_are_skipped(self) -> None:
        matches, left = match(d("3"), "EUR", [("none", d("0")), ("a", d("1"))])
        assert [(key, str(amount)) for key, amount in matches] == [("a", "1.00")]
        assert str(left) == "2.00"

    def test_an_amount_finer_than_the_minor_unit_is_a_mistake_not_rounded(self) -> None:
        with pytest.raises(ValueError, match="minor unit"):
            match(d("10.005"), "EUR", [("a", d("10"))])
        with pytest.raises(ValueError, match="minor unit"):
            match(d("100.5"), "JPY", [("a", d("100"))])


class TestAllocation:
    def test_the_oldest_bill_is_paid_first_and_bill_numbers_break_ties(self) -> None:
        bills = [
            bill("march", "30.00", "2026-03-01"),
            bill("january-2", "10.00", "2026-01-01", bill_no="000002"),
            bill("january-1", "10.00", "2026-01-01", bill_no="000001"),
            bill("february", "30.00", "2026-02-01"),
        ]
        allocation = allocate(d("45.00"), "EUR", bills)
        assert allocation.items == [
            ("january-1", d("10.00")),
            ("january-2", d("10.00")),
            ("february", d("25.00")),
        ]
        assert allocation.unallocated == 0

    def test_bills_on_hold_settled_empty_or_in_another_currency_take_nothing(self) -> None:
        bills = [
            bill("held", "10", "2026-01-01", state="onHold"),
            bill("settled", "0", "2026-01-02", state="settled"),
            bill("zero", "0", "2026-01-03", state="validated"),
            bill("pounds", "10", "2026-01-04", unit="GBP"),
            bill("new", "10", "2026-01-05", state="new"),
            bill("partly", "10", "2026-01-06", state="partiallyPaid"),
        ]
        allocation = allocate(d("15"), "EUR", bills)
        assert allocation.items == [("new", d("10.00")), ("partly", d("5.00"))]

    def test_an_overpayment_leaves_credit(self) -> None:
        allocation = allocate(d("100.00"), "EUR", [bill("a", "33.33"), bill("b", "33.33")])
        assert allocation.items == [("a", d("33.33")), ("b", d("33.33"))]
        assert allocation.unallocated == d("33.34")

    def test_a_payment_without_open_bills_is_all_credit(self) -> None:
        allocation = allocate(d("20.00"), "EUR", [])
        assert (allocation.items, allocation.unallocated) == ([], d("20.00"))

    def test_yen_have_no_decimals(self) -> None:
        bills = [bill("a", "600", unit="JPY"), bill("b", "700", "2026-02-01", unit="JPY")]
        allocation = allocate(d("1000"), "JPY", bills)
        assert allocation.items == [("a", d("600")), ("b", d("400"))]
        assert [str(amount) for _, amount in allocation.items] == ["600", "400"]
        assert str(allocation.unallocated) == "0"


class TestWhatAPaymentChanges:
    def test_a_bill_paid_in_full_is_settled(self) -> None:
        after = paid_bill(bill("a", "25.50"), PAYMENT_REF, d("25.50"), "EUR")
        assert after["state"] == "settled"
        assert after["remainingAmount"] == eur("0.00")
        assert after["appliedPayment"] == [{"appliedAmount": eur("25.50"), "payment": PAYMENT_REF}]

    def test_a_bill_paid_in_part_is_partially_paid_and_keeps_its_earlier_payments(self) -> None:
        first = paid_bill(bill("a", "25.50", state="new"), PAYMENT_REF, d("10"), "EUR")
        second_ref = {"id": "pay-2", "@referredType": "Payment"}
        after = paid_bill(first, second_ref, d("5.25"), "EUR")
        assert after["state"] == "partiallyPaid"
        assert after["remainingAmount"] == eur("10.25")
        assert [p["payment"]["id"] for p in after["appliedPayment"]] == ["pay-1", "pay-2"]
        assert after["amountDue"] == eur("25.50")

    @pytest.mark.parametrize(
        ("state", "amount"), [("onHold", "1"), ("settled", "1"), ("sent", "30"), ("sent", "0")]
    )
    def test_nothing_is_applied_to_a_bill_that_cannot_take_it(self, state: str, amount: str):
        with pytest.raises(ValueError, match="cannot be applied"):
            paid_bill(bill("a", "25.50", state=state), PAYMENT_REF, d(amount), "EUR")

    def test_the_stored_payment_lists_the_bills_it_paid_and_its_credit(self) -> None:
        draft = {"id": "pay-1", "totalAmount": eur("50.00"), "account": {"id": "acc"}}
        allocation = allocate(d("50.00"), "EUR", [bill("a", "20.00")])
        refs = {"a": {"id": "a", "@referredType": "CustomerBill"}}
        approved = ChargeOutcome(True, authorization_code="AUTH-1")

        payment = settled_payment(draft, approved, allocation, refs)

        assert payment["status"] == DONE
        assert payment["authorizationCode"] == "AUTH-1"
        assert payment["paymentItem"] == [{"amount": eur("20.00"), "item": refs["a"]}]
        assert payment["unallocatedAmount"] == eur("30.00")

    def test_a_declined_payment_is_failed_and_pays_nothing(self) -> None:
        draft = {"id": "pay-1", "totalAmount": eur("50.00"), "account": {"id": "acc"}}
        declined = ChargeOutcome(False, reason="card declined")
        payment = settled_payment(draft, declined, allocate(d("50"), "EUR", []), {})
        assert payment["status"] == FAILED
        assert payment["statusReason"] == "card declined"
        assert payment["paymentItem"] == []
        assert payment["unallocatedAmount"] == eur("0.00")

    def test_a_card_is_known_by_its_type_or_the_type_it_refers_to(self) -> None:
        assert by_card({"paymentMethod": {"@type": "BankCard", "id": "tok"}})
        assert by_card({"paymentMethod": {"id": "pm-1", "@referredType": "BankCard"}})
        assert not by_card({"paymentMethod": {"@type": "BankTransfer"}})
        assert not by_card({"paymentMethod": {"id": "pm-1", "@referredType": "PaymentMethod"}})


class TestCreditForANewBill:
    def test_the_oldest_credit_goes_first_and_only_what_the_bill_needs(self) -> None:
        payments = [
            credit("newer", "50.00", "2026-03-01"),
            credit("older", "15.00", "2026-02-01"),
            credit("spent", "0.00", "2026-01-01"),
            credit("declined", "0.00", "2026-01-02", status=FAILED),
        ]
        assert credit_for_bill(d("40.00"), "EUR", payments) == [
            ("older", d("15.00")),
            ("newer", d("25.00")),
        ]

    def test_a_bill_with_nothing_to_pay_takes_no_credit(self) -> None:
        assert credit_for_bill(d("0"), "EUR", [credit("p", "10", "2026-01-01")]) == []
        assert credit_for_bill(d("-5.00"), "EUR", [credit("p", "10", "2026-01-01")]) == []

    def test_the_payment_records_the_bill_its_credit_paid(self) -> None:
        bill_ref = {"id": "b-9", "@referredType": "CustomerBill"}
        after = credited_payment(credit("p", "15.00", "2026-02-01"), bill_ref, d("12.50"), "EUR")
        assert after["unallocatedAmount"] == eur("2.50")
        assert after["paymentItem"] == [{"amount": eur("12.50"), "item": bill_ref}]

    def test_credit_is_taken_once_only(self) -> None:
        payment = refunded_payment(credit("p", "15.00", "2026-02-01"), d("15.00"), "EUR")
        assert payment["unallocatedAmount"] == eur("0.00")
        with pytest.raises(Unprocessable, match=r"0\.00 EUR of credit left"):
            refunded_payment(payment, d("0.01"), "EUR")

    def test_one_rule_both_ways(self) -> None:
        """A 30.00 payment against a 20.00 bill leaves 10.00 of credit, which a new 25.00
        bill then takes, leaving it 15.00 to pay."""
        allocation = allocate(d("30.00"), "EUR", [bill("old", "20.00")])
        payment = credit("p", str(allocation.unallocated), "2026-02-01")
        [(payment_id, taken)] = credit_for_bill(d("25.00"), "EUR", [payment])
        new_bill = paid_bill(bill("new", "25.00", state="new"), PAYMENT_REF, taken, "EUR")
        assert (payment_id, taken) == ("p", d("10.00"))
        assert new_bill["remainingAmount"] == eur("15.00")
        assert new_bill["state"] == "partiallyPaid"


class TestIdempotency:
    def test_the_same_reference_gives_the_same_id_per_kind(self) -> None:
        assert request_id("payment", "PSP-1") == request_id("payment", "PSP-1")
        assert request_id("payment", "PSP-1") != request_id("payment", "PSP-2")
        assert request_id("payment", "PSP-1") != request_id("refund", "PSP-1")
        assert request_id("payment", None) != request_id("payment", None)

    def test_the_same_request_again_is_accepted_whatever_the_notation(self) -> None:
        stored = {"id": "p", "account": {"id": "acc"}, "totalAmount": eur("10.00")}
        body = {"account": {"id": "acc"}, "totalAmount": {"unit": "eur", "value": 10}}
        check_repeat(stored, body)

    @pytest.mark.parametrize(
        "body",
        [
            {"account": {"id": "other"}, "totalAmount": eur("10.00")},
            {"account": {"id": "acc"}, "totalAmount": eur("10.01")},
            {"account": {"id": "acc"}, "totalAmount": eur("10.00", "GBP")},
        ],
    )
    def test_the_reference_of_another_request_is_refused(self, body: dict[str, Any]) -> None:
        stored = {
            "id": "p",
            "@type": "Payment",
            "account": {"id": "acc"},
            "totalAmount": eur("10.00"),
        }
        with pytest.raises(Conflict, match="was used for Payment p"):
            check_repeat(stored, {**body, "correlatorId": "PSP-1"})


# the rules of a request -----------------------------------------------------------------


def href_for(rtype: Any, resource_id: str) -> str:
    return f"http://bss.test/tmf-api/{rtype.api}/v4/{rtype.path}/{resource_id}"


@pytest.fixture
def repository() -> FakeRepository:
    repository = FakeRepository()
    repository.put("billingAccount", {"id": "acc", "name": "Home", "currency": "EUR"})
    repository.put("billingAccount", {"id": "yen", "name": "Tokyo", "currency": "JPY"})
    return repository


def service(rtype: Any, repository: FakeRepository) -> ResourceService:
    return ResourceService(rtype, repository, FakeClock(), SequentialIds(), href_for)


def payment_body(**changes: Any) -> dict[str, Any]:
    body = {
        "account": {"id": "acc"},
        "paymentMethod": {"@type": "BankTransfer"},
        "totalAmount": {"unit": "EUR", "value": Decimal("20")},
    }
    return {**body, **changes}


class TestAPaymentRequest:
    def test_a_valid_one_is_completed_with_its_dates_and_amount_in_the_currency_form(
        self, repository: FakeRepository
    ) -> None:
        draft = service(PAYMENT, repository).new_resource(payment_body(), resource_id="p")
        assert draft["totalAmount"] == {"unit": "EUR", "value": Decimal("20")}
        assert str(draft["totalAmount"]["value"]) == "20.00"
        assert draft["paymentDate"] == draft["statusDate"] == "2026-11-25T10:00:00.000Z"

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"totalAmount": eur("0")}, "must be more than 0"),
            ({"totalAmount": eur("10.001")}, "more decimals than EUR has"),
            ({"totalAmount": {"unit": "EUR", "value": Decimal("1E+400")}}, "too large"),
            ({"taxAmount": eur("-1")}, "must not be negative"),
            ({"amount": eur("15"), "taxAmount": eur("4")}, "must equal totalAmount"),
            ({"status": "done"}, "status: written by the server"),
            ({"paymentItem": []}, "paymentItem: written by the server"),
            ({"unallocatedAmount": eur("1")}, "unallocatedAmount: written by the server"),
            ({"paymentMethod": {"@type": "BankCard"}}, "charged by its token"),
        ],
    )
    def test_a_malformed_one_is_refused(
        self, repository: FakeRepository, changes: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(InvalidRequest, match=message):
            service(PAYMENT, repository).new_resource(payment_body(**changes))

    def test_yen_are_whole(self, repository: FakeRepository) -> None:
        payments = service(PAYMENT, repository)
        body = payment_body(account={"id": "yen"}, totalAmount=eur("1500", "JPY"))
        assert str(payments.new_resource(body)["totalAmount"]["value"]) == "1500"
        with pytest.raises(InvalidRequest, match=r"more decimals than JPY has \(0\)"):
            payments.new_resource({**body, "totalAmount": eur("1500.50", "JPY")})

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"account": {"id": "nobody"}}, "billing account 'nobody' does not exist"),
            ({"totalAmount": eur("20", "GBP")}, "GBP is not the currency of billing account acc"),
            ({"taxAmount": eur("2", "USD")}, "taxAmount: USD is not the currency"),
        ],
    )
    def test_one_the_account_cannot_take_is_unprocessable(
        self, repository: FakeRepository, changes: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(Unprocessable, match=message):
            service(PAYMENT, repository).new_resource(payment_body(**changes))


class TestARefundRequest:
    @pytest.fixture
    def paid(self, repository: FakeRepository) -> dict[str, Any]:
        payment = {**credit("pay-1", "12.00", "2026-02-01"), "account": {"id": "acc"}}
        repository.put("payment", payment)
        return payment

    def body(self, value: str = "12.00", **changes: Any) -> dict[str, Any]:
        return {
            "account": {"id": "acc"},
            "payment": {"id": "pay-1"},
            "paymentMethod": {"@type": "BankTransfer"},
            "totalAmount": eur(value),
            **changes,
        }

    def test_may_pay_back_the_credit_of_a_payment(
        self, repository: FakeRepository, paid: dict[str, Any]
    ) -> None:
        draft = service(REFUND, repository).new_resource(self.body())
        assert draft["refundDate"] == "2026-11-25T10:00:00.000Z"

    def test_may_not_pay_back_more_than_the_credit(
        self, repository: FakeRepository, paid: dict[str, Any]
    ) -> None:
        with pytest.raises(Unprocessable, match=r"12\.00 EUR of credit left"):
            service(REFUND, repository).new_resource(self.body("12.01"))

    def test_needs_a_payment_of_the_account_that_was_done(
        self, repository: FakeRepository, paid: dict[str, Any]
    ) -> None:
        refunds = service(REFUND, repository)
        repository.put("payment", {**paid, "id": "other", "account": {"id": "yen"}})
        repository.put("payment", {**paid, "id": "failed", "status": FAILED})
        with pytest.raises(Unprocessable, match="'nope' does not exist"):
            refunds.new_resource(self.body(payment={"id": "nope"}))
        with pytest.raises(Unprocessable, match="is not of this account"):
            refunds.new_resource(self.body(payment={"id": "other"}))
        with pytest.raises(Unprocessable, match="failed is failed"):
            refunds.new_resource(self.body(payment={"id": "failed"}))
        with pytest.raises(InvalidRequest, match="status: written by the server"):
            refunds.new_resource(self.body(status="done"))


class TestTheBillAsPaymentsChangeIt:
    def test_a_paid_bill_is_checked_and_gets_its_events_without_being_stored(self) -> None:
        repository = FakeRepository()
        bills = service(SYSTEM_CUSTOMER_BILL, repository)
        before = {**bill("b", "40.00", state="sent"), "@type": "CustomerBill"}
        stored = Stored(before, 3)

        after, events = bills.changed(stored, paid_bill(before, PAYMENT_REF, d("40"), "EUR"))

        assert after["state"] == "settled"
        assert after["lastUpdate"] == "2026-11-25T10:00:00.000Z"
        assert [(e.event_type, e.sequence) for e in events] == [
            ("CustomerBillStateChangeEvent", 4),
            ("CustomerBillAttributeValueChangeEvent", 4),
        ]
        assert events[1].envelope["fieldPath"] == "appliedPayment,remainingAmount"
        assert repository.writes == 0

    def test_an_unchanged_bill_is_the_stored_one_with_no_events(self) -> None:
        bills = service(SYSTEM_CUSTOMER_BILL, FakeRepository())
        before = {**bill("b", "40.00"), "@type": "CustomerBill"}
        stored = Stored(before, 3)
        after, events = bills.changed(stored, dict(before))
        assert after is before
        assert events == ()
