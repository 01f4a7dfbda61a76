"""TMF676 payments and refunds, and how money received is matched against bills.

The rules (also in openapi/payment.yaml):

- **Money.** A payment is made to a billing account, in the account's currency (422
  otherwise), for a positive `totalAmount` with no more decimals than the currency has (EUR
  cents, JPY none; 400 otherwise).
- **Idempotency.** `correlatorId` is the payer's reference for the payment (the PSP's or
  the bank's): the payment's id is derived from it, so a request sent again with the same
  reference, account and amount finds the payment it made; the same reference for another
  account or amount is refused (409). Refunds likewise.
- **Methods.** A card payment (`paymentMethod` of `@type` or `@referredType` BankCard) is
  charged through the payment gateway; a declined one is stored `failed`, with
  `statusReason`, and pays nothing. Other methods (bank transfer, cash, direct debit, a
  reference to a stored method) record money already received: `done`.
- **Allocation.** A payment that is done pays the account's open bills (not on hold or
  settled, something remaining), the oldest `billDate` first (`billNo` breaks ties): each
  takes what is left of the payment or what remains to pay on it, whichever is less. A bill
  with nothing remaining is `settled`, one paid in part `partiallyPaid`. What is left of
  the payment is its `unallocatedAmount`: account credit, which the bill run applies to the
  account's next bills, the oldest payment first, and which a refund can pay back.
- Both directions (a payment against bills, a new bill against credit) are one rule:
  `match`, an amount set against amounts available, oldest first.
"""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain import events as ev
from domain.account import BILLING_ACCOUNT, account_terms
from domain.bill import PARTIALLY_PAID, PAYABLE, SETTLED
from domain.errors import Conflict, InvalidRequest, Unprocessable
from domain.money import minor_units, money_value, round_money
from domain.ports import ChargeOutcome
from domain.query import AttrType
from domain.resource import Lookup, ResourceType, Rules
from domain.security import partner_key

DONE, FAILED = "done", "failed"  # TMF PaymentStatusExampleType / RefundStatusExampleType
BANK_CARD = "BankCard"
REQUEST_IDS = uuid.UUID("b3a9c1d4-2f57-4e0b-8d6a-5c9e7f1a2b30")

Match = tuple[str, Decimal]  # (id of what an amount was set against, the amount)


# matching -------------------------------------------------------------------------------


def match(
    amount: Decimal, currency: str, available: Iterable[tuple[str, Decimal]]
) -> tuple[list[Match], Decimal]:
    """`amount` set against the amounts `available`, in the order given (oldest first):
    each takes what it holds or what is left, whichever is less. Returns the matches (none
    of zero) and what is left of `amount`, in the currency's minor unit."""
    left = exact(amount, currency)
    matches: list[Match] = []
    for key, holds in available:
        if left <= 0:
            break
        taken = min(left, exact(holds, currency))
        if taken > 0:
            matches.append((key, taken))
            left -= taken
    return matches, left


def exact(amount: Decimal, currency: str) -> Decimal:
    """The amount in the currency's minor unit (10 EUR -> 10.00); an amount finer than
    that is a mistake upstream, never rounded away."""
    rounded = round_money(amount, currency)
    if rounded != amount:
        raise ValueError(f"{amount} {currency} is finer than the currency's minor unit")
    return rounded


@dataclass(frozen=True)
class Allocation:
    items: list[Match]  # (bill id, amount it takes), oldest bill first
    unallocated: Decimal  # what is left of the payment: account credit


def allocate(amount: Decimal, currency: str, bills: Iterable[Mapping[str, Any]]) -> Allocation:
    """A payment of `amount` over the account's bills: its open ones, oldest first."""
    owed = [(str(bill["id"]), remaining(bill, currency)) for bill in open_bills(bills, currency)]
    items, left = match(amount, currency, owed)
    return Allocation(items, left)


def open_bills(bills: Iterable[Mapping[str, Any]], currency: str) -> list[Mapping[str, Any]]:
    """The bills a payment goes to, oldest `billDate` first (`billNo` breaks ties): payable
    (not on hold or settled), in the currency, with something remaining."""
    found = [
        bill
        for bill in bills
        if bill.get("state") in PAYABLE
        and _unit(bill.get("remainingAmount")) == currency
        and remaining(bill, currency) > 0
    ]
    return sorted(found, key=lambda bill: (str(bill["billDate"]), str(bill.get("billNo", ""))))


