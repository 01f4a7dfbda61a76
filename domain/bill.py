"""TMF678 Customer Bill Management: bills, their lines (applied customer billing rates) and
requests for a bill on demand, as resource types.

Bills and their lines are written by the server: the bill run through SYSTEM_CUSTOMER_BILL
and APPLIED_CUSTOMER_BILLING_RATE, payments (TMF676) and dunning (domain/dunning.py, the
`dunning` extension) through SYSTEM_CUSTOMER_BILL. A client reads them, and may only move a
bill's `state` along CLIENT_TRANSITIONS (hold, release, validate, send); CUSTOMER_BILL's
rules refuse anything else. Bills are never deleted: their numbers run without gaps and
revenue assurance reads every one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from domain import events as ev
from domain.errors import IllegalTransition, NotPatchable
from domain.lifecycle import Lifecycle
from domain.query import AttrType
from domain.resource import Lookup, ResourceType, Rules

API = "customerBillManagement"

# states of a bill (TMF678 stateValue)
NEW, ON_HOLD, VALIDATED, SENT = "new", "onHold", "validated", "sent"
PARTIALLY_PAID, SETTLED = "partiallyPaid", "settled"
# states of a request for a bill on demand (TMF678 StateValues)
IN_PROGRESS, REJECTED, DONE, TERMINATED_WITH_ERROR = (
    "inProgress",
    "rejected",
    "done",
    "terminatedWithError",
)

# What a client may do to a bill's state: hold it (e.g. disputed) and release it, validate
# it, and record that it was sent.
CLIENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    NEW: frozenset({ON_HOLD, VALIDATED}),
    ON_HOLD: frozenset({NEW, VALIDATED}),
    VALIDATED: frozenset({SENT}),
}
# The states in which payments are allocated to a bill, leaving it partiallyPaid or settled;
# a bill on hold takes none until it is released.
PAYABLE = frozenset({NEW, VALIDATED, SENT, PARTIALLY_PAID})
_BY_PAYMENT = frozenset({PARTIALLY_PAID, SETTLED})

BILL_LIFECYCLE = Lifecycle(
    attribute="state",
    transitions={
        # the server may also mark a new bill sent (no validation step); bills are issued new
        NEW: frozenset({ON_HOLD, VALIDATED, SENT}) | _BY_PAYMENT,
        ON_HOLD: frozenset({NEW, VALIDATED}),
        VALIDATED: frozenset({SENT}) | _BY_PAYMENT,
        SENT: _BY_PAYMENT,
        PARTIALLY_PAID: frozenset({SETTLED}),
        SETTLED: frozenset(),
    },
    initial=NEW,
    creatable=frozenset({NEW}),
)

ON_DEMAND_LIFECYCLE = Lifecycle(
    attribute="state",
    transitions={
        IN_PROGRESS: frozenset({DONE, TERMINATED_WITH_ERROR, REJECTED}),
        DONE: frozenset(),
        TERMINATED_WITH_ERROR: frozenset(),
        REJECTED: frozenset(),
    },
    initial=IN_PROGRESS,
    creatable=frozenset({IN_PROGRESS}),
)

SERVER_DATES = ("lastUpdate",)


class ClientBillRules(Rules):
    """A bill is what was issued (amounts, lines, dates) and what payments wrote on it: a
    client changes its state only, and only along CLIENT_TRANSITIONS."""

    def on_update(self, before: Mapping[str, Any], after: dict[str, Any], lookup: Lookup) -> None:
        changed = sorted(
            key
            for key in before.keys() | after.keys()
            if before.get(key) != after.get(key) and key not in {"state", *SERVER_DATES}
        )
        if changed:
            raise NotPatchable(
                f"{', '.join(changed)}: a bill is written by the bill run and by payments; "
                "only state can be patched"
            )
        current, target = before["state"], after["state"]
        allowed = CLIENT_TRANSITIONS.get(current, frozenset())
        if target != current and target not in allowed:
            choices = ", ".join(sorted(allowed)) or "none"
            raise IllegalTransition(
                f"state: {current} -> {target} is not a client's to make; from {current} a "
                f"client may set: {choices} ({PARTIALLY_PAID} and {SETTLED} follow from "
                "payments)"
            )


CUSTOMER_BILL = ResourceType(
    name="CustomerBill",
    api=API,
    path="customerBill",
    attributes=frozenset(
        {
            "billDate",
            "billNo",
            "category",
            "lastUpdate",
            "nextBillDate",
            "paymentDueDate",
            "runType",
            "amountDue",
            "appliedPayment",
            "billDocument",
            "billingAccount",
            "billingPeriod",
            "dunning",  # extension: reminders and suspension of an overdue bill
            "financialAccount",
            "paymentMethod",
            "relatedParty",
            "remainingAmount",
            "state",
            "taxExcludedAmount",
            "taxIncludedAmount",
            "taxItem",
        }
    ),
    filters={
        "id": AttrType.STRING,
        "billNo": AttrType.STRING,
        "state": AttrType.STRING,
        "billDate": AttrType.INSTANT,
        "billingAccount.id": AttrType.STRING,
        "relatedParty.id": AttrType.STRING,
        "runType": AttrType.STRING,
        "category": AttrType.STRING,
        "billingPeriod.startDateTime": AttrType.INSTANT,
        "paymentDueDate": AttrType.INSTANT,
    },
    instant_keys=frozenset(
        {"billDate", "lastUpdate", "nextBillDate", "paymentDueDate", "startDateTime", "endDateTime"}
    ),
    server_dates=SERVER_DATES,
    lifecycle=BILL_LIFECYCLE,
    rules=ClientBillRules(),
    undeletable_states=frozenset(BILL_LIFECYCLE.transitions),  # never deleted
    event_kinds=frozenset({ev.CREATE, ev.ATTRIBUTE_VALUE_CHANGE, ev.STATE_CHANGE}),
    # written in volume by the bill run; a few values each, which an index would not narrow
    unindexed=frozenset({"state", "runType", "category"}),
)

# The same resource as the bill run and payments write it: every attribute, transitions
# still checked.
SYSTEM_CUSTOMER_BILL = dataclasses.replace(CUSTOMER_BILL, rules=Rules())

APPLIED_CUSTOMER_BILLING_RATE = ResourceType(
    name="AppliedCustomerBillingRate",
    api=API,
    path="appliedCustomerBillingRate",
    attributes=frozenset(
        {
            "name",
            "description",
            "date",
            "type",
            "isBilled",
            "bill",
            "billingAccount",
            "product",
            "periodCoverage",
            "taxExcludedAmount",
            "taxIncludedAmount",
            "appliedTax",
            "characteristic",
        }
    ),
    filters={
        "id": AttrType.STRING,
        "type": AttrType.STRING,
        "isBilled": AttrType.BOOLEAN,
        "bill.id": AttrType.STRING,
        "product.id": AttrType.STRING,
        "billingAccount.id": AttrType.STRING,
        "periodCoverage.startDateTime": AttrType.INSTANT,
    },
    instant_keys=frozenset({"date", "startDateTime", "endDateTime"}),
    # written in volume by the bill run, with its bill: one index fewer per line
    keyed_by_id=True,
    # filters narrowed by another one in practice (a bill, a product, an account): an index
    # of their own would cost every line written and narrow little
    unindexed=frozenset({"type", "isBilled", "periodCoverage.startDateTime"}),
    event_kinds=frozenset(),  # TMF678 defines no events for them
)

CUSTOMER_BILL_ON_DEMAND = ResourceType(
    name="CustomerBillOnDemand",
    api=API,
    path="customerBillOnDemand",
    attributes=frozenset(
        {
            "name",
            "description",
            "lastUpdate",
            "billingAccount",
            "customerBill",
            "relatedParty",
            "state",
        }
    ),
    filters={"id": AttrType.STRING, "state": AttrType.STRING, "billingAccount.id": AttrType.STRING},
    instant_keys=frozenset({"lastUpdate"}),
    server_dates=SERVER_DATES,
    lifecycle=ON_DEMAND_LIFECYCLE,
    # a request starts inProgress; the bill it produced is the server's to name
    ignored_on_create=frozenset({"state", "customerBill"}),
    event_kinds=frozenset({ev.CREATE, ev.STATE_CHANGE}),
)

BILL_TYPES = (CUSTOMER_BILL, APPLIED_CUSTOMER_BILLING_RATE, CUSTOMER_BILL_ON_DEMAND)
