"""TMF620 Product Catalog Management: operationIds of openapi/catalog.yaml."""

from handlers.tmf import hub_endpoints, resource_endpoints

listCatalog, retrieveCatalog, createCatalog, patchCatalog, deleteCatalog = resource_endpoints(
    "catalog"
)
listCategory, retrieveCategory, createCategory, patchCategory, deleteCategory = resource_endpoints(
    "category"
)
(
    listProductSpecification,
    retrieveProductSpecification,
    createProductSpecification,
    patchProductSpecification,
    deleteProductSpecification,
) = resource_endpoints("productSpecification")
(
    listProductOfferingPrice,
    retrieveProductOfferingPrice,
    createProductOfferingPrice,
    patchProductOfferingPrice,
    deleteProductOfferingPrice,
) = resource_endpoints("productOfferingPrice")
(
    listProductOffering,
    retrieveProductOffering,
    createProductOffering,
    patchProductOffering,
    deleteProductOffering,
) = resource_endpoints("productOffering")
registerListener, retrieveListener, unregisterListener = hub_endpoints("productCatalogManagement")
