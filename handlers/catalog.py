"""TMF620 Product Catalog Management: operationIds of openapi/catalog.yaml."""

from typing import Any

from domain.catalog_jobs import CatalogJobs
from handlers.tmf import hub_endpoints, resource_endpoints, services

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
listImportJob, retrieveImportJob, createImportJob, _, deleteImportJob = resource_endpoints(
    "importJob"
)
listExportJob, retrieveExportJob, createExportJob, _, _ = resource_endpoints("exportJob")


def catalog_jobs() -> CatalogJobs:
    return services().extra["catalog_jobs"]


def deleteExportJob(id: str, **_: Any) -> Any:
    catalog_jobs().delete_export_job(id)
    return None, 204


def retrieveExportJobFile(id: str, **_: Any) -> Any:
    return catalog_jobs().export_file(id)
