"""TMF676 payments over HTTP: a payment pays the account's bills oldest first and keeps the
rest as credit, a declined card is stored failed, a request sent again is answered with
what it made, money in another currency is refused, and a refund pays credit back."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.e2e.checks import INSTANT, assert_tmf_error
from tests.e2e.conftest import database_of
from tests.e2e.ordering_setup import ACCOUNTS, new_customer
from tests.e2e.payment_setup import (
    BILLS,
    PAYMENTS,
    REFUNDS,
    customer_bill,
    money,
    payment_body,
    post,
    seed_bills,
)
from tests.e2e.resources import PUBLIC_BASE
from tests.e2e.usage_setup import account_of, exact

CARD = {"@type": "BankCard", "id": "tok_visa_4242", "name": "Visa ending 4242"}


def billed_account(app: Any, client: Any, *amounts: str) -> str:
    """A customer's billing account with a sent bill of each amount, a month apart, the
    first in January."""
    account = account_of(client, new_customer(client))
    bills = [
        customer_bill(account, n, amount, date(2026, n, 1))
        for n, amount in enumerate(amounts, start=1)
    ]
    if bills:
        seed_bills(database_of(app), *bills)
    return account


def pay(client: Any, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = post(client, PAYMENTS, body)
    assert response.status_code == status, response.text
    return exact(response)


def bill_of(client: Any, account: str, number: int) -> dict[str, Any]:
    response = client.get(f"{BILLS}/bill-{account}-{number}")
    assert response.status_code == 200, response.text
    return exact(response)


class TestPayingBills:
    def test_pays_the_oldest_bills_first_and_keeps_the_rest_as_credit(self, app, client):
        account = billed_account(app, client, "20.00", "40.00")

        response = post(client, PAYMENTS, payment_body(account, "70.00"))

        assert response.status_code == 201, response.text
        payment = exact(response)
        assert response.headers["location"] == payment["href"]
        assert payment["href"] == f"{PUBLIC_BASE}{PAYMENTS}/{payment['id']}"
        assert payment["status"] == "done"
        assert INSTANT.match(payment["paymentDate"]) and INSTANT.match(payment["statusDate"])
        assert [(i["item"]["id"], i["amount"]) for i in payment["paymentItem"]] == [
            (f"bill-{account}-1", money("20.00")),
            (f"bill-{account}-2", money("40.00")),
        ]
        assert payment["unallocatedAmount"] == money("10.00")
        for number in (1, 2):
            bill = bill_of(client, account, number)
            assert bill["state"] == "settled"
            assert bill["remainingAmount"] == money("0.00")
            [applied] = bill["appliedPayment"]
            assert applied["payment"]["href"] == payment["href"]
        assert exact(client.get(payment["href"].removeprefix(PUBLIC_BASE))) == payment
        listed = client.get(PAYMENTS, params={"account.id": account}).json()
        assert [p["id"] for p in listed] == [payment["id"]]
        by_bill = client.get(PAYMENTS, params={"paymentItem.item.id": f"bill-{account}-2"})
        assert [p["id"] for p in by_bill.json()] == [payment["id"]]

    def test_a_part_payment_leaves_the_bill_partially_paid(self, app, client):
        account = billed_account(app, client, "25.50")
        payment = pay(client, payment_body(account, "10.25"))
        bill = bill_of(client, account, 1)
        assert (bill["state"], bill["remainingAmount"]) == ("partiallyPaid", money("15.25"))
        assert payment["unallocatedAmount"] == money("0.00")

    def test_a_bill_on_hold_is_not_paid(self, app, client):
        account = billed_account(app, client)
        issued = customer_bill(account, 1, "20.00", date(2026, 1, 1), state="new")
        seed_bills(database_of(app), issued)
        held = client.patch(f"{BILLS}/bill-{account}-1", json={"state": "onHold"})
        assert held.status_code == 200, held.text
        payment = pay(client, payment_body(account, "20.00"))
        assert payment["paymentItem"] == []
        assert payment["unallocatedAmount"] == money("20.00")
        assert bill_of(client, account, 1)["remainingAmount"] == money("20.00")

    def test_a_card_payment_carries_the_gateways_authorization_code(self, app, client):
        account = billed_account(app, client, "20.00")
        payment = pay(client, payment_body(account, "20.00", method=CARD))
        assert payment["status"] == "done"
        assert payment["authorizationCode"].startswith("SIM-")
        assert bill_of(client, account, 1)["state"] == "settled"

    def test_a_declined_card_is_stored_failed_and_pays_nothing(self, app, client):
        account = billed_account(app, client, "20.00")
        declined = {**CARD, "id": "tok_decline_0002", "name": "Declined test card"}

        payment = pay(client, payment_body(account, "20.00", method=declined))

        assert payment["status"] == "failed"
        assert "declined" in payment["statusReason"]
        assert payment["paymentItem"] == []
        assert payment["unallocatedAmount"] == money("0.00")
        assert client.get(PAYMENTS, params={"status": "failed"}).json()[0]["id"] == payment["id"]
        bill = bill_of(client, account, 1)
        assert (bill["state"], bill["appliedPayment"]) == ("sent", [])

    def test_yen_are_paid_whole(self, app, client):
        customer = new_customer(client, account=None)
        owner = [{"id": customer, "role": "owner", "@referredType": "Customer"}]
        created = client.post(
            ACCOUNTS,
            json={
                "name": "Tokyo",
                "relatedParty": owner,
                "currency": "JPY",
                "timeZone": "Asia/Tokyo",
            },
        )
        assert created.status_code == 201, created.text
        account = created.json()["id"]
        seed_bills(database_of(app), customer_bill(account, 1, "1200", date(2026, 1, 1), "JPY"))

        payment = pay(client, payment_body(account, "1500", "JPY"))

        assert payment["paymentItem"][0]["amount"] == money("1200", "JPY")
        assert payment["unallocatedAmount"] == money("300", "JPY")
        assert '"value": 300}' in client.get(f"{PAYMENTS}/{payment['id']}").text
        refused = post(client, PAYMENTS, payment_body(account, "1500.5", "JPY"))
        assert "more decimals than JPY has (0)" in assert_tmf_error(refused, 400)["message"]


class TestIdempotency:
    def test_the_same_request_again_is_answered_with_the_payment_it_made(self, app, client):
        account = billed_account(app, client, "20.00")
        body = payment_body(account, "15.00", correlator="BANK-2026-000123")

        first = pay(client, body)
        again = post(client, PAYMENTS, body)

        assert again.status_code == 200, again.text
        assert exact(again) == first
        assert first["correlatorId"] == "BANK-2026-000123"
        assert len(client.get(PAYMENTS, params={"correlatorId": "BANK-2026-000123"}).json()) == 1
        assert bill_of(client, account, 1)["remainingAmount"] == money("5.00")

    def test_the_reference_of_another_payment_is_a_conflict(self, app, client):
        account = billed_account(app, client, "20.00")
        pay(client, payment_body(account, "15.00", correlator="BANK-1"))
        refused = post(client, PAYMENTS, payment_body(account, "16.00", correlator="BANK-1"))
        assert "correlatorId 'BANK-1' was used" in assert_tmf_error(refused, 409)["message"]
        assert bill_of(client, account, 1)["remainingAmount"] == money("5.00")


class TestRefused:
    def test_money_in_another_currency_than_the_accounts(self, app, client):
        account = billed_account(app, client, "20.00")
        refused = post(client, PAYMENTS, payment_body(account, "20.00", "GBP"))
        message = assert_tmf_error(refused, 422)["message"]
        assert message == f"totalAmount: GBP is not the currency of billing account {account} (EUR)"
        assert client.get(PAYMENTS).json() == []

    def test_an_account_that_does_not_exist(self, client):
        refused = post(client, PAYMENTS, payment_body("no-such-account", "20.00"))
        assert "does not exist" in assert_tmf_error(refused, 422)["message"]

    def test_what_the_server_writes_and_what_is_not_an_amount(self, app, client):
        account = billed_account(app, client)
        for body in (
            {**payment_body(account, "20.00"), "status": "done"},
            {**payment_body(account, "20.00"), "paymentItem": []},
            payment_body(account, "0"),
            payment_body(account, "10.001"),
            {**payment_body(account, "20.00"), "totalAmount": {"unit": "EUR"}},
        ):
            assert_tmf_error(post(client, PAYMENTS, body), 400)
        assert client.get(PAYMENTS).json() == []


class TestRefunds:
    def test_a_refund_pays_back_credit_and_no_more(self, app, client):
        account = billed_account(app, client)
        payment = pay(client, payment_body(account, "30.00"))
        body = {
            "account": {"id": account},
            "payment": {"id": payment["id"]},
            "paymentMethod": {"@type": "BankTransfer"},
            "totalAmount": money("12.5"),
        }

        response = post(client, REFUNDS, body)

        assert response.status_code == 201, response.text
        refund = exact(response)
        assert response.headers["location"] == refund["href"]
        assert refund["status"] == "done"
        assert INSTANT.match(refund["refundDate"])
        credit = exact(client.get(f"{PAYMENTS}/{payment['id']}"))["unallocatedAmount"]
        assert credit == money("17.50")
        too_much = post(client, REFUNDS, {**body, "totalAmount": money("17.51")})
        assert "17.50 EUR of credit left" in assert_tmf_error(too_much, 422)["message"]
        listed = client.get(REFUNDS, params={"payment.id": payment["id"]}).json()
        assert [r["id"] for r in listed] == [refund["id"]]
        assert exact(client.get(REFUNDS))[0]["totalAmount"] == money("12.50")
