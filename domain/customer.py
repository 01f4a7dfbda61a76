"""TMF629 Customer: the resource description and its status lifecycle."""

from __future__ import annotations

from domain.lifecycle import Lifecycle
from domain.query import AttrType
from domain.resource import Referrer, ResourceType

# Initialized -> Validated -> Approved; Approved <-> Suspended; any -> Closed (final).
CUSTOMER_LIFECYCLE = Lifecycle(
    attribute="status",
    transitions={
        "Initialized": frozenset({"Validated", "Closed"}),
        "Validated": frozenset({"Approved", "Closed"}),
        "Approved": frozenset({"Suspended", "Closed"}),
        "Suspended": frozenset({"Approved", "Closed"}),
        "Closed": frozenset(),
    },
    initial="Initialized",
    # A CRM migrating its base may create customers that are already checked.
    creatable=frozenset({"Initialized", "Validated", "Approved"}),
)

CUSTOMER = ResourceType(
    name="Customer",
    api="customerManagement",
    path="customer",
    attributes=frozenset(
        {
            "name",
            "status",
            "statusReason",
            "account",
            "agreement",
            "characteristic",
            "contactMedium",
            "creditProfile",
            "engagedParty",
            "paymentMethod",
            "relatedParty",
            "validFor",
        }
    ),
    filters={
        "id": AttrType.STRING,
        "name": AttrType.STRING,
        "status": AttrType.STRING,
        "engagedParty.id": AttrType.STRING,
        "engagedParty.name": AttrType.STRING,
        "relatedParty.id": AttrType.STRING,
        "contactMedium.characteristic.emailAddress": AttrType.STRING,
        "contactMedium.characteristic.phoneNumber": AttrType.STRING,
        "validFor.startDateTime": AttrType.INSTANT,
        "validFor.endDateTime": AttrType.INSTANT,
    },
    instant_keys=frozenset({"startDateTime", "endDateTime", "creditProfileDate"}),
    lifecycle=CUSTOMER_LIFECYCLE,
    # A customer with orders or products stays: close it instead.
    referrers=(
        Referrer("productOrder", "relatedParty.id"),
        Referrer("product", "relatedParty.id"),
    ),
)
