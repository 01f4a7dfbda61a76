"""Moving catalog content between servers: the export file and its import.

An export file is `{"exportedAt": <instant>, "entities": {<collection path>: [entity, ...]}}`
with the entities as stored (no href). Importing it stores each entity as given, by id, so
that importing the same file twice changes nothing and an export re-imported elsewhere
yields identical entities (same lastUpdate and version).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from domain.catalog import CATALOG, CATALOG_TYPES, ref_ids
from domain.errors import Conflict, DomainError, InvalidRequest, Unprocessable
from domain.query import (
    RANGE_OPERATORS,
    RESERVED,
    Criterion,
    ListQuery,
    matches,
    parse_criterion,
)
from domain.resource import ResourceType
from domain.service import CREATED, UPDATED, ResourceService

# Referenced before referencing: a Launched entity is imported after what it refers to.
IMPORT_ORDER = ("productSpecification", "productOfferingPrice", "category", "productOffering")
COLLECTIONS = (*IMPORT_ORDER, CATALOG.path)
TYPES = {rtype.path: rtype for rtype in CATALOG_TYPES}
PAGE = 500
MAX_LOGGED_ERRORS = 200
Heartbeat = Callable[[], None]


class TransferFailed(Exception):
    """An export or import that cannot go on (unreadable file, unknown catalog, ...)."""


def _nothing() -> None:
    """A heartbeat that does nothing."""


# -- what to export ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSelection:
    """`path`: one collection, `catalog/<id>` (a catalog and what it reaches) or everything;
    `query`: list filters, applied to each collection that declares all of them."""

    collections: tuple[str, ...]
    catalog_id: str | None
    criteria: Mapping[str, tuple[Criterion, ...]]  # per collection exported

    @classmethod
    def parse(cls, path: str | None, query: str | None) -> ExportSelection:
        collections: tuple[str, ...] = COLLECTIONS
        catalog_id = None
        if path and path.startswith(f"{CATALOG.path}/"):
            catalog_id = path.removeprefix(f"{CATALOG.path}/")
            if not catalog_id or "/" in catalog_id:
                raise InvalidRequest(f"path: '{path}' is not of the form catalog/<id>")
        elif path:
            collections = (_collection(path, "path"),)
        params = parse_qsl(query or "", keep_blank_values=True)
        criteria = {
            name: tuple(_criteria(TYPES[name], params))
            for name in collections
            if all(_declares(TYPES[name], key) for key, _ in params)
        }
        if not criteria:
            keys = ", ".join(sorted({key for key, _ in params}))
            raise InvalidRequest(
                f"query: no collection among {', '.join(collections)} can be filtered by {keys}"
            )
        return cls(tuple(c for c in collections if c in criteria), catalog_id, criteria)


def _collection(name: str, where: str) -> str:
    if name not in TYPES:
        raise InvalidRequest(f"{where}: '{name}' is not one of {', '.join(COLLECTIONS)}")
    return name


def _declares(rtype: ResourceType, key: str) -> bool:
    if key in RESERVED:
        raise InvalidRequest(f"query: '{key}' has no meaning in an export")
    head, _, suffix = key.rpartition(".")
    path = head if suffix in RANGE_OPERATORS and head else key
    return key in rtype.derived_filters or path in rtype.filters


def _criteria(rtype: ResourceType, params: Iterable[tuple[str, str]]) -> Iterator[Criterion]:
    for key, raw in params:
        if key in rtype.derived_filters:
            yield from rtype.derived_filters[key](raw)
        else:
            yield parse_criterion(key, raw, rtype.filters)


def import_collections(path: str | None) -> tuple[str, ...]:
    """The collections an import limited to `path` (or not limited) reads from its file."""
    return (_collection(path, "path"),) if path else COLLECTIONS


# -- export ----------------------------------------------------------------------------------


def build_export(
    services: Mapping[str, ResourceService],
    selection: ExportSelection,
    exported_at: str,
    heartbeat: Heartbeat = _nothing,
) -> dict[str, Any]:
    reachable = _reachable(services, selection.catalog_id) if selection.catalog_id else None
    entities: dict[str, list[dict[str, Any]]] = {}
    for name in selection.collections:
        criteria = selection.criteria[name]
        if reachable is None:
            entities[name] = list(_all(services[name], criteria, heartbeat))
        else:
            found = (services[name].lookup.get(name, i) for i in reachable[name])
            entities[name] = [e for e in found if e is not None and matches(e, criteria)]
    return {"exportedAt": exported_at, "entities": entities}


def _all(
    service: ResourceService, criteria: tuple[Criterion, ...], heartbeat: Heartbeat
) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        heartbeat()
        page, _ = service.list(ListQuery(criteria=criteria, offset=offset, limit=PAGE))
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def _reachable(services: Mapping[str, ResourceService], catalog_id: str) -> dict[str, list[str]]:
    """Ids of what a catalog reaches: its categories (and their subcategories), their
    offerings (and the bundled ones), those offerings' specifications and prices (and the
    bundled or related ones)."""
    lookup = services[CATALOG.path].lookup
    catalog = lookup.get(CATALOG.path, catalog_id)
    if catalog is None:
        raise TransferFailed(f"catalog '{catalog_id}' does not exist")
    get = lookup.get
    categories = _closure(get, "category", ref_ids(catalog, "category"), ("subCategory",))
    offerings = _ref_ids_of(get, "category", categories, "productOffering")
    offerings += [o["id"] for o in _offerings_in(services["productOffering"], categories)]
    offerings = _closure(get, "productOffering", offerings, ("bundledProductOffering",))
    specifications = _ref_ids_of(get, "productOffering", offerings, "productSpecification")
    specifications = _closure(
        get, "productSpecification", specifications, ("bundledProductSpecification",)
    )
    prices = _ref_ids_of(get, "productOffering", offerings, "productOfferingPrice")
    prices = _closure(
        get, "productOfferingPrice", prices, ("bundledPopRelationship", "popRelationship")
    )
    return {
        "catalog": [catalog_id],
        "category": categories,
        "productOffering": offerings,
        "productSpecification": specifications,
        "productOfferingPrice": prices,
    }


Get = Callable[[str, str], dict[str, Any] | None]


def _closure(get: Get, collection: str, start: Iterable[str], via: Sequence[str]) -> list[str]:
    """`start` and every entity reached from it through the `via` references, in the order
    found, existing ones only."""
    found: list[str] = []
    pending = list(start)
    while pending:
        entity_id = pending.pop(0)
        entity = None if entity_id in found else get(collection, entity_id)
        if entity is None:
            continue
        found.append(entity_id)
        pending += [ref for attribute in via for ref in ref_ids(entity, attribute)]
    return found


def _ref_ids_of(get: Get, collection: str, ids: Iterable[str], attribute: str) -> list[str]:
    """The references held in `attribute` by the given entities, without repeats."""
    refs: dict[str, None] = {}
    for entity_id in ids:
        entity = get(collection, entity_id) or {}
        refs.update(dict.fromkeys(ref_ids(entity, attribute)))
    return list(refs)


def _offerings_in(offerings: ResourceService, categories: list[str]) -> Iterator[dict[str, Any]]:
    if categories:
        yield from _all(offerings, (Criterion("category.id", "eq", tuple(categories)),), _nothing)


# -- import ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    def error_log(self) -> str:
        shown = self.errors[:MAX_LOGGED_ERRORS]
        more = len(self.errors) - len(shown)
        return "\n".join(shown + ([f"... and {more} more"] if more else []))


@dataclass(frozen=True)
class _Entry:
    collection: str
    index: int
    entity: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.collection}[{self.index}] (id '{self.entity['id']}')"


def import_document(
    document: Any,
    services: Mapping[str, ResourceService],
    collections: Sequence[str] = COLLECTIONS,
    heartbeat: Heartbeat = _nothing,
) -> ImportReport:
    """Store each entity of an export file (of the given collections) as given, each in its
    own write with its events; a bad entry is logged and leaves nothing behind.

    Entities are taken in dependency order, and those refused because of others (a missing
    or not yet Active reference, a conflict) are tried again while a round makes progress.
    """
    report = ImportReport()
    pending = _entries(document, collections, report)
    while pending:
        refused: list[tuple[_Entry, DomainError]] = []
        for entry in pending:
            heartbeat()
            try:
                outcome = services[entry.collection].put(entry.entity)
            except (Unprocessable, Conflict) as error:
                refused.append((entry, error))
            except DomainError as error:
                report.errors.append(f"{entry}: {error.message}")
            else:
                _count(report, outcome)
        if len(refused) == len(pending):
            report.errors += [f"{entry}: {error.message}" for entry, error in refused]
            break
        pending = [entry for entry, _ in refused]
    return report


def _count(report: ImportReport, outcome: str) -> None:
    if outcome == CREATED:
        report.created += 1
    elif outcome == UPDATED:
        report.updated += 1
    else:
        report.unchanged += 1


def _entries(document: Any, collections: Sequence[str], report: ImportReport) -> list[_Entry]:
    """The well-formed entries of the file in import order; the others go to the report."""
    entities = document.get("entities") if isinstance(document, dict) else None
    if not isinstance(entities, dict):
        raise TransferFailed("not an export file: an object with `entities` is expected")
    entries: list[_Entry] = []
    for name, items in entities.items():
        if name not in TYPES:
            report.errors.append(f"entities.{name}: not one of {', '.join(COLLECTIONS)}")
        elif not isinstance(items, list):
            report.errors.append(f"entities.{name}: a list of entities is expected")
        elif name in collections:
            entries += _collection_entries(name, items, report)
    return sorted(entries, key=lambda e: (COLLECTIONS.index(e.collection), e.index))


def _collection_entries(name: str, items: list[Any], report: ImportReport) -> list[_Entry]:
    entries: list[_Entry] = []
    first_index: dict[str, int] = {}
    for index, entity in enumerate(items):
        where = f"{name}[{index}]"
        entity_id = entity.get("id") if isinstance(entity, dict) else None
        if not isinstance(entity, dict):
            report.errors.append(f"{where}: an object is expected")
        elif not isinstance(entity_id, str) or not entity_id:
            report.errors.append(f"{where}: id: a non-empty string is required")
        elif entity_id in first_index:
            first = first_index[entity_id]
            report.errors.append(f"{where} (id '{entity_id}'): same id as {name}[{first}]")
        else:
            first_index[entity_id] = index
            entries.append(_Entry(name, index, entity))
    return entries
