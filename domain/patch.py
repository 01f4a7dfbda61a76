"""PATCH documents: JSON merge patch (RFC 7386) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer

from domain.errors import InvalidRequest

MERGE = "merge"
JSON_PATCH = "json-patch"
MAX_NESTING = 32  # levels of objects and arrays in a body or resource; TMF needs far fewer
# entries of one array in a body or a patched resource: the most a client sends at once are
# the records of a usage batch (openapi/usage.yaml maxItems); more would only hold the
# server (rules, events and schema checks go through every entry)
MAX_ITEMS = 2000
# JSON values one JSON patch may copy in all: each `copy` can double the resource (copy the
# root into itself), so a few dozen operations would otherwise hold the server for hours.
MAX_COPIED_VALUES = 10_000


@dataclass(frozen=True)
class Patch:
    kind: str
    document: Any

    def touched_attributes(self) -> set[str]:
        """Top-level attributes the patch would write."""
        if self.kind == MERGE:
            if not isinstance(self.document, dict):
                raise InvalidRequest("a merge patch must be a JSON object")
            return set(self.document)
        names: set[str] = set()
        for operation in self.document:
            writes = {"move": ("path", "from"), "test": ()}.get(operation.get("op"), ("path",))
            names.update(_first_segment(operation.get(key, "")) for key in writes)
        return names

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        if self.kind == MERGE:
            return dict(merge_patch(resource, self.document))
        try:
            result = _apply_json_patch(copy.deepcopy(resource), self.document)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as error:
            raise InvalidRequest(f"JSON patch cannot be applied: {error}") from None
        except (TypeError, KeyError, IndexError, ValueError) as error:
            raise InvalidRequest(f"JSON patch is malformed: {error}") from None
        if not isinstance(result, dict):
            raise InvalidRequest("JSON patch must leave the resource a JSON object")
        problem = size_problem(result)
        if problem:
            raise InvalidRequest(f"JSON patch result: {problem}")
        return dict(result)


def _apply_json_patch(document: Any, operations: list[Any]) -> Any:
    """One operation at a time, each `copy` counted against MAX_COPIED_VALUES first."""
    budget = MAX_COPIED_VALUES
    for operation in operations:
        if isinstance(operation, dict) and operation.get("op") == "copy":
            copied = jsonpointer.resolve_pointer(document, operation.get("from", ""))
            budget -= count_values(copied, limit=budget + 1)
            if budget < 0:
                raise InvalidRequest(f"JSON patch copies more than {MAX_COPIED_VALUES} values")
        document = jsonpatch.apply_patch(document, [operation], in_place=True)
    return document


def count_values(value: Any, limit: int) -> int:
    """JSON values in `value` (itself, members, elements, recursively), counted up to `limit`."""
    count, pending = 0, [value]
    while pending and count < limit:
        item = pending.pop()
        count += 1
        if isinstance(item, dict | list):
            pending.extend(item.values() if isinstance(item, dict) else item)
    return count


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass(frozen=True)
class Shape:
    """How large a JSON value is where size costs the server."""

    depth: int  # levels of objects and arrays
    longest: int  # entries of its longest array


def size_problem(value: Any) -> str | None:
    """Why a JSON value is refused from a client (nested too deep, an array too long), if
    it is."""
    measured = shape(value)
    if measured.depth > MAX_NESTING:
        return f"JSON nested deeper than {MAX_NESTING} levels"
    if measured.longest > MAX_ITEMS:
        return f"{_long_array(value)}: an array of more than {MAX_ITEMS} entries"
    return None


def shape(value: Any) -> Shape:
    """The shape of a JSON value, measured in one walk, without recursion."""
    deepest, longest, pending = 0, 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if isinstance(item, list):
                longest = max(longest, len(item))
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)
    return Shape(deepest, longest)


def _long_array(value: Any) -> str:
    """Where an array longer than MAX_ITEMS is (a client's error: looked for only then)."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, where = pending.pop()
        if isinstance(item, list):
            if len(item) > MAX_ITEMS:
                return where or "body"
            pending.extend((child, f"{where}[{n}]") for n, child in enumerate(item))
        elif isinstance(item, dict):
            pending.extend((v, f"{where}.{k}" if where else str(k)) for k, v in item.items())
    return "body"


def nesting_depth(value: Any) -> int:
    """Levels of objects and arrays in a JSON value."""
    return shape(value).depth


def _first_segment(pointer: str) -> str:
    if pointer == "":
        return ""
    if not pointer.startswith("/"):
        raise InvalidRequest(f"'{pointer}' is not a JSON pointer")
    segment = pointer[1:].split("/", 1)[0]
    return segment.replace("~1", "/").replace("~0", "~")
