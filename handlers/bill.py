"""TMF678 Customer Bill Management: operationIds of openapi/bill.yaml."""

from collections.abc import Mapping
from typing import Any

from handlers.tmf import hub_endpoints, present, resource_endpoints, services

listCustomerBill, retrieveCustomerBill, _, patchCustomerBill, _ = resource_endpoints("customerBill")
listAppliedCustomerBillingRate, retrieveAppliedCustomerBillingRate, _, _, _ = resource_endpoints(
    "appliedCustomerBillingRate"
)
listCustomerBillOnDemand, retrieveCustomerBillOnDemand, _, _, _ = resource_endpoints(
    "customerBillOnDemand"
)
registerListener, retrieveListener, unregisterListener = hub_endpoints("customerBillManagement")


def createCustomerBillOnDemand(body: Mapping[str, Any], **_: Any) -> Any:
    """Stores the request inProgress, then has billing (when the app wires it) produce the
    bill and answers with the request as billing left it (done, or rejected saying why)."""
    requests = services().resources["customerBillOnDemand"]
    created = requests.create(body)
    billing = services().extra.get("billing")
    if billing is not None:
        created = billing.on_demand(created)
    shown = present(requests.rtype, created)
    return shown, 201, {"Location": shown["href"]}


def retrieveCustomerBillDocument(id: str, **_: Any) -> Any:
    """The bill's PDF, rendered on request from the stored bill (404 for an unknown bill)."""
    pdf = services().extra["bill_documents"].pdf(id)
    return pdf, 200, {"Content-Type": "application/pdf"}


def retrieveRevenueAssuranceReport(period: str, **_: Any) -> Any:
    """The revenue assurance report of the month, computed now (400 for a bad month)."""
    return services().extra["revenue_assurance"].report(period)
