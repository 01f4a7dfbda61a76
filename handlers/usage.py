"""TMF635 Usage Management: operationIds of openapi/usage.yaml."""

from collections.abc import Mapping
from typing import Any

from adapters import acting
from domain.errors import Conflict
from domain.usage import usage_id_for
from handlers.tmf import hub_endpoints, present, resource_endpoints, services

listUsage, retrieveUsage, _, patchUsage, deleteUsage = resource_endpoints("usage")
(
    listUsageSpecification,
    retrieveUsageSpecification,
    createUsageSpecification,
    patchUsageSpecification,
    deleteUsageSpecification,
) = resource_endpoints("usageSpecification")
listUsageConsumption, retrieveUsageConsumption, _, _, _ = resource_endpoints("usageConsumption")
listUsageBatch, retrieveUsageBatch, _, _, _ = resource_endpoints("usageBatch")
registerListener, retrieveListener, unregisterListener = hub_endpoints("usageManagement")


def createUsage(body: Mapping[str, Any], **_: Any) -> Any:
    """Stored `received`; rating follows in the background. A record whose externalId was
    already received is refused (409), so a source may safely send it again."""
    usage = services().resources["usage"]
    external = body.get("externalId")
    try:
        created = usage.create(body, resource_id=usage_id_for(external, acting.partner()))
    except Conflict:
        raise Conflict(f"usage with externalId '{external}' was already received") from None
    shown = present(usage.rtype, created)
    return shown, 201, {"Location": shown["href"]}


def createUsageBatch(body: Mapping[str, Any], **_: Any) -> Any:
    """Rates the batch's records at once; malformed ones are reported, the rest stored."""
    rating = services().extra["usage_rating"]
    batch = rating.ingest(body["usage"], source="api", description=body.get("description"))
    shown = present(services().resources["usageBatch"].rtype, batch)
    return shown, 201, {"Location": shown["href"]}
