"""What a client and the server may do with bills, their lines and bills on demand
(domain/bill.py): the bill's state lifecycle, the client's patch rules, no deletion."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.bill import (
    APPLIED_CUSTOMER_BILLING_RATE,
    BILL_LIFECYCLE,
    CLIENT_TRANSITIONS,
    CUSTOMER_BILL,
    CUSTOMER_BILL_ON_DEMAND,
    PAYABLE,
    SYSTEM_CUSTOMER_BILL,
)
from domain.errors import Conflict, IllegalTransition, NotPatchable
from domain.patch import MERGE, Patch
from domain.resource import ResourceType
from domain.service import ResourceService
from tests.unit.fakes import FakeClock, FakeRepository, SequentialIds

STATES = ("new", "onHold", "validated", "sent", "partiallyPaid", "settled")
ISSUED = "2026-11-01T00:00:00.000Z"


def href_for(rtype: ResourceType, resource_id: str) -> str:
    return f"http://bss.test/tmf-api/{rtype.api}/v4/{rtype.path}/{resource_id}"


class Bills:
    """The bill services over one repository: as clients reach bills, and as the server."""

    def __init__(self) -> None:
        self.repository = FakeRepository()
        self.clock = FakeClock()

        def service(rtype: ResourceType) -> ResourceService:
            return ResourceService(rtype, self.repository, self.clock, SequentialIds(), href_for)

        self.client = service(CUSTOMER_BILL)
        self.system = service(SYSTEM_CUSTOMER_BILL)
        self.rates = service(APPLIED_CUSTOMER_BILLING_RATE)
        self.requests = service(CUSTOMER_BILL_ON_DEMAND)

    def issue(self, state: str = "new") -> str:
        """A bill the bill run issued, stored in `state` as payments or clients left it."""
        bill = self.system.create(bill_body())
        self.repository.put("customerBill", {**bill, "state": state})
        return str(bill["id"])

    def patch(self, bill_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self.client.patch(bill_id, Patch(MERGE, changes))

    def state(self, bill_id: str) -> str:
        return str(self.client.get(bill_id)["state"])


def euros(value: str) -> dict[str, Any]:
    return {"unit": "EUR", "value": Decimal(value)}


def bill_body() -> dict[str, Any]:
    return {
        "billNo": "000001",
        "billDate": ISSUED,
        "billingPeriod": {
            "startDateTime": "2026-10-01T00:00:00.000Z",
            "endDateTime": "2026-11-01T00:00:00.000Z",
        },
        "paymentDueDate": "2026-11-15T00:00:00.000Z",
        "runType": "onCycle",
        "category": "normal",
        "amountDue": euros("24.60"),
        "remainingAmount": euros("24.60"),
        "taxExcludedAmount": euros("20.00"),
        "taxIncludedAmount": euros("24.60"),
        "taxItem": [{"taxCategory": "VAT", "taxRate": 23, "taxAmount": euros("4.60")}],
        "billingAccount": {"id": "ba-1", "@referredType": "BillingAccount"},
        "appliedPayment": [],
    }


@pytest.fixture
def bills() -> Bills:
    return Bills()


CLIENT_MOVES = [(start, end) for start, ends in CLIENT_TRANSITIONS.items() for end in ends]
REFUSED_TO_CLIENTS = [
    (start, end)
    for start in STATES
    for end in STATES
    if start != end and end not in CLIENT_TRANSITIONS.get(start, frozenset())
]


class TestClientStateChanges:
    @pytest.mark.parametrize(("start", "end"), CLIENT_MOVES)
    def test_a_client_may_hold_release_validate_and_send(self, bills, start, end):
        bill_id = bills.issue(start)
        assert bills.patch(bill_id, {"state": end})["state"] == end
        assert bills.state(bill_id) == end

    def test_the_whole_client_path_from_new_to_sent(self, bills):
        bill_id = bills.issue()
        for state in ("onHold", "new", "onHold", "validated", "sent"):
            bills.patch(bill_id, {"state": state})
        assert bills.state(bill_id) == "sent"

    @pytest.mark.parametrize(("start", "end"), REFUSED_TO_CLIENTS)
    def test_any_other_move_is_refused_and_changes_nothing(self, bills, start, end):
        bill_id = bills.issue(start)
        with pytest.raises(IllegalTransition):
            bills.patch(bill_id, {"state": end})
        assert bills.state(bill_id) == start

    @pytest.mark.parametrize("start", ["new", "validated", "sent", "partiallyPaid"])
    def test_paid_states_are_refused_naming_what_the_client_may_set(self, bills, start):
        bill_id = bills.issue(start)
        with pytest.raises(IllegalTransition) as refused:
            bills.patch(bill_id, {"state": "settled"})
        allowed = CLIENT_TRANSITIONS.get(start, frozenset())
        for state in allowed:
            assert state in refused.value.message
        assert "payments" in refused.value.message

    def test_a_change_stamps_last_update(self, bills):
        bill_id = bills.issue()
        bills.clock.advance(hours=1)
        changed = bills.patch(bill_id, {"state": "validated"})
        assert changed["lastUpdate"] == "2026-11-25T11:00:00.000Z"

    def test_a_state_change_raises_a_state_change_event_only(self, bills):
        bill_id = bills.issue()
        bills.repository.events.clear()
        bills.patch(bill_id, {"state": "onHold"})
        assert [event.event_type for event in bills.repository.events] == [
            "CustomerBillStateChangeEvent"
        ]


class TestClientChangesOfAnythingElse:
    @pytest.mark.parametrize(
        "changes",
        [
            {"amountDue": euros("0")},
            {"remainingAmount": euros("0"), "state": "validated"},  # with an allowed move
            {"appliedPayment": [{"appliedAmount": euros("24.60"), "payment": {"id": "p1"}}]},
            {"billNo": "000002"},
            {"paymentDueDate": "2027-01-01T00:00:00.000Z"},
            {"taxItem": None},
        ],
    )
    def test_are_refused_naming_the_attributes(self, bills, changes):
        bill_id = bills.issue()
        before = bills.client.get(bill_id)
        with pytest.raises(NotPatchable) as refused:
            bills.patch(bill_id, changes)
        for name in set(changes) - {"state"}:
            assert name in refused.value.message
        assert bills.client.get(bill_id) == before


class TestServerWrites:
    @pytest.mark.parametrize(
        "path",
        [
            ["partiallyPaid", "settled"],
            ["settled"],
            ["validated", "settled"],
            ["validated", "sent", "partiallyPaid", "settled"],
            ["sent"],  # the bill run may issue a bill straight to sent
        ],
    )
    def test_payments_move_a_bill_on_to_settled(self, bills, path):
        bill_id = bills.issue()
        for state in path:
            stored = bills.system.load(bill_id)
            bills.system.change(stored, {**stored.resource, "state": state})
        assert bills.state(bill_id) == path[-1]

    def test_a_payment_writes_amounts_and_state_in_one_change(self, bills):
        bill_id = bills.issue("sent")
        stored = bills.system.load(bill_id)
        payment = {"appliedAmount": euros("10.00"), "payment": {"id": "p1"}}
        after = {
            **stored.resource,
            "appliedPayment": [payment],
            "remainingAmount": euros("14.60"),
            "state": "partiallyPaid",
        }
        bills.repository.events.clear()
        bills.system.change(stored, after)
        assert bills.client.get(bill_id)["remainingAmount"] == euros("14.60")
        assert [event.event_type for event in bills.repository.events] == [
            "CustomerBillStateChangeEvent",
            "CustomerBillAttributeValueChangeEvent",
        ]

    @pytest.mark.parametrize("state", sorted(PAYABLE))
    def test_a_payable_bill_can_be_settled(self, state):
        BILL_LIFECYCLE.check(state, "settled")

    @pytest.mark.parametrize("state", ["onHold", "settled"])
    def test_a_bill_on_hold_or_settled_takes_no_payment(self, bills, state):
        assert state not in PAYABLE
        bill_id = bills.issue(state)
        stored = bills.system.load(bill_id)
        with pytest.raises(IllegalTransition):
            bills.system.change(stored, {**stored.resource, "state": "partiallyPaid"})

    def test_a_bill_is_issued_new(self, bills):
        assert bills.system.create(bill_body())["state"] == "new"


class TestNothingIsDeleted:
    @pytest.mark.parametrize("state", STATES)
    def test_a_bill_is_never_deleted(self, bills, state):
        bill_id = bills.issue(state)
        for service in (bills.client, bills.system):
            with pytest.raises(Conflict):
                service.delete(bill_id)
        assert bills.state(bill_id) == state

    def test_bills_raise_no_delete_events(self):
        assert "CustomerBillDeleteEvent" not in {
            CUSTOMER_BILL.event_type(kind) for kind in CUSTOMER_BILL.event_kinds
        }


class TestAppliedCustomerBillingRates:
    def test_are_stored_with_their_bill_without_events(self, bills):
        rate = {
            "name": "SIM Only 5 GB",
            "date": ISSUED,
            "type": "recurring",
            "isBilled": True,
            "bill": {"id": "b1"},
            "taxExcludedAmount": euros("20.00"),
            "taxIncludedAmount": euros("24.60"),
        }
        created = bills.rates.create(rate)
        assert bills.rates.get(created["id"])["bill"] == {"id": "b1"}
        assert bills.repository.events == []


class TestBillsOnDemand:
    def test_a_request_starts_in_progress_whatever_it_says(self, bills):
        created = bills.requests.create(
            {
                "billingAccount": {"id": "ba-1"},
                "state": "done",
                "customerBill": {"id": "made-up"},
            }
        )
        assert created["state"] == "inProgress"
        assert "customerBill" not in created
        assert created["lastUpdate"] == "2026-11-25T10:00:00.000Z"

    @pytest.mark.parametrize("end", ["done", "rejected", "terminatedWithError"])
    def test_the_server_ends_a_request_once(self, bills, end):
        request_id = bills.requests.create({"billingAccount": {"id": "ba-1"}})["id"]
        stored = bills.requests.load(request_id)
        bills.requests.change(stored, {**stored.resource, "state": end})
        stored = bills.requests.load(request_id)
        with pytest.raises(IllegalTransition):
            bills.requests.change(stored, {**stored.resource, "state": "inProgress"})

    def test_events_tell_of_the_request_and_its_end(self, bills):
        request_id = bills.requests.create({"billingAccount": {"id": "ba-1"}})["id"]
        stored = bills.requests.load(request_id)
        after = {**stored.resource, "state": "done", "customerBill": {"id": "b1"}}
        bills.requests.change(stored, after)
        assert [event.event_type for event in bills.repository.events] == [
            "CustomerBillOnDemandCreateEvent",
            "CustomerBillOnDemandStateChangeEvent",
        ]
