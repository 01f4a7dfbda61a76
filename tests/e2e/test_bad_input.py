"""Bad input of any kind gets a 4xx TMF error body and changes nothing.

Every request of `bad_requests(case)` runs against one shared app holding two resources of
each type. After each request we compare the listed collection, an existing resource, and
the number of documents in the whole database (so no stray event or subscription is written
either) with how they were before it. Requests about what a resource lacks (an array
attribute, an instant filter, a state, an operation clients may do) are not sent to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from domain.patch import MAX_ITEMS
from tests.e2e.checks import JSON, JSON_PATCH, MERGE_PATCH, assert_tmf_error
from tests.e2e.conftest import database_of, fresh_database_name, running_app
from tests.e2e.resources import CASES, CREATE, PATCH, ResourceCase

MAX_BODY_BYTES = 1_048_576  # the default BSS_MAX_BODY_BYTES
Builder = Callable[[ResourceCase, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class BadRequest:
    label: str
    method: str
    target: str  # "collection", "item" (an existing resource) or "hub"
    build: Builder  # (case, existing resource) -> keyword arguments of client.request
    status: int = 400
    mentions: str = ""  # the error message must contain this


Make = Callable[..., BadRequest]  # a BadRequest of one kind (a POST, a merge patch...)


def raw(content: bytes | str, content_type: str | None = JSON) -> dict[str, Any]:
    data = content.encode() if isinstance(content, str) else content
    return {"content": data, "headers": {"Content-Type": content_type} if content_type else {}}


def body_text(document: Any) -> str:
    return json.dumps(document, allow_nan=True)


def streamed(data: bytes) -> Iterator[bytes]:
    """Sent with Transfer-Encoding: chunked, so no Content-Length announces the size."""
    for start in range(0, len(data), 65_536):
        yield data[start : start + 65_536]


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def with_path(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `document` with the dotted `path` set to `value`."""
    head, _, rest = path.partition(".")
    if not rest:
        return {**document, head: value}
    return {**document, head: with_path(document.get(head, {}), rest, value)}


def subtype(case: ResourceCase, **extra: Any) -> dict[str, Any]:
    """A create body of a subtype, so undeclared attributes are allowed as such."""
    return {**case.new_body(7), "@type": f"Special{case.name}", **extra}


