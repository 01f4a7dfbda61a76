"""TMF637 Product Inventory Management: operationIds of openapi/inventory.yaml."""

from handlers.tmf import hub_endpoints, resource_endpoints

listProduct, retrieveProduct, _, patchProduct, _ = resource_endpoints("product")
registerListener, retrieveListener, unregisterListener = hub_endpoints("productInventory")
