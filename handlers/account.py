"""TMF666 Account Management: operationIds of openapi/account.yaml."""

from handlers.tmf import hub_endpoints, resource_endpoints

(
    listBillingAccount,
    retrieveBillingAccount,
    createBillingAccount,
    patchBillingAccount,
    deleteBillingAccount,
) = resource_endpoints("billingAccount")
(
    listBillingCycleSpecification,
    retrieveBillingCycleSpecification,
    createBillingCycleSpecification,
    patchBillingCycleSpecification,
    deleteBillingCycleSpecification,
) = resource_endpoints("billingCycleSpecification")
registerListener, retrieveListener, unregisterListener = hub_endpoints("accountManagement")
