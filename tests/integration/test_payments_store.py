"""MongoPayments on the real embedded database (adapters/payments.py): a payment and the bills
it pays are one transaction, with their events; two payments of one bill never both take
what remains of it; a request sent again is stored once; credit goes to new bills and back
as refunds.

The services are the app's (app.build_services). The billing account and the bills are
written directly, as the bill run would leave them (tests/e2e/payment_setup.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pymongo.errors
import pytest
from pymongo.database import Database

from adapters.mongo import OUTBOX, VERSION, MongoResources, in_transaction
from adapters.partners import PARTNER
from adapters.payment_gateway import SimulatedGateway
from adapters.payments import MongoPayments
from adapters.settings import Settings
from app import build_services
from domain.errors import Conflict, Unprocessable
from domain.ports import ChargeOutcome
from domain.security import PLATFORM
from handlers.tmf import Services
from tests.e2e.payment_setup import customer_bill, money, payment_body, seed_bills, stored_bill

ACCOUNT = "acc-1"
CARD = {"@type": "BankCard", "id": "tok_visa_4242", "name": "Visa ending 4242"}


@pytest.fixture
def services(settings: Settings, db: Database) -> Iterator[Services]:
    built = build_services(settings)
    yield built  # the db fixture drops the database afterwards
    built.extra["db"].client.close()


@pytest.fixture
def payments(services: Services, db: Database) -> MongoPayments:
    db.billingAccount.insert_one(
        {"id": ACCOUNT, "name": "Home", "state": "Active", "currency": "EUR", VERSION: 1}
    )
    return services.extra["payments"]


@pytest.fixture
def bills(db: Database) -> list[dict[str, Any]]:
    """Two bills of the account: 20.00 from January, 40.00 from February."""
    issued = [
        customer_bill(ACCOUNT, 2, "40.00", date(2026, 2, 1)),
        customer_bill(ACCOUNT, 1, "20.00", date(2026, 1, 1)),
    ]
    seed_bills(db, *issued)
    return issued


def events(db: Database) -> list[str]:
    return [document["eventType"] for document in db[OUTBOX].find().sort("seq")]


def applied(bill: dict[str, Any]) -> list[tuple[str, Decimal]]:
    return [(p["payment"]["id"], p["appliedAmount"]["value"]) for p in bill["appliedPayment"]]


class CountingGateway:
    """Approves every charge and remembers each."""

    def __init__(self) -> None:
        self.charges: list[tuple[str, Decimal, str]] = []

    def charge(
        self, reference: str, amount: Decimal, currency: str, method: dict[str, Any]
    ) -> ChargeOutcome:
        self.charges.append((reference, amount, currency))
        return ChargeOutcome(True, authorization_code=f"AUTH-{len(self.charges)}")


class TestAPaymentIsOneTransaction:
    def test_the_payment_and_the_bills_it_pays_are_stored_with_their_events(
        self, payments: MongoPayments, bills: list[dict[str, Any]], db: Database
    ) -> None:
        payment, created = payments.pay(payment_body(ACCOUNT, "50.00"))

        assert created
        assert payment["status"] == "done"
        assert [(i["item"]["id"], i["amount"]["value"]) for i in payment["paymentItem"]] == [
            (f"bill-{ACCOUNT}-1", Decimal("20.00")),
            (f"bill-{ACCOUNT}-2", Decimal("30.00")),
        ]
        assert payment["unallocatedAmount"] == money("0.00")
        january, february = (
            stored_bill(db, f"bill-{ACCOUNT}-1"),
            stored_bill(db, f"bill-{ACCOUNT}-2"),
        )
        assert (january["state"], january["remainingAmount"]) == ("settled", money("0.00"))
        assert (february["state"], february["remainingAmount"]) == ("partiallyPaid", money("10.00"))
        assert applied(february) == [(payment["id"], Decimal("30.00"))]
        assert january[VERSION] == february[VERSION] == 2
        stored = db.payment.find_one({"id": payment["id"]}, {"_id": 0, VERSION: 0})
        assert stored == {**payment, PARTNER: PLATFORM}  # the partner of its account
        assert events(db) == [
            "PaymentCreateEvent",
            "CustomerBillStateChangeEvent",
            "CustomerBillAttributeValueChangeEvent",
            "CustomerBillStateChangeEvent",
            "CustomerBillAttributeValueChangeEvent",
        ]

    def test_a_write_that_fails_leaves_nothing_and_the_same_request_then_goes_through_once(
        self,
        payments: MongoPayments,
        bills: list[dict[str, Any]],
        db: Database,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        bills_before = list(db.customerBill.find({}, {"_id": 0}).sort("id"))

        def broken_outbox(*_: Any) -> None:  # the last write, after the payment and the bills
            raise pymongo.errors.PyMongoError("injected failure")

        monkeypatch.setattr(MongoResources, "append_events", broken_outbox)
        body = payment_body(ACCOUNT, "25.00", correlator="BANK-REF-1")
        with pytest.raises(pymongo.errors.PyMongoError, match="injected"):
            payments.pay(body)

        assert db.payment.count_documents({}) == 0
        assert list(db.customerBill.find({}, {"_id": 0}).sort("id")) == bills_before
        assert events(db) == []

        monkeypatch.undo()
        _, created = payments.pay(body)

        assert created
        assert db.payment.count_documents({}) == 1
        assert stored_bill(db, f"bill-{ACCOUNT}-1")["state"] == "settled"
        assert stored_bill(db, f"bill-{ACCOUNT}-2")["remainingAmount"] == money("35.00")

    def test_a_declined_card_is_stored_failed_and_pays_no_bill(
        self, payments: MongoPayments, bills: list[dict[str, Any]], db: Database
    ) -> None:
        declined = {**CARD, "id": "tok_decline_0002"}
        payment, created = payments.pay(payment_body(ACCOUNT, "20.00", method=declined))

        assert created
        assert payment["status"] == "failed"
        assert "declined" in payment["statusReason"]
        assert (payment["paymentItem"], payment["unallocatedAmount"]) == ([], money("0.00"))
        assert stored_bill(db, f"bill-{ACCOUNT}-1")["state"] == "sent"
        assert events(db) == ["PaymentCreateEvent"]


class TestConcurrentPayments:
    def test_a_bill_paid_by_another_payment_meanwhile_is_read_again_never_paid_twice(
        self,
        payments: MongoPayments,
        bills: list[dict[str, Any]],
        db: Database,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        read = MongoPayments._read
        reads: list[str] = []
        other: dict[str, Any] = {}

        def read_then_interleave(self: MongoPayments, rtype: Any, *args: Any) -> Any:
            found = read(self, rtype, *args)
            reads.append(rtype.path)
            if len(reads) == 1:  # another payment pays the same bills before this one writes
                other["payment"], _ = payments.pay(payment_body(ACCOUNT, "50.00"))
            return found

        monkeypatch.setattr(MongoPayments, "_read", read_then_interleave)
        payment, created = payments.pay(payment_body(ACCOUNT, "50.00"))

        assert created
        assert len(reads) >= 3  # this payment's bills were read again after the collision
        january, february = (
            stored_bill(db, f"bill-{ACCOUNT}-1"),
            stored_bill(db, f"bill-{ACCOUNT}-2"),
        )
        first = other["payment"]["id"]
        assert applied(january) == [(first, Decimal("20.00"))]
        assert applied(february) == [(first, Decimal("30.00")), (payment["id"], Decimal("10.00"))]
        assert february["state"] == "settled"
        assert payment["unallocatedAmount"] == money("40.00")

    def test_payments_at_the_same_time_never_take_more_than_a_bill_owes(
        self, payments: MongoPayments, db: Database
    ) -> None:
        seed_bills(db, customer_bill(ACCOUNT, 7, "30.00", date(2026, 1, 1)))
        start = threading.Barrier(4)
        made: list[dict[str, Any]] = []
        failed: list[Exception] = []

        def pay(n: int) -> None:
            start.wait()
            try:
                made.append(payments.pay(payment_body(ACCOUNT, "12.00", correlator=f"c{n}"))[0])
            except Exception as error:  # noqa: BLE001 - reported below, not lost in the thread
                failed.append(error)

        threads = [threading.Thread(target=pay, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert not failed, failed
        bill = stored_bill(db, f"bill-{ACCOUNT}-7")
        paid = sum(amount for _, amount in applied(bill))
        assert paid == Decimal("30.00")
        assert (bill["state"], bill["remainingAmount"]) == ("settled", money("0.00"))
        credit = sum(p["unallocatedAmount"]["value"] for p in made)
        assert credit == 4 * Decimal("12.00") - Decimal("30.00")
        for payment in made:  # what each payment says it paid is on the bill
            items = [(payment["id"], i["amount"]["value"]) for i in payment["paymentItem"]]
            assert set(items) <= set(applied(bill))


class TestIdempotency:
    def test_the_same_request_again_makes_nothing_new_and_charges_once(
        self, payments: MongoPayments, bills: list[dict[str, Any]], db: Database
    ) -> None:
        gateway = payments.gateway = CountingGateway()
        body = payment_body(ACCOUNT, "20.00", correlator="PSP-123", method=CARD)

        first, created = payments.pay(body)
        again, created_again = payments.pay(body)

        assert (created, created_again) == (True, False)
        assert again == first
        assert first["authorizationCode"] == "AUTH-1"
        assert [reference for reference, _, _ in gateway.charges] == [first["id"]]
        assert db.payment.count_documents({}) == 1
        assert applied(stored_bill(db, f"bill-{ACCOUNT}-1")) == [(first["id"], Decimal("20.00"))]

    def test_the_same_request_twice_at_once_is_stored_once(
        self,
        payments: MongoPayments,
        bills: list[dict[str, Any]],
        db: Database,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        body = payment_body(ACCOUNT, "20.00", correlator="PSP-123")
        read = MongoPayments._read
        twin: dict[str, Any] = {}

        def read_then_interleave(self: MongoPayments, *args: Any) -> Any:
            found = read(self, *args)
            if not twin:  # the same request, sent twice, arrives again before this one writes
                twin["made"] = None
                twin["made"] = payments.pay(body)
            return found

        monkeypatch.setattr(MongoPayments, "_read", read_then_interleave)
        payment, created = payments.pay(body)

        assert twin["made"][1] is True
        assert (payment, created) == (twin["made"][0], False)
        assert db.payment.count_documents({}) == 1
        assert applied(stored_bill(db, f"bill-{ACCOUNT}-1")) == [(payment["id"], Decimal("20.00"))]

    def test_the_reference_of_another_payment_is_refused(
        self, payments: MongoPayments, bills: list[dict[str, Any]], db: Database
    ) -> None:
        payments.pay(payment_body(ACCOUNT, "20.00", correlator="PSP-123"))
        with pytest.raises(Conflict, match="correlatorId 'PSP-123' was used"):
            payments.pay(payment_body(ACCOUNT, "20.01", correlator="PSP-123"))
        assert db.payment.count_documents({}) == 1


class TestCredit:
    def test_a_new_bill_takes_the_oldest_credit_first_in_the_bill_runs_transaction(
        self, payments: MongoPayments, services: Services, db: Database
    ) -> None:
        older, _ = payments.pay(payment_body(ACCOUNT, "15.00"))
        newer, _ = payments.pay(payment_body(ACCOUNT, "50.00"))
        issued = customer_bill(ACCOUNT, 3, "40.00", date(2026, 3, 1), state="new")

        app_db = services.extra["db"]  # a session belongs to the client that started it

        def bill_run(session: Any) -> dict[str, Any]:
            bill = payments.apply_credit(issued, session)
            app_db.customerBill.insert_one({**bill, VERSION: 1}, session=session)
            return bill

        bill = in_transaction(app_db, bill_run)

        assert applied(bill) == [(older["id"], Decimal("15.00")), (newer["id"], Decimal("25.00"))]
        assert (bill["state"], bill["remainingAmount"]) == ("settled", money("0.00"))
        older_now = db.payment.find_one({"id": older["id"]})
        newer_now = db.payment.find_one({"id": newer["id"]})
        assert older_now["unallocatedAmount"] == money("0.00")
        assert newer_now["unallocatedAmount"] == money("25.00")
        assert [i["item"]["id"] for i in newer_now["paymentItem"]] == [bill["id"]]
        assert events(db).count("PaymentAttributeValueChangeEvent") == 2

    def test_a_refund_pays_back_credit_and_no_more(
        self, payments: MongoPayments, db: Database
    ) -> None:
        payment, _ = payments.pay(payment_body(ACCOUNT, "30.00"))
        body = {
            "account": {"id": ACCOUNT},
            "payment": {"id": payment["id"]},
            "paymentMethod": {"@type": "BankTransfer"},
            "totalAmount": money("10.00"),
            "correlatorId": "REFUND-1",
        }

        refund, created = payments.refund(body)
        again, created_again = payments.refund(body)

        assert (created, created_again) == (True, False)
        assert refund == again
        assert refund["status"] == "done"
        stored = db.payment.find_one({"id": payment["id"]})
        assert stored["unallocatedAmount"] == money("20.00")
        with pytest.raises(Unprocessable, match=r"20\.00 EUR of credit left"):
            payments.refund({**body, "correlatorId": "REFUND-2", "totalAmount": money("20.01")})
        assert db.refund.count_documents({}) == 1
        assert events(db)[-2:] == ["RefundCreateEvent", "PaymentAttributeValueChangeEvent"]


class TestTheSimulatedGateway:
    def test_declines_test_cards_and_the_share_it_is_told_to_the_same_way_every_time(self):
        def outcomes(gateway: SimulatedGateway, method: dict[str, Any]) -> list[ChargeOutcome]:
            return [gateway.charge(f"ref-{n}", Decimal("10"), "EUR", method) for n in range(200)]

        approving, declining = SimulatedGateway(0), SimulatedGateway(100)
        assert all(outcome.approved for outcome in outcomes(approving, CARD))
        assert not any(outcome.approved for outcome in outcomes(declining, CARD))
        assert not any(o.approved for o in outcomes(approving, {**CARD, "name": "DECLINE me"}))
        some = outcomes(SimulatedGateway(30), CARD)
        assert 0 < sum(not outcome.approved for outcome in some) < 200
        assert outcomes(SimulatedGateway(30), CARD) == some  # by reference, not at random
        assert len({outcome.authorization_code for outcome in some if outcome.approved}) > 1
