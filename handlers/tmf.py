"""Generic TMF endpoints, bound per resource type by the thin per-API modules.

Connexion has already validated the request against the spec; these functions turn it into
one call on a domain service and shape the answer (href, fields, paging headers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import flask

from domain.hub import HubService
from domain.patch import JSON_PATCH, MERGE, Patch
from domain.query import PageLimits, parse_fields, parse_list_query, select_fields
from domain.resource import ResourceType
from domain.service import ResourceService

JSON_PATCH_TYPE = "application/json-patch+json"


@dataclass
class Services:
    """What the endpoints can reach; built by app.create_app, kept on the Flask app."""

    resources: dict[str, ResourceService]
    hubs: dict[str, HubService]
    limits: PageLimits
    public_base_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def base_url(self) -> str:
        return self.public_base_url or flask.request.host_url.rstrip("/")


def services() -> Services:
    return flask.current_app.extensions["bss"]


def href(base_url: str, rtype: ResourceType, resource_id: str) -> str:
    return f"{base_url}/tmf-api/{rtype.api}/v4/{rtype.path}/{resource_id}"


def present(rtype: ResourceType, resource: Mapping[str, Any], fields: Any = None) -> dict:
    shown = dict(resource, href=href(services().base_url(), rtype, resource["id"]))
    return select_fields(shown, fields)


def resource_endpoints(path: str) -> tuple[Callable[..., Any], ...]:
    """list, retrieve, create, patch, delete for the resource stored under `path`."""

    def service() -> ResourceService:
        return services().resources[path]

    def list_(**_: Any) -> Any:
        svc = service()
        params = flask.request.args.items(multi=True)
        rtype = svc.rtype
        query = parse_list_query(params, rtype.filters, services().limits, rtype.derived_filters)
        items, total = svc.list(query)
        body = [present(svc.rtype, item, query.fields) for item in items]
        headers = {"X-Total-Count": str(total), "X-Result-Count": str(len(body))}
        return body, 206 if len(body) < total else 200, headers

    def retrieve(id: str, **_: Any) -> Any:
        svc = service()
        fields = parse_fields(flask.request.args.get("fields"))
        return present(svc.rtype, svc.get(id), fields)

    def create(body: Mapping[str, Any], **_: Any) -> Any:
        svc = service()
        shown = present(svc.rtype, svc.create(body))
        return shown, 201, {"Location": shown["href"]}

    def patch(id: str, body: Any, **_: Any) -> Any:
        svc = service()
        kind = JSON_PATCH if flask.request.mimetype == JSON_PATCH_TYPE else MERGE
        return present(svc.rtype, svc.patch(id, Patch(kind, body)))

    def delete(id: str, **_: Any) -> Any:
        service().delete(id)
        return None, 204

    return list_, retrieve, create, patch, delete


def hub_endpoints(api: str) -> tuple[Callable[..., Any], ...]:
    """registerListener, retrieveListener, unregisterListener of one API."""

    def hub() -> HubService:
        return services().hubs[api]

    def register(body: Mapping[str, Any], **_: Any) -> Any:
        subscription = hub().register(body["callback"], body.get("query"))
        location = f"{services().base_url()}/tmf-api/{api}/v4/hub/{subscription['id']}"
        return subscription, 201, {"Location": location}

    def retrieve(id: str, **_: Any) -> Any:
        return hub().get(id)

    def unregister(id: str, **_: Any) -> Any:
        hub().unregister(id)
        return None, 204

    return register, retrieve, unregister
