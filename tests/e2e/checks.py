"""Assertions every e2e test speaks: TMF error bodies, instants, and request shorthands."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
JSON = "application/json"


def assert_tmf_error(response: Any, status: int) -> dict[str, Any]:
    """The TMF error body: code, reason, message, status as a string, @type Error."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["@type"] == "Error"
    assert body["status"] == str(status)
    assert isinstance(body["code"], str) and body["code"].startswith("ERR_")
    assert isinstance(body["reason"], str) and body["reason"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def instants_in(value: Any, keys: frozenset[str], path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every attribute named like an instant, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in keys:
                yield where, item
            else:
                yield from instants_in(item, keys, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from instants_in(item, keys, f"{path}[{index}]")


def assert_instants_canonical(value: Any, keys: frozenset[str]) -> None:
    found = list(instants_in(value, keys))
    assert found, "the response holds no instant to check"
    for where, text in found:
        assert isinstance(text, str) and INSTANT.match(text), f"{where}: {text!r}"


def send_json(client: Any, method: str, url: str, document: Any, content_type: str) -> Any:
    """A request whose body is `document` as JSON, under the given Content-Type."""
    body = json.dumps(document).encode()
    return client.request(method, url, content=body, headers={"Content-Type": content_type})


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]
