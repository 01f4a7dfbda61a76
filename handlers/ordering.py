"""TMF622 Product Ordering Management: operationIds of openapi/ordering.yaml."""

from handlers.tmf import hub_endpoints, resource_endpoints

(
    listProductOrder,
    retrieveProductOrder,
    createProductOrder,
    patchProductOrder,
    deleteProductOrder,
) = resource_endpoints("productOrder")
listCancelProductOrder, retrieveCancelProductOrder, createCancelProductOrder, _, _ = (
    resource_endpoints("cancelProductOrder")
)
registerListener, retrieveListener, unregisterListener = hub_endpoints("productOrderingManagement")