def credit_for_bill(
    owed: Decimal, currency: str, payments: Iterable[Mapping[str, Any]]
) -> list[Match]:
    """What a new bill that leaves `owed` to pay takes from the account's credit: from each
    payment done with an unallocatedAmount in the currency, the oldest `paymentDate` first
    (id breaks ties), as (payment id, amount)."""
    oldest_first = sorted(
        (
            payment
            for payment in payments
            if payment.get("status") == DONE
            and _unit(payment.get("unallocatedAmount")) == currency
            and unallocated(payment, currency) > 0
        ),
        key=lambda payment: (str(payment["paymentDate"]), str(payment["id"])),
    )
    items, _ = match(
        owed, currency, [(str(p["id"]), unallocated(p, currency)) for p in oldest_first]
    )
    return items


def remaining(bill: Mapping[str, Any], currency: str) -> Decimal:
    return _amount_of(bill, "remainingAmount", currency)


def unallocated(payment: Mapping[str, Any], currency: str) -> Decimal:
    return _amount_of(payment, "unallocatedAmount", currency)


def _amount_of(resource: Mapping[str, Any], name: str, currency: str) -> Decimal:
    found = money_value(resource.get(name), name)
    if found is None:
        return Decimal(0)
    value, unit = found
    if unit != currency:
        raise ValueError(f"{name} of {resource.get('id')} is in {unit}, not {currency}")
    return value


def _unit(money: Any) -> str | None:
    return str(money["unit"]).upper() if isinstance(money, Mapping) and "unit" in money else None


# what a match changes -------------------------------------------------------------------


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"unit": currency, "value": exact(amount, currency)}


def paid_bill(
    bill: Mapping[str, Any], payment_ref: Mapping[str, Any], amount: Decimal, currency: str
) -> dict[str, Any]:
    """The bill once `amount` of the payment is applied to it: an appliedPayment more, its
    remainingAmount less, settled when nothing remains, partiallyPaid otherwise."""
    left = remaining(bill, currency) - exact(amount, currency)
    if bill.get("state") not in PAYABLE or amount <= 0 or left < 0:
        raise ValueError(f"{amount} {currency} cannot be applied to bill {bill.get('id')}")
    applied = {"appliedAmount": money(amount, currency), "payment": dict(payment_ref)}
    return {
        **bill,
        "appliedPayment": [*(bill.get("appliedPayment") or []), applied],
        "remainingAmount": money(left, currency),
        "state": SETTLED if left == 0 else PARTIALLY_PAID,
    }


def credited_payment(
    payment: Mapping[str, Any], bill_ref: Mapping[str, Any], amount: Decimal, currency: str
) -> dict[str, Any]:
    """The payment once `amount` of its credit is applied to a bill: a paymentItem more,
    its unallocatedAmount less."""
    item = {"amount": money(amount, currency), "item": dict(bill_ref)}
    after = refunded_payment(payment, amount, currency)
    after["paymentItem"] = [*(payment.get("paymentItem") or []), item]
    return after


def refunded_payment(payment: Mapping[str, Any], amount: Decimal, currency: str) -> dict[str, Any]:
    """The payment once `amount` of its credit is gone (paid back, or to a bill); only what
    is unallocated can go."""
    left = unallocated(payment, currency) - exact(amount, currency)
    if left < 0:
        raise Unprocessable(
            f"payment {payment.get('id')} has {unallocated(payment, currency)} {currency} of "
            f"credit left; {amount} {currency} cannot be taken from it"
        )
    return {**payment, "unallocatedAmount": money(left, currency)}


