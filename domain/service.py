"""The generic TMF resource service: create, read, list, patch, delete, with events."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from domain import events as ev
from domain.errors import Conflict, InUse, InvalidRequest, NotFound, NotPatchable
from domain.instants import format_instant, normalize_instant
from domain.lifecycle import Lifecycle
from domain.patch import Patch
from domain.ports import Clock, IdGenerator, ResourceRepository, SchemaCheck, Stored
from domain.query import ListQuery
from domain.resource import POLYMORPHISM, SERVER_OWNED, Lookup, ResourceType

HrefFor = Callable[[ResourceType, str], str]

# What `put` did with a resource.
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


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
        return self.load(resource_id).resource

    def list(self, query: ListQuery) -> tuple[list[dict[str, Any]], int]:
        return self._repository.find(self.rtype, query)

    def create(self, body: Mapping[str, Any], *, resource_id: str | None = None) -> dict[str, Any]:
        resource = self.new_resource(body, resource_id=resource_id)
        created = self.events(ev.CREATE, resource, 1, self.stamp(resource))
        self._repository.add(self.rtype, resource, created)
        return resource

    def new_resource(
        self, body: Mapping[str, Any], *, resource_id: str | None = None
    ) -> dict[str, Any]:
        """The resource a create of `body` would store, checked by the rules, not stored:
        for writers that store many at once (bulk usage ingestion)."""
        rtype = self.rtype
        ignored = SERVER_OWNED | rtype.ignored_on_create
        resource = {k: copy.deepcopy(v) for k, v in body.items() if k not in ignored}
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
        return resource

    def stamp(self, resource: Mapping[str, Any]) -> str:
        """The instant of a new resource's events: its creation date when it has one."""
        for name in self.rtype.server_dates + self.rtype.create_dates:
            if resource.get(name):
                return str(resource[name])
        return format_instant(self._clock.now())

    def patch(self, resource_id: str, patch: Patch) -> dict[str, Any]:
        rtype = self.rtype
        touched = patch.touched_attributes()
        if "" in touched:
            raise InvalidRequest("a patch cannot replace the whole resource")
        refused = sorted(touched & rtype.not_patchable)
        if refused:
            raise NotPatchable(f"not patchable: {', '.join(refused)}")
        stored = self.load(resource_id)
        return self.change(stored, patch.apply(copy.deepcopy(stored.resource)))

    def change(
        self, stored: Stored, after: dict[str, Any], notice: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """Store `after` in place of `stored` (409 when the stored version is no longer
        current), checked like a patch. `notice` adds an event of that kind with that
        fieldPath (TMF622 InformationRequired), when the resource type emits it."""
        after, events = self.changed(stored, after, notice)
        if after is not stored.resource:
            self._repository.replace(self.rtype, stored, after, events)
        return after

    def changed(
        self, stored: Stored, after: dict[str, Any], notice: tuple[str, str] | None = None
    ) -> tuple[dict[str, Any], tuple[ev.Event, ...]]:
        """What `change` would store and its events, checked, not stored (the stored
        resource itself when nothing changes): for writers that store several resources in
        one transaction (a payment and the bills it pays)."""
        rtype = self.rtype
        before = stored.resource
        self._check_extensions(after)
        # Before comparing, so that the same instant in another notation is no change.
        _normalize_instants(after, rtype.instant_keys)
        changed = differences(before, after)
        if not changed:
            return before, ()
        lifecycle = rtype.lifecycle
        if lifecycle:
            target = after.get(lifecycle.attribute)
            if not isinstance(target, str):
                raise InvalidRequest(f"{lifecycle.attribute} cannot be removed")
            lifecycle.check(before[lifecycle.attribute], target)
        now = format_instant(self._clock.now())
        for name in rtype.server_dates:
            after[name] = now
        if rtype.version_attribute:
            after[rtype.version_attribute] = next_version(before.get(rtype.version_attribute))
        self._prepare(after)
        rtype.rules.on_update(before, after, self.lookup)
        # what the change and the rules changed, not what the server stamps on every change
        stamped = {*rtype.server_dates, rtype.version_attribute, *rtype.change_records}
        changed = [key for key in differences(before, after) if key not in stamped]
        events = self._change_events(stored, after, changed, now)
        if notice:
            kind, field_path = notice
            events += self.events(kind, after, stored.version + 1, now, field_path)
        return after, events

    def put(self, body: Mapping[str, Any]) -> str:
        """Store a resource as given, with its id, state, dates and version (an import):
        CREATED when absent, UNCHANGED when identical, UPDATED (replaced) otherwise.

        Checked like a create or a change (schema, extensions, Rules.on_import), except that
        any state reachable from the stored one may be given. Server-maintained attributes
        the body lacks keep their stored value (or start as on a create).
        """
        rtype = self.rtype
        resource = {k: copy.deepcopy(v) for k, v in body.items() if k != "href"}
        resource_id = resource.get("id")
        if not isinstance(resource_id, str) or not resource_id:
            raise InvalidRequest("id: a non-empty string is required")
        self._check_extensions(resource)
        resource.setdefault("@type", rtype.name)
        stored = self._repository.get(rtype, resource_id)
        before = stored.resource if stored else None
        kept = before or {}
        now = format_instant(self._clock.now())
        for name in rtype.server_dates + rtype.create_dates:
            resource.setdefault(name, kept.get(name, now))
        if rtype.version_attribute:
            version = resource.get(rtype.version_attribute, kept.get(rtype.version_attribute))
            resource[rtype.version_attribute] = initial_version(version)
        if rtype.lifecycle:
            _check_imported_state(rtype.lifecycle, kept, resource)
        self._prepare(resource)
        if resource != before:
            rtype.rules.on_import(before, resource, self.lookup)
        if resource == before:
            return UNCHANGED
        if stored is None:
            self._repository.add(rtype, resource, self.events(ev.CREATE, resource, 1, now))
            return CREATED
        events = self._change_events(stored, resource, differences(kept, resource), now)
        self._repository.replace(rtype, stored, resource, events)
        return UPDATED

    def delete(self, resource_id: str) -> None:
        stored = self.load(resource_id)
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
        events = self.events(ev.DELETE, stored.resource, stored.version + 1, now)
        self._repository.remove(self.rtype, stored, events)

    def load(self, resource_id: str) -> Stored:
        """The resource with its stored version (for `change`); 404 when absent."""
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

    def _change_events(
        self, stored: Stored, after: dict[str, Any], changed: Sequence[str], now: str
    ) -> tuple[ev.Event, ...]:
        """A StateChangeEvent when the state is among the `changed` attributes, an
        AttributeValueChangeEvent naming the others."""
        sequence = stored.version + 1
        lifecycle = self.rtype.lifecycle
        state = lifecycle.attribute if lifecycle else None
        events: tuple[ev.Event, ...] = ()
        if state in changed:
            events += self.events(ev.STATE_CHANGE, after, sequence, now)
        attribute_changes = [k for k in changed if k != state]
        if attribute_changes:
            field_path = ",".join(attribute_changes)
            events += self.events(ev.ATTRIBUTE_VALUE_CHANGE, after, sequence, now, field_path)
        return events

    def events(
        self,
        kind: str,
        resource: dict[str, Any],
        sequence: int,
        now: str,
        field_path: str | None = None,
    ) -> tuple[ev.Event, ...]:
        """The event of this kind, or none when the resource type does not emit it."""
        rtype = self.rtype
        if kind not in rtype.event_kinds:
            return ()
        body = dict(resource, href=self._href_for(rtype, resource["id"]))
        envelope = ev.envelope(
            self._ids.new_id(), now, rtype.event_type(kind), rtype.event_key, body, field_path
        )
        return (ev.Event(rtype.api, rtype.collection, resource["id"], sequence, envelope),)


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


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The top-level attributes whose values differ, sorted."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _check_imported_state(
    lifecycle: Lifecycle, before: Mapping[str, Any], resource: dict[str, Any]
) -> None:
    state = resource.setdefault(lifecycle.attribute, lifecycle.initial)
    if state not in lifecycle.transitions:
        raise InvalidRequest(f"{lifecycle.attribute}: '{state}' is not a known state")
    current = before.get(lifecycle.attribute)
    if current is not None and current != state:
        lifecycle.path(current, state)  # an import moves an entity on, never back


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