def create_requests(case: ResourceCase) -> list[BadRequest]:
    def post(label: str, build: Builder, status: int = 400, mentions: str = "") -> BadRequest:
        return BadRequest(label, "POST", "collection", build, status, mentions)

    def body(**changes: Any) -> dict[str, Any]:
        return {**case.new_body(7), **changes}

    def with_text(text: str) -> str:
        """A create body whose text attribute (the one `change` sets) holds `text`."""
        return body_text(body(**{next(iter(case.change)): text}))

    requests = [
        post(
            f"create, {name} of the wrong type",
            lambda c, _, n=name, v=value: {"json": body(**{n: v})},
            mentions=name,
        )
        for name, value in case.wrong_types.items()
    ]
    requests += [
        post(
            f"create, {name} outside its enumeration",
            lambda c, _, n=name, v=value: {"json": body(**{n: v})},
            mentions=value,
        )
        for name, value in case.bad_enums.items()
    ]
    requests += [
        post(
            f"create without mandatory {name}",
            lambda c, _, n=name: {"json": {k: v for k, v in c.new_body(7).items() if k != n}},
            mentions=name,
        )
        for name in case.mandatory
    ]
    return [
        *requests,
        post("create, malformed JSON", lambda c, _: raw('{"name": '), mentions="malformed"),
        post("create, JSON followed by garbage", lambda c, _: raw(body_text(body()) + " x")),
        post("create, NaN", lambda c, _: raw(body_text(body(name=float("nan")))), mentions="NaN"),
        post(
            "create, Infinity",
            lambda c, _: raw(body_text(body(name=float("inf")))),
            mentions="Infinity",
        ),
        post("create, a JSON array", lambda c, _: {"json": [body()]}),
        post("create, JSON null", lambda c, _: raw("null")),
        post("create, an empty body", lambda c, _: raw("")),
        post(
            "create, body over the size limit",
            lambda c, _: {"json": body(name="x" * (MAX_BODY_BYTES + 1))},
            status=413,
        ),
        post(
            "create, streamed body over the size limit",
            lambda c, _: {
                "content": streamed(body_text(body(name="x" * MAX_BODY_BYTES)).encode()),
                "headers": {"Content-Type": JSON},
            },
            status=413,
        ),
        post(
            "create, undeclared attribute without a subtype",
            lambda c, _: {"json": body(favouriteColour="blue")},
            mentions="favouriteColour",
        ),
        post(
            "create, operator as attribute name",
            lambda c, _: {"json": subtype(c, **{"$where": "1"})},
            mentions="$where",
        ),
        post(
            "create, dotted attribute name",
            lambda c, _: {"json": subtype(c, **{"a.b": 1})},
            mentions="a.b",
        ),
        post(
            "create, integer beyond 64 bits",
            lambda c, _: {"json": subtype(c, score=10**30)},
            mentions="out of range",
        ),
        post(
            "create, number beyond exact storage",
            lambda c, _: raw(body_text(subtype(c, score="HOLE")).replace('"HOLE"', "1e999999999")),
            mentions="score",
        ),
        post(
            "create, text with a lone surrogate",
            lambda c, _: raw(with_text("HOLE").replace("HOLE", "\\ud800")),
            mentions="Unicode",
        ),
        post(
            "create, bytes that are not UTF-8",
            lambda c, _: raw(with_text("HOLE").encode().replace(b"HOLE", b"\xff\xfe")),
            mentions="UTF-8",
        ),
        post("create, text/plain", lambda c, _: raw(body_text(body()), "text/plain"), status=415),
        post(
            "create, form encoded",
            lambda c, _: raw("name=x", "application/x-www-form-urlencoded"),
            status=415,
        ),
        post("create, no Content-Type", lambda c, _: raw(body_text(body()), None), status=415),
        *create_array_requests(case, post, body),
        *create_instant_requests(case, post, body),
    ]


def create_array_requests(
    case: ResourceCase, post: Make, body: Callable[..., dict[str, Any]]
) -> list[BadRequest]:
    """Bad arrays in the resource's array attribute, if it has one."""
    attribute = case.list_attribute
    if attribute is None:
        return []
    first, *others = case.new_body(7)[attribute]
    return [
        post(
            "create, oversized array over the size limit",
            lambda c, _: {"json": body(**{attribute: [first] * 40_000})},
            status=413,
        ),
        post(
            "create, long array of wrong items",
            lambda c, _: {"json": body(**{attribute: [42] * MAX_ITEMS})},
            mentions=attribute,
        ),
        post(
            "create, array of more entries than any client needs",
            lambda c, _: {"json": body(**{attribute: [first] * (MAX_ITEMS + 1)})},
            mentions=f"{attribute}: an array of more than {MAX_ITEMS} entries",
        ),
        post(
            "create, deeply nested array",
            lambda c, _: {"json": body(**{attribute: nested(100)})},
            mentions="nested",
        ),
        post(
            "create, nesting past the parser's recursion limit",
            lambda c, _: raw(
                body_text(body(**{attribute: "HOLE"})).replace('"HOLE"', "[" * 5000 + "]" * 5000)
            ),
            mentions="nested",
        ),
        post(  # the other items kept, so that the body is good but for the operator
            "create, operator inside a nested object",
            lambda c, _: {"json": body(**{attribute: [{**first, "$gt": ""}, *others]})},
            mentions="$gt",
        ),
    ]


def create_instant_requests(
    case: ResourceCase, post: Make, body: Callable[..., dict[str, Any]]
) -> list[BadRequest]:
    """Bad instants in the resource's instant filter attribute, if it has one."""
    attribute = case.range_attribute
    if attribute is None:
        return []
    return [
        post(
            "create, an instant that is no date",
            lambda c, _: {"json": with_path(body(), attribute, "yesterday")},
            mentions="yesterday",
        ),
        post(
            "create, an instant out of range",
            lambda c, _: {"json": with_path(body(), attribute, "0001-01-01T00:00:00+01:00")},
            mentions="0001-01-01",
        ),
    ]


