"""TMF list queries: typed, whitelisted filters, sort, paging and attribute selection.

A query key or value never becomes a database operator: every key must name a declared
filter attribute (optionally with a `.gt/.gte/.lt/.lte` suffix) and every value is turned
into a typed literal here, before any adapter sees it.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.errors import InvalidRequest
from domain.instants import normalize_instant
from domain.money import to_decimal

RESERVED = frozenset({"fields", "offset", "limit", "sort"})
RANGE_OPERATORS = ("gt", "gte", "lt", "lte")
# values one list query may filter on, all filters together: each comma-separated value is
# one more to match (an `$in`, which the embedded server answers in time growing with the
# square of its values), and no client needs more in one page
MAX_FILTER_VALUES = 100
ALWAYS_SELECTED = ("id", "href", "@type")


class AttrType(enum.Enum):
    STRING = "string"
    BOOLEAN = "boolean"
    INSTANT = "instant"
    NUMBER = "number"

    def parse(self, name: str, raw: str) -> Any:
        if self is AttrType.STRING:
            return raw
        if self is AttrType.BOOLEAN:
            if raw in ("true", "false"):
                return raw == "true"
            raise InvalidRequest(f"{name}: '{raw}' is not a boolean (true or false)")
        if self is AttrType.INSTANT:
            return normalize_instant(raw)
        return to_decimal(raw, name)


@dataclass(frozen=True)
class Criterion:
    """`path op values`: `eq` matches any of the values (TMF comma = OR)."""

    path: str
    op: str
    values: tuple[Any, ...]
    missing_ok: bool = False  # also holds where the attribute is absent (open-ended periods)


@dataclass(frozen=True)
class SortKey:
    path: str
    descending: bool = False


@dataclass(frozen=True)
class ListQuery:
    criteria: tuple[Criterion, ...] = ()
    sort: tuple[SortKey, ...] = ()
    offset: int = 0
    limit: int = 100
    fields: frozenset[str] | None = None


@dataclass(frozen=True)
class PageLimits:
    default: int = 100
    maximum: int = 1000


def parse_criterion(key: str, raw: str, filters: Mapping[str, AttrType]) -> Criterion:
    path, op = key, "eq"
    head, _, suffix = key.rpartition(".")
    if suffix in RANGE_OPERATORS and head:
        path, op = head, suffix
    attr_type = filters.get(path)
    if attr_type is None:
        allowed = ", ".join(sorted(filters))
        raise InvalidRequest(f"'{key}' is not a filterable attribute; allowed: {allowed}")
    if op == "eq":
        return Criterion(path, op, tuple(attr_type.parse(key, part) for part in raw.split(",")))
    if attr_type is AttrType.BOOLEAN:
        raise InvalidRequest(f"'{key}': a boolean attribute has no range")
    return Criterion(path, op, (attr_type.parse(key, raw),))


def parse_list_query(
    params: Iterable[tuple[str, str]],
    filters: Mapping[str, AttrType],
    limits: PageLimits,
    derived: Mapping[str, Callable[[str], tuple[Criterion, ...]]] | None = None,
) -> ListQuery:
    criteria: list[Criterion] = []
    single: dict[str, str] = {}
    derived = derived or {}
    values = 0
    for key, raw in params:
        if key in RESERVED:
            if key in single:
                raise InvalidRequest(f"'{key}' is given more than once")
            single[key] = raw
            continue
        values += raw.count(",") + 1
        if values > MAX_FILTER_VALUES:
            raise InvalidRequest(f"a query may filter on at most {MAX_FILTER_VALUES} values")
        if key in derived:
            criteria.extend(derived[key](raw))
        else:
            criteria.append(parse_criterion(key, raw, filters))
    return ListQuery(
        criteria=tuple(criteria),
        sort=parse_sort(single.get("sort"), filters),
        offset=_integer("offset", single.get("offset"), 0, minimum=0),
        limit=min(
            _integer("limit", single.get("limit"), limits.default, minimum=1), limits.maximum
        ),
        fields=parse_fields(single.get("fields")),
    )


def parse_sort(raw: str | None, sortable: Mapping[str, AttrType]) -> tuple[SortKey, ...]:
    if not raw:
        return ()
    keys = []
    for part in raw.split(","):
        key = part.strip()
        path = key.lstrip("-+")
        if path not in sortable:
            allowed = ", ".join(sorted(sortable))
            raise InvalidRequest(f"sort: '{path}' is not sortable; allowed: {allowed}")
        keys.append(SortKey(path, descending=key.startswith("-")))
    return tuple(keys)


def parse_fields(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    names = {name.strip() for name in raw.split(",")}
    return frozenset(name for name in names if name)


def _integer(name: str, raw: str | None, default: int, *, minimum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: '{raw}' is not an integer") from None
    if value < minimum:
        raise InvalidRequest(f"{name}: must be at least {minimum}")
    return value


def select_fields(resource: Mapping[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    """TMF attribute selection; nested paths allowed, unknown names ignored."""
    if fields is None:
        return dict(resource)
    selected: dict[str, Any] = {}
    for name in ALWAYS_SELECTED:
        if name in resource:
            selected[name] = resource[name]
    for path in fields:
        _copy_path(resource, selected, path.split("."))
    return selected


def _copy_path(source: Any, target: dict[str, Any], parts: Sequence[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not isinstance(source, Mapping) or head not in source:
        return
    value = source[head]
    if not rest:
        target[head] = value
    elif isinstance(value, Mapping):
        _copy_path(value, target.setdefault(head, {}), rest)
    elif isinstance(value, list):
        existing = target.setdefault(head, [{} for _ in value])
        for item, out in zip(value, existing, strict=False):
            if isinstance(item, Mapping) and isinstance(out, dict):
                _copy_path(item, out, rest)


def matches(document: Mapping[str, Any], criteria: Iterable[Criterion]) -> bool:
    """In-memory evaluation of criteria (hub queries); lists match if any element does."""
    return all(_criterion_holds(document, c) for c in criteria)


def _criterion_holds(document: Mapping[str, Any], criterion: Criterion) -> bool:
    found = _values_at(document, criterion.path.split("."))
    if criterion.missing_ok and all(value is None for value in found):
        return True
    compare = _COMPARISONS[criterion.op]
    return any(_compares(value, wanted, compare) for value in found for wanted in criterion.values)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _compares(value: Any, wanted: Any, compare: Callable[[Any, Any], bool]) -> bool:
    """Numbers compare as numbers (9 < 10, 10 == 10.0), also against a hub query's text."""
    found, bound = _comparable(value), _comparable(wanted)
    if isinstance(found, Decimal) or isinstance(bound, Decimal):
        found, bound = _finite_number(found), _finite_number(bound)
        return found is not None and bound is not None and compare(found, bound)
    return isinstance(found, str) and isinstance(bound, str) and compare(found, bound)


def _values_at(value: Any, parts: Sequence[str]) -> list[Any]:
    if isinstance(value, list):
        return [found for item in value for found in _values_at(item, parts)]
    if not parts:
        return [value]
    if isinstance(value, Mapping) and parts[0] in value:
        return _values_at(value[parts[0]], parts[1:])
    return []


def _comparable(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return Decimal(value)
    return value


def _finite_number(value: Any) -> Decimal | None:
    if not isinstance(value, str | Decimal):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
