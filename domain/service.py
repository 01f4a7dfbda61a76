"""The generic TMF resource service: create, read, list, patch, delete, with events."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from domain import events as ev
from domain.errors import Conflict, InUse, InvalidRequest, NotFound, NotPatchable
from domain.instants import format_instant, normalize_instant
from domain.patch import Patch
from domain.ports import Clock, IdGenerator, ResourceRepository, SchemaCheck, Stored
from domain.query import ListQuery
from domain.resource import POLYMORPHISM, SERVER_OWNED, Lookup, ResourceType

HrefFor = Callable[[ResourceType, str], str]


class ResourceService:
    def __init__(
        self,
        rtype: ResourceType,
        repository: ResourceRepository,
        clock: Clock,
        ids: IdGenerator,
        href_for: HrefFor,
        schema_check: SchemaCheck | None = None,
    ) -> None:
        self.rtype = rtype
        self._repository = repository
        self._clock = clock
        self._ids = ids
        self._href_for = href_for
        self._schema_check = schema_check
        self.lookup = Lookup(repository)

    def get(self, resource_id: str) -> dict[str, Any]:
        return self._load(resource_id).resource

    def list(self, query: ListQuery) -> tuple[list[dict[str, Any]], int]:
        return self._repository.find(self.rtype, query)

    def create(self, body: Mapping[str, Any], *, resource_id: str | None = None) -> dict[str, Any]:
        rtype = self.rtype
        resource = {k: copy.deepcopy(v) for k, v in body.items() if k not in SERVER_OWNED}
        self._check_extensions(resource)
        resource["id"] = resource_id or self._ids.new_id()
        resource.setdefault("@type", rtype.name)
        if rtype.version_attribute:
            resource[rtype.version_attribute] = initial_version(
                resource.get(rtype.version_attribute)
            )
        now = format_instant(self._clock.now())
        for name in rtype.server_dates + rtype.create_dates:
            resource[name] = now
        if rtype.lifecycle:
            state = resource.get(rtype.lifecycle.attribute)
            resource[rtype.lifecycle.attribute] = rtype.lifecycle.initial_state(state)
        self._prepare(resource)
        rtype.rules.on_create(resource, self.lookup)
        event = self._event(ev.CREATE, resource, 1, now)
        self._repository.add(rtype, resource, [event])
        return resource

    def patch(self, resource_id: str, patch: Patch) -> dict[str, Any]:
        rtype = self.rtype
        touched = patch.touched_attributes()
        if "" in touched:
            raise InvalidRequest("a patch cannot replace the whole resource")
        refused = sorted(touched & rtype.not_patchable)
        if refused:
            raise NotPatchable(f"not patchable: {', '.join(refused)}")
        stored = self._load(resource_id)
        before = stored.resource
        after = patch.apply(copy.deepcopy(before))
        self._check_extensions(after)
        # Before comparing, so that the same instant in another notation is no change.
        _normalize_instants(after, rtype.instant_keys)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        if not changed:
            return before
        lifecycle = rtype.lifecycle
        state_changed = False
        if lifecycle:
            target = after.get(lifecycle.attribute)
            if not isinstance(target, str):
                raise InvalidRequest(f"{lifecycle.attribute} cannot be removed")
            lifecycle.check(before[lifecycle.attribute], target)
            state_changed = target != before[lifecycle.attribute]
        now = format_instant(self._clock.now())
        for name in rtype.server_dates:
            after[name] = now
        if rtype.version_attribute:
            after[rtype.version_attribute] = next_version(before.get(rtype.version_attribute))
        self._prepare(after)
        rtype.rules.on_update(before, after, self.lookup)
        sequence = stored.version + 1
        events = []
        if state_changed:
            events.append(self._event(ev.STATE_CHANGE, after, sequence, now))
        attribute_changes = [k for k in changed if not (lifecycle and k == lifecycle.attribute)]
        if attribute_changes:
            field_path = ",".join(attribute_changes)
            event = self._event(ev.ATTRIBUTE_VALUE_CHANGE, after, sequence, now, field_path)
            events.append(event)
        self._repository.replace(rtype, stored, after, events)
        return after

    def delete(self, resource_id: str) -> None:
        stored = self._load(resource_id)
        rtype = self.rtype
        if rtype.lifecycle and rtype.undeletable_states:
            state = stored.resource.get(rtype.lifecycle.attribute)
            if state in rtype.undeletable_states:
                raise Conflict(f"{rtype.name} {resource_id} is {state}: retire it before deleting")
        for referrer in rtype.referrers:
            found = self.lookup.referrers(referrer, resource_id)
            if found:
                raise InUse(
                    f"{rtype.name} {resource_id} is referenced through {referrer.path} by "
                    f"{referrer.collection} {', '.join(found)}"
                )
        now = format_instant(self._clock.now())
        event = self._event(ev.DELETE, stored.resource, stored.version + 1, now)
        self._repository.remove(self.rtype, stored, [event])

    def _load(self, resource_id: str) -> Stored:
        stored = self._repository.get(self.rtype, resource_id)
        if stored is None:
            raise NotFound(f"{self.rtype.name} with id '{resource_id}' does not exist")
        return stored

    def _check_extensions(self, resource: Mapping[str, Any]) -> None:
        """Undeclared attributes are allowed only on a subtype (TMF polymorphism)."""
        rtype = self.rtype
        server_written = SERVER_OWNED | set(rtype.server_dates + rtype.create_dates)
        extra = resource.keys() - rtype.attributes - POLYMORPHISM - server_written
        if not extra:
            return
        subtype = resource.get("@type", rtype.name) != rtype.name
        if not (subtype or resource.get("@schemaLocation")):
            raise InvalidRequest(
                f"unknown attribute(s) {', '.join(sorted(extra))}; extensions need a "
                f"@type other than {rtype.name} or a @schemaLocation"
            )

    def _prepare(self, resource: dict[str, Any]) -> None:
        _normalize_instants(resource, self.rtype.instant_keys)
        if self._schema_check:
            self._schema_check(resource)

    def _event(
        self,
        kind: str,
        resource: dict[str, Any],
        sequence: int,
        now: str,
        field_path: str | None = None,
    ) -> ev.Event:
        rtype = self.rtype
        body = dict(resource, href=self._href_for(rtype, resource["id"]))
        envelope = ev.envelope(
            self._ids.new_id(), now, rtype.event_type(kind), rtype.event_key, body, field_path
        )
        return ev.Event(rtype.api, rtype.collection, resource["id"], sequence, envelope)


def initial_version(requested: Any) -> str:
    """A client may choose the version of a new entity ("2.0"); the default is "1.0"."""
    if requested is None:
        return "1.0"
    parts = str(requested).split(".")
    if not all(part.isdigit() for part in parts):
        raise InvalidRequest(f"version: '{requested}' is not of the form major.minor")
    return str(requested)


def next_version(current: Any) -> str:
    """Every change bumps the last component: 1.0 -> 1.1, 2.9 -> 2.10."""
    parts = str(current or "1.0").split(".")
    if not all(part.isdigit() for part in parts):
        return "1.0"
    return ".".join([*parts[:-1], str(int(parts[-1]) + 1)])


def _normalize_instants(value: Any, keys: frozenset[str]) -> None:
    """Store every instant in the canonical wire form, so string order is time order."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys and isinstance(item, str):
                value[key] = normalize_instant(item)
            else:
                _normalize_instants(item, keys)
    elif isinstance(value, list):
        for item in value:
            _normalize_instants(item, keys)