def patch_requests(case: ResourceCase) -> list[BadRequest]:
    def merge(
        label: str, build: Callable[[dict[str, Any]], Any], status: int = 400, mentions: str = ""
    ) -> BadRequest:
        return BadRequest(
            label, "PATCH", "item", lambda c, r: send(build(r), MERGE_PATCH), status, mentions
        )

    def json_patch(
        label: str, operations: Callable[[dict[str, Any]], Any], mentions: str = ""
    ) -> BadRequest:
        return BadRequest(
            label, "PATCH", "item", lambda c, r: send(operations(r), JSON_PATCH), 400, mentions
        )

    def send(document: Any, content_type: str) -> dict[str, Any]:
        return raw(body_text(document), content_type)

    mandatory = case.mandatory[0]
    requests = [
        merge(
            f"merge patch, {name} of the wrong type",
            lambda r, n=name, v=value: {n: v},
            mentions=name,
        )
        for name, value in case.wrong_types.items()
    ]
    requests += [
        merge(
            f"merge patch, {name} outside its enumeration",
            lambda r, n=name, v=value: {n: v},
            mentions=value,
        )
        for name, value in case.bad_enums.items()
    ]
    requests += [
        merge(
            f"merge patch of non-patchable {name}", lambda r, n=name, v=value: {n: v}, mentions=name
        )
        for name, value in case.not_patchable.items()
    ]
    return [
        *requests,
        merge(
            f"merge patch removing mandatory {mandatory}",
            lambda r: {mandatory: None},
            mentions=mandatory,
        ),
        merge(
            "merge patch, undeclared attribute",
            lambda r: {"favouriteColour": "blue"},
            mentions="favouriteColour",
        ),
        merge("merge patch, a JSON array", lambda r: [case.change]),
        merge(
            "merge patch, deeply nested",
            lambda r: {mandatory: nested(100)},
            mentions="nested",
        ),
        merge(
            "merge patch, body over the size limit",
            lambda r: {mandatory: "x" * (MAX_BODY_BYTES + 1)},
            status=413,
        ),
        BadRequest(
            "merge patch, malformed JSON",
            "PATCH",
            "item",
            lambda c, r: raw('{"name": "x"', MERGE_PATCH),
            mentions="malformed",
        ),
        BadRequest(
            "merge patch, NaN",
            "PATCH",
            "item",
            lambda c, r: raw('{"name": NaN}', MERGE_PATCH),
            mentions="NaN",
        ),
        BadRequest(
            "plain JSON patch body, operator as attribute name",
            "PATCH",
            "item",
            lambda c, r: raw(body_text({"@type": f"Special{c.name}", "$set": {"x": 1}}), JSON),
            mentions="$set",
        ),
        json_patch("JSON patch, not an array", lambda r: {"op": "replace", "path": "/name"}),
        json_patch(
            "JSON patch, unknown op", lambda r: [{"op": "merge", "path": "/name", "value": "x"}]
        ),
        json_patch(
            "JSON patch, path without a slash",
            lambda r: [{"op": "replace", "path": mandatory, "value": "x"}],
        ),
        json_patch(
            "JSON patch, path under a missing parent",
            lambda r: [{"op": "add", "path": "/noSuchParent/child", "value": "x"}],
        ),
        json_patch(
            "JSON patch, failing test after a change",
            lambda r: [
                *[{"op": "replace", "path": f"/{k}", "value": v} for k, v in case.change.items()],
                {"op": "test", "path": "/id", "value": "not-the-id"},
            ],
        ),
        json_patch(
            f"JSON patch removing mandatory {mandatory}",
            lambda r: [{"op": "remove", "path": f"/{mandatory}"}],
            mentions=mandatory,
        ),
        json_patch(
            "JSON patch replacing id",
            lambda r: [{"op": "replace", "path": "/id", "value": "x"}],
            mentions="id",
        ),
        BadRequest(
            "patch, text/plain", "PATCH", "item", lambda c, r: raw("name=x", "text/plain"), 415
        ),
        BadRequest(
            "patch, no Content-Type",
            "PATCH",
            "item",
            lambda c, r: raw(body_text(c.change), None),
            415,
        ),
        *patch_state_requests(case, merge),
        *patch_array_requests(case, json_patch),
    ]


