"""The audit trail: who changed which resources, how and when, one entry per write.

Every write of a resource (through the repository or by a bulk writer: bill runs, usage
rating, payments) appends an entry in the same transaction, so the trail holds exactly the
writes that happened. Entries are read by operators only, through the audit API.

A bulk write (a chunk of rated usage records, a group of bills) is one entry listing the ids
it wrote: an entry per record would add an insert per record to bulk rating. Every entry
therefore lists its resources in `resourceIds`; an entry of one resource also names it in
`resourceId`, and the filter `resourceId` finds both kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from domain.query import AttrType, Criterion, parse_criterion
from domain.resource import ResourceType
from domain.security import Principal
from domain.service import differences

CREATE, UPDATE, DELETE = "create", "update", "delete"


class Written(Protocol):
    """What an entry says was written: the API and name of a type of resources (a
    ResourceType is one)."""

    @property
    def api(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Kind:
    """A kind of resource written that has no ResourceType (hub subscriptions)."""

    api: str
    name: str


SUBSCRIPTION = "EventSubscription"  # the resource name of hub subscriptions

_FILTERS: Mapping[str, AttrType] = {
    "at": AttrType.INSTANT,
    "clientId": AttrType.STRING,
    "subject": AttrType.STRING,
    "partner": AttrType.STRING,
    "api": AttrType.STRING,
    "resourceType": AttrType.STRING,
    "resourceIds": AttrType.STRING,
    "operation": AttrType.STRING,
}


def _by_resource_id(raw: str) -> tuple[Criterion, ...]:
    """`resourceId=X`: the entries that wrote X, alone or in a bulk write."""
    return (parse_criterion("resourceIds", raw, _FILTERS),)


AUDIT_ENTRY = ResourceType(
    name="AuditEntry",
    api="auditManagement",
    path="auditEntry",
    attributes=frozenset(
        {"at", "clientId", "subject", "partner", "api", "resourceType", "resourceId"}
        | {"resourceIds", "operation", "changedFields"}
    ),
    filters=_FILTERS,
    derived_filters={"resourceId": _by_resource_id},
    # written in volume (an entry per write): its id is its key, and in time order, so that
    # the default list order is the order of the writes
    keyed_by_id=True,
    # every write also writes its entry's index keys: only `at` (periods, newest first) and
    # `resourceIds` (a resource's history) are indexed; the other filters are scanned, best
    # after `at` narrowed the entries down
    unindexed=frozenset({"clientId", "subject", "partner", "api", "resourceType", "operation"}),
)


def audit_entry(
    entry_id: str,
    at: str,
    who: Principal,
    partner: str,
    written: Written,
    resource_ids: Sequence[str],
    operation: str,
    changed_fields: Iterable[str] = (),
) -> dict[str, Any]:
    """The entry of a write by `who` of the resources `resource_ids` of `partner`."""
    return {
        "id": entry_id,
        "@type": AUDIT_ENTRY.name,
        "at": at,
        "clientId": who.client_id,
        "subject": who.subject,
        "partner": partner,
        "api": written.api,
        "resourceType": written.name,
        **({"resourceId": resource_ids[0]} if len(resource_ids) == 1 else {}),
        "resourceIds": list(resource_ids),
        "operation": operation,
        "changedFields": sorted(changed_fields),
    }


def changed_fields(changes: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> set[str]:
    """The top-level attributes that differ in any of the (before, after) pairs of a bulk
    write; a created resource is a change from {}."""
    return {name for before, after in changes for name in differences(before, after)}
