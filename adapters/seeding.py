"""Demo data, loaded through the domain services so it obeys every rule a client's would.

Each record is created in the creatable state nearest to its target state and walked
through the allowed transitions (a Suspended customer was once Approved; a Launched offering
was Active). All records are created before any is moved on, so launch checks find every
reference. Loading again creates nothing: records that exist are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.errors import NotFound
from domain.lifecycle import Lifecycle
from domain.patch import MERGE, Patch
from domain.service import ResourceService

# Said on the last transition only, e.g. why a customer is Suspended.
REASON = "statusReason"


def load(services: Mapping[str, ResourceService], data: Mapping[str, list[dict[str, Any]]]) -> int:
    """`data` maps a collection path to bodies that carry their own `id`; returns how many
    records were created."""
    pending: list[tuple[ResourceService, dict[str, Any], str]] = []
    for path, bodies in data.items():
        service = services[path]
        for body in bodies:
            if _exists(service, body["id"]):
                continue
            pending.append((service, body, _create(service, body)))
    for service, body, start in pending:
        _walk(service, body, start)
    return len(pending)


def _create(service: ResourceService, body: dict[str, Any]) -> str:
    lifecycle = service.rtype.lifecycle
    fields = {k: v for k, v in body.items() if k != "id"}
    if lifecycle is None:
        service.create(fields, resource_id=body["id"])
        return ""
    target = body.get(lifecycle.attribute, lifecycle.initial)
    start = _nearest_creatable(lifecycle, target)
    if start != target:
        fields.pop(REASON, None)
    service.create({**fields, lifecycle.attribute: start}, resource_id=body["id"])
    return start


def _walk(service: ResourceService, body: dict[str, Any], start: str) -> None:
    lifecycle = service.rtype.lifecycle
    if lifecycle is None:
        return
    target = body.get(lifecycle.attribute, lifecycle.initial)
    for state in lifecycle.path(start, target):
        change: dict[str, Any] = {lifecycle.attribute: state}
        if state == target and REASON in body:
            change[REASON] = body[REASON]
        service.patch(body["id"], Patch(MERGE, change))


def _nearest_creatable(lifecycle: Lifecycle, target: str) -> str:
    if target in lifecycle.creatable:
        return target
    routes = []
    for state in lifecycle.creatable:
        try:
            routes.append((len(lifecycle.path(state, target)), state))
        except Exception:  # noqa: BLE001 - unreachable from this state
            continue
    return min(routes)[1] if routes else lifecycle.initial


def _exists(service: ResourceService, resource_id: str) -> bool:
    try:
        service.get(resource_id)
    except NotFound:
        return False
    return True