def patch_state_requests(case: ResourceCase, merge: Make) -> list[BadRequest]:
    """A move the lifecycle forbids, if the resource has one."""
    if case.state is None or case.state.illegal is None:
        return []
    state, illegal = case.state.attribute, case.state.illegal
    return [
        merge("merge patch, illegal state transition", lambda r: {state: illegal}, mentions=state)
    ]


def patch_array_requests(case: ResourceCase, json_patch: Make) -> list[BadRequest]:
    """An array attribute grown too deep, if the resource has one."""
    attribute = case.list_attribute
    if attribute is None:
        return []
    return [
        json_patch(
            "JSON patch, nesting grown past the limit",
            lambda r: [
                {"op": "add", "path": f"/{attribute}/-", "value": nested(20)},
                {
                    "op": "add",
                    "path": f"/{attribute}/{len(r[attribute])}" + "/0" * 20,
                    "value": nested(20),
                },
            ],
            mentions="deeper",
        ),
    ]


def list_requests(case: ResourceCase) -> list[BadRequest]:
    def listing(
        label: str, params: dict[str, Any] | list[tuple[str, str]], mentions: str = ""
    ) -> BadRequest:
        return BadRequest(
            label, "GET", "collection", lambda c, r: {"params": params}, 400, mentions
        )

    key = case.filterable[0].key
    requests = [
        listing(f"filter {key}[$ne]", {f"{key}[$ne]": "x"}, mentions=f"{key}[$ne]"),
        listing(f"filter {key}[$regex]", {f"{key}[$regex]": ".*"}),
        listing("filter $where", {"$where": "1"}, mentions="$where"),
        listing("filter engagedParty.id[$gt] (empty)", {"engagedParty.id[$gt]": ""}),
        listing("filter on an undeclared attribute", {"password": "x"}, mentions="password"),
        listing("sort by an undeclared attribute", {"sort": "$natural"}, mentions="$natural"),
        listing("limit 0", {"limit": "0"}),
        listing("limit not a number", {"limit": "ten"}),
        listing("negative offset", {"offset": "-1"}),
        listing("offset beyond any integer", {"offset": str(10**20)}),
        listing("fields given twice", [("fields", "id"), ("fields", "href")], mentions="fields"),
    ]
    if case.range_attribute:
        requests += [
            listing(
                "range on an instant that is no date",
                {f"{case.range_attribute}.gte": "soon"},
                mentions="soon",
            ),
            listing(
                "range on an instant out of range",
                {f"{case.range_attribute}.lt": "9999-12-31T23:59:59-01:00"},
            ),
        ]
    if case.state:
        state = case.state.attribute
        requests.append(listing(f"{state} outside its enumeration", {state: "Dormant"}))
    return requests


def hub_requests(case: ResourceCase) -> list[BadRequest]:
    def register(label: str, build: Builder, status: int = 400, mentions: str = "") -> BadRequest:
        return BadRequest(label, "POST", "hub", build, status, mentions)

    return [
        register(
            "hub without callback",
            lambda c, _: {"json": {"query": "eventType=X"}},
            mentions="callback",
        ),
        register(
            "hub, callback not a string",
            lambda c, _: {"json": {"callback": 42}},
            mentions="callback",
        ),
        register(
            "hub, callback not http",
            lambda c, _: {"json": {"callback": "ftp://x.test/"}},
            mentions="callback",
        ),
        register(
            "hub, callback not a URL",
            lambda c, _: {"json": {"callback": "listener"}},
            mentions="callback",
        ),
        register(
            "hub, callback with a space",
            lambda c, _: {"json": {"callback": "http://a b.test/"}},
            mentions="callback",
        ),
        register(
            "hub, callback too long",
            lambda c, _: {"json": {"callback": "http://x.test/" + "a" * 3000}},
            mentions="callback",
        ),
        register(
            "hub, malformed query",
            lambda c, _: {"json": {"callback": "http://x.test/", "query": "a"}},
            mentions="query",
        ),
        register("hub, text/plain", lambda c, _: raw("callback=http://x.test/", "text/plain"), 415),
    ]


