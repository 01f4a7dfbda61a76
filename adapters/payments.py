"""Payments and refunds on MongoDB: each is stored in one transaction with what it changes
(the bills a payment pays, the payment whose credit a refund pays back) and the events of
all of them. The rules are domain/payment.py's.

Bills and payments carry a version (`_v`): a write that finds one changed since it was read
rolls the whole transaction back, and the request is worked out again from what the
database then holds, so two payments on one bill can never both take what remains of it.
A card is charged once, before the first attempt; the gateway is idempotent by the
payment's id should the same request come again.
A payment or refund is worked out acting for the partner of its account (adapters/acting.py):
it reads and pays that partner's bills only, and is that partner's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pymongo.errors
from pymongo.client_session import ClientSession
from pymongo.database import Database

from adapters import audit
from adapters.acting import acting_for
from adapters.mongo import DUE, VERSION, MongoResources, check_storable, in_transaction
from adapters.partners import PARTNER, own, owner, owner_for, scoped
from domain import events as ev
from domain.audit import CREATE, UPDATE
from domain.bill import PAYABLE
from domain.errors import ConcurrentUpdate, Conflict, Unprocessable
from domain.payment import (
    DONE,
    PAYMENT,
    allocate,
    by_card,
    check_repeat,
    credit_for_bill,
    credited_payment,
    paid_bill,
    refunded_payment,
    remaining,
    request_id,
    settled_payment,
    total,
)
from domain.ports import ChargeOutcome, PaymentGateway, Stored
from domain.resource import ResourceType
from domain.service import HrefFor, ResourceService, differences

ATTEMPTS = 5  # writes tried before a request that keeps colliding is given up (409)
RECEIVED = ChargeOutcome(True)  # money that reached us without a charge (transfer, cash)


class MongoPayments:
    def __init__(
        self,
        db: Database,
        resources: MongoResources,
        services: Mapping[str, ResourceService],
        system: Mapping[str, ResourceService],
        gateway: PaymentGateway,
        href_for: HrefFor,
    ) -> None:
        self._db = db
        self._resources = resources
        self._payments = services["payment"]  # checks what clients send
        self._refunds = services["refund"]
        self._system_payments = system["payment"]  # the same, as the server completes them
        self._system_refunds = system["refund"]
        self._bills = system["customerBill"]
        self.gateway = gateway
        self._href_for = href_for

    def pay(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """The payment `body` makes, allocated to the account's bills, and True; or the
        payment its correlatorId made before, and False."""
        with acting_for(owner_for(self._db, PAYMENT.collection, body)) as who:
            payment_id = request_id("payment", body.get("correlatorId"), who.partner)
            stored = self._repeat(self._payments, payment_id, body)
            if stored is not None:
                return stored, False
            draft = self._payments.new_resource(body, resource_id=payment_id)
            amount, currency = total(draft)
            outcome = RECEIVED
            if by_card(draft):
                method = draft["paymentMethod"]
                outcome = self.gateway.charge(payment_id, amount, currency, method)
            return self._store(
                self._payments, payment_id, body, lambda s: self._write_payment(draft, outcome, s)
            )

    def refund(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """The refund `body` makes of a payment's credit, and True; or the refund its
        correlatorId made before, and False."""
        with acting_for(owner_for(self._db, self._refunds.rtype.collection, body)) as who:
            refund_id = request_id("refund", body.get("correlatorId"), who.partner)
            stored = self._repeat(self._refunds, refund_id, body)
            if stored is not None:
                return stored, False
            draft = self._refunds.new_resource(body, resource_id=refund_id)
            return self._store(
                self._refunds, refund_id, body, lambda s: self._write_refund(draft, s)
            )

    def apply_credit(self, bill: dict[str, Any], session: ClientSession) -> dict[str, Any]:
        """For the bill run, in its transaction, before it stores a new bill: the bill with
        the account's credit applied (the unallocatedAmount of its payments, the oldest
        first). The payments it takes from are changed in the same transaction, with their
        events; ConcurrentUpdate when one changed since it was read (run the bill again)."""
        currency = bill["remainingAmount"]["unit"]
        owed = remaining(bill, currency)
        account_id = bill["billingAccount"]["id"]
        where = {"account.id": account_id, "status": DONE, "unallocatedAmount.value": {"$gt": 0}}
        with_credit = {found.resource["id"]: found for found in self._read(PAYMENT, where, session)}
        bill_ref = self._ref(self._bills.rtype, bill["id"])
        events: list[ev.Event] = []
        for payment_id, taken in credit_for_bill(owed, currency, _resources(with_credit)):
            payment = with_credit[payment_id]
            bill = paid_bill(bill, self._ref(PAYMENT, payment_id), taken, currency)
            after = credited_payment(payment.resource, bill_ref, taken, currency)
            events += self._replace(self._system_payments, payment, after, session)
        self._resources.append_events(events, session)
        return bill

    # --------------------------------------------------------------------------------------

    def _write_payment(
        self, draft: dict[str, Any], outcome: ChargeOutcome, session: ClientSession
    ) -> dict[str, Any]:
        amount, currency = total(draft)
        bills: dict[str, Stored] = {}
        if outcome.approved:
            where = {"billingAccount.id": draft["account"]["id"], "state": {"$in": sorted(PAYABLE)}}
            bills = {
                found.resource["id"]: found
                for found in self._read(self._bills.rtype, where, session)
            }
        allocation = allocate(amount, currency, _resources(bills))
        refs = {bill_id: self._ref(self._bills.rtype, bill_id) for bill_id, _ in allocation.items}
        complete = settled_payment(draft, outcome, allocation, refs)
        payment = self._insert(self._system_payments, complete, session)
        events = list(self._created(self._system_payments, payment))
        payment_ref = self._ref(PAYMENT, payment["id"])
        for bill_id, taken in allocation.items:
            bill = bills[bill_id]
            after = paid_bill(bill.resource, payment_ref, taken, currency)
            events += self._replace(self._bills, bill, after, session)
        self._resources.append_events(events, session)
        return payment

    def _write_refund(self, draft: dict[str, Any], session: ClientSession) -> dict[str, Any]:
        amount, currency = total(draft)
        payment_id = draft["payment"]["id"]
        found = self._read(PAYMENT, {"id": payment_id}, session)
        if not found:
            raise Unprocessable(f"payment: payment '{payment_id}' does not exist")
        payment = found[0]
        after = refunded_payment(payment.resource, amount, currency)
        refund = self._insert(self._system_refunds, {**draft, "status": DONE}, session)
        events = [*self._created(self._system_refunds, refund)]
        events += self._replace(self._system_payments, payment, after, session)
        self._resources.append_events(events, session)
        return refund

    def _store(
        self,
        service: ResourceService,
        resource_id: str,
        body: Mapping[str, Any],
        write: Callable[[ClientSession], dict[str, Any]],
    ) -> tuple[dict[str, Any], bool]:
        for _ in range(ATTEMPTS):
            try:
                return in_transaction(self._db, write), True
            except ConcurrentUpdate:
                continue  # a bill or payment changed while it was read: read them again
            except pymongo.errors.DuplicateKeyError:  # the same request, twice at once
                stored = self._repeat(service, resource_id, body)
                if stored is None:
                    raise
                return stored, False
        raise ConcurrentUpdate(
            f"the {service.rtype.name.lower()} kept colliding with other changes of the same "
            "bills or payments; send it again"
        )

    def _repeat(
        self, service: ResourceService, resource_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The resource a request with the same correlatorId made, if any (409 when this
        request is not the same, or when the correlatorId made another partner's: ids are
        unique in the database, and only whether it is taken is read)."""
        stored = self._resources.get(service.rtype, resource_id)
        if stored is None:
            collection = self._db[service.rtype.collection]
            if collection.find_one({"id": resource_id}, {"_id": 1}) is not None:
                raise Conflict(
                    f"correlatorId '{body.get('correlatorId')}' is already used; use a new one"
                )
            return None
        check_repeat(stored.resource, body)
        return stored.resource

    def _read(
        self, rtype: ResourceType, where: dict[str, Any], session: ClientSession
    ) -> list[Stored]:
        found = []
        where = scoped(rtype.collection, where)
        fields = {"_id": 0, DUE: 0, PARTNER: 0}
        for document in self._db[rtype.collection].find(where, fields, session=session):
            version = document.pop(VERSION, 0)
            found.append(Stored(document, version))
        return found

    def _insert(
        self, service: ResourceService, resource: dict[str, Any], session: ClientSession
    ) -> dict[str, Any]:
        """Stores the complete resource, checked as the server writes it."""
        stored = service.new_resource(resource, resource_id=resource["id"])
        check_storable(stored)
        document = {**stored, VERSION: 1, PARTNER: owner()}
        self._db[service.rtype.collection].insert_one(document, session=session)
        audit.record(self._db, session, service.rtype, [stored["id"]], CREATE, stored)
        return stored

    def _created(self, service: ResourceService, resource: dict[str, Any]) -> tuple[ev.Event, ...]:
        return service.events(ev.CREATE, resource, 1, service.stamp(resource))

    def _replace(
        self,
        service: ResourceService,
        stored: Stored,
        after: dict[str, Any],
        session: ClientSession,
    ) -> tuple[ev.Event, ...]:
        """Writes the change if `stored` is still the current version (ConcurrentUpdate
        otherwise); its events, to be appended with the rest of the transaction's."""
        after, events = service.changed(stored, after)
        if after is stored.resource:
            return ()
        check_storable(after)
        result = self._db[service.rtype.collection].replace_one(
            {"id": after["id"], VERSION: stored.version, **own()},
            {**after, VERSION: stored.version + 1, PARTNER: owner()},
            session=session,
        )
        if result.matched_count == 0:
            raise ConcurrentUpdate(f"{service.rtype.name} {after['id']} changed meanwhile")
        changed = differences(stored.resource, after)
        audit.record(self._db, session, service.rtype, [after["id"]], UPDATE, changed)
        return events

    def _ref(self, rtype: ResourceType, resource_id: str) -> dict[str, Any]:
        return {
            "id": resource_id,
            "href": self._href_for(rtype, resource_id),
            "@referredType": rtype.name,
        }


def _resources(found: Mapping[str, Stored]) -> list[dict[str, Any]]:
    return [stored.resource for stored in found.values()]