def settled_payment(
    draft: Mapping[str, Any],
    outcome: ChargeOutcome,
    allocation: Allocation,
    bill_refs: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The payment as stored: done with the bills it paid (`bill_refs` by bill id) and the
    rest as credit, or failed (declined) with the reason and nothing paid."""
    _, currency = total(draft)
    payment = dict(draft)
    if outcome.authorization_code:
        payment["authorizationCode"] = outcome.authorization_code
    if not outcome.approved:
        payment.update(
            status=FAILED,
            statusReason=outcome.reason or "declined",
            paymentItem=[],
            unallocatedAmount=money(Decimal(0), currency),
        )
        return payment
    payment.update(
        status=DONE,
        paymentItem=[
            {"amount": money(amount, currency), "item": dict(bill_refs[bill_id])}
            for bill_id, amount in allocation.items
        ],
        unallocatedAmount=money(allocation.unallocated, currency),
    )
    return payment


def by_card(resource: Mapping[str, Any]) -> bool:
    """Whether the payment method is a bank card, charged through the gateway."""
    method = resource.get("paymentMethod") or {}
    return BANK_CARD in (method.get("@type"), method.get("@referredType"))


def total(resource: Mapping[str, Any]) -> tuple[Decimal, str]:
    """(amount, currency) of a payment's or refund's totalAmount."""
    found = money_value(resource.get("totalAmount"), "totalAmount")
    if found is None:
        raise InvalidRequest("totalAmount is required")
    return found


# idempotency ----------------------------------------------------------------------------


def request_id(kind: str, correlator_id: Any, partner: str | None = None) -> str:
    """The id of a payment or refund: derived from its correlatorId when it has one, so the
    same request sent again finds what it made (unique per partner: partner_key); random
    otherwise."""
    if isinstance(correlator_id, str) and correlator_id:
        return str(uuid.uuid5(REQUEST_IDS, f"{kind}:{partner_key(partner, correlator_id)}"))
    return str(uuid.uuid4())


def check_repeat(stored: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    """A request whose correlatorId made `stored` is that request again only when it names
    the same account (and payment, for a refund) and the same totalAmount; 409 otherwise."""
    if _request_key(stored) != _request_key(body):
        raise Conflict(
            f"correlatorId '{body.get('correlatorId')}' was used for {stored.get('@type')} "
            f"{stored['id']} of another account, payment or amount; use a new reference"
        )


def _request_key(resource: Mapping[str, Any]) -> tuple[Any, ...]:
    return (_ref_id(resource, "account"), _ref_id(resource, "payment"), total(resource))


def _ref_id(resource: Mapping[str, Any], name: str) -> Any:
    ref = resource.get(name)
    return ref.get("id") if isinstance(ref, Mapping) else None


# resources ------------------------------------------------------------------------------


MONEY = ("totalAmount", "amount", "taxAmount")


class _MoneyRules(Rules):
    """What a client may send of a payment or refund: not what the server writes, money in
    the minor unit of the billing account's currency, a card by its token."""

    server_written: frozenset[str] = frozenset()

    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        given = sorted(self.server_written & resource.keys())
        if given:
            raise InvalidRequest(f"{', '.join(given)}: written by the server, not by clients")
        amounts = {name: found for name in MONEY if (found := _checked_money(resource, name))}
        amount, currency = total(resource)
        if amount <= 0:
            raise InvalidRequest("totalAmount.value: must be more than 0")
        net, tax = amounts.get("amount"), amounts.get("taxAmount")
        if net and tax and net[0] + tax[0] != amount:
            raise InvalidRequest("amount + taxAmount must equal totalAmount")
        if by_card(resource) and not resource["paymentMethod"].get("id"):
            raise InvalidRequest("paymentMethod: a BankCard is charged by its token, its id")
        account_id = str(resource["account"]["id"])
        account = lookup.get(BILLING_ACCOUNT.collection, account_id)
        if account is None:
            raise Unprocessable(f"account: billing account '{account_id}' does not exist")
        account_currency = account_terms(account, lookup).currency
        for name, (_, unit) in amounts.items():
            if unit != account_currency:
                raise Unprocessable(
                    f"{name}: {unit} is not the currency of billing account {account_id} "
                    f"({account_currency})"
                )
        self.check(resource, lookup, amount, currency)

    def check(
        self, resource: dict[str, Any], lookup: Lookup, amount: Decimal, currency: str
    ) -> None:
        """The rules of the kind of request."""


def _checked_money(resource: dict[str, Any], name: str) -> tuple[Decimal, str] | None:
    """The amount of a Money attribute, which must not be negative nor finer than its
    currency's minor unit; stored in the currency's form (`10` EUR as `10.00`)."""
    found = money_value(resource.get(name), name)
    if found is None:
        return None
    value, unit = found
    try:
        rounded = round_money(value, unit)
    except decimal.InvalidOperation:
        raise InvalidRequest(f"{name}.value: {value} is too large") from None
    if rounded != value:
        raise InvalidRequest(
            f"{name}.value: {value} has more decimals than {unit} has ({minor_units(unit)})"
        )
    if value < 0:
        raise InvalidRequest(f"{name}.value: must not be negative")
    resource[name] = {**resource[name], "unit": unit, "value": rounded}
    return rounded, unit


class PaymentRules(_MoneyRules):
    server_written = frozenset({"status", "statusReason", "paymentItem", "unallocatedAmount"})


class RefundRules(_MoneyRules):
    """A refund pays back credit: the unallocatedAmount of a payment of the account."""

    server_written = frozenset({"status"})

    def check(
        self, resource: dict[str, Any], lookup: Lookup, amount: Decimal, currency: str
    ) -> None:
        payment_id = str((resource.get("payment") or {}).get("id") or "")
        if not payment_id:
            raise InvalidRequest("payment: name the payment whose credit is refunded")
        payment = lookup.get(SYSTEM_PAYMENT.collection, payment_id)
        if payment is None:
            raise Unprocessable(f"payment: payment '{payment_id}' does not exist")
        if _ref_id(payment, "account") != resource["account"]["id"]:
            raise Unprocessable(f"payment: payment {payment_id} is not of this account")
        if payment.get("status") != DONE:
            raise Unprocessable(f"payment: payment {payment_id} is {payment.get('status')}")
        refunded_payment(payment, amount, currency)


PAYMENT_ATTRIBUTES = frozenset(
    {
        "authorizationCode", "correlatorId", "description", "name", "paymentDate", "status",
        "statusDate", "statusReason", "account", "amount", "channel", "payer", "paymentItem",
        "paymentMethod", "taxAmount", "totalAmount", "unallocatedAmount",
    }
)  # fmt: skip
REFUND_ATTRIBUTES = frozenset(
    {
        "authorizationCode", "correlatorId", "description", "name", "refundDate", "status",
        "statusDate", "account", "amount", "channel", "payment", "paymentMethod", "requestor",
        "taxAmount", "totalAmount",
    }
)  # fmt: skip
# what changes on a payment after it is stored: its credit goes to bills or is refunded
EVENT_KINDS = frozenset({ev.CREATE, ev.ATTRIBUTE_VALUE_CHANGE})


def _payment_type(rules: Rules) -> ResourceType:
    return ResourceType(
        name="Payment",
        api="paymentManagement",
        path="payment",
        attributes=PAYMENT_ATTRIBUTES,
        filters={
            "id": AttrType.STRING,
            "status": AttrType.STRING,
            "correlatorId": AttrType.STRING,
            "account.id": AttrType.STRING,
            "paymentDate": AttrType.INSTANT,
            "paymentItem.item.id": AttrType.STRING,
        },
        instant_keys=frozenset({"paymentDate", "statusDate", "startDateTime", "endDateTime"}),
        create_dates=("paymentDate", "statusDate"),
        rules=rules,
        event_kinds=EVENT_KINDS,
    )


def _refund_type(rules: Rules) -> ResourceType:
    return ResourceType(
        name="Refund",
        api="paymentManagement",
        path="refund",
        attributes=REFUND_ATTRIBUTES,
        filters={
            "id": AttrType.STRING,
            "status": AttrType.STRING,
            "correlatorId": AttrType.STRING,
            "account.id": AttrType.STRING,
            "payment.id": AttrType.STRING,
            "refundDate": AttrType.INSTANT,
        },
        instant_keys=frozenset({"refundDate", "statusDate", "startDateTime", "endDateTime"}),
        create_dates=("refundDate", "statusDate"),
        rules=rules,
        event_kinds=frozenset({ev.CREATE}),
    )


# What clients send, checked by the rules; the SYSTEM_ types are the same resources as the
# server completes and changes them (status, allocation, credit).
PAYMENT = _payment_type(PaymentRules())
SYSTEM_PAYMENT = _payment_type(Rules())
REFUND = _refund_type(RefundRules())
SYSTEM_REFUND = _refund_type(Rules())
PAYMENT_TYPES = (PAYMENT, REFUND)