def bad_requests(case: ResourceCase, with_hub: bool) -> list[BadRequest]:
    hub = hub_requests(case) if with_hub else []
    create = create_requests(case) if CREATE in case.operations else []
    patch = patch_requests(case) if PATCH in case.operations else []
    return create + patch + list_requests(case) + hub


FIRST_OF_ITS_API = {case.api: case for case in reversed(CASES)}  # the hub is per API
BAD_REQUESTS = [
    pytest.param(case, bad, id=f"{case}: {bad.label}")
    for case in CASES
    for bad in bad_requests(case, with_hub=FIRST_OF_ITS_API[case.api] is case)
]


# --- one shared app ----------------------------------------------------------------------


@dataclass
class Arena:
    app: Any
    client: Any
    case: ResourceCase
    existing: dict[str, Any]
    baseline: tuple[Any, ...] = ()

    def url(self, target: str) -> str:
        if target == "item":
            return self.case.url(self.existing["id"])
        if target == "hub":
            return f"{self.case.api}/hub"
        return self.case.collection_url

    def snapshot(self) -> tuple[Any, ...]:
        listed = self.client.get(self.case.collection_url, params={"limit": 1000})
        existing = self.client.get(self.case.url(self.existing["id"])).json()
        documents = database_of(self.app).command("dbStats")["objects"]  # in every collection
        return listed.headers["x-total-count"], listed.json(), existing, documents

    def assert_unchanged(self) -> None:
        before, self.baseline = self.baseline, self.snapshot()
        assert self.baseline == before  # the next test starts from what is there now


class Arenas:
    def __init__(self, app: Any, client: Any) -> None:
        self._app = app
        self._client = client
        self._made: dict[str, Arena] = {}

    def of(self, case: ResourceCase) -> Arena:
        if case.name not in self._made:
            client = self._client
            case.prepare(client)
            existing = case.add(client, case.new_body(0))
            case.add(client, case.new_body(1))
            subscription = client.post(f"{case.api}/hub", json={"callback": "http://x.test/"})
            assert subscription.status_code == 201
            arena = Arena(self._app, client, case, existing)
            for made in self._made.values():
                made.baseline = made.snapshot()  # a new arena adds to every count
            arena.baseline = arena.snapshot()
            self._made[case.name] = arena
        return self._made[case.name]


@pytest.fixture(scope="module")
def arenas(mongo_uri: str) -> Iterator[Arenas]:
    with running_app(mongo_uri, fresh_database_name()) as app, app.test_client() as client:
        yield Arenas(app, client)


class TestBadInput:
    @pytest.mark.parametrize("case, bad", BAD_REQUESTS)
    def test_is_refused_with_an_error_body_and_changes_nothing(self, arenas, case, bad):
        arena = arenas.of(case)
        response = arena.client.request(
            bad.method, arena.url(bad.target), **bad.build(case, arena.existing)
        )
        error = assert_tmf_error(response, bad.status)
        assert bad.mentions in error["message"]
        arena.assert_unchanged()


class TestOperatorsInFilterValues:
    """A filter value is a literal: text that looks like a query operator matches nothing.

    A typed filter (state, boolean, instant) may refuse such a value instead; what it must
    never do is match everything.
    """

    @pytest.mark.parametrize("case", CASES, ids=str)
    @pytest.mark.parametrize("value", ['{"$ne":null}', '{"$gt":""}', ".*"])
    def test_is_a_literal_that_matches_nothing(self, arenas, case, value):
        arena = arenas.of(case)
        for filterable in case.filterable:
            response = arena.client.get(case.collection_url, params={filterable.key: value})
            if response.status_code == 400:
                assert_tmf_error(response, 400)
                continue
            assert response.status_code == 200, response.text
            assert response.json() == []
            assert response.headers["x-total-count"] == "0"
        arena.assert_unchanged()
