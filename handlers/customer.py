"""TMF629 Customer Management: operationIds of openapi/customer.yaml."""

from handlers.tmf import hub_endpoints, resource_endpoints

listCustomer, retrieveCustomer, createCustomer, patchCustomer, deleteCustomer = resource_endpoints(
    "customer"
)
registerListener, retrieveListener, unregisterListener = hub_endpoints("customerManagement")
